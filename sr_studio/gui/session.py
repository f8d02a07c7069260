"""The app's workflow, free of Qt: the queue, load → enlarge → park → export, the batch, cancel,
remove, the overwrite policy and the work not yet exported.

The window forwards what the user asks for to a `Session` and renders the events it announces; it
decides nothing (the napari split: a model free of Qt, widgets that observe it). The work itself is
done through `Workers`, an interface: in the app, threads behind Qt signals
(`worker_bridge.WorkerBridge`); in the tests, fakes that answer at once, so that the whole workflow
runs without a window.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sr_studio.automatic_choice import AutomaticPair
from sr_studio.gui.display_pyramid import DisplayPyramid
from sr_studio.gui.export_plan import (
    ExportLog,
    ExportOptions,
    output_path,
    pattern_problem,
    unused_path,
)
from sr_studio.gui.jobs import (
    CompareCell,
    CompareModel,
    CompareRequest,
    EstimateRequest,
    ExportRequest,
    LoadedPhoto,
    PreviewRequest,
    PreviewResult,
    RestoredResult,
    RunRequest,
    RunResult,
)
from sr_studio.gui.photo_queue import (
    CANCELLED,
    DONE,
    EXPORTED,
    FAILED,
    LOADING,
    PENDING,
    RUNNING,
    PhotoQueue,
    ProgressClock,
    QueueItem,
    progress_text,
)
from sr_studio.model_blending import Cleanup
from sr_studio.photo_formats import (
    INPUT_FORMAT_NAMES,
    is_photo_path,
    opens_widely,
    photos_in_folder,
    scales_opening_widely,
    size_problem,
)
from sr_studio.weights.library import file_words

if TYPE_CHECKING:
    from sr_studio.photo_condition import PhotoCondition

SCALE_CHOICES = (1.5, 2.0, 3.0, 4.0, 6.0, 8.0)  # the Enlarge choices besides the model's own
NO_MODEL = "No model is installed. Open the model manager (Ctrl+M) to download or import one."


class Workers(Protocol):
    """What the session has done elsewhere; each answer comes back later through the session's
    methods named in brackets (in the app on the GUI thread, in tests at once)."""

    can_park: bool  # whether results off screen can be parked on disk

    def load(self, job_id: int, path: str) -> None: ...  # [photo_loaded, photo_failed]

    def run(
        self, request: RunRequest
    ) -> None: ...  # [run_status, run_enlarging, run_progress, run_tile,

    #                                                     run_finished, run_failed, run_cancelled]

    def cancel_run(self) -> None: ...

    def export(self, request: ExportRequest) -> None: ...  # [exported, export_failed]

    def park(self, job_id: int, token: int, pixels: Any) -> None: ...  # [parked, park_failed]

    def restore(
        self, job_id: int, token: int, path: Path
    ) -> None: ...  # [restored, restore_failed]

    def prepare_view(
        self, job_id: int, token: int, pixels: Any
    ) -> None: ...  # [restored, restore_failed]

    def discard(self, path: Path) -> None: ...

    # [preview_tile, preview_finished, preview_failed]
    def preview(self, request: PreviewRequest) -> None: ...

    # [compare_cell, compare_finished, compare_failed]
    def compare(self, request: CompareRequest) -> None: ...

    def cancel_preview(self) -> None: ...  # previews and comparisons stop after their current tile

    def estimate(self, request: EstimateRequest) -> None: ...  # [estimated]


@dataclass(frozen=True)
class RunOptions:
    """How to enlarge, as chosen in the window when a run starts."""

    model_id: str
    model_name: str
    model_path: Path | None  # None: no model installed
    model_scale: int
    scale: float | None = None  # None: the model's own
    device: str = "auto"
    precision: str = "auto"
    tile: int | None = None
    # a photo model blended with its clean base; model_id and model_name then say the strength
    cleanup: Cleanup | None = None
    # Automatic: the photo model at the strength each photo needs (Session.options_for resolves
    # it for a photo)
    automatic: AutomaticPair | None = None

    def for_condition(self, condition: PhotoCondition) -> RunOptions:
        """The options a photo in this condition runs with: for Automatic, the model and cleanup
        it chose, named with the reason ("SPAN x4 Photo, cleanup 90% (Automatic: JPEG quality
        about 70, visible noise)"); other options as they are."""
        pair = self.automatic
        if pair is None:
            return self
        from sr_studio.automatic_choice import choose

        choice = choose(condition)
        # Titles and notices say what was chosen and why.
        name = f"{pair.chosen_name(choice)} (Automatic: {choice.reason})"
        if choice.cleanup_percent == 0:
            return replace(
                self,
                model_id=pair.clean_id,
                model_name=name,
                model_path=pair.clean_path,
                cleanup=None,
                automatic=None,
            )
        cleanup = (
            None
            if choice.cleanup_percent == 100
            else Cleanup(pair.clean_path, choice.cleanup_percent / 100)
        )
        return replace(
            self,
            model_id=cleanup.model_id(pair.photo_id) if cleanup else pair.photo_id,
            model_name=name,
            model_path=pair.photo_path,
            cleanup=cleanup,
            automatic=None,
        )

    @property
    def effective_scale(self) -> float:
        return self.scale or float(self.model_scale)


# Events: what the window renders. -----------------------------------------------------------------
@dataclass(frozen=True)
class CurrentChanged:
    """Another photo (or none) is the current one: show it afresh, fitted."""

    item: QueueItem | None


@dataclass(frozen=True)
class ItemChanged:
    """What the viewer shows of an item changed (read, enlarged, result back, lost); `fit`: a new
    picture."""

    item: QueueItem
    fit: bool = False


@dataclass(frozen=True)
class TileDone:
    item: QueueItem
    y0: int
    x0: int
    pixels: Any


@dataclass(frozen=True)
class RunStarted:
    item: QueueItem
    text: str


@dataclass(frozen=True)
class RunProgress:
    item: QueueItem
    fraction: float | None  # None: only the text changed ("Loading model…")
    text: str


@dataclass(frozen=True)
class BatchEnded:
    outcome: str  # "done", "failed" or "cancelled"


@dataclass(frozen=True, eq=False)
class Notice:
    """A line for the user: 'error' and 'info' in the message bar, 'status' in the status bar."""

    text: str
    kind: str = "info"
    # The photo an error concerns: selecting another photo, or removing it, takes the error away.
    about: QueueItem | None = None
    seconds: float = 0
    topic: str = ""  # EXPORT or PATTERN: what else takes the error away (ErrorWithdrawn)


EXPORT = "export"  # an export failed or was refused: a successful export takes it away
PATTERN = "pattern"  # the file name pattern is wrong: fixing it (or an export) takes it away


@dataclass(frozen=True)
class ErrorWithdrawn:
    """The cause of an error shown is gone (another photo selected, the pattern fixed, an export
    done): the message bar stops showing it, unless something else has replaced it there."""

    notice: Notice


@dataclass(frozen=True)
class Exported:
    item: QueueItem | None
    path: Path
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportFailed:
    message: str


@dataclass(frozen=True)
class ItemsRemoved:
    items: tuple[QueueItem, ...]


@dataclass(frozen=True)
class PreviewMark:
    """What the result pane shows of a photo not enlarged yet: a preview by this model, this
    scale."""

    token: int
    model_id: str
    model_name: str
    scale: float
    box: tuple[int, int, int, int]  # (x, y, width, height) of the original last previewed
    seconds: float | None = None  # None while it runs
    estimate: str = ""  # the whole photo, from the preview's speed


@dataclass(frozen=True)
class PreviewEnded:
    item: QueueItem
    outcome: str  # "done", "failed" or "cancelled"


@dataclass(frozen=True)
class CompareStarted:
    item: QueueItem
    models: tuple[CompareModel, ...]
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class CompareCellDone:
    cell: CompareCell


@dataclass(frozen=True)
class CompareEnded:
    outcome: str  # "done", "failed" or "cancelled"


@dataclass(frozen=True)
class EstimateReady:
    item: QueueItem
    text: str  # "" when nothing was measured for this model yet


Event = (
    CurrentChanged
    | ItemChanged
    | TileDone
    | RunStarted
    | RunProgress
    | BatchEnded
    | Notice
    | Exported
    | ExportFailed
    | ItemsRemoved
    | PreviewEnded
    | CompareStarted
    | CompareCellDone
    | CompareEnded
    | EstimateReady
    | ErrorWithdrawn
)

MAX_COMPARED = 4


def expected_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """(height, width) of the result, as the engine rounds it."""
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


@dataclass
class _EarlierResult:
    """A finished result set aside while the photo is enlarged again: it comes back when the new
    run is cancelled or fails, and goes only once a new result replaces it."""

    result: Any
    result_file: Path | None
    result_size: tuple[int, int] | None
    result_token: int
    result_scale: float | None
    result_model: str
    result_model_name: str
    result_automatic: bool
    status: str
    message: str


@dataclass
class _Batch:
    items: list[QueueItem] = field(default_factory=list)
    options: RunOptions | None = None
    outcome: str = "done"
    failed: list[QueueItem] = field(default_factory=list)
    waiting_for_load: set[int] = field(default_factory=set)  # items read before they run
    enlarged: int = 0
    started: float = 0.0  # time.monotonic() when it began


@dataclass
class _ExportBatch:
    """One Export or Export All: counted until every file is answered, then summed up."""

    waiting: set[int] = field(default_factory=set)  # export ids not answered yet
    written: list[Path] = field(default_factory=list)
    failed: int = 0
    skipped: int = 0  # chosen to skip, or already exported there


class Session:
    """The queue and everything that happens to its photos; observers get one typed event per
    call."""

    def __init__(
        self, workers: Workers, pictures: Path | None = None, exports: ExportLog | None = None
    ) -> None:
        self.workers = workers
        self.pictures = pictures or Path.home()  # where pasted images would be exported
        self.queue = PhotoQueue()
        self.running: QueueItem | None = None
        self.clock: ProgressClock | None = None
        self.pending_exports: dict[int, QueueItem] = {}
        self._export_batch = _ExportBatch()
        # what this app exported (this session and, with a log file, earlier ones): never queued
        # again from their folder
        self.written = exports if exports is not None else ExportLog()
        self._batch = _Batch()
        self._export_ids = itertools.count(1)
        self._result_tokens = itertools.count(1)
        self._parking: set[int] = set()  # result tokens being written to the session cache
        self._earlier: dict[int, _EarlierResult] = {}  # item id -> its result while re-enlarged
        # item id -> (the photo, its condition): measured once per photo read, for Automatic
        self._conditions: dict[int, tuple[Any, PhotoCondition]] = {}
        self._restoring: set[int] = set()  # result tokens being read back from it
        self._shown: QueueItem | None = None
        self.previewing: QueueItem | None = None
        self.comparing: int | None = None  # the token of the comparison under way
        self._preview_tokens = itertools.count(1)
        # item id -> (token, model id) of the estimate asked for last
        self._estimates: dict[int, tuple[int, str]] = {}
        self._observers: list[Callable[[Event], None]] = []
        self.error: Notice | None = None  # the last error said, until its cause is gone
        self.queue.subscribe(self._queue_changed)

    # Observers ------------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> None:
        self._observers.append(callback)

    def _emit(self, event: Event) -> None:
        for callback in list(self._observers):
            callback(event)

    def _notice(
        self,
        text: str,
        kind: str = "info",
        about: QueueItem | None = None,
        seconds: float = 0,
        topic: str = "",
    ) -> None:
        notice = Notice(text, kind, about, seconds, topic)
        if kind == "error":
            self.error = notice
        self._emit(notice)

    def _withdraw_error(self, gone: Callable[[Notice], bool]) -> None:
        """Take the last error away when `gone(error)`: its cause no longer holds."""
        error = self.error
        if error is not None and gone(error):
            self.error = None
            self._emit(ErrorWithdrawn(error))

    # State ----------------------------------------------------------------------------------------
    @property
    def batch(self) -> list[QueueItem]:
        return self._batch.items

    def is_busy(self) -> bool:
        """A run going on, or a photo being read for one."""
        return self.running is not None or bool(self._batch.waiting_for_load)

    def find(self, job_id: int) -> QueueItem | None:
        return next((item for item in self.queue.items if item.id == job_id), None)

    def unexported(self) -> list[QueueItem]:
        """Enlarged results never written to a file: the work quitting would lose."""
        return [item for item in self.queue.finished() if item.status != EXPORTED]

    # Getting photos in ----------------------------------------------------------------------------
    def add_paths(self, paths: Iterable[str | os.PathLike]) -> list[QueueItem]:
        """Queue photos and the photos in folders; says in one notice what was refused and why."""
        photos = [Path(p) for p in paths]
        problems = []

        def refuse(found: list[Path], why: str) -> None:
            if found:
                more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
                problems.append(f"{found[0]}: {why}{more}")

        refuse([p for p in photos if not p.exists()], "no such file or folder")
        photos = [p for p in photos if p.exists()]
        not_photos = [p for p in photos if not p.is_dir() and not is_photo_path(p)]
        refuse(not_photos, f"not a photo (SR Studio opens {INPUT_FORMAT_NAMES})")
        photos = [p for p in photos if p not in not_photos]
        refuse(
            [p for p in photos if p.is_dir() and not photos_in_folder(p)],
            "no photos in this folder",
        )
        if problems:
            self._notice("\n".join(problems), "error")
        added = self.queue.add(photos, skip=self.written)
        if added:
            self.queue.select(added[0])
        return added

    def add_pixels(self, pixels, name: str) -> QueueItem:
        """An image pasted or dropped as pixels (no file): queued and shown, ready to enlarge."""
        from sr_studio.photo_io import Photo

        item = QueueItem(self.pictures / name, clipboard_image=True)
        item.photo = Photo(pixels=pixels, path=item.path, format="PNG")
        item.original_view = DisplayPyramid(pixels)
        self.queue.add_item(item)
        return item

    def pasted_name(self) -> str:
        return f"Pasted image {sum(1 for item in self.queue.items if item.clipboard_image) + 1}.png"

    def select(self, item: QueueItem | None) -> None:
        self.queue.select(item)

    def remove(self, item: QueueItem | None) -> None:
        if item is None:
            return
        if item is self.running:
            self._notice("This photo is being enlarged: cancel the run before removing it.")
            return
        if item in self._batch.items:
            self._batch.items.remove(item)
        self._batch.waiting_for_load.discard(item.id)
        self.queue.remove(item)
        self._forget_result(item)
        self._withdraw_error(lambda error: error.about is item)
        self._emit(ItemsRemoved((item,)))

    def clear_finished(self) -> None:
        removed = self.queue.clear_finished()
        for item in removed:
            self._forget_result(item)
        if removed:
            self._withdraw_error(lambda error: any(error.about is item for item in removed))
            self._emit(ItemsRemoved(tuple(removed)))

    # The photo on screen --------------------------------------------------------------------------
    def _queue_changed(self) -> None:
        current = self.queue.current
        if current is self._shown:
            return
        previous, self._shown = self._shown, current
        if current is not None:
            self._bring_on_screen(current)
        self._emit(CurrentChanged(current))
        # An error about one photo is not shown over another (the Photos list keeps the reason).
        self._withdraw_error(lambda error: error.about is not None and error.about is not current)
        if previous is not None:
            self._park(previous)

    def _bring_on_screen(self, item: QueueItem) -> None:
        """What the viewer needs of the current photo: its pixels read, its result back from the
        cache."""
        if item.original_view is None:
            if item.status != FAILED:
                self._request_load(item)
        elif item.has_result and item.result_view is None:
            self._restore(item)

    def _request_load(self, item: QueueItem) -> None:
        if item.status == LOADING or item.photo is not None:
            return
        self.queue.set_status(item, LOADING)
        self.workers.load(item.id, str(item.path))

    def photo_loaded(self, loaded: LoadedPhoto) -> None:
        item = self.find(loaded.job_id)
        if item is None:
            return
        item.photo = loaded.photo
        item.original_view = loaded.pyramid
        self.queue.set_status(item, PENDING)
        for warning in getattr(loaded.photo, "warnings", []) or []:
            self._notice(f"{item.name}: {warning}")
        self._emit(ItemChanged(item, fit=True))
        if item.id in self._batch.waiting_for_load:
            self._batch.waiting_for_load.discard(item.id)
            self._start_next()

    def photo_failed(self, job_id: int, message: str) -> None:
        item = self.find(job_id)
        if item is None:
            return
        self.queue.set_status(item, FAILED, message)
        self._notice(f"Could not open {item.name}: {message}", "error", item)
        self._emit(ItemChanged(item, fit=True))
        if job_id in self._batch.waiting_for_load:
            self._batch.waiting_for_load.discard(job_id)
            if (
                item in self._batch.items
            ):  # done with it: the batch goes on with the next photo, never retries it
                self._batch.items.remove(item)
            self._batch.outcome = "failed"
            self._batch.failed.append(item)
            self._start_next()

    # Enlarging ------------------------------------------------------------------------------------
    def run_current(self, options: RunOptions) -> None:
        item = self.queue.current
        if item is None:
            self._notice("Add a photo first: drop it on the window or press Ctrl+O.")
            return
        self.start_batch([item], options)

    def run_all(self, options: RunOptions) -> None:
        """Every photo not enlarged yet (failed ones are left out); if there is none, the failed and
        cancelled."""
        items = [
            item for item in self.queue.items if not item.has_result and item.status != FAILED
        ] or [item for item in self.queue.items if item.status in (FAILED, CANCELLED)]
        if not items:
            self._notice(
                "Every photo in the queue is already enlarged."
                if self.queue.items
                else "Add photos first: drop them on the window or press Ctrl+O."
            )
            return
        self.start_batch(items, options)

    def start_batch(self, items: list[QueueItem], options: RunOptions) -> None:
        if self.running is not None:
            self._batch.items.extend(
                item for item in items if item not in self._batch.items and item is not self.running
            )
            return
        if options.model_path is None:
            self._notice(NO_MODEL, "error")
            return
        self._stop_previews()
        self._batch = _Batch(items=list(items), options=options, started=time.monotonic())
        self._start_next()

    def _start_next(self) -> None:
        batch = self._batch
        while batch.items:
            item = batch.items[0]
            if item not in self.queue.items:
                batch.items.pop(0)
                continue
            if item.photo is None:
                if item.id not in batch.waiting_for_load:
                    if item.status == FAILED:
                        self.queue.set_status(
                            item, PENDING
                        )  # read it again, once per batch: it may be fixed
                    batch.waiting_for_load.add(item.id)
                    self._request_load(item)
                    self.queue.changed()  # busy now, even when the photo was already being read
                return
            batch.items.pop(0)
            self._start_run(item, batch.options)
            return
        if (
            len(batch.failed) > 1
        ):  # the message bar holds one error: say how many, the list says why
            names = ", ".join(item.name for item in batch.failed)
            self._notice(
                f"{len(batch.failed)} photos failed: {names} "
                "(their reasons are in the Photos list)",
                "error",
            )
        if batch.enlarged > 1 or (batch.enlarged and batch.outcome != "done"):
            self._notice(self._batch_summary(batch), "status", seconds=15)
        self._emit(BatchEnded(batch.outcome))

    @staticmethod
    def _batch_summary(batch: _Batch) -> str:
        """'Enlarged 5 photos in 2 min 10 s; 1 failed, the rest cancelled': what Enlarge All did."""
        from sr_studio.durations import format_duration

        text = (
            f"Enlarged {batch.enlarged} photo{'s' if batch.enlarged != 1 else ''} in "
            f"{format_duration(time.monotonic() - batch.started)}"
        )
        if batch.failed:
            text += f"; {len(batch.failed)} failed"
        if batch.outcome == "cancelled":
            text += "; cancelled before the rest"
        return text

    def _start_run(self, item: QueueItem, options: RunOptions) -> None:
        automatic = options.automatic is not None
        options = self.options_for(options, item)
        pixels = item.photo.pixels
        height, width = expected_size(pixels.shape[1], pixels.shape[0], options.effective_scale)
        self._set_aside_result(item)
        mark = item.preview
        view = item.partial_view
        if not (
            mark is not None
            and mark.model_id == options.model_id
            and mark.scale == options.effective_scale
            and view is not None
            and (view.height, view.width) == (height, width)
        ):
            # A preview by another model or at another scale would be taken for this run's tiles.
            item.partial_view = DisplayPyramid.blank(
                height, width, 1 if pixels.ndim == 2 else (4 if pixels.shape[2] in (2, 4) else 3)
            )
            item.done_region = None
        # Same model, same scale: the preview's pixels stay on screen until the run's tiles replace
        # them.
        item.preview = None
        item.result_model = options.model_id
        item.result_automatic = automatic
        item.result_model_name = options.model_name
        item.result_size = None
        self.running = item
        self.clock = ProgressClock()
        item.progress = 0.0
        self.queue.set_status(item, RUNNING)
        self._emit(
            RunStarted(
                item,
                f"Enlarging {item.name} x{options.effective_scale:g} with {options.model_name}…",
            )
        )
        self._emit(ItemChanged(item))
        if not opens_widely(width, height):
            self._notice(self._too_large_to_open(item, options.effective_scale, width, height))
        self.workers.run(
            RunRequest(
                job_id=item.id,
                pixels=pixels,
                model_path=options.model_path,
                scale=options.scale,
                device=options.device,
                precision=options.precision,
                tile=options.tile,
                cleanup=options.cleanup,
                result_size=(height, width),
                # A photo off screen goes to the cache without a display copy.
                display=item is self.queue.current,
            )
        )

    @staticmethod
    def _too_large_to_open(item: QueueItem, scale: float, width: int, height: int) -> str:
        """Said as the run starts (it still runs): a result over 179 MP is one many programs (and
        Pillow) refuse to open."""
        photo_h, photo_w = item.photo.pixels.shape[:2]
        smaller = scales_opening_widely(photo_w, photo_h, [s for s in SCALE_CHOICES if s < scale])
        advice = f"; Enlarge x{max(smaller):g} or less makes one they open" if smaller else ""
        return (
            f"{item.name}: the x{scale:g} result will be {width} × {height} px "
            f"({width * height / 1e6:.0f} MP), more than many programs open (179 MP){advice}."
        )

    def expected_result_size(
        self, item: QueueItem, options: RunOptions | None
    ) -> tuple[int, int] | None:
        """(height, width) the viewer lays the photo out at: its result's, or what a run would
        make."""
        if item.result_size is not None:
            return item.result_size
        if item.partial_view is not None:  # being enlarged: the size it is being made at
            return item.partial_view.height, item.partial_view.width
        if item.original_view is None:
            return None
        scale = options.effective_scale if options is not None else 2.0
        return expected_size(item.original_view.width, item.original_view.height, scale)

    def cancel(self) -> None:
        if self.previewing is not None or self.comparing is not None:
            self.workers.cancel_preview()
        if self.running is None and not self._batch.waiting_for_load:
            return
        self._batch.items.clear()
        self._batch.waiting_for_load.clear()
        if self.running is not None:
            self.workers.cancel_run()
            self._emit(RunProgress(self.running, None, "Stopping after this tile…"))
        else:
            self._start_next()

    def _is_running(self, job_id: int) -> QueueItem | None:
        return self.running if self.running is not None and self.running.id == job_id else None

    def run_status(self, job_id: int, text: str) -> None:
        item = self._is_running(job_id)
        if item is not None:
            self._emit(RunProgress(item, None, text))

    def run_enlarging(self, job_id: int) -> None:
        """Time left is estimated from the tiles alone: loading the model would make it seconds too
        long."""
        if self._is_running(job_id) is not None:
            self.clock = ProgressClock()

    def run_progress(
        self, job_id: int, done: int, total: int, pass_index: int, passes: int
    ) -> None:
        item = self._is_running(job_id)
        if item is None or self.clock is None:
            return
        fraction = self.clock.update(done, total, pass_index, passes)
        item.progress = fraction
        self._emit(
            RunProgress(
                item,
                fraction,
                progress_text(fraction, done, total, pass_index, passes, self.clock.eta_text()),
            )
        )
        self.queue.changed()

    def run_tile(self, job_id: int, y0: int, x0: int, pixels) -> None:
        item = self._is_running(job_id)
        if item is not None and item.partial_view is not None:
            self._emit(TileDone(item, y0, x0, pixels))

    def run_finished(self, result: RunResult) -> None:
        item = self._is_running(result.job_id)
        if item is None:
            return
        self.running = None
        self._batch.enlarged += 1
        self._drop_earlier(item)  # replaced now, not before
        item.result = result.pixels
        item.result_size = tuple(result.pixels.shape[:2])
        item.result_token = next(self._result_tokens)
        item.partial_view = None
        item.done_region = None
        item.result_scale = result.scale
        item.result_view = result.pyramid
        where = f"{result.device}, {result.precision}" if result.precision else result.device
        self.queue.set_status(item, DONE, f"x{result.scale:g} in {result.seconds:.1f} s on {where}")
        why = f" ({result.precision_reason})" if result.precision_reason else ""
        notice = f"; {result.notice}" if result.notice else ""
        height, width = item.result_size
        self._notice(
            f"{item.name}: enlarged x{result.scale:g} to {width} × {height} in "
            f"{result.seconds:.1f} s on {where}{why}{notice}",
            "status",
            seconds=10,
        )
        if item is self.queue.current:
            if result.pyramid is None:  # selected during the run: its display copy is made now
                self._restore(item)
            self._emit(ItemChanged(item))
        else:
            self._park(item)
        self._start_next()

    def run_failed(self, job_id: int, message: str) -> None:
        item = self._is_running(job_id)
        if item is None:
            return
        self.running = None
        item.partial_view = None
        if self._bring_back_earlier(item):
            self._notice(
                f"Could not enlarge {item.name} again: {message}; its earlier result "
                f"({item.result_model_name or item.result_model}) is kept",
                "error",
                item,
            )
        else:
            self.queue.set_status(item, FAILED, message)
            self._notice(f"Could not enlarge {item.name}: {message}", "error", item)
        self._emit(ItemChanged(item))
        self._batch.outcome = "failed"
        self._batch.failed.append(item)
        self._start_next()

    def run_cancelled(self, job_id: int) -> None:
        item = self._is_running(job_id)
        if item is None:
            return
        self.running = None
        item.partial_view = None
        if self._bring_back_earlier(item):
            self._notice(
                f"{item.name}: cancelled; its earlier result "
                f"({item.result_model_name or item.result_model}) is kept",
                "status",
                seconds=6,
            )
        else:
            self.queue.set_status(item, CANCELLED)
            self._notice(f"{item.name}: cancelled", "status", seconds=6)
        self._batch.items.clear()
        self._emit(ItemChanged(item))
        self._batch.outcome = "cancelled"
        self._start_next()

    def shutdown(self) -> None:
        """The window closes: stop the run at the end of its tile; late answers are ignored."""
        if self.running is not None:
            self.workers.cancel_run()
        self._stop_previews()
        self._batch = _Batch()
        self.running = None

    # Previews, comparisons and estimates ------------------------------------------------------
    def _preview_problem(self, options: RunOptions) -> str | None:
        item = self.queue.current
        if item is None or item.photo is None:
            return "Add a photo first: drop it on the window or press Ctrl+O."
        if options.model_path is None:
            return NO_MODEL
        if self.running is not None or self._batch.waiting_for_load:
            return "A run is under way: its tiles are the real result."
        if item.has_result:
            return f"{item.name} is already enlarged: the result pane shows the real result."
        return None

    def preview_region(self, options: RunOptions, box: tuple[int, int, int, int]) -> None:
        """Enlarge `box` (x, y, width, height of the original) of the current photo into the result
        pane."""
        problem = self._preview_problem(options)
        if problem:
            self._notice(problem)
            return
        item = self.queue.current
        assert item is not None and options.model_path is not None
        options = self.options_for(options, item)
        pixels = item.photo.pixels
        x, y = max(0, box[0]), max(0, box[1])
        width = min(pixels.shape[1], box[0] + box[2]) - x
        height = min(pixels.shape[0], box[1] + box[3]) - y
        if width < 1 or height < 1:
            self._notice("The region in view lies outside the photo.")
            return
        self._stop_previews()
        out_h, out_w = expected_size(pixels.shape[1], pixels.shape[0], options.effective_scale)
        mark = item.preview
        same = (
            mark is not None
            and mark.model_id == options.model_id
            and mark.scale == options.effective_scale
            and item.partial_view is not None
        )
        # Earlier previews stay only when they are from the same model at the same scale.
        if not same:
            item.partial_view = DisplayPyramid.blank(
                out_h, out_w, 1 if pixels.ndim == 2 else (4 if pixels.shape[2] in (2, 4) else 3)
            )
            item.done_region = None
        token = next(self._preview_tokens)
        item.preview = PreviewMark(
            token,
            options.model_id,
            options.model_name,
            options.effective_scale,
            (x, y, width, height),
        )
        self.previewing = item
        self._emit(ItemChanged(item))
        self._notice(
            f"Previewing {width} × {height} px of {item.name} with {options.model_name}…",
            "status",
        )
        self.workers.preview(
            PreviewRequest(
                job_id=item.id,
                token=token,
                pixels=pixels,
                box=(x, y, width, height),
                model_path=options.model_path,
                scale=options.scale,
                device=options.device,
                precision=options.precision,
                tile=options.tile,
                cleanup=options.cleanup,
            )
        )

    def _previewed(self, job_id: int, token: int) -> QueueItem | None:
        item = self.previewing
        if item is None or item.id != job_id or item.preview is None or item.preview.token != token:
            return None
        return item

    def preview_tile(self, job_id: int, token: int, y0: int, x0: int, pixels: Any) -> None:
        item = self._previewed(job_id, token)
        if item is not None and item.partial_view is not None:
            self._emit(TileDone(item, y0, x0, pixels))

    def preview_finished(self, result: PreviewResult) -> None:
        item = self._previewed(result.job_id, result.token)
        if item is None:
            return
        self.previewing = None
        self._emit(TileDone(item, result.top, result.left, result.pixels))  # the whole crop, final
        mark = item.preview
        item.preview = PreviewMark(
            mark.token,
            mark.model_id,
            mark.model_name,
            mark.scale,
            mark.box,
            result.seconds,
            result.estimate,
        )
        whole = f"; the whole photo: {result.estimate}" if result.estimate else ""
        self._notice(f"Preview with {mark.model_name} in {result.seconds:.1f} s{whole}", "status")
        self._emit(ItemChanged(item))
        self._emit(PreviewEnded(item, "done"))

    def preview_failed(self, job_id: int, token: int, message: str) -> None:
        item = self._previewed(job_id, token)
        if item is None:
            return
        self.previewing = None
        cancelled = message == "cancelled"
        if not cancelled:
            self._notice(f"Could not preview {item.name}: {message}", "error", item)
        self._emit(PreviewEnded(item, "cancelled" if cancelled else "failed"))

    def _stop_previews(self) -> None:
        """A newer request wins: the old preview's or comparison's late answers are ignored."""
        if self.previewing is not None or self.comparing is not None:
            self.workers.cancel_preview()
        if self.previewing is not None:
            item, self.previewing = self.previewing, None
            self._emit(PreviewEnded(item, "cancelled"))
        if self.comparing is not None:
            self.comparing = None
            self._emit(CompareEnded("cancelled"))

    def compare_models(
        self, models: list[CompareModel], options: RunOptions, box: tuple[int, int, int, int]
    ) -> None:
        """The same crop of the current photo from two to four models, for the comparison grid."""
        if not 2 <= len(models) <= MAX_COMPARED:
            self._notice(f"Choose two to {MAX_COMPARED} models to compare.")
            return
        item = self.queue.current
        if item is None or item.photo is None:
            self._notice("Add a photo first: drop it on the window or press Ctrl+O.")
            return
        if self.running is not None or self._batch.waiting_for_load:
            self._notice("A run is under way: compare models once it has finished.")
            return
        self._stop_previews()
        token = next(self._preview_tokens)
        self.comparing = token
        self._emit(CompareStarted(item, tuple(models), box))
        self.workers.compare(
            CompareRequest(
                token=token,
                pixels=item.photo.pixels,
                box=box,
                models=list(models),
                scale=options.effective_scale,
                device=options.device,
                precision=options.precision,
                tile=options.tile,
            )
        )

    def compare_cell(self, cell: CompareCell) -> None:
        if cell.token == self.comparing:
            self._emit(CompareCellDone(cell))

    def compare_finished(self, token: int) -> None:
        if token == self.comparing:
            self.comparing = None
            self._emit(CompareEnded("done"))

    def compare_failed(self, token: int, message: str) -> None:
        if token != self.comparing:
            return
        self.comparing = None
        if message != "cancelled":
            self._notice(f"Could not compare: {message}", "error")
        self._emit(CompareEnded("cancelled" if message == "cancelled" else "failed"))

    def request_estimate(self, options: RunOptions) -> None:
        """How long enlarging the current photo would take, from what was measured (runs
        nothing)."""
        item = self.queue.current
        if item is None or item.photo is None or item.has_result or options.model_path is None:
            return
        options = self.options_for(options, item)
        token = next(self._preview_tokens)
        self._estimates[item.id] = (token, options.model_id)
        pixels = item.photo.pixels
        self.workers.estimate(
            EstimateRequest(
                job_id=item.id,
                token=token,
                height=int(pixels.shape[0]),
                width=int(pixels.shape[1]),
                model_path=options.model_path,
                scale=options.scale,
                device=options.device,
                precision=options.precision,
                tile=options.tile,
                cleanup=options.cleanup,
            )
        )

    def estimated(self, job_id: int, token: int, text: str) -> None:
        item = self.find(job_id)
        if item is None or self._estimates.get(job_id, (0, ""))[0] != token:
            return
        del self._estimates[job_id]
        self._emit(EstimateReady(item, text))

    def options_for(self, options: RunOptions, item: QueueItem) -> RunOptions:
        """The options `item` runs with: Automatic resolved for its photo, whose condition is
        measured once (the window asks again for titles, previews and estimates)."""
        if options.automatic is None or item.photo is None:
            return options
        known = self._conditions.get(item.id)
        if known is None or known[0] is not item.photo:  # read again: measured again
            from sr_studio.photo_condition import assess

            known = self._conditions[item.id] = (
                item.photo,
                assess(item.photo.pixels, item.photo.jpeg_quality),
            )
        return options.for_condition(known[1])

    # Results off screen ---------------------------------------------------------------------------
    def _park(self, item: QueueItem) -> None:
        """A result not on screen leaves memory: at once when a copy is parked on disk, else once it
        is."""
        if item is self.queue.current or item.result is None or item not in self.queue.items:
            return
        if item.result_file is not None:
            item.result = item.result_view = None
        elif self.workers.can_park and item.result_token not in self._parking:
            self._parking.add(item.result_token)
            self.workers.park(item.id, item.result_token, item.result)

    def parked(self, job_id: int, token: int, path) -> None:
        self._parking.discard(token)
        item = self.find(job_id)
        earlier = self._earlier.get(job_id)
        if item is not None and earlier is not None and earlier.result_token == token:
            earlier.result_file = Path(path)  # set aside while re-enlarged: parked all the same
            earlier.result = None
            return
        if item is None or item.result_token != token:  # removed or enlarged again meanwhile
            self.workers.discard(path)
            return
        item.result_file = Path(path)
        self._park(item)

    def park_failed(self, job_id: int, token: int, message: str) -> None:
        self._parking.discard(token)
        item = self.find(job_id)
        if item is not None and item.result_token == token:
            self._notice(f"{item.name}: the result stays in memory: {message}")

    def _restore(self, item: QueueItem) -> None:
        """The display copy of a result for the screen, off the GUI thread: from memory when the
        result is still there (enlarged off screen), else read back from the cache (result and copy
        leave memory together)."""
        if item.result_token not in self._restoring:
            self._restoring.add(item.result_token)
            if item.result is not None:
                self.workers.prepare_view(item.id, item.result_token, item.result)
            else:
                self.workers.restore(item.id, item.result_token, item.result_file)

    def restored(self, restored: RestoredResult) -> None:
        self._restoring.discard(restored.token)
        item = self.find(restored.job_id)
        if (
            item is None
            or item.result_token != restored.token
            or item is not self.queue.current
            or item.result_view is not None
        ):
            return  # no longer wanted on screen: let it go
        item.result = restored.pixels
        item.result_view = restored.pyramid
        self._emit(ItemChanged(item))

    def restore_failed(self, job_id: int, token: int, message: str) -> None:
        self._restoring.discard(token)
        item = self.find(job_id)
        if item is None or item.result_token != token:
            return
        self._forget_result(item)
        self.queue.set_status(item, FAILED, message)
        self._notice(
            f"The result of {item.name} is lost ({message}); enlarge it again.", "error", item
        )
        self._emit(ItemChanged(item))

    def _forget_result(self, item: QueueItem) -> None:
        """Drop a result (removal): from memory now, from disk after any export already asked
        for; an earlier result set aside for a re-run goes too."""
        if item.result_file is not None:
            self.workers.discard(item.result_file)
        item.result = item.result_view = item.result_file = item.result_size = None
        item.result_token = 0
        self._drop_earlier(item)
        self._conditions.pop(item.id, None)

    def _set_aside_result(self, item: QueueItem) -> None:
        """A re-run starts: the finished result leaves the item (the run's tiles take its place on
        screen) but is kept until the new result replaces it."""
        self._drop_earlier(item)
        if item.has_result:
            self._earlier[item.id] = _EarlierResult(
                item.result,
                item.result_file,
                item.result_size,
                item.result_token,
                item.result_scale,
                item.result_model,
                item.result_model_name,
                item.result_automatic,
                item.status,
                item.message,
            )
        item.result = item.result_view = item.result_file = item.result_size = None
        item.result_token = 0

    def _drop_earlier(self, item: QueueItem) -> None:
        earlier = self._earlier.pop(item.id, None)
        if earlier is not None and earlier.result_file is not None:
            self.workers.discard(earlier.result_file)

    def _bring_back_earlier(self, item: QueueItem) -> bool:
        """The re-run did not finish: the earlier result is the photo's again (True), on screen
        once its display copy is made."""
        earlier = self._earlier.pop(item.id, None)
        if earlier is None:
            return False
        item.result, item.result_file = earlier.result, earlier.result_file
        item.result_size, item.result_token = earlier.result_size, earlier.result_token
        item.result_scale, item.result_model = earlier.result_scale, earlier.result_model
        item.result_model_name = earlier.result_model_name
        item.result_automatic = earlier.result_automatic
        self.queue.set_status(item, earlier.status, earlier.message)
        if item is self.queue.current:
            self._restore(item)
        else:
            self._park(item)
        return True

    # Export ---------------------------------------------------------------------------------------
    def export_current(self, options: ExportOptions, ask: Callable[[list[Path]], str]) -> int:
        item = self.queue.current
        if item is None or not item.has_result:
            self._notice("Nothing to export yet: enlarge the photo first (Ctrl+R).")
            return 0
        return self.export(items=[item], options=options, ask=ask)

    def export_all(self, options: ExportOptions, ask: Callable[[list[Path]], str]) -> int:
        items = self.queue.finished()
        if not items:
            self._notice("Nothing to export yet: enlarge the photos first (Ctrl+Shift+R).")
            return 0
        return self.export(items, options, ask, skip_exported=True)

    def destinations(self, items: list[QueueItem], options: ExportOptions) -> list[Path]:
        destinations: list[Path] = []
        for index, item in enumerate(items, start=1):
            source = item.path
            if item.clipboard_image and not options.folder:
                source = self.pictures / item.path.name
            words = "" if item.result_automatic else file_words(item.result_model or "model")
            path = output_path(options, source, item.result_scale or 1, words, index)
            counter = 2
            base = path
            while path in destinations:  # two photos with the same name in one batch
                path = base.with_name(f"{base.stem}-{counter}{base.suffix}")
                counter += 1
            destinations.append(path)
        return destinations

    def export(
        self,
        items: list[QueueItem],
        options: ExportOptions,
        ask: Callable[[list[Path]], str],
        skip_exported: bool = False,
    ) -> int:
        """Queue the exports; `ask` decides about existing files ('replace', 'keep', 'skip' or
        'cancel'). `skip_exported` (Export All): a result this session already exported to the
        same file is neither asked about nor written again; one photo exported by hand is asked
        about, so that a second copy can be kept. Returns how many were queued."""
        problem = pattern_problem(options.pattern)
        if problem:
            self._notice(f"Cannot export: {problem}.", "error", topic=PATTERN)
            return 0
        items = self._holdable(items, options)
        if not items:
            return 0
        destinations = self.destinations(items, options)
        # This very result exported there before: nothing to ask, nothing to write again.
        done_before = {
            item.id
            for item, path in zip(items, destinations, strict=True)
            if skip_exported
            and item.exported_to == path
            and item.status == EXPORTED
            and path.exists()
        }
        existing = [
            path
            for item, path in zip(items, destinations, strict=True)
            if item.id not in done_before and path.exists()
        ]
        choice = ask(existing) if existing else "replace"
        if choice == "cancel":
            self._notice("Export cancelled: nothing was written.", "status", seconds=6)
            return 0
        batch = self._export_batch = _ExportBatch(skipped=len(done_before))
        queued = 0
        for item, destination in zip(items, destinations, strict=True):
            overwrite = False
            if item.id in done_before:
                continue
            if destination.exists():
                if choice == "skip":
                    batch.skipped += 1
                    continue
                if choice == "keep":
                    destination = unused_path(destination)
                else:
                    overwrite = True
            export_id = next(self._export_ids)
            self.pending_exports[export_id] = item
            batch.waiting.add(export_id)
            own = options.resolved(item.path)
            self.workers.export(
                ExportRequest(
                    job_id=export_id,
                    destination=destination,
                    pixels=item.result,
                    metadata_from=item.photo if options.keep_metadata else None,
                    format=own.format,
                    quality=own.write_quality(),
                    bit_depth=own.write_bit_depth(),
                    overwrite=overwrite,
                    pixels_file=item.result_file if item.result is None else None,
                )
            )
            queued += 1
        if queued:
            self._notice(f"Exporting {queued} photo(s)…", "status")
        elif batch.skipped:
            self._notice(self._export_summary(batch), "status", seconds=10)
        return queued

    @staticmethod
    def _export_summary(batch: _ExportBatch) -> str:
        """'Exported 4 photos to ~/Pictures/trip; 1 skipped (already there)'."""
        written = batch.written
        if not written and not batch.failed:
            return f"Nothing new to export: {batch.skipped} already exported there"
        folders = {path.parent for path in written}
        where = f" to {next(iter(folders))}" if len(folders) == 1 else ""
        text = f"Exported {len(written)} photo{'s' if len(written) != 1 else ''}{where}"
        if batch.skipped:
            text += f"; {batch.skipped} skipped (already there)"
        if batch.failed:
            text += f"; {batch.failed} failed"
        return text

    def _export_answered(self, export_id: int, written: Path | None) -> None:
        batch = self._export_batch
        if export_id not in batch.waiting:
            return
        batch.waiting.discard(export_id)
        if written is None:
            batch.failed += 1
        else:
            batch.written.append(written)
        total = len(batch.written) + batch.failed + batch.skipped
        if not batch.waiting and total > 1:
            self._notice(self._export_summary(batch), "status", seconds=15)

    def export_options_changed(self, options: ExportOptions) -> None:
        """The export options were edited: a pattern error is gone once the pattern is fine."""
        if not pattern_problem(options.pattern):
            self._withdraw_error(lambda error: error.topic == PATTERN)

    def _holdable(self, items: list[QueueItem], options: ExportOptions) -> list[QueueItem]:
        """The items whose result the export format can hold; the others are refused in one
        notice before anything is written (a WebP holds at most 16383 px a side)."""
        kept, refused = [], []
        for item in items:
            height, width = item.result_size or (0, 0)
            problem = size_problem(options.resolved(item.path).format, width, height)
            if problem:
                refused.append(
                    (
                        item,
                        f"Cannot export {item.name}: the x{item.result_scale or 1:g} result is "
                        f"{width} × {height} px, {problem}.",
                    )
                )
            else:
                kept.append(item)
        if refused:
            about = refused[0][0] if len(refused) == 1 else None
            self._notice("\n".join(text for _, text in refused), "error", about, topic=EXPORT)
        return kept

    def exported(self, export_id: int, path: str, notices) -> None:
        item = self.pending_exports.pop(export_id, None)
        self.written.add(Path(path))
        if item is not None:
            item.exported_to = Path(path)
            self.queue.set_status(item, EXPORTED, f"saved as {Path(path).name}")
        for notice in notices or []:
            self._notice(f"{Path(path).name}: {notice}")
        self._notice(f"Exported {path}", "status", seconds=10)
        self._withdraw_error(lambda error: error.topic in (EXPORT, PATTERN))
        self._export_answered(export_id, Path(path))
        self._emit(Exported(item, Path(path), tuple(notices or ())))

    def export_failed(self, export_id: int, message: str) -> None:
        item = self.pending_exports.pop(export_id, None)
        self._notice(f"Export failed: {message}", "error", item, topic=EXPORT)
        self._export_answered(export_id, None)
        self._emit(ExportFailed(message))
