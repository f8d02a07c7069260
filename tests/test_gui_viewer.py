"""What the viewer draws: panes in sync, crisp pixels past 100 %, the slider splitting
before/after."""

from __future__ import annotations

import numpy as np
import pytest
from test_gui_support import (  # noqa: F401 - fixtures
    gui_env,
    make_window,
    use_stand_in,
    wait_loaded,
    window,
    write_png,
)

RUN_TIMEOUT_MS = 60000


def grab_array(widget) -> np.ndarray:
    from PySide6.QtGui import QImage

    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), np.uint8, count=stride * height).reshape(
        height, stride
    )
    return buffer[:, : width * 3].reshape(height, width, 3).copy()


def red_square_photo() -> np.ndarray:
    photo = np.full((60, 80, 3), 40, np.uint8)
    photo[20:30, 50:60] = (255, 0, 0)
    return photo


def red_centre(pixels: np.ndarray) -> tuple[float, float]:
    mask = (pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)
    assert mask.any(), "the red square is not visible"
    ys, xs = np.nonzero(mask)
    return ys.mean(), xs.mean()


def enlarged(qtbot, window, gui_env, photo: np.ndarray, **stand_in):
    path = write_png(gui_env.photos / "viewer.png", photo)
    window.add_paths([path])
    item = window.queue.current
    wait_loaded(qtbot, item)
    use_stand_in(window, **stand_in)
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_current()
    qtbot.wait(20)
    return item


def test_zoom_and_pan_stay_in_sync_between_original_and_result(qtbot, window, gui_env):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    enlarged(qtbot, window, gui_env, red_square_photo())
    original, result = window.viewer.original_view, window.viewer.result_view
    assert abs(original.width() - result.width()) <= 1 and original.height() == result.height()
    # The original is drawn at the result's size: the square sits at the same place in both panes.
    assert red_centre(grab_array(original)) == pytest.approx(
        red_centre(grab_array(result)), abs=1.5
    )

    # Wheel over the result pane, on the square: both panes zoom about that point.
    y, x = red_centre(grab_array(result))
    before = window.viewer_model.zoom
    wheel = QWheelEvent(
        QPointF(x, y),
        QPointF(result.mapToGlobal(QPoint(int(x), int(y)))),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(result, wheel)
    assert window.viewer_model.zoom == pytest.approx(before * 2)
    qtbot.wait(20)
    zoomed_result, zoomed_original = (
        red_centre(grab_array(result)),
        red_centre(grab_array(original)),
    )
    assert zoomed_result == pytest.approx((y, x), abs=2)
    assert zoomed_original == pytest.approx(zoomed_result, abs=1.5)

    # Drag the original pane: the result pane follows.
    qtbot.mousePress(original, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(original, QPoint(60, 80))
    qtbot.mouseRelease(original, Qt.MouseButton.LeftButton, pos=QPoint(60, 80))
    qtbot.wait(20)
    moved_original, moved_result = red_centre(grab_array(original)), red_centre(grab_array(result))
    assert moved_original == pytest.approx(
        (zoomed_original[0] - 20, zoomed_original[1] - 40), abs=2
    )
    assert moved_result == pytest.approx(moved_original, abs=1.5)

    window.zoom_actual_action.trigger()
    assert window.viewer_model.zoom == 1.0 and window.zoom_label.text() == "100 %"
    window.zoom_fit_action.trigger()
    visible = window.viewer_model.visible_image_rect(*result.viewport_size())
    assert (visible.width, visible.height) == pytest.approx((160, 120))


def test_pixels_are_crisp_when_zoomed_in(qtbot, window, gui_env):
    checker = np.zeros((16, 16, 3), np.uint8)
    checker[::2, ::2] = checker[1::2, 1::2] = 255
    enlarged(qtbot, window, gui_env, checker)
    window.viewer_model.set_zoom(8.0)  # every result pixel is an 8 x 8 block on screen
    qtbot.wait(20)
    pixels = grab_array(window.viewer.result_view)
    cy, cx = pixels.shape[0] // 2, pixels.shape[1] // 2
    values = np.unique(pixels[cy - 60 : cy + 60, cx - 60 : cx + 60].reshape(-1, 3), axis=0)
    assert len(values) == 2, f"blurred: {len(values)} distinct colours instead of black and white"


def test_slider_shows_before_on_the_left_and_after_on_the_right(qtbot, window, gui_env):
    from PySide6.QtCore import QPoint, Qt

    photo = np.full((40, 60, 3), (200, 30, 30), np.uint8)
    enlarged(
        qtbot, window, gui_env, photo, invert=True
    )  # the "result" is the negative: (55, 225, 225)
    window.compare_action.trigger()
    assert window.viewer_model.mode == "before_after"
    pane = window.viewer.compare_view
    qtbot.waitExposed(pane)
    window.viewer_model.set_slider(0.3)
    qtbot.wait(20)

    def colours():
        pixels = grab_array(pane)
        row = pane.height() // 2 + 40  # below the handle
        split = int(pane.slider_x())
        return pixels[row, split - 15].tolist(), pixels[row, split + 15].tolist()

    left, right = colours()
    assert left == pytest.approx([200, 30, 30], abs=2)
    assert right == pytest.approx([55, 225, 225], abs=2)

    # Drag the line to 70 %: the pixels at the old place now show "before".
    start = QPoint(int(pane.slider_x()), pane.height() // 2)
    target = QPoint(int(pane.width() * 0.7), pane.height() // 2)
    qtbot.mousePress(pane, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(pane, target)
    qtbot.mouseRelease(pane, Qt.MouseButton.LeftButton, pos=target)
    assert window.viewer_model.slider == pytest.approx(0.7, abs=0.01)
    qtbot.wait(20)
    pixels = grab_array(pane)
    row = pane.height() // 2 + 40
    assert pixels[row, int(pane.width() * 0.5)].tolist() == pytest.approx([200, 30, 30], abs=2)
    assert pixels[row, int(pane.width() * 0.85)].tolist() == pytest.approx([55, 225, 225], abs=2)


def test_large_results_paint_only_the_visible_part(qtbot, window):
    """A 100-megapixel result: a repaint at 100 % and at fit must not touch the whole image."""
    import time

    from sr_studio.gui.display_pyramid import DisplayPyramid

    big = np.zeros((10000, 10000, 3), np.uint8)  # untouched zero pages: cheap to allocate
    big[5000:5100, 5000:5100] = 255
    pyramid = DisplayPyramid(big, build_levels=False)
    for size in (5000, 2500, 1250, 625, 313):
        pyramid.levels.append(np.zeros((size, size, 3), np.uint8))
    original = DisplayPyramid(np.zeros((5000, 5000, 3), np.uint8), build_levels=False)
    window.images.set_original(original, 10000, 10000)
    window.images.set_result(pyramid)
    window.viewer_model.set_image_size(10000, 10000)
    pane = window.viewer.result_view
    for zoom in (1.0, 0.05):
        window.viewer_model.set_zoom(zoom)
        started = time.perf_counter()
        for _ in range(3):
            pane.repaint()
        assert (time.perf_counter() - started) / 3 < 0.5, (
            f"repaint at {zoom:.0%} is too slow for smooth panning"
        )


def test_the_qt_binding_keeps_none_alive_through_many_repaints(qtbot):
    """PySide6 6.12.0 drops a reference to None on every void call under Python 3.11, so the app
    died after a few thousand repaints ("deallocating None"); this guards the pinned version."""
    import sys

    from PySide6.QtWidgets import QWidget

    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    before = sys.getrefcount(None)
    for _ in range(2000):
        widget.repaint()
    assert abs(sys.getrefcount(None) - before) < 200
