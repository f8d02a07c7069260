"""Previews, model comparisons and estimates, on a thread of their own so that the window never
waits.

Each request enlarges a crop with the tiler's context (engine/crop_preview.py), so what it shows is
what the full run will give there, and records the speed it measured for the next estimate.
Cancelling is a threading.Event the engine polls between tiles; every failure becomes one line.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from sr_studio.errors import Cancelled
from sr_studio.gui.display_pyramid import display_pixels
from sr_studio.gui.jobs import (
    CompareCell,
    CompareRequest,
    EstimateRequest,
    PreviewRequest,
    PreviewResult,
)
from sr_studio.model_blending import Cleanup


class PreviewWorker(QObject):
    tile_ready = Signal(
        int, int, int, int, object
    )  # job_id, token, y0, x0, uint8 pixels in result coordinates
    preview_done = Signal(object)  # PreviewResult
    preview_failed = Signal(int, int, str)  # job_id, token, message ("cancelled" when stopped)
    compare_cell = Signal(object)  # CompareCell
    compare_done = Signal(int)  # token
    compare_failed = Signal(int, str)
    estimated = Signal(int, int, str)  # job_id, token, text ("" when nothing was measured yet)

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()
        self._key: tuple[Any, ...] | None = None
        self._upscaler: Any = None

    def cancel(self) -> None:
        """Thread-safe: the engine stops before its next tile."""
        self._cancel.set()

    def _upscaler_for(
        self,
        path: Path,
        device: str,
        precision: str,
        tile: int | None,
        cleanup: Cleanup | None = None,
    ) -> Any:
        """One model kept between requests: previewing region after region loads it once."""
        try:
            stamp = Path(path).stat().st_mtime_ns
        except OSError:
            stamp = None
        key = (str(path), stamp, device, precision, tile, cleanup)
        if key != self._key:
            from sr_studio.engine import Upscaler
            from sr_studio.model_loading import load_model

            self._upscaler = self._key = None
            self._upscaler = Upscaler(
                load_model(path, cleanup), device=device, precision=precision, tile=tile
            )
            self._key = key
        return self._upscaler

    def _crop(
        self,
        upscaler: Any,
        pixels: Any,
        box: tuple[int, int, int, int],
        scale: float | None,
        on_tile: Any = None,
    ) -> Any:
        from sr_studio.engine.crop_preview import CropBox, upscale_crop
        from sr_studio.engine.throughput import ThroughputStore, speed_key

        result = upscale_crop(
            upscaler,
            pixels,
            CropBox(*box),
            scale,
            on_tile=on_tile,
            should_cancel=self._cancel.is_set,
        )
        ThroughputStore.default().record(
            speed_key(upscaler.descriptor, upscaler.device, upscaler.precision),
            result.patch_pixels,
            result.seconds,
            "preview",
        )
        return result

    @Slot(object)
    def preview(self, request: PreviewRequest) -> None:
        from sr_studio.gui.error_wording import describe_error

        self._cancel.clear()
        try:
            upscaler = self._upscaler_for(
                request.model_path, request.device, request.precision, request.tile, request.cleanup
            )
            scale = request.scale or float(upscaler.scale)
            top, left = round(request.box[1] * scale), round(request.box[0] * scale)

            def on_tile(tile: Any) -> None:
                y0, x0, y1, x1 = tile.box
                self.tile_ready.emit(
                    request.job_id,
                    request.token,
                    top + y0,
                    left + x0,
                    display_pixels(tile.pixels[y0:y1, x0:x1]),
                )

            result = self._crop(upscaler, request.pixels, request.box, scale, on_tile)
            self.preview_done.emit(
                PreviewResult(
                    request.job_id,
                    request.token,
                    top,
                    left,
                    display_pixels(result.pixels),
                    result.seconds,
                    self._estimate_text(
                        upscaler, request.pixels.shape[0], request.pixels.shape[1], scale
                    ),
                )
            )
        except Cancelled:
            self.preview_failed.emit(request.job_id, request.token, "cancelled")
        except BaseException as error:  # noqa: BLE001 - nothing may escape into Qt's event loop
            self.preview_failed.emit(request.job_id, request.token, describe_error(error))

    @Slot(object)
    def compare(self, request: CompareRequest) -> None:
        from sr_studio.gui.error_wording import describe_error

        self._cancel.clear()
        try:
            for index, model in enumerate(request.models):
                if self._cancel.is_set():
                    raise Cancelled()
                upscaler = self._upscaler_for(
                    model.path, request.device, request.precision, request.tile, model.cleanup
                )
                result = self._crop(upscaler, request.pixels, request.box, request.scale)
                self.compare_cell.emit(
                    CompareCell(
                        request.token, index, model, display_pixels(result.pixels), result.seconds
                    )
                )
            self.compare_done.emit(request.token)
        except Cancelled:
            self.compare_failed.emit(request.token, "cancelled")
        except BaseException as error:  # noqa: BLE001
            self.compare_failed.emit(request.token, describe_error(error))

    @Slot(object)
    def estimate(self, request: EstimateRequest) -> None:
        try:
            upscaler = self._upscaler_for(
                request.model_path, request.device, request.precision, request.tile, request.cleanup
            )
            text = self._estimate_text(upscaler, request.height, request.width, request.scale)
        except BaseException:  # noqa: BLE001 - an estimate is advice: none rather than an error
            text = ""
        self.estimated.emit(request.job_id, request.token, text)

    @staticmethod
    def _estimate_text(upscaler: Any, height: int, width: int, scale: float | None) -> str:
        from sr_studio.engine.throughput import ThroughputStore, estimate_run, estimate_text

        estimate = estimate_run(
            upscaler, height, width, scale, ThroughputStore.default(), calibrate_if_unknown=False
        )
        return "" if estimate is None else estimate_text(estimate.seconds)


class PreviewBridge(QObject):
    """The preview part of the session's `Workers`: requests to the preview thread as queued
    signals, answers back on the GUI thread to whatever session `owner.session` is (None once the
    window closes)."""

    preview_requested = Signal(object)
    compare_requested = Signal(object)
    estimate_requested = Signal(object)

    def __init__(self, owner: Any) -> None:
        super().__init__()
        from sr_studio.gui.worker_threads import start_thread

        self.owner = owner
        self.worker = PreviewWorker()
        self.thread = start_thread(self.worker, "sr-studio-preview")
        self.preview_requested.connect(self.worker.preview)
        self.compare_requested.connect(self.worker.compare)
        self.estimate_requested.connect(self.worker.estimate)
        # Bound methods of this object (it lives on the GUI thread), so the answers are queued
        # there: a lambda would run on the worker's thread and touch the window from it.
        worker = self.worker
        worker.tile_ready.connect(self._tile_ready)
        worker.preview_done.connect(self._preview_done)
        worker.preview_failed.connect(self._preview_failed)
        worker.compare_cell.connect(self._compare_cell)
        worker.compare_done.connect(self._compare_done)
        worker.compare_failed.connect(self._compare_failed)
        worker.estimated.connect(self._estimated)

    @Slot(int, int, int, int, object)
    def _tile_ready(self, job_id: int, token: int, y0: int, x0: int, pixels: Any) -> None:
        self._answer("preview_tile", job_id, token, y0, x0, pixels)

    @Slot(object)
    def _preview_done(self, result: Any) -> None:
        self._answer("preview_finished", result)

    @Slot(int, int, str)
    def _preview_failed(self, job_id: int, token: int, message: str) -> None:
        self._answer("preview_failed", job_id, token, message)

    @Slot(object)
    def _compare_cell(self, cell: Any) -> None:
        self._answer("compare_cell", cell)

    @Slot(int)
    def _compare_done(self, token: int) -> None:
        self._answer("compare_finished", token)

    @Slot(int, str)
    def _compare_failed(self, token: int, message: str) -> None:
        self._answer("compare_failed", token, message)

    @Slot(int, int, str)
    def _estimated(self, job_id: int, token: int, text: str) -> None:
        self._answer("estimated", job_id, token, text)

    def _answer(self, name: str, *args: Any) -> None:
        session = self.owner.session
        if session is not None:
            getattr(session, name)(*args)

    def stop(self) -> None:
        from sr_studio.gui.worker_threads import stop_thread

        self.worker.cancel()
        stop_thread(self.thread)
