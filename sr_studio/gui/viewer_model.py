"""What the viewer shows (zoom, centre, compare mode, slider), free of Qt so it can be tested
headless.

Both panes of the side-by-side view and the before/after view observe one `ViewerModel`; that is
what keeps them in sync. Coordinates are in *result* pixels: the original is drawn at the result's
size, so one detail sits at the same place in every pane.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

MIN_ZOOM = 1 / 64
MAX_ZOOM = 64.0
ZOOM_STEP = 2**0.5  # two presses double the size
SIDE_BY_SIDE = "side_by_side"
BEFORE_AFTER = "before_after"
COMPARE_MODES = (SIDE_BY_SIDE, BEFORE_AFTER)


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in floating-point coordinates (x, y is the top-left corner)."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    def intersected(self, other: Rect) -> Rect:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        return Rect(x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0))

    def is_empty(self) -> bool:
        return self.width <= 0 or self.height <= 0


class ViewerModel:
    """Zoom and pan shared by the panes; observers are plain callables called with no arguments."""

    def __init__(self) -> None:
        self.image_width = 0
        self.image_height = 0
        self.zoom = 1.0
        # Image point shown at the centre of every pane.
        self.center_x = 0.0
        self.center_y = 0.0
        self.mode = SIDE_BY_SIDE
        self.slider = 0.5  # fraction of the pane width where before turns into after
        self.fit_mode = True  # keep fitting when the pane or the image changes size
        self._observers: list[Callable[[], None]] = []

    # Observers -----------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[], None]) -> None:
        self._observers.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        if callback in self._observers:
            self._observers.remove(callback)

    def _changed(self) -> None:
        for callback in list(self._observers):
            callback()

    # Image ---------------------------------------------------------------------------------------
    def set_image_size(self, width: int, height: int) -> None:
        """A new photo (or new output scale): keep the view when the size is the same, else fit
        later. A zero size (the next photo still being read) is no image: the photo that follows is
        fitted."""
        if (width, height) == (self.image_width, self.image_height):
            return
        old_w, old_h = self.image_width, self.image_height
        self.image_width, self.image_height = int(width), int(height)
        if old_w and old_h and width and height and not self.fit_mode:
            # Same photo at another scale: keep the same detail under the centre and its apparent
            # size.
            ratio = width / old_w
            self.center_x *= ratio
            self.center_y *= height / old_h
            self.zoom = _clamp(self.zoom / ratio, MIN_ZOOM, MAX_ZOOM)
        else:
            self.center_x, self.center_y = width / 2, height / 2
            self.fit_mode = True
        self._changed()

    def has_image(self) -> bool:
        return self.image_width > 0 and self.image_height > 0

    # Zoom and pan --------------------------------------------------------------------------------
    def fit_zoom(self, viewport_width: float, viewport_height: float) -> float:
        if not self.has_image() or viewport_width <= 0 or viewport_height <= 0:
            return 1.0
        zoom = min(viewport_width / self.image_width, viewport_height / self.image_height)
        return _clamp(zoom, MIN_ZOOM, MAX_ZOOM)

    def fit(self, viewport_width: float, viewport_height: float) -> None:
        self.zoom = self.fit_zoom(viewport_width, viewport_height)
        self.center_x, self.center_y = self.image_width / 2, self.image_height / 2
        self.fit_mode = True
        self._changed()

    def set_zoom(self, zoom: float) -> None:
        """Zoom about the centre of the panes (1.0 is 100 %: one image pixel per screen pixel)."""
        self.zoom = _clamp(zoom, MIN_ZOOM, MAX_ZOOM)
        self.fit_mode = False
        self._changed()

    def zoom_at(
        self,
        factor: float,
        view_x: float,
        view_y: float,
        viewport_width: float,
        viewport_height: float,
    ) -> None:
        """Zoom by `factor` keeping the image point under (view_x, view_y) where it is (wheel
        zoom)."""
        image_x, image_y = self.view_to_image(view_x, view_y, viewport_width, viewport_height)
        self.zoom = _clamp(self.zoom * factor, MIN_ZOOM, MAX_ZOOM)
        self.center_x = image_x - (view_x - viewport_width / 2) / self.zoom
        self.center_y = image_y - (view_y - viewport_height / 2) / self.zoom
        self.fit_mode = False
        self._clamp_center()
        self._changed()

    def zoom_in(self) -> None:
        self.set_zoom(_snap(self.zoom * ZOOM_STEP))

    def zoom_out(self) -> None:
        self.set_zoom(_snap(self.zoom / ZOOM_STEP))

    def pan_by(self, dx_view: float, dy_view: float) -> None:
        """Move the picture by a drag of (dx, dy) screen pixels."""
        self.center_x -= dx_view / self.zoom
        self.center_y -= dy_view / self.zoom
        self.fit_mode = False
        self._clamp_center()
        self._changed()

    def _clamp_center(self) -> None:
        self.center_x = _clamp(self.center_x, 0.0, float(self.image_width))
        self.center_y = _clamp(self.center_y, 0.0, float(self.image_height))

    # Geometry ------------------------------------------------------------------------------------
    def view_to_image(
        self, view_x: float, view_y: float, viewport_width: float, viewport_height: float
    ) -> tuple[float, float]:
        return (
            self.center_x + (view_x - viewport_width / 2) / self.zoom,
            self.center_y + (view_y - viewport_height / 2) / self.zoom,
        )

    def image_to_view(
        self, image_x: float, image_y: float, viewport_width: float, viewport_height: float
    ) -> tuple[float, float]:
        return (
            (image_x - self.center_x) * self.zoom + viewport_width / 2,
            (image_y - self.center_y) * self.zoom + viewport_height / 2,
        )

    def visible_image_rect(self, viewport_width: float, viewport_height: float) -> Rect:
        """The part of the image inside a pane, in image pixels (clipped to the image)."""
        x0, y0 = self.view_to_image(0, 0, viewport_width, viewport_height)
        full = Rect(x0, y0, viewport_width / self.zoom, viewport_height / self.zoom)
        return full.intersected(Rect(0, 0, self.image_width, self.image_height))

    # Compare mode --------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode not in COMPARE_MODES:
            raise ValueError(f"unknown compare mode {mode!r}")
        if mode != self.mode:
            self.mode = mode
            self._changed()

    def toggle_mode(self) -> None:
        self.set_mode(BEFORE_AFTER if self.mode == SIDE_BY_SIDE else SIDE_BY_SIDE)

    def set_slider(self, fraction: float) -> None:
        fraction = _clamp(fraction, 0.0, 1.0)
        if fraction != self.slider:
            self.slider = fraction
            self._changed()

    def zoom_label(self) -> str:
        percent = self.zoom * 100
        return f"{percent:.0f} %" if percent >= 10 else f"{percent:.1f} %"


def pyramid_level_for(zoom: float, levels: int) -> int:
    """Which half-size level to draw from when zoomed out: the smallest one still at least as sharp
    as the screen."""
    if zoom >= 1 or levels <= 1:
        return 0
    return max(0, min(levels - 1, int(math.floor(math.log2(1 / zoom)))))


def _snap(zoom: float) -> float:
    """Land exactly on the steps (50 %, 71 %, 100 %, 141 %, 200 %) despite rounding errors from
    repeated steps."""
    exponent = math.log2(zoom) * 2
    if abs(exponent - round(exponent)) < 1e-3:
        return 2.0 ** (round(exponent) / 2)
    return zoom


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))
