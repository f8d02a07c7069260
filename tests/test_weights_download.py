"""Downloads against a real HTTP server on 127.0.0.1 that serves checkpoints this test makes.

After every scenario the test checks what a user would see: what is installed (and listed), and that
a failed download leaves nothing that looks installed (a partial file only where resuming is
intended).
"""

from __future__ import annotations

import collections
import errno
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from sr_studio.archs.span import SPAN
from sr_studio.cli import main
from sr_studio.errors import Cancelled
from sr_studio.weights import DownloadError, ModelStore, StoreError, download_model, list_models


def checkpoint_bytes(upscale: int, seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save({"params": SPAN(feature_channels=8, upscale=upscale).state_dict()}, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def span_x2() -> bytes:
    return checkpoint_bytes(2)


class Served:
    """What the test server holds and how it misbehaves; records every request it gets."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.drop_after: dict[
            str, int
        ] = {}  # path -> bytes sent before the connection is cut (once)
        self.drop_always: dict[
            str, int
        ] = {}  # path -> bytes sent before the connection is cut, every time
        self.slow_headers: set[str] = (
            set()
        )  # paths whose headers come one byte at a time, never ending
        self.stall: set[str] = set()  # paths whose body never comes (until `release` is set)
        self.ignore_range: set[str] = set()
        self.requests: list[dict] = []
        self.bytes_sent = 0
        self.seconds_per_piece = 0.0  # to pace the transfer like a real network
        self.pause_after: dict[
            str, int
        ] = {}  # path -> bytes sent before the body waits for `resume`
        self.resume = threading.Event()
        self.trickle: dict[
            str, tuple[int, float]
        ] = {}  # path -> (bytes, seconds): that much, that often
        self.release = threading.Event()
        self.lock = threading.Lock()


def handler_for(served: Served):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            with served.lock:
                served.requests.append(
                    {
                        "path": self.path,
                        "range": self.headers.get("Range"),
                        "if_range": self.headers.get("If-Range"),
                    }
                )
            data = served.files.get(self.path)
            if self.path in served.slow_headers:
                self.trickle_headers()
                return
            if data is None:
                self.send_error(404, "Not Found")
                return
            start = 0
            requested = self.headers.get("Range")
            if requested and self.path not in served.ignore_range:
                start = int(requested.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("ETag", '"v1"')
            self.end_headers()
            body = data[start:]
            if self.path in served.stall:
                served.release.wait(10)
                return
            with served.lock:
                cut = served.drop_after.pop(self.path, None)
            if cut is not None:
                body = body[:cut]
            if self.path in served.drop_always:
                body = body[: served.drop_always[self.path]]
            piece, pause = served.trickle.get(self.path, (8192, served.seconds_per_piece))
            paused_at = served.pause_after.get(self.path)
            for offset in range(0, len(body), piece):
                if offset == paused_at:
                    served.resume.wait(60)
                if served.release.is_set():
                    return  # the test is over
                try:
                    self.wfile.write(body[offset : offset + piece])
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (cancelled, or refused what it was sent)
                with served.lock:
                    served.bytes_sent += len(body[offset : offset + piece])
                if pause:
                    time.sleep(pause)

        def trickle_headers(self):
            """A status line and then one long header, a byte every 50 ms: never silent for long,
            never done."""
            head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60000
            for offset in range(len(head)):
                if served.release.is_set():
                    return
                try:
                    self.wfile.write(head[offset : offset + 1])
                    self.wfile.flush()
                except OSError:
                    return  # the client gave up: what the test wants
                time.sleep(0.05)

    return Handler


@pytest.fixture
def server():
    served = Served()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(served))
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    served.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield served
    served.release.set()
    served.resume.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty data folder and bundled folder, no proxies; returns the models folder."""
    for name in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "bundled").mkdir()
    monkeypatch.setenv("SR_STUDIO_BUNDLED_DIR", str(tmp_path / "bundled"))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"format": 1, "models": []}))
    monkeypatch.setenv("SR_STUDIO_CATALOG", str(catalog))
    return tmp_path / "data" / "models"


def write_catalog(entries: list[dict]) -> None:
    import os

    Path(os.environ["SR_STUDIO_CATALOG"]).write_text(json.dumps({"format": 1, "models": entries}))


def entry(urls, data: bytes, model_id="test-span-x2", **changes) -> dict:
    fields = {
        "id": model_id,
        "name": "Test SPAN x2",
        "arch": "SPAN",
        "variant": "SPAN ch8",
        "scale": 2,
        "purpose": "bicubic",
        "license": "Apache-2.0",
        "urls": urls if isinstance(urls, list) else [urls],
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "expect": {"feature_channels": 8},
        "description": "a tiny model for tests",
        "source": "the test server's listing",
    }
    fields.update(changes)
    write_catalog([fields])
    return fields


def files_under(root: Path) -> list[str]:
    return (
        sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        if root.exists()
        else []
    )


def no_wait(seconds):
    pass


def assert_nothing_installed(models: Path, model_id: str = "test-span-x2") -> None:
    assert files_under(models) == []
    assert ModelStore().get(model_id) is None
    assert [m.status for m in list_models() if m.id == model_id] == ["available"]


def test_good_download_is_verified_installed_and_listed(server, home, span_x2):
    server.files["/span.pth"] = span_x2
    entry(server.base + "/span.pth", span_x2)
    events = []

    model = download_model("test-span-x2", progress=events.append, sleep=no_wait)

    assert (model.id, model.arch, model.scale, model.verified, model.source) == (
        "test-span-x2",
        "SPAN",
        2,
        True,
        "catalog",
    )
    assert model.path.read_bytes() == span_x2
    assert model.sha256 == hashlib.sha256(span_x2).hexdigest()
    assert model.origin == server.base + "/span.pth"
    assert files_under(home) == ["test-span-x2.json", "test-span-x2.pth"]
    listed = [m for m in list_models() if m.id == "test-span-x2"]
    assert [(m.status, m.verified, m.path) for m in listed] == [("installed", True, model.path)]
    downloading = [e for e in events if e.phase == "downloading"]
    assert downloading[-1].bytes_done == downloading[-1].bytes_total == len(span_x2)
    assert all(
        a.bytes_done <= b.bytes_done for a, b in zip(downloading, downloading[1:], strict=False)
    )
    assert all(e.bytes_per_second >= 0 for e in events)
    assert [e.phase for e in events][-1] == "verifying"
    # Asking again returns the installed model without touching the network.
    requests_before = len(server.requests)
    assert download_model("test-span-x2").path == model.path
    assert len(server.requests) == requests_before


def test_dropped_connection_resumes_with_a_range_request(server, home, span_x2):
    half = len(span_x2) // 2
    server.files["/span.pth"] = span_x2
    server.drop_after["/span.pth"] = half
    entry(server.base + "/span.pth", span_x2)
    waits = []

    model = download_model("test-span-x2", sleep=waits.append, backoff=0.5, chunk_size=8192)

    assert [(r["range"], r["if_range"]) for r in server.requests] == [
        (None, None),
        (f"bytes={half}-", '"v1"'),
    ]
    assert server.bytes_sent == len(span_x2), "the first half was downloaded again"
    assert waits == [0.5]
    assert model.path.read_bytes() == span_x2 and model.verified
    assert files_under(home) == ["test-span-x2.json", "test-span-x2.pth"]


def test_failed_download_keeps_the_part_file_and_the_next_attempt_resumes(server, home, span_x2):
    half = len(span_x2) // 2
    server.files["/span.pth"] = span_x2
    server.drop_after["/span.pth"] = half
    entry(server.base + "/span.pth", span_x2)

    with pytest.raises(DownloadError, match="closed after .* run the download again to resume"):
        download_model("test-span-x2", retries=0, sleep=no_wait)

    # The partial file is kept out of sight for resuming; nothing is listed as installed.
    assert files_under(home) == [".partial/test-span-x2.part", ".partial/test-span-x2.part.json"]
    assert (home / ".partial" / "test-span-x2.part").stat().st_size == half
    assert ModelStore().get("test-span-x2") is None
    assert [m.status for m in list_models() if m.id == "test-span-x2"] == ["available"]

    model = download_model("test-span-x2", sleep=no_wait)
    assert server.requests[-1]["range"] == f"bytes={half}-"
    assert server.bytes_sent == len(span_x2)
    assert model.path.read_bytes() == span_x2
    assert files_under(home) == ["test-span-x2.json", "test-span-x2.pth"]


def test_server_that_ignores_range_restarts_the_file_cleanly(server, home, span_x2):
    server.files["/span.pth"] = span_x2
    server.drop_after["/span.pth"] = 1000
    server.ignore_range.add("/span.pth")
    entry(server.base + "/span.pth", span_x2)

    model = download_model("test-span-x2", sleep=no_wait)

    assert server.requests[-1]["range"] == "bytes=1000-"
    assert model.path.read_bytes() == span_x2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"sha256": "0" * 64}, "checksum mismatch: .* the test server's listing says 000000"),
        ({"size": 12345}, "the test server's listing says 12,345"),
    ],
)
def test_wrong_checksum_or_size_is_refused_and_nothing_is_left(
    server, home, span_x2, change, message
):
    server.files["/span.pth"] = span_x2
    entry(server.base + "/span.pth", span_x2, **change)

    with pytest.raises(DownloadError, match=message) as raised:
        download_model("test-span-x2", sleep=no_wait)

    assert str(raised.value).startswith("test-span-x2: download failed")
    assert_nothing_installed(home)


def test_404_on_the_first_mirror_falls_back_to_the_next(server, home, span_x2):
    server.files["/good.pth"] = span_x2
    entry([server.base + "/missing.pth", server.base + "/good.pth"], span_x2)
    waits = []

    model = download_model("test-span-x2", sleep=waits.append)

    assert [r["path"] for r in server.requests] == ["/missing.pth", "/good.pth"]
    assert waits == [], "a 404 is not retried"
    assert model.origin == server.base + "/good.pth"
    assert files_under(home) == ["test-span-x2.json", "test-span-x2.pth"]


def test_every_mirror_failing_names_each_failure(server, home, span_x2):
    entry([server.base + "/a.pth", server.base + "/b.pth"], span_x2)

    with pytest.raises(DownloadError) as raised:
        download_model("test-span-x2", sleep=no_wait)

    message = str(raised.value)
    assert "(mirror 1 of 2): HTTP 404" in message and "(mirror 2 of 2): HTTP 404" in message
    assert "\n" not in message
    assert_nothing_installed(home)


def test_stalled_server_times_out_after_the_retries(server, home, span_x2):
    server.files["/span.pth"] = span_x2
    server.stall.add("/span.pth")
    entry(server.base + "/span.pth", span_x2)
    waits = []
    started = time.monotonic()

    with pytest.raises(DownloadError, match="timed out"):
        download_model("test-span-x2", timeout=0.3, retries=2, backoff=0.25, sleep=waits.append)

    assert time.monotonic() - started < 8
    assert len(server.requests) == 3
    assert waits == [0.25, 0.5], "backoff doubles between tries"
    assert_nothing_installed(home)


def test_stalled_mirror_then_good_mirror(server, home, span_x2):
    server.files["/slow.pth"] = span_x2
    server.files["/good.pth"] = span_x2
    server.stall.add("/slow.pth")
    entry([server.base + "/slow.pth", server.base + "/good.pth"], span_x2)

    model = download_model("test-span-x2", timeout=0.3, retries=0, sleep=no_wait)

    assert model.origin.endswith("/good.pth")
    assert files_under(home) == ["test-span-x2.json", "test-span-x2.pth"]


def test_file_that_is_not_a_checkpoint_is_refused(server, home):
    page = b"<html><body>Sign in to download this file</body></html>\n" * 50
    server.files["/span.pth"] = page
    entry(server.base + "/span.pth", page)  # as if the record were of this page

    with pytest.raises(DownloadError, match="not a usable model .*not a model checkpoint"):
        download_model("test-span-x2", sleep=no_wait)

    assert_nothing_installed(home)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"scale": 4}, "the file is a SPAN x2 model, the catalog says SPAN x4"),
        ({"arch": "HAT", "expect": {}}, "the file is a SPAN x2 model, the catalog says HAT x2"),
        ({"expect": {"feature_channels": 48}}, r"the file is not SPAN ch8 \(feature_channels=8\)"),
    ],
)
def test_checkpoint_of_the_wrong_architecture_or_scale_is_refused(
    server, home, span_x2, change, message
):
    server.files["/span.pth"] = span_x2
    entry(server.base + "/span.pth", span_x2, **change)

    with pytest.raises(DownloadError, match=message):
        download_model("test-span-x2", sleep=no_wait)

    assert_nothing_installed(home)


def test_cancelling_leaves_nothing(server, home, span_x2):
    server.files["/span.pth"] = span_x2
    entry(server.base + "/span.pth", span_x2)
    checks = iter(range(1000))

    with pytest.raises(Cancelled):
        download_model(
            "test-span-x2", cancel=lambda: next(checks) >= 4, chunk_size=4096, sleep=no_wait
        )

    assert 0 < server.bytes_sent
    assert_nothing_installed(home)


def test_cancel_event_set_from_the_progress_callback(server, home, span_x2):
    server.files["/span.pth"] = span_x2
    entry(server.base + "/span.pth", span_x2)
    cancel = threading.Event()

    def progress(event):
        if event.phase == "downloading":
            cancel.set()

    with pytest.raises(Cancelled, match="cancelled"):
        download_model("test-span-x2", progress=progress, cancel=cancel, sleep=no_wait)
    assert_nothing_installed(home)


def test_insufficient_disk_space_is_refused_before_writing(server, home, span_x2, monkeypatch):
    """The size is in the catalog: nothing is even requested."""
    server.files["/span.pth"] = span_x2
    entry(server.base + "/span.pth", span_x2)
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 5000, 5000))

    with pytest.raises(
        StoreError, match="not enough disk space for test-span-x2: it needs .* 5.0 kB is free"
    ):
        download_model("test-span-x2", sleep=no_wait)

    assert len(server.requests) == 0
    assert_nothing_installed(home)


def test_second_download_of_the_same_model_at_once_is_refused(server, home, span_x2):
    server.files["/span.pth"] = span_x2
    server.stall.add("/span.pth")
    entry(server.base + "/span.pth", span_x2)
    cancel = threading.Event()
    outcome = []

    def first():
        try:
            download_model("test-span-x2", cancel=cancel, timeout=10, sleep=no_wait)
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            outcome.append(error)

    thread = threading.Thread(target=first)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        with pytest.raises(DownloadError, match="already being downloaded"):
            download_model("test-span-x2", sleep=no_wait)
    finally:
        cancel.set()
        server.release.set()
        thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    assert_nothing_installed(home)


def test_force_downloads_again_over_an_installed_copy(server, home, span_x2):
    server.files["/span.pth"] = span_x2
    entry(server.base + "/span.pth", span_x2)
    download_model("test-span-x2", sleep=no_wait)

    model = download_model("test-span-x2", force=True, sleep=no_wait)

    assert len(server.requests) == 2
    assert model.path.read_bytes() == span_x2
    assert files_under(home) == ["test-span-x2.json", "test-span-x2.pth"]


def test_cli_download_prints_a_line_per_ten_percent(server, home, span_x2, capsys):
    server.files["/span.pth"] = span_x2
    server.seconds_per_piece = 1.5 / (
        len(span_x2) / 8192
    )  # 1.5 s in all: progress comes 10 times a second
    entry(server.base + "/span.pth", span_x2)

    assert main(["models", "download", "test-span-x2"]) == 0

    captured = capsys.readouterr()
    percents = [
        int(line.split(": ")[1].split("%")[0]) for line in captured.err.splitlines() if "%" in line
    ]
    assert len(percents) >= 6 and percents[-1] == 100
    assert all(p % 10 == 0 and p > 0 for p in percents) and percents == sorted(set(percents))
    assert "verifying" in captured.err
    assert "Installed test-span-x2: SPAN x2, verified" in captured.out
    assert main(["models", "list"]) == 0
    row = next(
        line for line in capsys.readouterr().out.splitlines() if line.startswith("test-span-x2 ")
    )
    assert row.endswith("installed, verified")


def test_cli_download_failure_is_one_line(server, home, span_x2, capsys):
    entry(server.base + "/missing.pth", span_x2)

    assert main(["models", "download", "test-span-x2"]) == 1

    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        error.startswith("sr-studio: error: test-span-x2: download failed") and "HTTP 404" in error
    )
    assert main(["models", "download", "no-such-model"]) == 1
    assert "no model with this id in the catalog" in capsys.readouterr().err


def test_a_kept_part_file_is_resumed_from_the_mirror_it_came_from(server, home, span_x2):
    half = len(span_x2) // 2
    server.files["/b.pth"] = span_x2
    server.drop_after["/b.pth"] = half
    entry([server.base + "/a.pth", server.base + "/b.pth"], span_x2)
    with pytest.raises(
        DownloadError,
        match=r"\(mirror 1 of 2\): HTTP 404.*\(mirror 2 of 2\): the connection closed",
    ):
        download_model("test-span-x2", retries=0, sleep=no_wait)
    server.files["/a.pth"] = span_x2
    server.requests.clear()

    download_model("test-span-x2", sleep=no_wait)

    assert [(r["path"], r["range"]) for r in server.requests] == [("/b.pth", f"bytes={half}-")]


def test_a_kept_part_file_whose_mirror_is_gone_is_discarded(server, home, span_x2):
    server.files["/span.pth"] = span_x2
    server.drop_after["/span.pth"] = 1000
    entry(server.base + "/span.pth", span_x2)
    with pytest.raises(DownloadError, match="kept"):
        download_model("test-span-x2", retries=0, sleep=no_wait)
    del server.files["/span.pth"]

    with pytest.raises(DownloadError, match="HTTP 404") as raised:
        download_model("test-span-x2", sleep=no_wait)

    assert "kept" not in str(raised.value)
    assert_nothing_installed(home)


# -- offline, unreachable and endless mirrors ------------------------------------------------------


def refused_url() -> str:
    """A port on 127.0.0.1 where nothing listens (bound, then closed again)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/span.pth"


@pytest.fixture
def no_such_host(monkeypatch):
    """Name lookups of `mirror.invalid` fail as they do offline; everything else resolves as
    usual."""
    import socket

    real = socket.getaddrinfo

    def lookup(host, *args, **kwargs):
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return "http://mirror.invalid/span.pth"


def test_offline_every_mirror_fails_at_once_and_says_so(home, span_x2, no_such_host, capsys):
    entry([no_such_host, refused_url()], span_x2)
    waits = []
    started = time.monotonic()

    with pytest.raises(DownloadError) as raised:
        download_model("test-span-x2", sleep=waits.append)

    message = str(raised.value)
    assert time.monotonic() - started < 5
    assert waits == [], "a failed name lookup or a refused connection is not retried"
    assert message == (
        "test-span-x2: download failed: this computer seems to be offline (mirror.invalid: name "
        "lookup failed; 127.0.0.1: the server refused the connection)"
    )
    assert_nothing_installed(home)

    assert main(["models", "download", "test-span-x2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(
        "sr-studio: error: test-span-x2: download failed: this computer seems to be offline"
    )
    assert "test-span-x2: connecting to mirror.invalid..." in err, (
        "the user sees what it is waiting for"
    )
    assert "Traceback" not in "\n".join(err)


def test_an_unreachable_mirror_is_skipped_at_once_for_the_next(server, home, span_x2, no_such_host):
    server.files["/span.pth"] = span_x2
    entry([no_such_host, server.base + "/span.pth"], span_x2)
    waits = []

    model = download_model("test-span-x2", sleep=waits.append)

    assert waits == []
    assert model.origin == server.base + "/span.pth" and model.path.read_bytes() == span_x2


def test_a_mirror_that_ignores_range_and_breaks_off_at_the_same_place_runs_out_of_tries(
    server, home, span_x2
):
    """Each try restarts at 0 (200, the whole file) and is cut at 1000 bytes: it never gets further
    than the first, so the tries run out instead of counting as progress forever."""
    server.files["/span.pth"] = span_x2
    server.drop_always["/span.pth"] = 1000
    server.ignore_range.add("/span.pth")
    entry(server.base + "/span.pth", span_x2)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        assert len(waits) < 20, "the download retries forever"

    with pytest.raises(DownloadError, match="closed after 1.0 kB of 323 kB") as raised:
        download_model("test-span-x2", retries=2, backoff=0.5, sleep=sleep)

    assert "\n" not in str(raised.value)
    assert len(server.requests) == 3, (
        "the first try (further than ever before), then 2 that were not"
    )
    assert waits == [0.5, 1.0]
    assert ModelStore().get("test-span-x2") is None


def test_a_retry_that_resumes_further_still_counts_as_progress(server, home, span_x2):
    """The rule above does not stop a mirror that honours Range and breaks off often: each try adds
    bytes."""
    server.files["/span.pth"] = span_x2
    entry(server.base + "/span.pth", span_x2)
    cuts = iter([3000, 3000, 3000, 3000])

    class CutEachTime(dict):
        def pop(self, key, default=None):
            return next(cuts, default)

    server.drop_after = CutEachTime()

    model = download_model("test-span-x2", retries=1, sleep=no_wait)

    assert [r["range"] for r in server.requests] == [None] + [
        f"bytes={3000 * k}-" for k in range(1, 5)
    ]
    assert model.path.read_bytes() == span_x2


def test_headers_that_trickle_in_time_out_cleanly(server, home, span_x2):
    """A byte every 50 ms keeps each read under the 0.5 s timeout; the headers as a whole must not
    take longer."""
    server.files["/span.pth"] = span_x2
    server.slow_headers.add("/span.pth")
    entry(server.base + "/span.pth", span_x2)
    outcome = []

    def attempt():
        try:
            download_model("test-span-x2", timeout=0.5, retries=1, sleep=no_wait)
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            outcome.append(error)

    thread = threading.Thread(target=attempt, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "the download waits for the headers forever"
    assert time.monotonic() - started < 10
    assert len(outcome) == 1 and isinstance(outcome[0], DownloadError), outcome
    message = str(outcome[0])
    assert "no complete answer within 0.5 s" in message and "\n" not in message
    assert len(server.requests) == 2
    assert_nothing_installed(home)


# -- a trickling mirror ----------------------------------------------------------------------------


def test_trickling_mirror_counts_as_stalled_and_the_next_mirror_is_used(server, home, span_x2):
    """A few bytes every 0.1 s keep the socket timeout (5 s here) from ever firing; the speed rule
    does not."""
    server.files["/trickle.pth"] = span_x2
    server.files["/good.pth"] = span_x2
    server.trickle["/trickle.pth"] = (20, 0.1)  # 200 B/s, under the 2 kB a second asked for below
    entry([server.base + "/trickle.pth", server.base + "/good.pth"], span_x2)
    waits = []
    started = time.monotonic()

    model = download_model(
        "test-span-x2", timeout=5, retries=1, sleep=waits.append, stall_bytes=2048, stall_seconds=1
    )

    assert time.monotonic() - started < 15
    assert [r["path"] for r in server.requests] == ["/trickle.pth", "/trickle.pth", "/good.pth"]
    assert waits == [1.0], "a stall is retried like a dropped connection, not endlessly as progress"
    assert model.origin.endswith("/good.pth") and model.path.read_bytes() == span_x2
    assert files_under(home) == ["test-span-x2.json", "test-span-x2.pth"]


def test_only_a_trickling_mirror_gives_a_one_line_error_and_keeps_the_bytes(server, home, span_x2):
    server.files["/span.pth"] = span_x2
    server.trickle["/span.pth"] = (20, 0.1)
    entry(server.base + "/span.pth", span_x2)
    started = time.monotonic()

    with pytest.raises(DownloadError) as raised:
        download_model(
            "test-span-x2", timeout=5, retries=1, sleep=no_wait, stall_bytes=2048, stall_seconds=1
        )

    message = str(raised.value)
    assert time.monotonic() - started < 10
    assert "\n" not in message
    assert "the server stalled (only" in message and "run the download again to resume" in message
    assert ModelStore().get("test-span-x2") is None
    assert files_under(home) == [".partial/test-span-x2.part", ".partial/test-span-x2.part.json"]


def test_a_slow_but_steady_mirror_is_not_a_stall(server, home, span_x2):
    server.files["/span.pth"] = span_x2
    server.trickle["/span.pth"] = (8192, 0.02)  # about 400 kB/s: 40 pieces, about 0.8 s
    entry(server.base + "/span.pth", span_x2)

    model = download_model(
        "test-span-x2", retries=0, sleep=no_wait, stall_bytes=16384, stall_seconds=0.2
    )

    assert len(server.requests) == 1
    assert model.path.read_bytes() == span_x2


# -- two processes ---------------------------------------------------------------------------------

PAUSE_AT = 8192 * 16  # the server stops here until the test lets it go on (within the file: 323 kB)


def start_cli_download(*extra: str) -> subprocess.Popen:
    """`sr-studio models download test-span-x2` in another process, with this test's data folder."""
    return subprocess.Popen(
        [sys.executable, "-m", "sr_studio", "models", "download", "test-span-x2", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


class Lines:
    """A child's stderr read on a thread, so the test can wait for one line without blocking on
    EOF."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self.thread.start()

    def wait_for(self, text: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not any(text in line for line in self.lines):
            assert time.monotonic() < deadline, f"no line with {text!r} in {self.lines}"
            time.sleep(0.05)


def wait_until(condition, seconds: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def finish(process: subprocess.Popen, seconds: float = 120) -> tuple[int, str]:
    try:
        out, _ = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, out


@pytest.fixture
def paused_server(server, home, span_x2):
    server.files["/span.pth"] = span_x2
    server.pause_after["/span.pth"] = PAUSE_AT
    entry(server.base + "/span.pth", span_x2)
    return server


def test_second_process_waits_for_the_first_and_finds_the_model_installed(
    paused_server, home, span_x2
):
    server = paused_server
    first = start_cli_download()
    second = None
    try:
        wait_until(lambda: server.bytes_sent >= PAUSE_AT, what="the first download to start")
        second = start_cli_download()
        second_err = Lines(second.stderr)
        second_err.wait_for("waiting for it to finish")
        assert second.poll() is None, "the second download did not wait"
        server.resume.set()
        first_code, first_out = finish(first)
        second_code, second_out = finish(second)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
    assert (first_code, second_code) == (0, 0), second_err.lines
    assert "Installed test-span-x2: SPAN x2, verified" in first_out
    assert "Installed test-span-x2: SPAN x2, verified" in second_out
    assert [r["range"] for r in server.requests] == [None], (
        "the model was downloaded once, by the first process"
    )
    assert files_under(home) == ["test-span-x2.json", "test-span-x2.pth"]  # no .part, no .lock left
    model = ModelStore().get("test-span-x2")
    assert model.verified and model.path.read_bytes() == span_x2


def test_waiting_can_be_cancelled_and_removal_is_refused_while_another_process_downloads(
    paused_server, home
):
    server = paused_server
    first = start_cli_download()
    try:
        wait_until(lambda: server.bytes_sent >= PAUSE_AT, what="the first download to start")
        cancel = threading.Event()
        phases = []

        def progress(event):
            phases.append(event.phase)
            if event.phase == "waiting":
                cancel.set()  # as the Cancel button does in the app

        started = time.monotonic()
        with pytest.raises(Cancelled):
            download_model("test-span-x2", progress=progress, cancel=cancel, sleep=no_wait)
        assert phases == ["waiting"] and time.monotonic() - started < 5
        with pytest.raises(StoreError, match="test-span-x2 is being downloaded right now"):
            ModelStore().remove("test-span-x2")
        assert (home / ".partial" / "test-span-x2.part").exists(), (
            "the other process's file was touched"
        )
        server.resume.set()
        code, out = finish(first)
    finally:
        if first.poll() is None:
            first.kill()
    assert code == 0 and "Installed test-span-x2" in out
    assert len(server.requests) == 1
    assert files_under(home) == ["test-span-x2.json", "test-span-x2.pth"]


def test_a_killed_downloader_leaves_no_lock_that_blocks_the_next(paused_server, home, span_x2):
    server = paused_server
    first = start_cli_download()
    try:
        wait_until(lambda: server.bytes_sent >= PAUSE_AT, what="the first download to start")
        part = home / ".partial" / "test-span-x2.part"
        wait_until(
            lambda: part.exists() and part.stat().st_size >= PAUSE_AT // 2,
            what="the first download to write",
        )
    finally:
        first.kill()  # SIGKILL: no clean-up of any kind runs
        first.communicate()
    assert (home / ".partial" / "test-span-x2.lock").exists(), (
        "the test should leave a lock file behind"
    )
    kept = (home / ".partial" / "test-span-x2.part").stat().st_size
    del server.pause_after["/span.pth"]
    phases = []
    started = time.monotonic()

    model = download_model(
        "test-span-x2", progress=lambda event: phases.append(event.phase), sleep=no_wait
    )

    assert time.monotonic() - started < 30
    assert "waiting" not in phases
    assert server.requests[-1]["range"] == f"bytes={kept}-", (
        "what the killed process had written is resumed"
    )
    assert model.verified and model.path.read_bytes() == span_x2
    assert files_under(home) == ["test-span-x2.json", "test-span-x2.pth"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX file locks")
def test_a_file_system_without_locks_still_downloads(server, home, span_x2, monkeypatch):
    import fcntl

    def no_locks(descriptor, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    server.files["/span.pth"] = span_x2
    entry(server.base + "/span.pth", span_x2)

    model = download_model("test-span-x2", sleep=no_wait)

    assert model.verified
    assert files_under(home) == ["test-span-x2.json", "test-span-x2.pth"]
