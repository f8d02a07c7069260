"""The application around the window: files opened from Finder or the Dock, the window icon, the ETA."""

from __future__ import annotations

import re

import pytest

from test_gui_support import (  # noqa: F401 - fixtures
    gradient_photo,
    gui_env,
    make_window,
    save_tiny_span,
    use_stand_in,
    wait_loaded,
    window,
    write_png,
)

RUN_TIMEOUT_MS = 60000


def open_from_finder(*paths) -> None:
    """What macOS does for "Open With", a double-click in Finder or a drop on the Dock icon."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    for path in paths:
        event = QFileOpenEvent(QUrl.fromLocalFile(str(path)))
        assert QApplication.sendEvent(app, event), "the application ignored the file-open event"


def test_files_opened_from_finder_are_queued_like_a_drop(qtbot, window, gui_env):
    first = write_png(gui_env.photos / "finder-1.png", gradient_photo(8, 8))
    second = write_png(gui_env.photos / "finder-2.png", gradient_photo(8, 12))
    open_from_finder(first, second)  # a multiple selection: one event per file
    qtbot.waitUntil(lambda: len(window.queue.items) == 2, timeout=5000)
    assert [item.path for item in window.queue.items] == [first.resolve(), second.resolve()]
    assert window.queue.current is window.queue.items[0]
    wait_loaded(qtbot, window.queue.items[0])
    assert window.images.original is window.queue.items[0].original_view

    open_from_finder(first)  # already queued: not twice
    qtbot.wait(50)
    assert len(window.queue.items) == 2


def test_a_model_opened_from_finder_is_imported_not_queued(qtbot, window, gui_env):
    weights = save_tiny_span(gui_env.root / "finder-span-x2.safetensors", seed=5)
    with qtbot.waitSignal(window.model_tasks.imported, timeout=RUN_TIMEOUT_MS):
        open_from_finder(weights)
    qtbot.waitUntil(lambda: window.run_panel.current_model() is not None
                    and window.run_panel.current_model().id == "finder-span-x2", timeout=5000)
    assert not window.queue.items


def test_the_file_that_launched_the_app_is_queued_when_the_window_opens(qtbot, make_window, gui_env):
    photo = write_png(gui_env.photos / "launch.png", gradient_photo(8, 8))
    open_from_finder(photo)  # before any window exists
    window = make_window()
    qtbot.waitUntil(lambda: len(window.queue.items) == 1, timeout=5000)
    assert window.queue.items[0].path == photo.resolve()
