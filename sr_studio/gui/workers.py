"""Work that must not freeze the window, each on its own QThread: enlarging, and reading/writing files.

The workers are QObjects moved to a QThread; requests arrive as queued signals and answers go back
as signals, so the GUI thread only ever touches finished data. Cancelling is a threading.Event the
engine polls between tiles. Every failure becomes one readable line (`failed`), never an exception
escaping into Qt.
"""

from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from sr_studio.errors import Cancelled, SRStudioError
from sr_studio.gui.display_pyramid import DisplayPyramid, display_pixels
from sr_studio.gui.jobs import ExportRequest, LoadedPhoto, RestoredResult, RunRequest, RunResult  # noqa: F401
from sr_studio.gui.spill_store import SpillStore


def describe_error(error: BaseException) -> str:
    """One line for the user; unexpected errors also go to stderr with their traceback (for bug reports)."""
    if isinstance(error, SRStudioError):
        return str(error)
    if isinstance(error, MemoryError):
        return "not enough memory for this photo; try a smaller tile size or output scale"
    traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    return f"unexpected error: {type(error).__name__}: {error}"


class UpscaleWorker(QObject):
    """Loads the model (cached between runs) and enlarges one photo per `run` request."""

    status = Signal(int, str)  # job_id, what is happening ("Loading model…")
    enlarging = Signal(int)  # job_id: the model is ready and the first tile starts (time left counts from here)
    progress = Signal(int, int, int, int, int)  # job_id, done, total, pass_index, passes
    tile_ready = Signal(int, int, int, object)  # job_id, y0, x0, uint8 pixels in result coordinates
    finished = Signal(object)  # RunResult
    failed = Signal(int, str)
    cancelled = Signal(int)
    devices_found = Signal(object)  # {"auto": True, "cpu": True, "cuda": bool, "mps": bool, "cpu_bf16": bool}

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()
        self._model_key: tuple | None = None
        self._model: Any = None
        self._upscaler_key: tuple | None = None
        self._upscaler: Any = None
        # Replaceable (tests, self-test): how a weights file becomes a model and a model an upscaler.
        self.load_model: Callable[[Path], Any] | None = None
        self.make_upscaler: Callable[..., Any] | None = None

    def cancel(self) -> None:
        """Thread-safe: the engine stops before its next tile."""
        self._cancel.set()

    @Slot()
    def probe_devices(self) -> None:
        """Import torch here, not in the GUI thread (it takes seconds), and say which devices exist and
        whether the CPU computes bfloat16 in hardware."""
        try:
            import torch

            from sr_studio.engine.devices import cpu_has_native_bf16

            mps = getattr(torch.backends, "mps", None)
            found = {"auto": True, "cpu": True, "cuda": bool(torch.cuda.is_available()),
                     "mps": bool(mps and mps.is_available()), "cpu_bf16": cpu_has_native_bf16()}
        except Exception:  # noqa: BLE001
            found = {"auto": True, "cpu": True, "cuda": False, "mps": False}
        self.devices_found.emit(found)

    @Slot(object)
    def run(self, request: RunRequest) -> None:
        import time

        self._cancel.clear()
        started = time.monotonic()
        try:
            model = self._model_for(request)
            if self._cancel.is_set():
                raise Cancelled()
            upscaler = self._upscaler_for(model, request)
            self.status.emit(request.job_id, "Enlarging…")
            self.enlarging.emit(request.job_id)
            scale = request.scale if request.scale is not None else float(model.scale)

            def on_progress(progress) -> None:
                self.progress.emit(request.job_id, int(progress.done), int(progress.total),
                                   int(getattr(progress, "pass_index", 0)), int(getattr(progress, "passes", 1)))
                canvas = getattr(progress, "canvas", None)
                box = getattr(progress, "box", None)
                if canvas is not None and box is not None and request.result_size is not None:
                    mapped = map_tile(canvas, box, request.result_size)
                    if mapped is not None:
                        self.tile_ready.emit(request.job_id, *mapped)

            pixels = upscaler.upscale(request.pixels, scale=scale, on_progress=on_progress,
                                      should_cancel=self._cancel.is_set)
            if self._cancel.is_set():
                raise Cancelled()
            pyramid = None
            if request.display:
                self.status.emit(request.job_id, "Preparing the view…")
                pyramid = DisplayPyramid(pixels)
            self.finished.emit(RunResult(
                job_id=request.job_id, pixels=pixels, pyramid=pyramid, model_arch=str(getattr(model, "arch", "")),
                model_scale=int(getattr(model, "scale", 0) or 0), scale=scale,
                device=str(getattr(upscaler, "device", request.device)), seconds=time.monotonic() - started,
                notice=str(getattr(upscaler, "notice", None) or ""),
            ))
        except Cancelled:
            self.cancelled.emit(request.job_id)
        except BaseException as error:  # noqa: BLE001 - nothing may escape into Qt's event loop
            self.failed.emit(request.job_id, describe_error(error))

    def _model_for(self, request: RunRequest):
        path = Path(request.model_path)
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None
        # The engine casts the model in place, so another device or precision needs a fresh copy.
        key = (str(path), stamp, request.device, request.precision)
        if key != self._model_key:
            self.status.emit(request.job_id, f"Loading model {path.stem}…")
            self._model = self._model_key = None
            self._upscaler = self._upscaler_key = None
            load = self.load_model
            if load is None:
                from sr_studio.model_loading import load_model as load
            self._model = load(path)
            self._model_key = key
        return self._model

    def _upscaler_for(self, model, request: RunRequest):
        key = (id(model), request.tile)
        if key != self._upscaler_key:
            make = self.make_upscaler
            if make is None:
                from sr_studio.engine import Upscaler as make
            self._upscaler = make(model, device=request.device, precision=request.precision, tile=request.tile)
            self._upscaler_key = key
        return self._upscaler


def map_tile(canvas: np.ndarray, box, result_size: tuple[int, int]):
    """(y0, x0, uint8 tile) of a finished tile, resized (nearest) when the canvas is not at the result size.

    The engine may fill an intermediate canvas (several passes, or a larger model then downscaled);
    for the live preview the tile is placed at the same relative position on the final result.
    """
    y0, x0, y1, x1 = (int(v) for v in box)
    if y1 <= y0 or x1 <= x0:
        return None
    tile = display_pixels(np.asarray(canvas[y0:y1, x0:x1]))
    canvas_h, canvas_w = canvas.shape[:2]
    out_h, out_w = result_size
    if (canvas_h, canvas_w) == (out_h, out_w):
        return y0, x0, tile
    fy, fx = out_h / canvas_h, out_w / canvas_w
    ry0, rx0 = int(round(y0 * fy)), int(round(x0 * fx))
    ry1, rx1 = max(ry0 + 1, int(round(y1 * fy))), max(rx0 + 1, int(round(x1 * fx)))
    rows = np.minimum(((np.arange(ry0, ry1) + 0.5) / fy).astype(np.int64) - y0, tile.shape[0] - 1)
    cols = np.minimum(((np.arange(rx0, rx1) + 0.5) / fx).astype(np.int64) - x0, tile.shape[1] - 1)
    return ry0, rx0, np.ascontiguousarray(tile[np.maximum(rows, 0)][:, np.maximum(cols, 0)])


class FileWorker(QObject):
    """Reads photos (and prepares their display copies), writes exports, parks results on disk and reads
    them back, off the GUI thread. Requests are handled in the order they were made, so a parked file
    discarded after an export request is still there for that export."""

    loaded = Signal(object)  # LoadedPhoto
    load_failed = Signal(int, str)
    exported = Signal(int, str, object)  # job_id, written path, list of notices
    export_failed = Signal(int, str)
    parked = Signal(int, int, object)  # job_id, token, Path in the session cache
    park_failed = Signal(int, int, str)
    restored = Signal(object)  # RestoredResult
    restore_failed = Signal(int, int, str)

    def __init__(self, store: SpillStore | None) -> None:
        super().__init__()
        self.store = store  # None: there is no folder to park results in; they stay in memory

    @Slot(int, int, object)
    def park(self, job_id: int, token: int, pixels: np.ndarray) -> None:
        try:
            if self.store is None:
                raise SRStudioError("there is no folder to park it in")
            path = self.store.put(pixels, f"result-{job_id}")
            self.parked.emit(job_id, token, path)
        except BaseException as error:  # noqa: BLE001
            self.park_failed.emit(job_id, token, describe_error(error))

    @Slot(int, int, object)
    def restore(self, job_id: int, token: int, path: Path) -> None:
        try:
            pixels = self.store.load(path)
            self.restored.emit(RestoredResult(job_id, token, pixels, DisplayPyramid(pixels)))
        except BaseException as error:  # noqa: BLE001
            self.restore_failed.emit(job_id, token, describe_error(error))

    @Slot(int, int, object)
    def prepare_view(self, job_id: int, token: int, pixels: np.ndarray) -> None:
        """The display copy of a result still in memory (enlarged off screen, then selected)."""
        try:
            self.restored.emit(RestoredResult(job_id, token, pixels, DisplayPyramid(pixels)))
        except BaseException as error:  # noqa: BLE001
            self.restore_failed.emit(job_id, token, describe_error(error))

    @Slot(object)
    def discard(self, path: Path) -> None:
        if self.store is not None:
            self.store.discard(path)

    @Slot(int, str)
    def load(self, job_id: int, path: str) -> None:
        try:
            from sr_studio.photo_files import read_photo

            photo = read_photo(path)
            self.loaded.emit(LoadedPhoto(job_id, photo, DisplayPyramid(photo.pixels)))
        except SRStudioError as error:  # the window names the photo already: the reason alone
            self.load_failed.emit(job_id, error.reason if error.path == path else str(error))
        except BaseException as error:  # noqa: BLE001
            self.load_failed.emit(job_id, describe_error(error))

    @Slot(object)
    def export(self, request: ExportRequest) -> None:
        notices: list[str] = []
        try:
            from sr_studio.photo_files import write_photo

            try:
                request.destination.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise SRStudioError(f"cannot create the folder ({error.strerror})", request.destination.parent) from None
            pixels = request.pixels if request.pixels is not None else self.store.load(request.pixels_file)
            written = write_photo(request.destination, pixels, like=request.like, format=request.format,
                                  quality=request.quality, bit_depth=request.bit_depth, overwrite=request.overwrite,
                                  on_warning=notices.append)
            self.exported.emit(request.job_id, str(written), notices)
        except BaseException as error:  # noqa: BLE001
            self.export_failed.emit(request.job_id, describe_error(error))


# Modules the workers need, imported on the GUI thread before any worker starts. PySide6 hooks
# `import` (it reads each new module's source to look for `from __feature__`), and that hook running
# on a worker thread while the GUI thread is busy corrupts memory: importing torch in the engine
# thread crashed the app at start-up ("deallocating None"). So workers never import anything new.
WORKER_MODULES = (
    "torch",
    "safetensors.torch",
    "sr_studio.checkpoint",
    "sr_studio.model_loading",
    "sr_studio.engine",
    "sr_studio.photo_files",
    "sr_studio.weights",
    "sr_studio.weights.download",
    "sr_studio.weights.importing",
)


def prewarm_imports() -> None:
    """Import every module a worker may use, here on the GUI thread (see WORKER_MODULES)."""
    import importlib

    for name in WORKER_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # reported by the worker that needs it, as a readable error
            pass
    try:  # torch pulls these in on first use; do it now rather than on a worker thread
        import torch

        torch.backends.mps.is_available()
        torch.cuda.is_available()
        torch.zeros(1).to(torch.bfloat16)
    except Exception:  # noqa: BLE001
        pass


def start_thread(worker: QObject, name: str) -> QThread:
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.start()
    return thread


def stop_thread(thread: QThread) -> None:
    """Let the current request finish (callers cancel first), then end the thread; never destroy it running."""
    if thread.isRunning():
        thread.quit()
        thread.wait()


class WorkerBridge(QObject):
    """The session's `Workers` in the app: requests go to the engine and file threads as queued signals, their
    answers come back here, on the GUI thread, and are handed to the session."""

    run_requested = Signal(object)
    probe_requested = Signal()
    load_requested = Signal(int, str)
    export_requested = Signal(object)
    park_requested = Signal(int, int, object)  # job id, result token, pixels
    restore_requested = Signal(int, int, object)  # job id, result token, parked file
    view_requested = Signal(int, int, object)  # job id, result token, result pixels in memory
    discard_requested = Signal(object)  # parked file no longer needed

    def __init__(self) -> None:
        super().__init__()
        from sr_studio.gui.spill_store import open_spill_store

        prewarm_imports()
        self.session = None
        self.upscale_worker = UpscaleWorker()
        self.spill_store, self.spill_problem = open_spill_store()
        self.file_worker = FileWorker(self.spill_store)
        self.upscale_thread = start_thread(self.upscale_worker, "sr-studio-engine")
        self.file_thread = start_thread(self.file_worker, "sr-studio-files")
        from sr_studio.gui.preview_worker import PreviewBridge

        self.previews = PreviewBridge(self)
        up, files = self.upscale_worker, self.file_worker
        self.run_requested.connect(up.run)
        self.probe_requested.connect(up.probe_devices)
        self.load_requested.connect(files.load)
        self.export_requested.connect(files.export)
        self.park_requested.connect(files.park)
        self.restore_requested.connect(files.restore)
        self.view_requested.connect(files.prepare_view)
        self.discard_requested.connect(files.discard)
        for signal, slot in ((up.status, self._run_status), (up.enlarging, self._run_enlarging),
                             (up.progress, self._run_progress), (up.tile_ready, self._run_tile),
                             (up.finished, self._run_finished), (up.failed, self._run_failed),
                             (up.cancelled, self._run_cancelled), (files.loaded, self._loaded),
                             (files.load_failed, self._load_failed), (files.exported, self._exported),
                             (files.export_failed, self._export_failed), (files.parked, self._parked),
                             (files.park_failed, self._park_failed), (files.restored, self._restored),
                             (files.restore_failed, self._restore_failed)):
            signal.connect(slot)

    def attach(self, session) -> None:
        self.session = session

    # Requests (the Workers interface) --------------------------------------------------------------
    @property
    def can_park(self) -> bool:
        return self.spill_store is not None

    def load(self, job_id: int, path: str) -> None:
        self.load_requested.emit(job_id, path)

    def run(self, request: RunRequest) -> None:
        self.run_requested.emit(request)

    def cancel_run(self) -> None:
        self.upscale_worker.cancel()

    def export(self, request: ExportRequest) -> None:
        self.export_requested.emit(request)

    def park(self, job_id: int, token: int, pixels) -> None:
        self.park_requested.emit(job_id, token, pixels)

    def restore(self, job_id: int, token: int, path: Path) -> None:
        self.restore_requested.emit(job_id, token, path)

    def prepare_view(self, job_id: int, token: int, pixels) -> None:
        self.view_requested.emit(job_id, token, pixels)

    def discard(self, path: Path) -> None:
        self.discard_requested.emit(path)

    def preview(self, request) -> None:
        self.previews.preview_requested.emit(request)

    def compare(self, request) -> None:
        self.previews.compare_requested.emit(request)

    def cancel_preview(self) -> None:
        self.previews.worker.cancel()

    def estimate(self, request) -> None:
        self.previews.estimate_requested.emit(request)

    def stop(self) -> None:
        """Let the current requests finish (the run was cancelled), then end the threads and the cache."""
        self.session = None  # answers still queued are dropped
        for thread in (self.upscale_thread, self.file_thread):
            stop_thread(thread)
        self.previews.stop()
        if self.spill_store is not None:
            self.spill_store.close()

    # Answers, on the GUI thread ---------------------------------------------------------------------
    def _run_status(self, *args) -> None:
        if self.session is not None:
            self.session.run_status(*args)

    def _run_enlarging(self, *args) -> None:
        if self.session is not None:
            self.session.run_enlarging(*args)

    def _run_progress(self, *args) -> None:
        if self.session is not None:
            self.session.run_progress(*args)

    def _run_tile(self, *args) -> None:
        if self.session is not None:
            self.session.run_tile(*args)

    def _run_finished(self, *args) -> None:
        if self.session is not None:
            self.session.run_finished(*args)

    def _run_failed(self, *args) -> None:
        if self.session is not None:
            self.session.run_failed(*args)

    def _run_cancelled(self, *args) -> None:
        if self.session is not None:
            self.session.run_cancelled(*args)

    def _loaded(self, *args) -> None:
        if self.session is not None:
            self.session.photo_loaded(*args)

    def _load_failed(self, *args) -> None:
        if self.session is not None:
            self.session.photo_failed(*args)

    def _exported(self, *args) -> None:
        if self.session is not None:
            self.session.exported(*args)

    def _export_failed(self, *args) -> None:
        if self.session is not None:
            self.session.export_failed(*args)

    def _parked(self, *args) -> None:
        if self.session is not None:
            self.session.parked(*args)

    def _park_failed(self, *args) -> None:
        if self.session is not None:
            self.session.park_failed(*args)

    def _restored(self, *args) -> None:
        if self.session is not None:
            self.session.restored(*args)

    def _restore_failed(self, *args) -> None:
        if self.session is not None:
            self.session.restore_failed(*args)
