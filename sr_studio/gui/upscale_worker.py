"""The engine thread's worker: loads the model (cached between runs) and enlarges one photo per
request, reporting progress and finished tiles as signals.

It lives on its own QThread; requests arrive as queued signals and answers go back as signals, so
the GUI thread only ever touches finished data. Cancelling is a threading.Event the engine polls
between tiles. Every failure becomes one readable line (`failed`), never an exception escaping into
Qt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from sr_studio.engine.tile_map import map_tile
from sr_studio.errors import Cancelled
from sr_studio.gui.display_pyramid import DisplayPyramid, display_pixels
from sr_studio.gui.error_wording import describe_error
from sr_studio.gui.jobs import RunRequest, RunResult


class UpscaleWorker(QObject):
    """Loads the model (cached between runs) and enlarges one photo per `run` request."""

    status = Signal(int, str)  # job_id, what is happening ("Loading model…")
    # job_id: the model is ready and the first tile starts (time left counts from here)
    enlarging = Signal(int)
    progress = Signal(int, int, int, int, int)  # job_id, done, total, pass_index, passes
    tile_ready = Signal(int, int, int, object)  # job_id, y0, x0, uint8 pixels in result coordinates
    finished = Signal(object)  # RunResult
    failed = Signal(int, str)
    cancelled = Signal(int)
    # {"auto": True, "cpu": True, "cuda": bool, "mps": bool, "cpu_bf16": bool}
    devices_found = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()
        self._model_key: tuple[str, int | None, str, str, Any] | None = None
        self._model: Any = None
        self._upscaler_key: tuple[int, int | None] | None = None
        self._upscaler: Any = None
        # Replaceable (tests, self-test): how a weights file becomes a model, a model an upscaler.
        self.load_model: Callable[[Path], Any] | None = None
        self.make_upscaler: Callable[..., Any] | None = None

    def cancel(self) -> None:
        """Thread-safe: the engine stops before its next tile."""
        self._cancel.set()

    @Slot()
    def probe_devices(self) -> None:
        """Import torch here, not in the GUI thread (it takes seconds), and say which devices exist
        and whether the CPU computes bfloat16 in hardware."""
        found: dict[str, bool]
        try:
            import torch

            from sr_studio.engine.devices import cpu_has_native_bf16

            mps = getattr(torch.backends, "mps", None)
            found = {
                "auto": True,
                "cpu": True,
                "cuda": bool(torch.cuda.is_available()),
                "mps": bool(mps and mps.is_available()),
                "cpu_bf16": cpu_has_native_bf16(),
            }
        except Exception:  # noqa: BLE001
            found = {"auto": True, "cpu": True, "cuda": False, "mps": False}
        self.devices_found.emit(found)

    @Slot(object)
    def run(self, request: RunRequest) -> None:
        self._cancel.clear()
        started = time.monotonic()
        try:
            model = self._model_for(request)
            if self._cancel.is_set():
                raise Cancelled()
            upscaler = self._upscaler_for(model, request)
            self.status.emit(request.job_id, "Enlarging…")
            self.enlarging.emit(request.job_id)
            scale = request.scale if request.scale is not None else float(model.descriptor.scale)

            def on_progress(progress: Any) -> None:
                self.progress.emit(
                    request.job_id,
                    int(progress.done),
                    int(progress.total),
                    int(getattr(progress, "pass_index", 0)),
                    int(getattr(progress, "passes", 1)),
                )
                self._show_tile(
                    request, getattr(progress, "canvas", None), getattr(progress, "box", None)
                )

            pixels = upscaler.upscale(
                request.pixels,
                scale=scale,
                on_progress=on_progress,
                should_cancel=self._cancel.is_set,
            )
            if self._cancel.is_set():
                raise Cancelled()
            pyramid = None
            if request.display:
                self.status.emit(request.job_id, "Preparing the view…")
                pyramid = DisplayPyramid(pixels)
            self.finished.emit(
                RunResult(
                    job_id=request.job_id,
                    pixels=pixels,
                    pyramid=pyramid,
                    scale=scale,
                    device=str(getattr(upscaler, "device", request.device)),
                    seconds=time.monotonic() - started,
                    notice=str(getattr(upscaler, "notice", None) or ""),
                    precision=str(getattr(upscaler, "precision", "") or ""),
                    precision_reason=str(getattr(upscaler, "precision_reason", None) or ""),
                )
            )
        except Cancelled:
            self.cancelled.emit(request.job_id)
        except BaseException as error:  # noqa: BLE001 - nothing may escape into Qt's event loop
            self.failed.emit(request.job_id, describe_error(error))

    def _show_tile(self, request: RunRequest, canvas: Any, box: Any) -> None:
        """Send a finished tile, at the result's size, for the live preview."""
        if canvas is None or box is None or request.result_size is None:
            return
        y0, x0, y1, x1 = (int(v) for v in box)
        if y1 <= y0 or x1 <= x0:
            return
        tile = display_pixels(np.asarray(canvas[y0:y1, x0:x1]))
        mapped = map_tile(tile, (y0, x0, y1, x1), canvas.shape[:2], request.result_size)
        if mapped is not None:
            self.tile_ready.emit(request.job_id, *mapped)

    def _model_for(self, request: RunRequest) -> Any:
        path = Path(request.model_path)
        stamp: int | None
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None
        # The engine casts the model in place, so another device or precision needs a fresh copy.
        key = (str(path), stamp, request.device, request.precision, request.cleanup)
        if key != self._model_key:
            self.status.emit(request.job_id, f"Loading model {path.stem}…")
            self._model = self._model_key = None
            self._upscaler = self._upscaler_key = None
            load = self.load_model
            if load is None:
                from sr_studio.model_loading import load_model

                load = load_model
            self._model = load(path) if request.cleanup is None else load(path, request.cleanup)
            self._model_key = key
        return self._model

    def _upscaler_for(self, model: Any, request: RunRequest) -> Any:
        key = (id(model), request.tile)
        if key != self._upscaler_key:
            make = self.make_upscaler
            if make is None:
                from sr_studio.engine import Upscaler

                make = Upscaler
            self._upscaler = make(
                model, device=request.device, precision=request.precision, tile=request.tile
            )
            self._upscaler_key = key
        return self._upscaler
