"""Download a catalog model: streamed, resumable, retried mirror by mirror, proven before install.

A download is written to `<models>/.partial/<id>.part`, beside a small `<id>.part.json` naming the
URL (and its ETag) the bytes came from. Only after the size, the sha256 and a trial load agree with
the catalog is the file moved into place and its record written, so nothing half-done is ever
listed.

What is left behind when a download does not finish:
- the network failed (dropped, timed out, server errors) after every retry on every mirror: the
  partial file is kept, and the next download of the same model resumes it with an HTTP Range
  request;
- the file proved wrong (size, checksum, not a checkpoint, another architecture or scale), the
  download was cancelled (or interrupted with Ctrl+C), or the disk was full: the partial file is
  deleted.

One download at a time per model. Within one process a second request for the same id is refused at
once (the app asked twice). Across processes (the CLI while the app downloads, two commands) the
second one waits for the first, cancellably, reporting the phase "waiting", and then returns the
model the first one installed, or downloads it itself if the first did not finish (resuming what it
kept); the lock is the operating system's (`model_lock`), so a crashed downloader never blocks the
next one.

A mirror that trickles (fewer than `stall_bytes` bytes in `stall_seconds`, though enough to keep the
socket timeout from firing) counts as a failed try: retried as often as a dropped connection, then
the next mirror, then a one-line error (the bytes received so far are kept for resuming). So does
one whose headers do not arrive within `timeout` in all, however steadily they trickle in.
A try after a failure counts as progress (and resets the mirror's tries) only when it left the
partial file larger than it ever was: a mirror that ignores Range and breaks off at the same place
every time runs out of tries instead of starting over forever.
A mirror whose host name cannot be looked up, or that refuses the connection, fails at once
(retrying would not help and only keep the user waiting); when every mirror fails that way the error
says that the computer seems to be offline.
Nothing here imports Qt; the GUI calls `download_model` from a worker thread with a progress
callback and a cancel flag. torch is imported only for the trial load.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sr_studio import __version__
from sr_studio.errors import Cancelled, CheckpointError, SRStudioError
from sr_studio.weights.catalog import CatalogEntry, find_entry
from sr_studio.weights.model_lock import ModelLock
from sr_studio.weights.store import (
    InstalledModel,
    ModelStore,
    ensure_free_space,
    human_size,
    sha256_of,
)

USER_AGENT = f"SR-Studio/{__version__}"
CHUNK_BYTES = 256 * 1024
TRANSIENT_HTTP_CODES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 60.0

PROGRESS_INTERVAL_SECONDS = 0.1
SPEED_WINDOW_SECONDS = 3.0
# A mirror is stalled when fewer than STALL_BYTES arrive in STALL_SECONDS (about 0.5 kB/s over a
# minute): far below any working line, even a poor mobile one, yet never reached by a server that is
# merely slow.
STALL_BYTES = 32 * 1024
STALL_SECONDS = 60.0
LOCK_POLL_SECONDS = 0.2

_active_lock = threading.Lock()
_active_downloads: set[str] = set()


class DownloadError(SRStudioError):
    """No mirror delivered a file that proved to be the catalog's model."""


@dataclass(frozen=True)
class DownloadProgress:
    model_id: str
    # "waiting" (for another process's download of it), "connecting", "downloading", "verifying"
    phase: str
    bytes_done: int
    bytes_total: int | None  # None when neither the catalog nor the server says
    bytes_per_second: float
    url: str

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.bytes_done / self.bytes_total) if self.bytes_total else None


CancelFlag = threading.Event | Callable[[], bool] | None


def download_model(
    model: str | CatalogEntry,
    *,
    store: ModelStore | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
    cancel: CancelFlag = None,
    timeout: float = 30.0,
    retries: int = 4,
    backoff: float = 1.0,
    sleep: Callable[[float], None] | None = None,
    force: bool = False,
    chunk_size: int = CHUNK_BYTES,
    stall_bytes: int = STALL_BYTES,
    stall_seconds: float = STALL_SECONDS,
) -> InstalledModel:
    """Install the catalog model `model` (an id or entry) and return it; an installed one as is.

    `timeout` bounds every connect and every read (seconds); fewer than `stall_bytes` in
    `stall_seconds` counts as a stalled mirror. A mirror gets `retries` more tries after a network
    failure that made no (or only stalled) progress, waiting `backoff`, 2 x `backoff`, ... in
    between (through `sleep`, which tests replace); then the next mirror is tried. `cancel` (an
    Event or a callable) is checked between chunks and while waiting for another process, and raises
    `Cancelled`. `force` downloads again over an installed copy, unless another process installed a
    new one while this call waited for it.
    """
    entry = model if isinstance(model, CatalogEntry) else catalog_entry(model)
    store = store if store is not None else ModelStore()
    before = store.get(entry.id)
    if before is not None and not force:
        return before
    transfer = TransferOptions(
        timeout=timeout,
        retries=max(0, retries),
        backoff=backoff,
        sleep=sleep,
        chunk_size=chunk_size,
        stall_bytes=stall_bytes,
        stall_seconds=stall_seconds,
    )
    download = Download(entry, store, options=transfer, progress=progress, cancel=cancel)
    with claimed(entry.id), download.locked() as waited:
        if waited:
            now = store.get(entry.id)
            if now is not None and (not force or now != before):
                return now  # the other process installed it (anew)
        return download.run()


def catalog_entry(model_id: str) -> CatalogEntry:
    """The entry to download, or a DownloadError saying why there is none (bundled, or unknown)."""
    from sr_studio.weights.bundled import find_bundled

    entry = find_entry(model_id)
    bundled = find_bundled(entry.bundled_as) if entry and entry.bundled_as else None
    if bundled is not None:
        raise DownloadError(
            f"is bundled with SR Studio as {bundled.name} ('{bundled.id}'); there is nothing to "
            "download",
            model_id,
        )
    if entry is not None:
        return entry

    if find_bundled(model_id) is not None:
        raise DownloadError("is bundled with SR Studio; there is nothing to download", model_id)
    raise DownloadError(
        "no model with this id in the catalog (see `sr-studio models list`)", model_id
    )


@contextlib.contextmanager
def claimed(model_id: str) -> Iterator[None]:
    with _active_lock:
        if model_id in _active_downloads:
            raise DownloadError("is already being downloaded", model_id)
        _active_downloads.add(model_id)
    try:
        yield
    finally:
        with _active_lock:
            _active_downloads.discard(model_id)


class RetryableFailure(Exception):
    """A network failure worth trying again on the same mirror (resuming where it stopped).

    `stalled`: the mirror trickled; whatever it added does not count as progress.
    """

    def __init__(self, reason: str, stalled: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.stalled = stalled


class MirrorFailure(Exception):
    """This mirror cannot deliver the model; the next one is tried.

    `resumable`: the network gave up, but the bytes received so far are good to resume from later.
    `unreachable`: the host was not found or refused to connect (offline, if every mirror says so).
    """

    def __init__(self, reason: str, resumable: bool = False, unreachable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.resumable = resumable
        self.unreachable = unreachable


# Failures that retrying cannot cure within a download: no route or no name for the host, or nothing
# listening there. errno values, as a socket reports them (also inside a URLError).
UNREACHABLE_ERRNOS = frozenset(
    code
    for code in (
        errno.ECONNREFUSED,
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        getattr(errno, "ENETDOWN", None),
    )
    if code is not None
)


@dataclass(frozen=True)
class TransferOptions:
    """How the bytes are fetched: download_model's arguments, described there."""

    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0
    sleep: Callable[[float], None] | None = None  # tests replace the waits between tries
    chunk_size: int = CHUNK_BYTES
    stall_bytes: int = STALL_BYTES
    stall_seconds: float = STALL_SECONDS


class Download:
    def __init__(
        self,
        entry: CatalogEntry,
        store: ModelStore,
        *,
        options: TransferOptions,
        progress: Callable[[DownloadProgress], None] | None = None,
        cancel: CancelFlag = None,
    ) -> None:
        self.entry = entry
        self.store = store
        self.options = options
        self.progress = progress
        self.cancelled = as_cancel_check(cancel)
        self.part = store.partial_dir / f"{entry.id}.part"
        self.state_path = store.partial_dir / f"{entry.id}.part.json"
        self.last_report = 0.0
        self.last_phase = ""
        self.samples: collections.deque[tuple[float, int]] = collections.deque()

    # -- one downloader per model across processes -----------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[bool]:
        """Hold the model's cross-process lock, waiting (cancellably) while another process has it.

        Yields whether it had to wait, so that the caller can look for what the other one installed.
        """
        lock = ModelLock(self.store.partial_dir, self.entry.id)
        waited = False
        while not lock.try_acquire():
            if not waited:
                waited = True
                self.report("waiting", 0, self.entry.size, "", force=True)
            self.check_cancel()
            time.sleep(LOCK_POLL_SECONDS)
        try:
            self.check_cancel()
            yield waited
        finally:
            lock.release()

    # -- the whole download ------------------------------------------------------------------------

    def run(self) -> InstalledModel:
        failures = []
        unreachable = []
        self.check_cancel()
        self.ensure_space(self.entry.size, self.resume_offset(self.mirror_order()[0]))
        try:
            for url in self.mirror_order():
                try:
                    self.fetch(url)
                    return self.verify_and_install(url)
                except MirrorFailure as failure:
                    failures.append(f"{mirror_label(url, self.entry.urls)}: {failure.reason}")
                    if failure.unreachable:
                        unreachable.append(
                            f"{urllib.parse.urlsplit(url).hostname or url}: {failure.reason}"
                        )
                    if not failure.resumable and self.read_state().get("url") == url:
                        self.discard_partial()  # what this mirror sent before is of no use now
        except BaseException:
            # Cancelled, Ctrl+C, disk full, or a bug: nothing of this attempt is worth keeping.
            self.discard_partial()
            raise
        if failures and len(unreachable) == len(failures):
            failures = [f"this computer seems to be offline ({'; '.join(unreachable)})"]
        if self.part_size() > 0 and self.state_path.exists():
            raise DownloadError(
                "download failed: "
                + "; ".join(failures)
                + f" ({human_size(self.part_size())} kept: run the download again to resume)",
                self.entry.id,
            )
        self.discard_partial()
        raise DownloadError("download failed: " + "; ".join(failures), self.entry.id)

    def mirror_order(self) -> list[str]:
        """The mirror a kept partial file came from goes first, so that it can be resumed."""
        urls = list(self.entry.urls)
        previous = self.read_state().get("url")
        if isinstance(previous, str) and previous in urls and self.part_size() > 0:
            urls.remove(previous)
            urls.insert(0, previous)
        return urls

    # -- one mirror --------------------------------------------------------------------------------

    def fetch(self, url: str) -> None:
        failures_in_a_row = 0
        most_held = self.resume_offset(url)
        while True:
            self.check_cancel()
            try:
                self.transfer(url)
                return
            except RetryableFailure as failure:
                # Progress is a partial file larger than it ever was, not bytes received in this
                # try: a mirror that ignores Range restarts at 0 and may break off at the same place
                # every time.
                held = self.resume_offset(url)
                progressed = held > most_held and not failure.stalled
                most_held = max(most_held, held)
                failures_in_a_row = 1 if progressed else failures_in_a_row + 1
                if failures_in_a_row > self.options.retries:
                    raise MirrorFailure(failure.reason, resumable=True) from None
                delay = self.options.backoff * 2 ** (failures_in_a_row - 1)
                self.wait(min(delay, MAX_BACKOFF_SECONDS))

    def transfer(self, url: str) -> None:
        offset = self.resume_offset(url)
        request = urllib.request.Request(
            url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        )
        if offset:
            request.add_header("Range", f"bytes={offset}-")
            validator = self.read_state().get("validator")
            if validator:
                request.add_header("If-Range", str(validator))  # a str, as start_partial wrote it
        self.report("connecting", offset, self.entry.size, url, force=True)
        watchdog = HeaderDeadline(self.options.timeout)
        try:
            with watchdog:
                response = watchdog.opener.open(request, timeout=self.options.timeout)
        except urllib.error.HTTPError as error:
            error.close()
            if error.code == 416 and offset:
                self.discard_partial()  # the kept bytes do not fit the file any more: start again
                raise RetryableFailure("the server could not resume the earlier download") from None
            reason = f"HTTP {error.code} {error.reason}".strip()
            if error.code in TRANSIENT_HTTP_CODES:
                raise RetryableFailure(reason) from None
            raise MirrorFailure(reason) from None
        except (OSError, http.client.HTTPException) as error:
            if watchdog.expired:
                raise RetryableFailure(
                    f"no complete answer within {self.options.timeout:g} s "
                    "(the server sent its headers too slowly)"
                ) from None
            if is_unreachable(error):
                raise MirrorFailure(
                    self.describe(error), resumable=True, unreachable=True
                ) from None
            raise RetryableFailure(self.describe(error)) from None
        with response:
            length = content_length(response)
            if response.status == 206 and offset:
                start, total = content_range(response.headers.get("Content-Range"))
                if start != offset:
                    self.discard_partial()
                    raise RetryableFailure("the server resumed at the wrong place; starting again")
                if total is None and length is not None:
                    total = offset + length
            elif response.status == 200:
                offset = (
                    0  # a fresh file, or the server ignored the Range / the file changed (If-Range)
                )
                total = length
            else:
                raise MirrorFailure(f"unexpected HTTP {response.status}")
            if total is not None and total != self.entry.size:
                raise MirrorFailure(
                    f"the server offers {total:,} bytes but {self.entry.source_name} says "
                    f"{self.entry.size:,}"
                )
            self.ensure_space(total, offset)
            if offset == 0:
                self.start_partial(url, response)
            received = self.stream(response, url, offset, total)
        if length is not None and received < length:
            raise RetryableFailure(
                f"the connection closed after {human_size(offset + received)} "
                f"of {human_size(total)}"
            )

    def stream(
        self, response: http.client.HTTPResponse, url: str, offset: int, total: int | None
    ) -> int:
        limit = self.entry.size
        done = offset
        self.samples.clear()
        self.report("downloading", done, total, url, force=True)
        try:
            file = open(self.part, "ab")
        except OSError as error:
            raise DownloadError(
                f"cannot write the download ({error.strerror})", self.part
            ) from None
        # read1 returns what has arrived (up to a chunk) instead of waiting for a full chunk, so
        # progress and cancellation stay responsive on a slow line.
        read = getattr(response, "read1", response.read)
        window_start, window_done = time.monotonic(), done
        with file:
            while True:
                self.check_cancel()
                try:
                    chunk = read(self.options.chunk_size)
                except (OSError, http.client.HTTPException) as error:
                    raise RetryableFailure(self.describe(error)) from None
                if not chunk:
                    break
                if done + len(chunk) > limit:
                    raise MirrorFailure(
                        f"the server sends more than the expected {human_size(limit)}"
                    )
                try:
                    file.write(chunk)
                except OSError as error:
                    raise DownloadError(
                        f"cannot write the download ({error.strerror})", self.part
                    ) from None
                done += len(chunk)
                self.report("downloading", done, total, url)
                now = time.monotonic()
                if now - window_start >= self.options.stall_seconds:
                    if done - window_done < self.options.stall_bytes:
                        # Not progress (which resets the tries), or a trickle would go on forever.
                        raise RetryableFailure(
                            f"the server stalled (only {human_size(done - window_done)} in "
                            f"{now - window_start:.0f} s)",
                            stalled=True,
                        )
                    window_start, window_done = now, done
            file.flush()
            os.fsync(file.fileno())
        self.report("downloading", done, total, url, force=True)
        return done - offset

    # -- proof, then install -----------------------------------------------------------------------

    def verify_and_install(self, url: str) -> InstalledModel:
        entry = self.entry
        size = self.part_size()
        self.report("verifying", size, size, url, force=True)
        try:
            if size != entry.size:
                raise MirrorFailure(
                    f"the file has {size:,} bytes, {entry.source_name} says {entry.size:,}"
                )
            digest = sha256_of(self.part, self.cancelled)
            if digest != entry.sha256:
                raise MirrorFailure(
                    f"checksum mismatch: the file is not the one published "
                    f"(sha256 {digest[:12]}..., {entry.source_name} says {entry.sha256[:12]}...)"
                )
            arch, scale, hyperparameters, suffix = self.trial_load()
        except MirrorFailure:
            self.discard_partial()
            raise
        self.check_cancel()
        record = {
            "name": entry.name,
            "arch": arch,
            "scale": scale,
            "sha256": digest,
            "size": size,
            "verified": True,
            "source": "catalog",
            "catalog_id": entry.id,
            "origin": url,
            "license": entry.license,
            "hyperparameters": hyperparameters,
        }
        installed = self.store.install(self.part, entry.id, suffix, record)
        self.state_path.unlink(missing_ok=True)
        return installed

    def trial_load(self) -> tuple[str, int, dict[str, Any], str]:
        """Load the file once, as the engine would, and check it is the catalog's architecture."""
        from sr_studio.checkpoint import looks_like_safetensors
        from sr_studio.model_loading import load_model

        entry = self.entry
        try:
            model = load_model(self.part)
        except CheckpointError as error:
            raise MirrorFailure(f"not a usable model ({error.reason})") from None
        described = model.descriptor
        arch, scale = described.arch, described.scale
        hyperparameters = dict(described.hyperparameters)
        del model
        if (arch, scale) != (entry.arch, entry.scale):
            raise MirrorFailure(
                f"the file is a {arch} x{scale} model, the catalog says {entry.arch} x{entry.scale}"
            )
        wrong = [
            f"{k}={hyperparameters.get(k)!r}"
            for k, v in entry.expect.items()
            if hyperparameters.get(k) != v
        ]
        if wrong:
            raise MirrorFailure(f"the file is not {entry.variant} ({', '.join(wrong)})")
        with open(self.part, "rb") as file:
            head = file.read(16)
        suffix = ".safetensors" if looks_like_safetensors(head, self.part_size()) else ".pth"
        return arch, scale, hyperparameters, suffix

    # -- the partial file --------------------------------------------------------------------------

    def part_size(self) -> int:
        try:
            return self.part.stat().st_size
        except OSError:
            return 0

    def read_state(self) -> dict[str, object]:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def resume_offset(self, url: str) -> int:
        """Bytes already here from this same URL; a partial file from elsewhere is not mixed in."""
        return self.part_size() if self.read_state().get("url") == url else 0

    def start_partial(self, url: str, response: http.client.HTTPResponse) -> None:
        self.store.partial_dir.mkdir(parents=True, exist_ok=True)
        etag = response.headers.get("ETag")
        validator = (
            etag if etag and not etag.startswith("W/") else response.headers.get("Last-Modified")
        )
        self.part.write_bytes(b"")
        self.state_path.write_text(
            json.dumps({"url": url, "validator": validator}), encoding="utf-8"
        )

    def discard_partial(self) -> None:
        self.part.unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)

    def ensure_space(self, total: int | None, offset: int) -> None:
        if total:
            ensure_free_space(self.store.root, max(0, total - offset), self.entry.id)

    # -- progress, cancellation, waiting -----------------------------------------------------------

    def report(
        self, phase: str, done: int, total: int | None, url: str, force: bool = False
    ) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        speed = 0.0
        if phase == "downloading":
            # Speed over the last few seconds, so a stall shows at once, not as a slow average.
            self.samples.append((now, done))
            while len(self.samples) > 2 and now - self.samples[0][0] > SPEED_WINDOW_SECONDS:
                self.samples.popleft()
            first_time, first_done = self.samples[0]
            speed = max(0.0, (done - first_done) / (now - first_time)) if now > first_time else 0.0
        if (
            not force
            and phase == self.last_phase
            and now - self.last_report < PROGRESS_INTERVAL_SECONDS
        ):
            return
        self.last_report, self.last_phase = now, phase
        self.progress(DownloadProgress(self.entry.id, phase, done, total, speed, url))

    def check_cancel(self) -> None:
        if self.cancelled():
            raise Cancelled("download cancelled", self.entry.id)

    def wait(self, seconds: float) -> None:
        if self.options.sleep is not None:
            self.options.sleep(seconds)
        else:
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                self.check_cancel()
                time.sleep(min(0.1, left))
        self.check_cancel()

    def describe(self, error: BaseException) -> str:
        if isinstance(error, urllib.error.URLError) and not isinstance(error.reason, str):
            error = error.reason
        if isinstance(error, socket.gaierror):
            return "name lookup failed"
        if isinstance(error, OSError) and error.errno in (
            errno.ENETUNREACH,
            getattr(errno, "ENETDOWN", None),
        ):
            return "no network to reach the server"
        if isinstance(error, OSError) and error.errno == errno.EHOSTUNREACH:
            return "the server cannot be reached from here"
        if isinstance(error, (TimeoutError, socket.timeout)):
            return f"no answer within {self.options.timeout:g} s (timed out)"
        if isinstance(error, http.client.RemoteDisconnected):
            return "the server closed the connection"
        if isinstance(error, ConnectionResetError):
            return "the connection was reset"
        if isinstance(error, ConnectionRefusedError):
            return "the server refused the connection"
        if isinstance(error, urllib.error.URLError):
            return f"cannot connect ({error.reason})"
        if isinstance(error, OSError) and error.strerror:
            return error.strerror
        return str(error) or type(error).__name__


def is_unreachable(error: BaseException) -> bool:
    """No name for the host, no route to it, or nothing listening: a retry would meet the same."""
    if isinstance(error, urllib.error.URLError) and not isinstance(error.reason, str):
        error = error.reason
    return isinstance(error, socket.gaierror) or (
        isinstance(error, OSError) and error.errno in UNREACHABLE_ERRNOS
    )


class HeaderDeadline:
    """Bounds the whole wait for a response's headers (redirects included), not just each read.

    The socket timeout fires only after a silent `seconds`; a server that sends its headers a byte
    at a time would hold a download at "connecting" forever. When the deadline passes first, every
    connection this opener made is shut down, which ends the blocked read with an error; `expired`
    then tells the caller why. Once the headers are in, the body has the stall rule instead.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._over = False
        self.opener = urllib.request.build_opener(
            _WatchedHTTPHandler(self._watch), _WatchedHTTPSHandler(self._watch)
        )

    def _watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._over:
                return
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> HeaderDeadline:
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:  # set by __enter__
            self._timer.cancel()
        with self._lock:
            self._over = True  # the response now belongs to the caller: the body has the stall rule
            self._sockets.clear()


class _Watching(urllib.request.AbstractHTTPHandler):
    """Mixed into urllib's HTTP(S) handlers: every connection they open reports its socket."""

    def __init__(self, watch: Callable[[socket.socket], None]) -> None:
        super().__init__()
        self._watch = watch

    def do_open(
        self,
        http_class: Callable[..., http.client.HTTPConnection],
        req: urllib.request.Request,
        **kwargs: Any,
    ) -> http.client.HTTPResponse:
        watch = self._watch

        def watched(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
            # The plain TCP socket, as soon as it exists: a proxy tunnel and the TLS handshake are
            # covered too. `_create_connection` is the instance hook http.client itself calls; it is
            # private, so typeshed does not declare it (hence the two ignores).
            connection = http_class(*args, **kwargs)
            create: Callable[..., socket.socket] = connection._create_connection  # type: ignore[attr-defined]

            def create_and_watch(*args: Any, **kwargs: Any) -> socket.socket:
                sock = create(*args, **kwargs)
                watch(sock)
                return sock

            connection._create_connection = create_and_watch  # type: ignore[attr-defined]
            return connection

        return super().do_open(watched, req, **kwargs)


class _WatchedHTTPHandler(_Watching, urllib.request.HTTPHandler):
    pass


class _WatchedHTTPSHandler(_Watching, urllib.request.HTTPSHandler):
    pass


def as_cancel_check(cancel: CancelFlag) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if hasattr(cancel, "is_set"):
        return cancel.is_set
    return cancel


def content_length(response: http.client.HTTPResponse) -> int | None:
    try:
        value = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def content_range(header: str | None) -> tuple[int | None, int | None]:
    """`bytes 100-199/200` -> (100, 200); the total is None when the server writes `*`."""
    try:
        unit, _, spec = (header or "").partition(" ")
        span, _, total = spec.partition("/")
        start = int(span.split("-", 1)[0])
        return start, (int(total) if total.strip() not in ("", "*") else None)
    except ValueError:
        return None, None


def mirror_label(url: str, urls: tuple[str, ...]) -> str:
    host = urllib.parse.urlsplit(url).netloc or url
    return f"{host} (mirror {urls.index(url) + 1} of {len(urls)})" if len(urls) > 1 else host
