"""The batch of photos waiting, running and done, free of Qt; the queue list widget observes it.

Also: which dropped or opened paths are photos, which are model files, and the ETA of a run.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sr_studio.durations import format_duration
from sr_studio.photo_formats import photos_in_folder

MODEL_EXTENSIONS = frozenset({".pth", ".pt", ".safetensors"})

PENDING = "pending"
LOADING = "loading"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
EXPORTED = "exported"
STATUS_LABELS = {
    PENDING: "Waiting",
    LOADING: "Loading",
    RUNNING: "Enlarging",
    DONE: "Done",
    FAILED: "Failed",
    CANCELLED: "Cancelled",
    EXPORTED: "Exported",
}


_ids = itertools.count(1)


@dataclass(eq=False)
class QueueItem:
    """One photo of the batch: its source, what happened to it and, once read/enlarged, the
    pixels."""

    path: Path
    status: str = PENDING
    message: str = ""
    progress: float = 0.0
    photo: Any = None  # sr_studio.photo_io.Photo once read
    result: Any = None  # numpy array, in memory only while on screen (or not parked yet)
    result_file: Path | None = None  # the result parked in the session cache
    result_size: tuple[int, int] | None = None  # (height, width) of the result, wherever it is
    result_token: int = (
        0  # which result: a re-run makes a new one, late answers about an old one are ignored
    )
    result_scale: float | None = None
    result_model: str = ""  # model id
    result_automatic: bool = False  # chosen by Automatic: its file name says no model
    result_model_name: str = ""  # what the user knows it as (titles)
    exported_to: Path | None = None
    clipboard_image: bool = False  # pasted, not read from a file
    original_view: Any = None  # DisplayPyramid of the photo, for the viewer
    result_view: Any = None  # DisplayPyramid of the result
    partial_view: Any = None  # DisplayPyramid being filled while it runs
    done_region: Any = None  # QRegion of the partial result's finished tiles (GUI side)
    preview: Any = None  # session.PreviewMark: partial_view holds a preview, not a run's tiles
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def has_result(self) -> bool:
        """Enlarged, whether the result is in memory or parked on disk."""
        return self.result is not None or self.result_file is not None

    @property
    def status_label(self) -> str:
        label = STATUS_LABELS.get(self.status, self.status)
        if self.status == RUNNING:
            return f"{label} {self.progress:.0%}"
        return label


class PhotoQueue:
    """Ordered unique photos with a current selection; observers get called with no arguments."""

    def __init__(self) -> None:
        self.items: list[QueueItem] = []
        self.current: QueueItem | None = None
        self._observers: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._observers.append(callback)

    def changed(self) -> None:
        """Tell observers; callers that edit an item in place call this afterwards."""
        for callback in list(self._observers):
            callback()

    def add(self, paths: Iterable[str | os.PathLike], skip: Iterable[Path] = ()) -> list[QueueItem]:
        """Append photos (folders are searched one level deep, without `skip`: files this session
        wrote); returns the new items, skipping duplicates."""
        known = {item.path for item in self.items}
        added = []
        for path in photo_paths(paths, skip):
            if path in known:
                continue
            known.add(path)
            item = QueueItem(path)
            self.items.append(item)
            added.append(item)
        if added and self.current is None:
            self.current = added[0]
        if added:
            self.changed()
        return added

    def add_item(self, item: QueueItem) -> None:
        self.items.append(item)
        self.current = item
        self.changed()

    def remove(self, item: QueueItem) -> None:
        if item in self.items:
            index = self.items.index(item)
            self.items.remove(item)
            if self.current is item:
                self.current = self.items[min(index, len(self.items) - 1)] if self.items else None
            self.changed()

    def clear_finished(self) -> list[QueueItem]:
        """Remove the photos that are done with; returns them."""
        keep = [item for item in self.items if item.status in (PENDING, LOADING, RUNNING)]
        removed = [item for item in self.items if item not in keep]
        if removed:
            self.items = keep
            if self.current not in keep:
                self.current = keep[0] if keep else None
            self.changed()
        return removed

    def select(self, item: QueueItem | None) -> None:
        if item is not self.current:
            self.current = item
            self.changed()

    def set_status(self, item: QueueItem, status: str, message: str = "") -> None:
        item.status = status
        item.message = message
        if status != RUNNING:
            item.progress = 1.0 if status in (DONE, EXPORTED) else 0.0
        self.changed()

    def pending(self) -> list[QueueItem]:
        return [item for item in self.items if item.status in (PENDING, CANCELLED, FAILED)]

    def finished(self) -> list[QueueItem]:
        return [item for item in self.items if item.has_result]

    def __len__(self) -> int:
        return len(self.items)


def photo_paths(paths: Iterable[str | os.PathLike], skip: Iterable[Path] = ()) -> list[Path]:
    """Files as given (the window refuses other names first) and the photos inside folders, but for
    SR Studio's own results and `skip` (files written this session, whatever their name)."""
    skip = {Path(path).resolve() for path in skip}
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        try:
            path = path.resolve()
        except OSError:
            pass
        if path.is_dir():
            found.extend(child for child in photos_in_folder(path) if child.resolve() not in skip)
        else:
            found.append(path)
    return found


def is_model_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in MODEL_EXTENSIONS


class ProgressClock:
    """Fraction done and time left over all passes of a run, from per-tile reports."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started = clock()
        self.fraction = 0.0

    def update(self, done: int, total: int, pass_index: int = 0, passes: int = 1) -> float:
        passes = max(1, passes)
        within = done / total if total else 1.0
        self.fraction = min(1.0, (pass_index + within) / passes)
        return self.fraction

    def seconds_left(self) -> float | None:
        """None until a first tile is done (no basis for an estimate)."""
        if self.fraction <= 0:
            return None
        elapsed = self._clock() - self.started
        return max(0.0, elapsed * (1 - self.fraction) / self.fraction)

    def eta_text(self) -> str:
        seconds = self.seconds_left()
        if seconds is None:
            return "estimating…"
        return f"{format_duration(seconds)} left"


def progress_text(
    fraction: float, done: int, total: int, pass_index: int, passes: int, eta: str
) -> str:
    """The progress bar's text, time left first: if a narrow bar clips it, the tile count goes, not
    the ETA."""
    pass_text = f" · pass {pass_index + 1}/{passes}" if passes > 1 else ""
    return f"{fraction:.0%} · {eta} · tile {done}/{total}{pass_text}"


# The widest text a long run shows; the progress bar is made wide enough for it in the user's font.
WIDEST_PROGRESS_TEXT = progress_text(1.0, 88888, 88888, 1, 2, "88 h 88 min left")
