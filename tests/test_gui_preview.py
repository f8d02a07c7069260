"""Preview and Compare Models in the real window (offscreen), with real SPAN networks on the CPU."""

from __future__ import annotations

import json
import threading

import numpy as np
from test_gui_support import (  # noqa: F401 - fixtures
    compare_ticked,
    gradient_photo,
    gui_env,
    make_window,
    queue_photo,
    save_tiny_span,
    window,
    write_png,
)

TIMEOUT_MS = 60000


def test_preview_shows_the_region_in_view_marked_then_the_run_replaces_it(qtbot, window, gui_env):
    from sr_studio.gui import session as events

    item = queue_photo(
        qtbot, window, write_png(gui_env.photos / "harbour.png", gradient_photo(90, 120))
    )
    window.viewer_model.set_zoom(4.0)  # the result pane shows a part of the photo
    box = window.region_in_view(512)
    assert box is not None and box[2] < 120 and box[3] < 90
    ended, threads = [], set()
    window.session.subscribe(
        lambda e: ended.append(e) if isinstance(e, events.PreviewEnded) else None
    )
    window.session.subscribe(lambda e: threads.add(threading.get_ident()))
    assert window.preview_action.isEnabled() and window.preview_action.shortcut().toString() == "P"
    window.run_panel.set_tile(16)
    window.preview_action.trigger()
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
    assert ended[0].outcome == "done"
    assert threads == {threading.get_ident()}  # every answer reached the window on its own thread
    assert item.preview is not None and item.preview.seconds is not None and not item.has_result
    assert window.viewer.result_view.marker == "PREVIEW"
    assert "PREVIEW" in window.viewer.result_title.text()
    x, y, w, h = box
    previewed = np.array(item.partial_view.levels[0][2 * y : 2 * (y + h), 2 * x : 2 * (x + w)])
    assert window.images.done_region.boundingRect().width() == 2 * w
    # The full run gives the same pixels there (SPAN, exact context), and takes the preview's place.
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT_MS):
        window.run_action.trigger()
    assert window.viewer.result_view.marker == ""
    final = item.result[2 * y : 2 * (y + h), 2 * x : 2 * (x + w)]
    assert np.abs(previewed.astype(int) - final[..., : previewed.shape[2]]).max() <= 1


def test_compare_grid_labels_each_model_zooms_as_one_and_sets_the_chosen_one(
    qtbot, make_window, gui_env
):
    from sr_studio.gui.comparison_grid import ComparisonDialog

    save_tiny_span(gui_env.bundled / "span-x2-other.safetensors", seed=5)
    (gui_env.bundled / "span-x2-other.json").write_text(
        json.dumps(
            {
                "id": "other-span-x2",
                "name": "Other SPAN x2",
                "arch": "SPAN",
                "scale": 2,
                "license": "MIT",
                "purpose": "real-world",
            }
        )
    )
    window = make_window()
    queue_photo(qtbot, window, write_png(gui_env.photos / "street.png", gradient_photo(60, 80)))
    assert window.run_panel.current_model().id == "bundled-span-x2"
    window.open_comparison()
    dialog = window._comparison
    assert (
        isinstance(dialog, ComparisonDialog) and not dialog.compare_button.isEnabled()
    )  # one ticked
    screen = window.screen().availableGeometry()  # offscreen: 800 x 600
    assert dialog.width() <= screen.width() and dialog.height() <= screen.height()
    dialog.set_checked(["bundled-span-x2", "other-span-x2"])
    assert dialog.compare_button.isEnabled() and dialog.compare_button.text() == "Compare 2"
    cells = compare_ticked(qtbot, window, dialog, ["bundled-span-x2", "other-span-x2"], TIMEOUT_MS)
    first, second = cells["bundled-span-x2"], cells["other-span-x2"]
    assert [first.name_label.text(), second.name_label.text()] == [
        "SPAN x2 (test)",
        "Other SPAN x2",
    ]
    assert second.purpose_label.text().startswith("Photo: ")
    assert first.time_label.text().endswith(" s for this crop") and first.use_button.isEnabled()
    assert first.images.result.width == 2 * dialog.box[2]
    assert not np.array_equal(first.images.result.levels[0], second.images.result.levels[0])
    # The original crop comes first, for reference, at the models' size; the crop is square
    # whatever the pane's shape.
    original = cells["original"]
    assert dialog.cells[0] is original and not original.use_button.isVisible()
    assert original.name_label.text() == "Original"
    assert original.images.result.width == first.images.result.width
    assert dialog.box[2] == dialog.box[3] == 60  # the photo's shorter side (60 x 80)
    # One zoom and one pan for every cell.
    assert first.canvas.model is second.canvas.model is dialog.viewer_model
    dialog.viewer_model.set_zoom(3.0)
    assert first.canvas.model.zoom == second.canvas.model.zoom == 3.0
    second.use_button.click()
    assert window.run_panel.current_model().id == "other-span-x2" and not dialog.isVisible()


def test_a_rectangle_shift_dragged_on_the_original_is_previewed(qtbot, window, gui_env):
    from PySide6.QtCore import QPoint, Qt

    from sr_studio.gui import session as events

    item = queue_photo(
        qtbot, window, write_png(gui_env.photos / "dock.png", gradient_photo(90, 120))
    )
    pane = window.viewer.original_view
    window.viewer.fit()
    ended = []
    window.session.subscribe(
        lambda e: ended.append(e) if isinstance(e, events.PreviewEnded) else None
    )
    # From a quarter to the middle of the pane: about that part of the photo, in its own pixels.
    ratio = pane.devicePixelRatioF() or 1.0

    def at(x: float, y: float) -> QPoint:
        vx, vy = window.viewer_model.image_to_view(x, y, *pane.viewport_size())
        return QPoint(round(vx / ratio), round(vy / ratio))

    start, end = at(60, 40), at(120, 100)
    centre = (window.viewer_model.center_x, window.viewer_model.center_y)
    qtbot.mousePress(pane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, start)
    qtbot.mouseMove(pane, end)
    qtbot.mouseRelease(pane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, end)
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
    x, y, width, height = item.preview.box
    assert abs(x - 30) <= 1 and abs(y - 20) <= 1 and abs(width - 30) <= 2 and abs(height - 30) <= 2
    assert (
        window.viewer_model.center_x,
        window.viewer_model.center_y,
    ) == centre  # drawn, not panned
