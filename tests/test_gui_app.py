"""The application around the window: files opened from Finder or the Dock, the window icon, the
ETA."""

from __future__ import annotations

import re

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
    qtbot.waitUntil(
        lambda: (
            window.run_panel.current_model() is not None
            and window.run_panel.current_model().id == "finder-span-x2"
        ),
        timeout=5000,
    )
    assert not window.queue.items


def test_the_file_that_launched_the_app_is_queued_when_the_window_opens(
    qtbot, make_window, gui_env
):
    photo = write_png(gui_env.photos / "launch.png", gradient_photo(8, 8))
    open_from_finder(photo)  # before any window exists
    window = make_window()
    qtbot.waitUntil(lambda: len(window.queue.items) == 1, timeout=5000)
    assert window.queue.items[0].path == photo.resolve()


def icon_image(icon, size: int):
    from PySide6.QtGui import QImage

    return (
        icon.pixmap(size, size).toImage().convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    )


def test_the_window_carries_the_app_icon(qtbot, window):
    """The same picture as the desktop entry, .ico and .icns, at every size it is rendered at."""
    from PySide6.QtGui import QImage

    from sr_studio.gui.app import APP_ICON_SIZES, create_application
    from sr_studio.resource_paths import resource_path

    create_application()  # what `sr-studio` does before it opens the window
    icon = window.windowIcon()
    assert not icon.isNull()
    assert sorted(size.width() for size in icon.availableSizes()) == list(APP_ICON_SIZES)
    for size in (16, 32, 64, 256):
        expected = QImage(str(resource_path("icons", "app", f"sr-studio-{size}.png")))
        assert icon_image(icon, size) == expected.convertToFormat(
            QImage.Format.Format_ARGB32_Premultiplied
        ), size


INSTALLED_ICON_PROBE = """
import json, os
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from sr_studio.gui.app import create_application
from sr_studio.resource_paths import resource_dir
app = create_application()
icon = app.windowIcon()
image = icon.pixmap(48, 48).toImage()
print(json.dumps({"resources": str(resource_dir()), "null": icon.isNull(),
                  "sizes": sorted(s.width() for s in icon.availableSizes()),
                  "centre": image.pixelColor(24, 24).name()}))
"""


def test_the_icon_is_found_in_the_installed_layout(tmp_path):
    """The wheel puts resources/ inside the package (pyproject's force-include;
    test_packaging_resources checks the wheel really does): the icon must come from there, with no
    checkout beside it."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from PySide6.QtGui import QImage

    root = Path(__file__).resolve().parents[1]
    site = tmp_path / "site"
    shutil.copytree(
        root / "sr_studio", site / "sr_studio", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(root / "resources" / "icons", site / "sr_studio" / "resources" / "icons")
    result = subprocess.run(
        [sys.executable, "-c", INSTALLED_ICON_PROBE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(site), "PATH": "", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(found["resources"]) == site / "sr_studio" / "resources"
    assert not found["null"] and found["sizes"] == [16, 24, 32, 48, 64, 128, 256, 512]
    expected = (
        QImage(str(root / "resources" / "icons" / "app" / "sr-studio-48.png"))
        .pixelColor(24, 24)
        .name()
    )
    assert found["centre"] == expected
    assert "icon is missing" not in result.stderr


def test_time_left_counts_the_tiles_only_and_stays_readable(qtbot, window, gui_env):
    """A slow model load (large HAT, first run) must not inflate the estimate; the text must fit the
    bar."""
    import time

    from test_gui_support import stand_in

    from sr_studio.gui.photo_queue import WIDEST_PROGRESS_TEXT

    photo = write_png(
        gui_env.photos / "eta.png", gradient_photo(106, 106)
    )  # 4 x 4 tiles of 16 (+21 at edges)
    window.add_paths([photo])
    wait_loaded(qtbot, window.queue.items[0])

    def slow_load(path):
        time.sleep(1.5)
        return stand_in(delay=0.1)

    window.upscale_worker.load_model = slow_load
    window.run_panel.set_tile(16)  # 16 tiles of 0.1 s
    bar = window.progress_bar
    pattern = re.compile(r"\d+% · (\d+) s left · tile (\d+)/16")

    def tiles_done() -> int:
        match = pattern.fullmatch(bar.text())
        return int(match.group(2)) if match else 0

    window.run_current()
    qtbot.waitUntil(lambda: tiles_done() >= 4, timeout=RUN_TIMEOUT_MS)
    when, text = time.monotonic(), bar.text()
    assert bar.isVisible()
    qtbot.waitUntil(
        lambda: tiles_done() == 16 or window.running_item is None, timeout=RUN_TIMEOUT_MS
    )
    actual = time.monotonic() - when  # what was left: some 12 tiles of 0.1 s
    estimate = int(pattern.fullmatch(text).group(1))
    assert 0.5 * actual - 0.5 <= estimate <= 2 * actual + 0.5, (text, actual)
    qtbot.waitUntil(lambda: window.running_item is None, timeout=RUN_TIMEOUT_MS)

    # Drawn, and wide enough for the longest text a big multi-pass run shows.
    assert bar.isTextVisible()
    assert bar.fontMetrics().horizontalAdvance(WIDEST_PROGRESS_TEXT) <= bar.contentsRect().width()
    bar.show()
    bar.setFormat(WIDEST_PROGRESS_TEXT)
    with_text = bar.grab().toImage()
    bar.setFormat("")
    assert bar.grab().toImage() != with_text
