"""`sr-studio gui --self-test PHOTO...`: the real window's batch, end to end, as a user would run
it.

Used by packaging and CI to prove that an installation works, and by anyone to check a set of
photos: the window queues the photos, Enlarge All runs them x2 with the bundled model, Export All
writes the results to a temporary folder, and each file is read back. One line per photo says what
became of it; the exit code is 1 if any photo failed. Every wait is bounded, and a watchdog ends the
process if anything else (closing the window, a stuck thread) outlasts the time allowed: it can
never hang. Settings go to a temporary folder too, so a user's own settings are never touched.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

SELF_TEST_TIMEOUT_S = float(os.environ.get("SR_STUDIO_SELF_TEST_TIMEOUT", "900"))
CLOSE_GRACE_S = (
    60.0  # after the timeout, for the window to close before the watchdog ends the process
)


class SelfTestFailure(Exception):
    pass


def self_test_main(photos: Iterable[str | os.PathLike]) -> int:
    """The command line's entry: offscreen when there is no display (CI), then the test."""
    from sr_studio.gui.app import needs_offscreen

    if needs_offscreen():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return run_self_test([Path(photo) for photo in photos])


def run_self_test(photos: Path | list[Path], timeout: float = SELF_TEST_TIMEOUT_S) -> int:
    from sr_studio.gui.app_settings import SETTINGS_DIR_ENV

    photos = [Path(photos)] if isinstance(photos, (str, os.PathLike)) else [Path(p) for p in photos]
    watchdog = _Watchdog(timeout + CLOSE_GRACE_S)
    try:
        with tempfile.TemporaryDirectory(prefix="sr-studio-self-test-") as temporary:
            temporary = Path(temporary)
            previous = os.environ.get(SETTINGS_DIR_ENV)
            os.environ[SETTINGS_DIR_ENV] = str(temporary / "settings")
            try:
                outcomes, summary = _self_test(photos, temporary / "export", timeout)
            except SelfTestFailure as failure:
                print(f"sr-studio: self-test failed: {failure}", file=sys.stderr)
                return 1
            finally:
                if previous is None:
                    os.environ.pop(SETTINGS_DIR_ENV, None)
                else:
                    os.environ[SETTINGS_DIR_ENV] = previous
    finally:
        watchdog.cancel()
    failed = [name for name, ok, _ in outcomes if not ok]
    for name, ok, text in outcomes:
        print(f"sr-studio: self-test: {name}: {'ok' if ok else 'FAILED'}: {text}")
    if failed:
        print(
            f"sr-studio: self-test failed: {len(failed)} of {len(outcomes)} photo(s): "
            f"{', '.join(failed)}",
            file=sys.stderr,
        )
        return 1
    print(f"sr-studio: self-test passed: {summary}")
    return 0


class _Watchdog:
    """Ends the process with a line on stderr if the test outlives its time, whatever it is stuck
    in."""

    def __init__(self, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._fire, args=(seconds,))
        self._timer.daemon = True
        self._timer.start()

    @staticmethod
    def _fire(seconds: float) -> None:
        print(f"sr-studio: self-test failed: still running after {seconds:.0f} s", file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)

    def cancel(self) -> None:
        self._timer.cancel()


def _self_test(
    photos: list[Path], export_folder: Path, timeout: float
) -> tuple[list[tuple[str, bool, str]], str]:
    """(name, ok, what happened) per photo, in the order given, and a summary line."""
    from PySide6.QtCore import QEventLoop

    from sr_studio.gui.app import create_application
    from sr_studio.gui.app_settings import AppSettings
    from sr_studio.gui.appearance import apply_appearance
    from sr_studio.gui.main_window import MainWindow
    from sr_studio.photo_io import read_photo

    if not photos:
        raise SelfTestFailure("no photo given")
    app = create_application()
    apply_appearance(app, "system")
    window = MainWindow(AppSettings())
    window.ask_unsaved = lambda items: (
        "discard"
    )  # its results are throwaway; a dialog would wait forever
    window.ask_overwrite = lambda existing: "keep"
    started = time.monotonic()
    deadline = started + timeout

    def wait_until(done: Callable[[], bool], what: str) -> None:
        while not done():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if time.monotonic() > deadline:
                raise SelfTestFailure(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.002)

    outcomes: dict[Path, tuple[bool, str]] = {}
    try:
        window.show()
        app.processEvents()
        items = {}
        for photo in photos:  # one at a time: the window's reason for refusing a file is its own
            added = window.add_paths([photo])
            if added:
                items[photo] = added[0]
            else:
                outcomes[photo] = (
                    False,
                    f"not queued: {window.message_bar.text() or 'no reason given'}",
                )
        model = _choose_bundled_x2(window)
        tiles = []
        window.upscale_worker.tile_ready.connect(lambda *args: tiles.append(args[0]))
        if items:
            ended = []
            window.run_ended.connect(ended.append)
            window.queue.select(next(iter(items.values())))
            window.run_all_action.trigger()  # Enlarge All
            wait_until(
                lambda: (
                    bool(ended)
                    or window.running_item is None
                    and not window.cancel_action.isEnabled()
                ),
                "Enlarge All",
            )
            wait_until(
                lambda: all(item.status != "loading" for item in items.values()),
                "the photos to load",
            )
        enlarged = {photo: item for photo, item in items.items() if item.has_result}
        for photo, item in items.items():
            if photo not in enlarged:
                outcomes[photo] = (False, item.message or f"not enlarged ({item.status_label})")
        if enlarged:
            current = window.queue.current
            if current in enlarged.values():
                wait_until(
                    lambda: (
                        window.images.result is current.result_view
                        and window.images.result_complete
                    ),
                    "the result to be shown",
                )
            if window.grab().isNull():
                raise SelfTestFailure("the window could not be drawn")
            window.export_panel.folder_edit.setText(str(export_folder))
            written: list[str] = []
            errors: list[str] = []
            window.export_finished.connect(written.append)
            window.export_error.connect(errors.append)
            window.export_all_action.trigger()  # Export All
            wait_until(lambda: len(written) + len(errors) >= len(enlarged), "Export All")
            for photo, item in enlarged.items():
                outcomes[photo] = _check_export(item, read_photo)
        summary = (
            f"{sum(ok for ok, _ in outcomes.values())} of {len(photos)} photo(s) "
            f"enlarged x2 with {model}, "
            f"exported and read back ({len(tiles)} tile update(s) shown) "
            f"in {time.monotonic() - started:.1f} s"
        )
        return [(photo.name, *outcomes[photo]) for photo in photos], summary
    finally:
        window.close()
        app.processEvents()


def _check_export(item, read_photo) -> tuple[bool, str]:
    height, width = item.photo.pixels.shape[:2]
    if item.exported_to is None:
        return False, f"enlarged but not exported ({item.message or item.status_label})"
    try:
        check = read_photo(item.exported_to)
    except Exception as error:  # noqa: BLE001
        return False, f"the exported file cannot be read back: {error}"
    check_h, check_w = check.pixels.shape[:2]
    if (check_h, check_w) != (2 * height, 2 * width):
        return False, f"the exported file is {check_w}x{check_h}, expected {2 * width}x{2 * height}"
    return (
        True,
        f"{width}x{height} -> {check_w}x{check_h}, "
        f"exported as {item.exported_to.name} and read back",
    )


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
