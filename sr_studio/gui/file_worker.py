"""The file thread's worker: reads photos (with their display copies), writes exports, parks
finished results on disk and reads them back, so the window never waits on a disk.

Requests are handled in the order they were made, so a parked file discarded after an export request
is still there for that export. Every failure becomes one readable line, never an exception
escaping into Qt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from sr_studio.errors import SRStudioError
from sr_studio.gui.display_pyramid import DisplayPyramid
from sr_studio.gui.error_wording import describe_error
from sr_studio.gui.jobs import ExportRequest, LoadedPhoto, RestoredResult
from sr_studio.gui.spill_store import SpillStore


class FileWorker(QObject):
    """Reads photos, writes exports, parks results in the session cache and restores them."""

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

    def _require_store(self) -> SpillStore:
        if self.store is None:
            raise SRStudioError("there is no folder to park it in")
        return self.store

    @Slot(int, int, object)
    def park(self, job_id: int, token: int, pixels: Any) -> None:
        try:
            path = self._require_store().put(pixels, f"result-{job_id}")
            self.parked.emit(job_id, token, path)
        except BaseException as error:  # noqa: BLE001
            self.park_failed.emit(job_id, token, describe_error(error))

    @Slot(int, int, object)
    def restore(self, job_id: int, token: int, path: Path) -> None:
        try:
            pixels = self._require_store().load(path)
            self.restored.emit(RestoredResult(job_id, token, pixels, DisplayPyramid(pixels)))
        except BaseException as error:  # noqa: BLE001
            self.restore_failed.emit(job_id, token, describe_error(error))

    @Slot(int, int, object)
    def prepare_view(self, job_id: int, token: int, pixels: Any) -> None:
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
            from sr_studio.photo_io import read_photo

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
            from sr_studio.photo_io import write_photo

            try:
                request.destination.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise SRStudioError(
                    f"cannot create the folder ({error.strerror})", request.destination.parent
                ) from None
            pixels = request.pixels
            if pixels is None:
                if request.pixels_file is None:
                    raise SRStudioError("the result is neither in memory nor parked on disk")
                pixels = self._require_store().load(request.pixels_file)
            written = write_photo(
                request.destination,
                pixels,
                metadata_from=request.metadata_from,
                format=request.format,
                quality=request.quality,
                bit_depth=request.bit_depth,
                overwrite=request.overwrite,
                on_warning=notices.append,
            )
            self.exported.emit(request.job_id, str(written), notices)
        except BaseException as error:  # noqa: BLE001
            self.export_failed.emit(request.job_id, describe_error(error))
