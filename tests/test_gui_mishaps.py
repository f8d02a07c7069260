"""The ordinary mishaps of a first use (issue 15): each one a user ran into, each checked in the
real window."""

from __future__ import annotations

import pytest
from test_gui_support import (  # noqa: F401 - fixtures
    drop_paths,
    gradient_photo,
    gui_env,
    make_window,
    use_stand_in,
    wait_loaded,
    window,
    write_png,
)

RUN_TIMEOUT_MS = 60000


def test_a_batch_goes_on_past_a_photo_that_cannot_be_opened(qtbot, window, gui_env):
    good = write_png(gui_env.photos / "a-good.png", gradient_photo(12, 16))
    truncated = gui_env.photos / "b-truncated.jpg"
    truncated.write_bytes(
        write_png(gui_env.photos / "source.png", gradient_photo(40, 40)).read_bytes()[:60]
    )
    text = gui_env.photos / "c-text.jpg"
    text.write_text("not a photo at all")
    good2 = write_png(gui_env.photos / "d-good.png", gradient_photo(14, 16))
    window.add_paths([good, truncated, text, good2])
    items = list(window.queue.items)
    use_stand_in(window)
    with qtbot.waitSignal(window.run_ended, timeout=20000) as ended:
        window.run_all_action.trigger()
    assert ended.args == ["failed"]
    assert [item.status for item in items] == ["done", "failed", "failed", "done"]
    for item in items[1:3]:
        assert item.message and "\n" not in item.message  # one line saying why
    assert not window.cancel_action.isEnabled() and window.run_all_action.isEnabled()


def test_switching_photo_while_zoomed_in_shows_the_new_photo_fitted(qtbot, window, gui_env):
    first = write_png(gui_env.photos / "a.png", gradient_photo(30, 40))
    second = write_png(gui_env.photos / "b.png", gradient_photo(50, 20))
    window.add_paths([first, second])
    a, b = window.queue.items
    wait_loaded(qtbot, a)
    window.zoom_actual_action.trigger()  # Ctrl+1
    assert not window.viewer_model.fit_mode
    window.queue_list.setCurrentRow(1)  # b is not read yet: the viewer waits for it
    assert (
        "a.png" not in window.windowTitle() and "40 × 30" not in window.viewer.original_title.text()
    )
    wait_loaded(qtbot, b)
    qtbot.waitUntil(lambda: window.images.original is b.original_view, timeout=5000)
    assert window.viewer.original_title.text().startswith("Original · 20 × 50")
    assert (window.viewer_model.image_width, window.viewer_model.image_height) == (
        40,
        100,
    )  # x2, fitted
    assert window.viewer_model.fit_mode

    window.zoom_actual_action.trigger()
    window.queue_list.setCurrentRow(0)  # back to a photo already read: fitted, its own headings
    assert window.viewer.original_title.text().startswith("Original · 40 × 30")
    assert window.viewer_model.fit_mode and window.viewer_model.image_width == 80


def test_zoom_keys_and_buttons_work_as_soon_as_a_photo_is_shown(qtbot, window, gui_env):
    assert not window.zoom_actual_action.isEnabled()  # nothing to zoom
    item = window.add_paths([write_png(gui_env.photos / "z.png", gradient_photo(30, 40))])[0]
    wait_loaded(qtbot, item)
    assert not item.has_result  # not enlarged: the wheel zooms it, so must Ctrl+1 and the buttons
    for action in (
        window.zoom_in_action,
        window.zoom_out_action,
        window.zoom_fit_action,
        window.zoom_actual_action,
    ):
        assert action.isEnabled(), action.text()
    window.zoom_actual_action.trigger()
    assert window.viewer_model.zoom == 1.0 and window.zoom_label.text() == "100 %"


def enlarged(qtbot, window, path):
    item = window.add_paths([path])[0]
    wait_loaded(qtbot, item)
    use_stand_in(window)
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_current()
    return item


def test_quitting_with_unexported_results_asks_first(qtbot, make_window, gui_env):
    window = make_window()
    item = enlarged(qtbot, window, write_png(gui_env.photos / "keep.png", gradient_photo(12, 16)))
    asked = []
    window.ask_unsaved = lambda items: asked.append([i.name for i in items]) or "cancel"
    window.quit_action.trigger()  # Ctrl+Q
    assert asked == [["keep.png"]] and window.isVisible() and item.has_result

    out = gui_env.root / "out"
    window.export_panel.folder_edit.setText(str(out))
    window.ask_unsaved = lambda items: "export"
    window.quit_action.trigger()
    qtbot.waitUntil(
        lambda: not window.isVisible(), timeout=RUN_TIMEOUT_MS
    )  # closed once the file is written
    assert (out / "keep_x2_span.png").is_file()
    assert not window.upscale_thread.isRunning()

    other = make_window()
    enlarged(qtbot, other, write_png(gui_env.photos / "drop.png", gradient_photo(12, 16)))
    other.ask_unsaved = lambda items: "discard"
    other.close()
    assert not other.isVisible() and not list(gui_env.photos.glob("drop_x*"))


def test_quitting_after_everything_is_exported_asks_nothing(qtbot, window, gui_env):
    enlarged(qtbot, window, write_png(gui_env.photos / "done.png", gradient_photo(12, 16)))
    window.export_panel.folder_edit.setText(str(gui_env.root / "out"))
    with qtbot.waitSignal(window.export_finished, timeout=RUN_TIMEOUT_MS):
        window.export_current()
    window.ask_unsaved = lambda items: pytest.fail("asked although every result is exported")
    window.close()
    assert not window.isVisible()


def test_phone_photos_are_offered_by_file_open_and_taken_from_a_folder(qtbot, window, gui_env):
    from sr_studio.gui.main_window import OPEN_FILTER

    photos_filter = OPEN_FILTER.split(";;")[0]
    for pattern in ("*.heic", "*.HEIC", "*.heif", "*.avif", "*.gif", "*.jpg", "*.png"):
        assert pattern in photos_filter.split("(")[1].rstrip(")").split()
    folder = gui_env.photos / "iphone"
    folder.mkdir()
    for name in ("IMG_0001.HEIC", "IMG_0002.heif", "IMG_0003.avif", "anim.gif"):
        (folder / name).write_bytes(b"")  # names are what the scan looks at; reading comes later
    window.add_paths([folder])
    assert "no photos" not in window.message_bar.text()
    assert sorted(item.name for item in window.queue.items) == [
        "IMG_0001.HEIC",
        "IMG_0002.heif",
        "IMG_0003.avif",
        "anim.gif",
    ]


def test_adding_a_folder_again_skips_the_results_exported_into_it(qtbot, window, gui_env):
    folder = gui_env.photos / "shoot"
    folder.mkdir()
    write_png(folder / "a.png", gradient_photo(12, 16))
    window.add_paths([folder])
    item = window.queue.items[0]
    wait_loaded(qtbot, item)
    use_stand_in(window)
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_current()
    window.export_panel.pattern_edit.setText(
        "{name} big"
    )  # a name of the user's own: known by what was written
    with qtbot.waitSignal(window.export_finished, timeout=RUN_TIMEOUT_MS):
        window.export_current()
    window.export_panel.pattern_edit.setText("{name}_x{scale}_{model}")
    with qtbot.waitSignal(window.export_finished, timeout=RUN_TIMEOUT_MS):
        window.export_current()
    assert sorted(p.name for p in folder.iterdir()) == [
        "a big.png",
        "a.png",
        "a_x2_span.png",
    ]
    window.queue.remove(item)
    window.add_paths([folder])
    assert [i.name for i in window.queue.items] == ["a.png"]


def test_files_that_are_not_photos_are_refused_with_the_reason(qtbot, window, gui_env):
    notes = gui_env.photos / "notes.txt"
    notes.write_text("shopping list")
    good = write_png(gui_env.photos / "good.png", gradient_photo(8, 8))
    drop_paths(window, [notes, good])
    assert [item.name for item in window.queue.items] == ["good.png"]
    message = window.message_bar.text()
    assert "notes.txt" in message and "not a photo" in message and "\n" not in message


def test_transparent_areas_are_drawn_on_a_checkerboard(qtbot, window, gui_env):
    import numpy as np
    from test_gui_viewer import grab_array

    clear = np.zeros((60, 80, 4), np.uint8)  # fully transparent
    item = window.add_paths([write_png(gui_env.photos / "clear.png", clear)])[0]
    wait_loaded(qtbot, item)
    qtbot.wait(20)
    pane = window.viewer.original_view
    seen = grab_array(pane)
    model = window.viewer_model  # where the whole image lands in the pane, in screen pixels
    left, top = model.image_to_view(0, 0, *pane.viewport_size())
    size = pane.viewport_size()
    right, bottom = model.image_to_view(model.image_width, model.image_height, *size)
    ratio = pane.devicePixelRatioF()
    y0, y1 = int(top / ratio) + 2, int(bottom / ratio) - 2
    x0, x1 = int(left / ratio) + 2, int(right / ratio) - 2
    inside = seen[y0:y1, x0:x1].reshape(-1, 3)
    shades = {tuple(int(v) for v in pixel) for pixel in inside}
    assert len(shades) == 2, f"transparency shown as {len(shades)} colour(s), not a checkerboard"
    light, dark = sorted(shades, key=sum)[::-1]
    assert sum(light) - sum(dark) > 60  # told apart at a glance


def test_first_run_defaults_follow_the_cli_x4_and_the_photos_own_format(
    qtbot, make_window, gui_env
):
    import json

    from test_gui_support import save_tiny_span

    save_tiny_span(gui_env.bundled / "span-x4.safetensors", scale=4)
    (gui_env.bundled / "span-x4.json").write_text(
        json.dumps(
            {
                "id": "bundled-span-x4",
                "name": "SPAN x4 (test)",
                "arch": "SPAN",
                "scale": 4,
                "license": "Apache-2.0",
            }
        )
    )
    window = make_window()
    assert (
        window.run_panel.current_model().id == "bundled-span-x4"
        and window.run_panel.effective_scale() == 4
    )
    assert window.export_panel.format_combo.currentText() == "As the original"
    from PIL import Image

    photo = gui_env.photos / "holiday.jpg"
    Image.fromarray(gradient_photo(12, 16)).save(photo, quality=90)
    item = window.add_paths([photo])[0]
    wait_loaded(qtbot, item)
    use_stand_in(window, scale=4)
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_current()
    with qtbot.waitSignal(window.export_finished, timeout=RUN_TIMEOUT_MS) as written:
        window.export_current()
    assert written.args[0].endswith("holiday_x4_span.jpg")  # a JPEG stays a JPEG (not a 107 MB PNG)
    with Image.open(written.args[0]) as result:
        assert result.format == "JPEG" and result.size == (64, 48)


def test_the_overwrite_question_speaks_of_one_file_when_there_is_one(window, tmp_path):
    one = window.overwrite_box([tmp_path / "tree_x2.png"])
    assert one.windowTitle() == "A file already exists"
    assert "“tree_x2.png” already exists" in one.text() and "files" not in one.informativeText()
    several = window.overwrite_box([tmp_path / "a.png", tmp_path / "b.png"])
    assert several.windowTitle() == "Files already exist" and several.text().startswith(
        "2 files already exist"
    )


def a_good_photo_and_a_broken_one_shown(qtbot, window, gui_env):
    """Both queued, the broken one selected until its error shows: (good item, broken item)."""
    broken = gui_env.photos / "broken.jpg"
    broken.write_bytes(b"this is not a JPEG")
    good = write_png(gui_env.photos / "good.png", gradient_photo(8, 8))
    window.add_paths([good, broken])
    good_item, broken_item = window.queue.items
    window.queue.select(broken_item)
    qtbot.waitUntil(lambda: broken_item.status == "failed", timeout=RUN_TIMEOUT_MS)
    assert "broken.jpg" in window.message_bar.text()
    return good_item, broken_item


def test_an_error_banner_goes_with_its_photo(qtbot, window, gui_env):
    good_item, broken_item = a_good_photo_and_a_broken_one_shown(qtbot, window, gui_env)
    window.remove_action.trigger()
    assert window.queue.items == [good_item]
    assert window.message_bar.text() == ""


def test_an_error_banner_about_a_photo_goes_when_another_is_selected(qtbot, window, gui_env):
    """It would be read as being about the photo now shown; the Photos list keeps the reason."""
    good_item, broken_item = a_good_photo_and_a_broken_one_shown(qtbot, window, gui_env)
    window.queue.select(good_item)
    assert window.message_bar.text() == ""
    assert not window.statusBar().currentMessage().startswith("Could not open broken.jpg")
    assert "Failed" in window.queue_list.item(1).text()


def test_a_narrow_window_keeps_its_headings_and_the_model_manager(qtbot, window, gui_env):
    item = window.add_paths(
        [write_png(gui_env.photos / "a-photo-with-a-long-name.png", gradient_photo(30, 40))]
    )[0]
    wait_loaded(qtbot, item)
    window.resize(640, 560)
    qtbot.waitUntil(lambda: window.width() == 640, timeout=5000)
    qtbot.wait(50)
    manager = window.toolbar.widgetForAction(window.models_action)
    assert manager is not None and manager.isVisible()
    assert window.toolbar.rect().contains(
        manager.geometry()
    )  # on the toolbar, not in its overflow menu
    titles = (window.viewer.original_title, window.viewer.result_title)
    for title in titles:
        assert title.heightForWidth(title.width()) <= title.height(), f"cut: {title.text()}"
    assert titles[0].height() == titles[1].height()
    assert (
        window.viewer.original_view.size() == window.viewer.result_view.size()
    )  # the panes stay in sync
    window.resize(1100, 700)
    qtbot.waitUntil(lambda: window.width() == 1100, timeout=5000)
    from PySide6.QtCore import Qt

    assert (
        window.toolbar.widgetForAction(window.run_action).toolButtonStyle()
        == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
    )  # labelled again where there is room
