"""The model manager: download from a local server with progress, cancel, remove; where models
live."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_gui_support import gui_env, make_window, save_tiny_span, window  # noqa: F401 - fixtures

TIMEOUT_MS = 60000


@pytest.fixture
def model_server(gui_env):
    """Serves a small SPAN x4 checkpoint (slowly when asked) and lists it in the test catalog."""
    weights = save_tiny_span(gui_env.root / "served.safetensors", scale=4, seed=7, channels=32)
    payload = weights.read_bytes()
    state = {"delay": 0.0, "requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            state["requests"] += 1
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            step = 4096
            try:
                for start in range(0, len(payload), step):
                    self.wfile.write(payload[start : start + step])
                    if state["delay"]:
                        time.sleep(state["delay"])
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/tiny-span-x4.safetensors"
    gui_env.catalog.write_text(
        json.dumps(
            {
                "format": 1,
                "models": [
                    {
                        "id": "tiny-span-x4",
                        "name": "Tiny SPAN x4",
                        "arch": "SPAN",
                        "variant": "SPAN ch32",
                        "scale": 4,
                        "purpose": "real-world",
                        "license": "CC-BY-4.0",
                        "urls": [url],
                        "size": len(payload),
                        "sha256": hashlib.sha256(payload).hexdigest(),
                        "description": "A test model served from 127.0.0.1.",
                        "source": "the test server's own listing",
                        "published_psnr": {"Urban100": 27.5},
                    }
                ],
            }
        )
    )
    yield state
    server.shutdown()
    server.server_close()


def open_manager(qtbot, window):
    window.models_action.trigger()
    dialog = window._model_manager
    qtbot.waitExposed(dialog)
    return dialog


def row_of(dialog, model_id):
    return next(row for row, listing in enumerate(dialog.listings) if listing.id == model_id)


def cells(dialog, row):
    return [dialog.table.item(row, column).text() for column in range(dialog.table.columnCount())]


def test_catalog_download_with_progress_then_use_and_remove(qtbot, window, gui_env, model_server):
    dialog = open_manager(qtbot, window)
    row = row_of(dialog, "tiny-span-x4")
    name, arch, scale, purpose, size, license_, status = cells(dialog, row)
    assert (name, arch, scale, purpose, license_, status) == (
        "Tiny SPAN x4",
        "SPAN ch32",
        "x4",
        "Photo",
        "CC-BY-4.0",
        "Available",
    )
    assert size != "unknown"
    assert str(gui_env.root / "data") in dialog.location_label.text()

    dialog.select("tiny-span-x4")
    # Before the download: where it is verified from, its license, size and published accuracy.
    details = dialog.details.text()
    assert "CC-BY-4.0 · verified against the test server's own listing (size and SHA-256)" in (
        details
    )
    assert "Urban100 27.50 dB published: +1.37 dB over SPAN x4" in details
    progress = []
    window.model_tasks.progress.connect(lambda *args: progress.append(args))
    with qtbot.waitSignal(window.model_tasks.downloaded, timeout=TIMEOUT_MS):
        dialog.download_button.click()
        assert not dialog.download_button.isEnabled() and dialog.cancel_button.isEnabled()
    assert any(phase == "downloading" for _, phase, *_ in progress)
    qtbot.waitUntil(
        lambda: cells(dialog, row_of(dialog, "tiny-span-x4"))[-1].startswith("Installed"),
        timeout=5000,
    )
    assert not dialog.progress.isVisible()
    # The main window's model picker offers it right away, with its facts.
    qtbot.waitUntil(
        lambda: any(m.id == "tiny-span-x4" for m in window.run_panel.models), timeout=5000
    )
    choice = next(m for m in window.run_panel.models if m.id == "tiny-span-x4")
    assert (choice.scale, choice.license, choice.speed) == (4, "CC-BY-4.0", "fast")

    dialog.select("tiny-span-x4")
    dialog.confirm_remove = lambda name: True
    dialog.remove_button.click()
    assert cells(dialog, row_of(dialog, "tiny-span-x4"))[-1] == "Available"
    qtbot.waitUntil(
        lambda: all(m.id != "tiny-span-x4" for m in window.run_panel.models), timeout=5000
    )
    assert not list((gui_env.root / "data" / "models").glob("tiny-span-x4.*"))


def test_cancelling_a_download_installs_nothing(qtbot, window, gui_env, model_server):
    model_server["delay"] = 0.01  # about 1 MB in 4 KiB pieces: several seconds
    dialog = open_manager(qtbot, window)
    dialog.select("tiny-span-x4")
    # Before the download: where it is verified from, its license, size and published accuracy.
    details = dialog.details.text()
    assert "CC-BY-4.0 · verified against the test server's own listing (size and SHA-256)" in (
        details
    )
    assert "Urban100 27.50 dB published: +1.37 dB over SPAN x4" in details
    progress = []
    window.model_tasks.progress.connect(lambda *args: progress.append(args))
    dialog.download_button.click()
    qtbot.waitUntil(lambda: any(args[2] > 0 for args in progress), timeout=TIMEOUT_MS)
    outcome = []
    for signal in (
        window.model_tasks.cancelled,
        window.model_tasks.downloaded,
        window.model_tasks.failed,
    ):
        signal.connect(lambda *args, name=signal: outcome.append(args))
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: bool(outcome), timeout=TIMEOUT_MS)
    assert outcome == [("tiny-span-x4",)], f"the download was not cancelled: {outcome}"
    # The test's lambdas run on the model thread as the signal is emitted; the dialog hears it
    # through the GUI thread's event queue, a moment later.
    qtbot.waitUntil(lambda: "cancelled" in dialog.details.text().lower(), timeout=5000)
    assert cells(dialog, row_of(dialog, "tiny-span-x4"))[-1] == "Available"
    assert dialog.download_button.isEnabled()
    assert all(m.id != "tiny-span-x4" for m in window.run_panel.models)


def test_a_broken_catalog_is_a_message_not_a_crash(qtbot, make_window, gui_env):
    gui_env.catalog.write_text("{ not json")
    window = make_window()
    assert "catalog" in window.message_bar.text().lower()
    assert window.run_panel.current_model() is not None  # the bundled model is still offered


def test_download_waits_while_another_process_downloads_the_same_model(
    qtbot, window, gui_env, model_server
):
    """Another SR Studio (here: a second lock on the model's lock file) is downloading it: the
    dialog waits, says so."""
    from sr_studio.weights.model_lock import ModelLock

    other = ModelLock(gui_env.root / "data" / "models" / ".partial", "tiny-span-x4")
    assert other.try_acquire()
    dialog = open_manager(qtbot, window)
    dialog.select("tiny-span-x4")
    with qtbot.waitSignal(window.model_tasks.downloaded, timeout=TIMEOUT_MS):
        try:
            dialog.download_button.click()
            qtbot.waitUntil(
                lambda: "Waiting for another SR Studio download" in dialog.progress.format(),
                timeout=TIMEOUT_MS,
            )
            assert dialog.cancel_button.isEnabled() and model_server["requests"] == 0
        finally:
            other.release()  # the other download ends: this one goes ahead
    assert model_server["requests"] == 1
    qtbot.waitUntil(
        lambda: cells(dialog, row_of(dialog, "tiny-span-x4"))[-1].startswith("Installed"),
        timeout=5000,
    )


def test_progress_says_connecting_then_real_amounts_never_unknown(
    qtbot, window, gui_env, model_server
):
    """Before the first byte the bar says where it is connecting; then bytes and speed as they are
    known."""
    model_server["delay"] = 0.005
    dialog = open_manager(qtbot, window)
    dialog.select("tiny-span-x4")
    from PySide6.QtCore import QObject, Slot

    class Recorder(QObject):
        """On the GUI thread, connected after the dialog: each entry is what the bar says after a
        report."""

        @Slot(str, str, object, object, float, str)
        def record(self, model_id, phase, *rest):
            shown.append((phase, dialog.progress.format()))

    shown = []
    recorder = Recorder()
    window.model_tasks.progress.connect(recorder.record)
    with qtbot.waitSignal(window.model_tasks.downloaded, timeout=TIMEOUT_MS):
        dialog.download_button.click()
    assert shown[0] == ("connecting", "Connecting to 127.0.0.1…")
    downloading = [text for phase, text in shown if phase == "downloading"]
    assert downloading and all("unknown" not in text for text in downloading), downloading
    assert downloading[0].startswith("0 B of ") and "/s" not in downloading[0]

    # A large model, as the user saw it: amounts, speed and time left once there is a speed.
    dialog.downloading = "big"
    dialog._progress("big", "connecting", 0, 85_000_000, 0.0, "huggingface.co")
    assert dialog.progress.format() == "Connecting to huggingface.co…"
    dialog._progress("big", "downloading", 0, 85_000_000, 0.0, "huggingface.co")
    assert dialog.progress.format() == "0 B of 85.0 MB"
    dialog._progress("big", "downloading", 5_000_000, 85_000_000, 1_000_000.0, "huggingface.co")
    assert dialog.progress.format() == "5.0 MB of 85.0 MB · 1.0 MB/s · 1 min 20 s left"
    dialog._progress("big", "downloading", 5_000_000, None, 0.0, "huggingface.co")
    assert dialog.progress.format() == "5.0 MB"
    dialog.downloading = None


def test_a_failed_download_says_it_failed_once():
    from sr_studio.gui.model_manager import failure_text

    text = failure_text("download", "hat-s-x4: download failed: HTTP 404 from github.com")
    assert text == "Download of hat-s-x4 failed: HTTP 404 from github.com"
    assert text.lower().count("failed") == 1
    assert failure_text("import", "not a checkpoint") == "Import failed: not a checkpoint"
