"""The panes that draw photos: original, result, and the before/after view with its slider.

Every pane observes the shared `ViewerModel` (that is the zoom/pan sync) and reads the pixels from
`CompareImages`. A repaint wraps only the visible part of one pyramid level in a QImage (no copy)
and lets QPainter scale it: nearest neighbour past 100 %, smooth below.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QCursor,
    QImage,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QRegion,
    QTransform,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from sr_studio.gui.display_pyramid import DisplayPyramid
from sr_studio.gui.viewer_model import ZOOM_STEP, ViewerModel, pyramid_level_for

ORIGINAL = "original"
RESULT = "result"
COMPARE = "compare"
SLIDER_GRAB_DISTANCE = 10  # logical pixels either side of the slider line that grab it
REPAINT_INTERVAL_MS = 50  # tiles arriving faster than this are painted together
_FORMATS = {
    1: QImage.Format.Format_Grayscale8,
    3: QImage.Format.Format_RGB888,
    4: QImage.Format.Format_RGBA8888,
}
CHECKER_CELL = 8  # logical pixels
CHECKER_SHADES = (QColor(204, 204, 204), QColor(153, 153, 153))


def checkerboard(cell: int) -> QBrush:
    """The usual sign of transparency, so a clear area is not mistaken for a grey one."""
    tile = QPixmap(2 * cell, 2 * cell)
    tile.fill(CHECKER_SHADES[0])
    painter = QPainter(tile)
    painter.fillRect(cell, 0, cell, cell, CHECKER_SHADES[1])
    painter.fillRect(0, cell, cell, cell, CHECKER_SHADES[1])
    painter.end()
    return QBrush(tile)


def level_view(level: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> QImage:
    """A QImage over level[y0:y1, x0:x1] sharing its memory (the caller keeps `level` alive while
    painting)."""
    channels = 1 if level.ndim == 2 else level.shape[2]
    stride = level.shape[1] * channels
    flat = level.reshape(-1)
    return QImage(flat[y0 * stride + x0 * channels :], x1 - x0, y1 - y0, stride, _FORMATS[channels])


class CompareImages(QObject):
    """The original and the (possibly partial) result, in display form; panes repaint on
    `changed`."""

    changed = Signal()  # everything may differ (new photo, finished result)
    region_changed = Signal(QRect)  # only this rectangle of the result, in result pixels

    def __init__(self, parent=None):
        super().__init__(parent)
        self.original: DisplayPyramid | None = None
        self.result: DisplayPyramid | None = None
        self.result_complete = False
        self.done_region = QRegion()  # partial result: where tiles have arrived
        self.result_width = 0
        self.result_height = 0
        self._pending = QRegion()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(REPAINT_INTERVAL_MS)
        self._flush_timer.timeout.connect(self._flush)

    def set_original(
        self, pyramid: DisplayPyramid | None, result_width: int = 0, result_height: int = 0
    ) -> None:
        self.original = pyramid
        self.result = None
        self.result_complete = False
        self.done_region = QRegion()
        self.result_width = result_width or (pyramid.width if pyramid else 0)
        self.result_height = result_height or (pyramid.height if pyramid else 0)
        self.changed.emit()

    def add_tile(self, y0: int, x0: int, pixels: np.ndarray) -> None:
        """A finished tile (result pixels); painted with others at most every
        REPAINT_INTERVAL_MS."""
        if self.result is None or self.result_complete:
            return
        self.result.write_region(y0, x0, pixels)
        rect = QRect(x0, y0, pixels.shape[1], pixels.shape[0])
        self.done_region = self.done_region.united(rect)
        self._pending = self._pending.united(rect)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush(self) -> None:
        if not self._pending.isEmpty():
            self.region_changed.emit(self._pending.boundingRect())
            self._pending = QRegion()

    def set_result(self, pyramid: DisplayPyramid | None) -> None:
        self.result = pyramid
        self.result_complete = pyramid is not None
        self.done_region = QRegion()
        self._pending = QRegion()
        if pyramid is not None:
            self.result_width, self.result_height = pyramid.width, pyramid.height
        self.changed.emit()

    def clear_partial(self) -> None:
        """A cancelled or failed run: drop its partial pixels."""
        if not self.result_complete:
            self.result = None
            self.done_region = QRegion()
            self.changed.emit()


class PhotoCanvas(QWidget):
    """One pane. Drag to pan, wheel to zoom about the cursor; in before/after, drag the slider.
    On the original, Shift+drag draws a rectangle (`region_drawn`, in the viewer's image pixels)."""

    region_drawn = Signal(float, float, float, float)  # x, y, width, height

    def __init__(self, role: str, model: ViewerModel, images: CompareImages, parent=None):
        super().__init__(parent)
        self.role = role
        self.model = model
        self.images = images
        self.empty_text = ""
        self.marker = ""  # a word in the top-left corner over the result ("PREVIEW")
        self._drag_start: QPointF | None = None
        self._dragging_slider = False
        self._band: tuple[QPointF, QPointF] | None = None  # Shift+drag on the original
        self.setMinimumSize(100, 100)  # two panes and both docks fit a 640 px window
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAccessibleName(
            {ORIGINAL: "Original", RESULT: "Result", COMPARE: "Before and after"}[role]
        )
        model.subscribe(self.update)
        images.changed.connect(self.update)
        images.region_changed.connect(self._update_region)

    # Geometry in device pixels (so that 100 % is one photo pixel per screen pixel on HiDPI too) ---
    def _ratio(self) -> float:
        return self.devicePixelRatioF() or 1.0

    def viewport_size(self) -> tuple[float, float]:
        ratio = self._ratio()
        return self.width() * ratio, self.height() * ratio

    def _device(self, point: QPointF) -> tuple[float, float]:
        ratio = self._ratio()
        return point.x() * ratio, point.y() * ratio

    def slider_x(self) -> float:
        """The slider line, in logical widget pixels."""
        return self.model.slider * self.width()

    # Painting ------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        background = self.palette().color(QPalette.ColorRole.Window).darker(125)
        painter.fillRect(self.rect(), background)
        if not self.model.has_image() or self.images.original is None:
            self._draw_empty(painter)
            return
        ratio = self._ratio()
        painter.save()
        painter.scale(1 / ratio, 1 / ratio)
        width, height = self.viewport_size()
        if self.role == ORIGINAL:
            self._draw(painter, self.images.original, width, height)
        elif self.role == RESULT:
            self._draw_result(painter, width, height)
        else:
            split = self.model.slider * width
            painter.save()
            painter.setClipRect(QRectF(0, 0, split, height))
            self._draw(painter, self.images.original, width, height)
            painter.restore()
            painter.save()
            painter.setClipRect(QRectF(split, 0, width - split, height))
            if self.images.result is not None:
                self._draw_result(painter, width, height)
            else:
                self._draw(painter, self.images.original, width, height)
            painter.restore()
        painter.restore()
        if self.role == COMPARE:
            self._draw_slider(painter)
        elif self.role == RESULT and self.images.result is None and self.empty_text:
            self._draw_caption(painter, self.empty_text)
        if self.marker and self.role == RESULT:
            self._draw_label(painter, self.marker, Qt.AlignmentFlag.AlignLeft)
        if self._band is not None:
            painter.setPen(QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
            painter.setBrush(QColor(255, 255, 255, 40))
            painter.drawRect(QRectF(self._band[0], self._band[1]).normalized())

    def _draw_result(self, painter: QPainter, width: float, height: float) -> None:
        images = self.images
        if images.result is None:
            painter.setOpacity(0.35)
            self._draw(painter, images.original, width, height)
            painter.setOpacity(1.0)
            return
        if images.result_complete:
            self._draw(painter, images.result, width, height)
            return
        # A run in progress: the original dimmed beneath, the tiles done so far on top.
        painter.setOpacity(0.35)
        self._draw(painter, images.original, width, height)
        painter.setOpacity(1.0)
        if images.done_region.isEmpty():
            return
        x, y = self.model.image_to_view(0, 0, width, height)
        to_view = QTransform(self.model.zoom, 0, 0, self.model.zoom, x, y)
        painter.save()
        painter.setClipRegion(to_view.map(images.done_region), Qt.ClipOperation.IntersectClip)
        self._draw(painter, images.result, width, height)
        painter.restore()

    def _draw(
        self, painter: QPainter, pyramid: DisplayPyramid | None, width: float, height: float
    ) -> None:
        """Paint the visible part of `pyramid`, whose full size is stretched to the result's
        size."""
        if pyramid is None or not self.images.result_width:
            return
        model = self.model
        visible = model.visible_image_rect(width, height)
        if visible.is_empty():
            return
        per_result = pyramid.width / self.images.result_width  # photo pixels per result pixel
        magnification = model.zoom / per_result  # screen pixels per photo pixel
        level_index = pyramid_level_for(magnification, len(pyramid.levels))
        level = pyramid.levels[level_index]
        scale = per_result / (2**level_index)  # level pixels per result pixel
        lh, lw = level.shape[:2]
        x0 = max(0, math.floor(visible.x * scale))
        y0 = max(0, math.floor(visible.y * scale))
        x1 = min(lw, math.ceil(visible.right * scale))
        y1 = min(lh, math.ceil(visible.bottom * scale))
        if x1 <= x0 or y1 <= y0:
            return
        left, top = model.image_to_view(x0 / scale, y0 / scale, width, height)
        right, bottom = model.image_to_view(x1 / scale, y1 / scale, width, height)
        crisp = level_index == 0 and magnification > 1.0001
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not crisp)
        target = QRectF(left, top, right - left, bottom - top)
        if level.ndim == 3 and level.shape[2] == 4:
            cell = max(1, round(CHECKER_CELL * self._ratio()))
            if getattr(self, "_checker_cell", None) != cell:
                self._checker, self._checker_cell = checkerboard(cell), cell
            painter.fillRect(target, self._checker)
        painter.drawImage(target, level_view(level, x0, y0, x1, y1))

    def _draw_slider(self, painter: QPainter) -> None:
        x = self.slider_x()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(0, 0, 0, 90), 3))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.setPen(QPen(QColor(255, 255, 255), 1.5))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        centre = QPointF(x, self.height() / 2)
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.setPen(QPen(QColor(0, 0, 0, 110), 1))
        painter.drawEllipse(centre, 13, 13)
        painter.setBrush(QColor(60, 60, 60))
        painter.setPen(Qt.PenStyle.NoPen)
        for direction in (-1, 1):
            arrow = QPainterPath()
            tip = QPointF(x + direction * 8, centre.y())
            arrow.moveTo(tip)
            arrow.lineTo(x + direction * 3, centre.y() - 5)
            arrow.lineTo(x + direction * 3, centre.y() + 5)
            arrow.closeSubpath()
            painter.drawPath(arrow)
        self._draw_label(painter, "Before", Qt.AlignmentFlag.AlignLeft)
        self._draw_label(
            painter,
            "After" if self.images.result is not None else "After (not yet enlarged)",
            Qt.AlignmentFlag.AlignRight,
        )

    def _draw_label(self, painter: QPainter, text: str, side: Qt.AlignmentFlag) -> None:
        metrics = painter.fontMetrics()
        box = QRectF(0, 0, metrics.horizontalAdvance(text) + 16, metrics.height() + 8)
        if side == Qt.AlignmentFlag.AlignLeft:
            box.moveTopLeft(QPointF(10, 10))
        else:
            box.moveTopRight(QPointF(self.width() - 10, 10))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 140))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _draw_caption(self, painter: QPainter, text: str) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        metrics = painter.fontMetrics()
        flags = (
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        )  # a narrow pane wraps it, never cuts it
        text_size = metrics.boundingRect(
            QRect(0, 0, max(20, self.width() - 52), 10000), flags, text
        ).size()
        box = QRectF(0, 0, text_size.width() + 28, text_size.height() + 16)
        box.moveCenter(QPointF(self.width() / 2, self.height() / 2))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 6, 6)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, flags, text)

    def _draw_empty(self, painter: QPainter) -> None:
        if not self.empty_text:
            return
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(
            self.rect().adjusted(20, 20, -20, -20),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            self.empty_text,
        )

    def _update_region(self, rect: QRect) -> None:
        """Repaint only where new tiles landed (plus a pixel for rounding)."""
        if not self.isVisible() or self.role == ORIGINAL:
            return
        ratio = self._ratio()
        width, height = self.viewport_size()
        x0, y0 = self.model.image_to_view(rect.x(), rect.y(), width, height)
        x1, y1 = self.model.image_to_view(
            rect.x() + rect.width(), rect.y() + rect.height(), width, height
        )
        self.update(
            QRect(
                math.floor(x0 / ratio) - 1,
                math.floor(y0 / ratio) - 1,
                math.ceil((x1 - x0) / ratio) + 3,
                math.ceil((y1 - y0) / ratio) + 3,
            )
        )

    # Interaction ---------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.model.fit_mode and self.model.has_image() and self.isVisible():
            self.model.fit(*self.viewport_size())

    def wheelEvent(self, event) -> None:
        if not self.model.has_image():
            return
        steps = event.angleDelta().y() / 120 or event.pixelDelta().y() / 60
        if not steps:
            return
        self.model.zoom_at(ZOOM_STEP**steps, *self._device(event.position()), *self.viewport_size())
        event.accept()

    def _near_slider(self, x: float) -> bool:
        return self.role == COMPARE and abs(x - self.slider_x()) <= SLIDER_GRAB_DISTANCE

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        if self._near_slider(event.position().x()):
            self._dragging_slider = True
        elif (
            self.role == ORIGINAL
            and self.model.has_image()
            and event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self._band = (event.position(), event.position())
            self.setCursor(Qt.CursorShape.CrossCursor)
        else:
            self._drag_start = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        position = event.position()
        if self._band is not None:
            self._band = (self._band[0], position)
            self.update()
            return
        if self._dragging_slider:
            self.model.set_slider(position.x() / max(1, self.width()))
        elif self._drag_start is not None:
            delta = position - self._drag_start
            self._drag_start = position
            ratio = self._ratio()
            self.model.pan_by(delta.x() * ratio, delta.y() * ratio)
        elif self._near_slider(position.x()):
            self.setCursor(Qt.CursorShape.SplitHCursor)
        else:
            self.setCursor(
                Qt.CursorShape.OpenHandCursor
                if self.model.has_image()
                else Qt.CursorShape.ArrowCursor
            )

    def mouseReleaseEvent(self, event) -> None:
        if self._band is not None:
            (ax, ay), (bx, by) = (self._device(point) for point in self._band)
            self._band = None
            self.update()
            viewport = self.viewport_size()
            x0, y0 = self.model.view_to_image(min(ax, bx), min(ay, by), *viewport)
            x1, y1 = self.model.view_to_image(max(ax, bx), max(ay, by), *viewport)
            if x1 - x0 >= 1 and y1 - y0 >= 1:
                self.region_drawn.emit(x0, y0, x1 - x0, y1 - y0)
        self._drag_start = None
        self._dragging_slider = False
        self.setCursor(
            QCursor(
                Qt.CursorShape.OpenHandCursor
                if self.model.has_image()
                else Qt.CursorShape.ArrowCursor
            )
        )

    def mouseDoubleClickEvent(self, event) -> None:
        """Double-click: 100 % at that point, or back to fit when already there."""
        if not self.model.has_image() or self._near_slider(event.position().x()):
            return
        if abs(self.model.zoom - 1.0) < 1e-6:
            self.model.fit(*self.viewport_size())
        else:
            self.model.zoom_at(
                1.0 / self.model.zoom, *self._device(event.position()), *self.viewport_size()
            )

    def keyPressEvent(self, event) -> None:
        """Arrow keys pan; in before/after, with Shift they move the slider."""
        step = 40 * self._ratio()
        key = event.key()
        moves = {
            Qt.Key.Key_Left: (step, 0),
            Qt.Key.Key_Right: (-step, 0),
            Qt.Key.Key_Up: (0, step),
            Qt.Key.Key_Down: (0, -step),
        }
        if key in moves and self.model.has_image():
            if (
                self.role == COMPARE
                and event.modifiers() & Qt.KeyboardModifier.ShiftModifier
                and key in (Qt.Key.Key_Left, Qt.Key.Key_Right)
            ):
                self.model.set_slider(
                    self.model.slider + (-0.05 if key == Qt.Key.Key_Left else 0.05)
                )
            else:
                self.model.pan_by(*moves[key])
            return
        super().keyPressEvent(event)

    def closeEvent(self, event) -> None:
        self.model.unsubscribe(self.update)
        super().closeEvent(event)
