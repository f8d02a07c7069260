"""The session's `Workers` in the app: requests go to the engine and file threads as queued
signals, their answers come back on the GUI thread and are handed to the session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from sr_studio.gui.file_worker import FileWorker
from sr_studio.gui.jobs import ExportRequest, RunRequest
from sr_studio.gui.preview_worker import PreviewBridge
from sr_studio.gui.prewarm import prewarm_imports
from sr_studio.gui.spill_store import open_spill_store
from sr_studio.gui.upscale_worker import UpscaleWorker
from sr_studio.gui.worker_threads import start_thread, stop_thread


class WorkerBridge(QObject):
    """Starts the two worker threads and relays between them and the session."""

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
        prewarm_imports()
        self.session: Any = None
        self.upscale_worker = UpscaleWorker()
        self.spill_store, self.spill_problem = open_spill_store()
        self.file_worker = FileWorker(self.spill_store)
        self.upscale_thread = start_thread(self.upscale_worker, "sr-studio-engine")
        self.file_thread = start_thread(self.file_worker, "sr-studio-files")
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
        answers = (
            (up.status, self._run_status),
            (up.enlarging, self._run_enlarging),
            (up.progress, self._run_progress),
            (up.tile_ready, self._run_tile),
            (up.finished, self._run_finished),
            (up.failed, self._run_failed),
            (up.cancelled, self._run_cancelled),
            (files.loaded, self._loaded),
            (files.load_failed, self._load_failed),
            (files.exported, self._exported),
            (files.export_failed, self._export_failed),
            (files.parked, self._parked),
            (files.park_failed, self._park_failed),
            (files.restored, self._restored),
            (files.restore_failed, self._restore_failed),
        )
        for signal, slot in answers:
            signal.connect(slot)

    def attach(self, session: Any) -> None:
        self.session = session

    # Requests (the Workers interface) ----------------------------------------------------------
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

    def park(self, job_id: int, token: int, pixels: Any) -> None:
        self.park_requested.emit(job_id, token, pixels)

    def restore(self, job_id: int, token: int, path: Path) -> None:
        self.restore_requested.emit(job_id, token, path)

    def prepare_view(self, job_id: int, token: int, pixels: Any) -> None:
        self.view_requested.emit(job_id, token, pixels)

    def discard(self, path: Path) -> None:
        self.discard_requested.emit(path)

    def preview(self, request: Any) -> None:
        self.previews.preview_requested.emit(request)

    def compare(self, request: Any) -> None:
        self.previews.compare_requested.emit(request)

    def cancel_preview(self) -> None:
        self.previews.worker.cancel()

    def estimate(self, request: Any) -> None:
        self.previews.estimate_requested.emit(request)

    def stop(self) -> None:
        """Let the current requests finish (the run was cancelled), then end the threads and the
        cache."""
        self.session = None  # answers still queued are dropped
        for thread in (self.upscale_thread, self.file_thread):
            stop_thread(thread)
        self.previews.stop()
        if self.spill_store is not None:
            self.spill_store.close()

    # Answers, on the GUI thread -----------------------------------------------------------------
    def _run_status(self, *args: Any) -> None:
        if self.session is not None:
            self.session.run_status(*args)

    def _run_enlarging(self, *args: Any) -> None:
        if self.session is not None:
            self.session.run_enlarging(*args)

    def _run_progress(self, *args: Any) -> None:
        if self.session is not None:
            self.session.run_progress(*args)

    def _run_tile(self, *args: Any) -> None:
        if self.session is not None:
            self.session.run_tile(*args)

    def _run_finished(self, *args: Any) -> None:
        if self.session is not None:
            self.session.run_finished(*args)

    def _run_failed(self, *args: Any) -> None:
        if self.session is not None:
            self.session.run_failed(*args)

    def _run_cancelled(self, *args: Any) -> None:
        if self.session is not None:
            self.session.run_cancelled(*args)

    def _loaded(self, *args: Any) -> None:
        if self.session is not None:
            self.session.photo_loaded(*args)

    def _load_failed(self, *args: Any) -> None:
        if self.session is not None:
            self.session.photo_failed(*args)

    def _exported(self, *args: Any) -> None:
        if self.session is not None:
            self.session.exported(*args)

    def _export_failed(self, *args: Any) -> None:
        if self.session is not None:
            self.session.export_failed(*args)

    def _parked(self, *args: Any) -> None:
        if self.session is not None:
            self.session.parked(*args)

    def _park_failed(self, *args: Any) -> None:
        if self.session is not None:
            self.session.park_failed(*args)

    def _restored(self, *args: Any) -> None:
        if self.session is not None:
            self.session.restored(*args)

    def _restore_failed(self, *args: Any) -> None:
        if self.session is not None:
            self.session.restore_failed(*args)
