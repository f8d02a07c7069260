"""`sr-studio gui --self-test IMAGE`: the real window, the real worker thread, the bundled x2 model.

Used by packaging and CI to prove that an installation works end to end: it loads IMAGE, enlarges it
x2, waits until the result is on screen, exports it to a temporary folder and reads the file back.
Settings go to a temporary folder too, so a user's own settings are never touched.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

SELF_TEST_TIMEOUT_S = float(os.environ.get("SR_STUDIO_SELF_TEST_TIMEOUT", "900"))


class SelfTestFailure(Exception):
    pass


def run_self_test(image: Path, timeout: float = SELF_TEST_TIMEOUT_S) -> int:
    from sr_studio.gui.app_settings import SETTINGS_DIR_ENV

    with tempfile.TemporaryDirectory(prefix="sr-studio-self-test-") as temporary:
        temporary = Path(temporary)
        previous = os.environ.get(SETTINGS_DIR_ENV)
        os.environ[SETTINGS_DIR_ENV] = str(temporary / "settings")
        try:
            summary = _self_test(image, temporary / "export", timeout)
        except SelfTestFailure as failure:
            print(f"sr-studio: self-test failed: {failure}", file=sys.stderr)
            return 1
        finally:
            if previous is None:
                os.environ.pop(SETTINGS_DIR_ENV, None)
            else:
                os.environ[SETTINGS_DIR_ENV] = previous
    print(f"sr-studio: self-test passed: {summary}")
    return 0


def _self_test(image: Path, export_folder: Path, timeout: float) -> str:
    from PySide6.QtCore import QEventLoop

    from sr_studio.gui.app import create_application
    from sr_studio.gui.app_settings import AppSettings
    from sr_studio.gui.appearance import apply_appearance
    from sr_studio.gui.main_window import MainWindow
    from sr_studio.gui.photo_queue import CANCELLED, FAILED

    if not image.is_file():
        raise SelfTestFailure(f"{image}: no such file")
    app = create_application()
    apply_appearance(app, "system")
    window = MainWindow(AppSettings())
    window.ask_unsaved = lambda items: "discard"  # its results are throwaway; a dialog would wait forever
    started = time.monotonic()
    deadline = started + timeout

    def wait_until(done: Callable[[], bool], what: str) -> None:
        while not done():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if time.monotonic() > deadline:
                raise SelfTestFailure(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.002)

    try:
        window.show()
        app.processEvents()
        added = window.add_paths([image])
        if not added:
            raise SelfTestFailure(f"{image}: the window did not queue it ({window.message_bar.text() or 'no reason given'})")
        item = added[0]
        wait_until(lambda: item.photo is not None or item.status == FAILED, "the photo to load")
        if item.photo is None:
            raise SelfTestFailure(f"{image}: {item.message}")
        height, width = item.photo.pixels.shape[:2]

        model = _choose_bundled_x2(window)
        tiles = []
        window.upscale_worker.tile_ready.connect(lambda *args: tiles.append(args[0]))
        window.run_current()
        if window.running_item is not item:
            raise SelfTestFailure(f"the run did not start ({window.message_bar.text() or 'no reason given'})")
        wait_until(lambda: window.running_item is None, "the enlargement")
        if item.status in (FAILED, CANCELLED) or item.result is None:
            raise SelfTestFailure(f"enlarging failed: {item.message or item.status}")
        app.processEvents()
        if window.images.result is not item.result_view or not window.images.result_complete:
            raise SelfTestFailure("the result was computed but is not shown in the viewer")
        if window.grab().isNull():
            raise SelfTestFailure("the window could not be drawn")
        result_h, result_w = item.result.shape[:2]
        if (result_h, result_w) != (2 * height, 2 * width):
            raise SelfTestFailure(f"the result is {result_w}x{result_h}, expected {2 * width}x{2 * height}")

        options = window.export_panel.options()
        options.folder = str(export_folder)
        options.format = "png"
        window.export_panel.set_options(options)
        written: list[str] = []
        errors: list[str] = []
        window.export_finished.connect(written.append)
        window.export_error.connect(errors.append)
        if window.export_items([item]) != 1:
            raise SelfTestFailure(f"the export did not start ({window.message_bar.text() or 'no reason given'})")
        wait_until(lambda: written or errors, "the export")
        if errors:
            raise SelfTestFailure(f"export failed: {errors[0]}")
        exported = Path(written[0])
        from sr_studio.photo_files import read_photo

        try:
            check = read_photo(exported)
        except Exception as error:  # noqa: BLE001
            raise SelfTestFailure(f"the exported file cannot be read back: {error}") from None
        check_h, check_w = check.pixels.shape[:2]
        if (check_h, check_w) != (2 * height, 2 * width):
            raise SelfTestFailure(f"the exported file is {check_w}x{check_h}, expected {2 * width}x{2 * height}")
        return (f"{image.name} {width}x{height} -> {check_w}x{check_h} with {model} "
                f"({len(tiles)} tile update(s) shown, exported and read back) in {time.monotonic() - started:.1f} s")
    finally:
        window.close()
        app.processEvents()


def _choose_bundled_x2(window) -> str:
    from sr_studio.weights import default_model_path

    try:
        wanted = default_model_path(2).resolve()
    except Exception as error:  # noqa: BLE001
        raise SelfTestFailure(f"no bundled model: {error}") from None
    panel = window.run_panel
    for index, choice in enumerate(panel.models):
        if choice.path is not None and Path(choice.path).resolve() == wanted:
            panel.model_combo.setCurrentIndex(index)
            panel.set_scale(2.0)
            if panel.effective_scale() != 2.0:
                raise SelfTestFailure(f"cannot choose x2 for {choice.name}")
            return choice.name
    raise SelfTestFailure(f"the bundled model {wanted} is not offered in the model list")
