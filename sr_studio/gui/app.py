"""Starting the application: QApplication, appearance, the main window, files given on the command
line."""

from __future__ import annotations

import os
import sys

APP_ID = "sr-studio"


def needs_offscreen() -> bool:
    """No display to talk to (CI, SSH): the self-test renders offscreen instead of aborting."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return False
    if sys.platform.startswith("linux"):
        return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return False


_QUIET_MESSAGES = ("This plugin does not support propagateSizeHints()",)
# Qt's notices while the QApplication starts, held back: if the platform fails, the last one is the
# reason, given in the one line printed; otherwise they are printed once it has started.
_held: list[str] | None = None


def _message_handler(mode, context, message) -> None:
    """Qt's own notices, minus the offscreen platform's harmless chatter. A fatal one while the
    application starts (no platform plugin could: an unreachable display, a broken plugin) ends the
    app with one line instead of Qt's abort and core dump."""
    from PySide6.QtCore import QtMsgType

    if mode == QtMsgType.QtFatalMsg and _held is not None:
        first = (message.strip().splitlines() or ["Qt stopped"])[0].split(". ")[0].rstrip(".")
        reason = f"{_held[-1]} ({first})" if _held else first
        print(
            f"sr-studio: error: the window cannot start: {reason}; "
            "`sr-studio upscale` works without a window",
            file=sys.stderr,
        )
        sys.stderr.flush()
        os._exit(1)  # returning would let Qt abort
    if message in _QUIET_MESSAGES:
        return
    if _held is not None:
        _held.append(message.strip())
        return
    print(message, file=sys.stderr)


def create_application(argv: list[str] | None = None):
    from PySide6.QtCore import QCoreApplication, Qt, qInstallMessageHandler
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from sr_studio.gui.app_settings import APPLICATION, ORGANIZATION

    app = QApplication.instance()
    qInstallMessageHandler(_message_handler)
    if app is None:
        from sr_studio.gui.application import Application

        global _held
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        _held = []
        try:
            app = Application(argv or [sys.argv[0]])
        finally:
            held, _held = _held, None
            for message in held:
                print(message, file=sys.stderr)
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QGuiApplication.setApplicationDisplayName("SR Studio")
    QGuiApplication.setDesktopFileName(APP_ID)
    icon = app_icon()
    if icon.isNull():
        print(
            "sr-studio: the app icon is missing from this installation (resources/icons/app)",
            file=sys.stderr,
        )
    else:
        app.setWindowIcon(icon)
    return app


APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def app_icon():
    """The app icon from its PNG renderings, the same files as the desktop entry, .ico and .icns:
    crisp at every size, with no SVG plugin needed. Empty when the resources are missing."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon

    from sr_studio.resource_paths import resource_path

    icon = QIcon()
    try:
        folder = resource_path("icons", "app")
    except FileNotFoundError:
        return icon
    for size in APP_ICON_SIZES:
        file = folder / f"{APP_ID}-{size}.png"
        if file.is_file():
            icon.addFile(str(file), QSize(size, size))
    return icon


def follow_system_appearance(app, settings) -> None:
    """Apply the chosen appearance now and again whenever the system switches light/dark."""
    from sr_studio.gui.appearance import apply_appearance

    apply_appearance(app, settings.appearance)
    hints = app.styleHints()
    if hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(
            lambda *_: (
                apply_appearance(app, settings.appearance)
                if settings.appearance == "system"
                else None
            )
        )


def close_on_interrupt(app):
    """Ctrl+C in the terminal closes the window as its close button does (runs cancelled, settings
    saved).

    Qt's event loop runs in C++, where Python's signal handler cannot run: a timer hands control
    back to Python a few times a second. A second Ctrl+C ends the process at once. Returns whether
    it happened.
    """
    import signal

    from PySide6.QtCore import QTimer

    interrupted = []

    def on_interrupt(signum, frame) -> None:
        interrupted.append(signum)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        app.closeAllWindows()
        app.quit()

    signal.signal(signal.SIGINT, on_interrupt)
    wake = QTimer(app)
    wake.setInterval(200)
    wake.timeout.connect(lambda: None)
    wake.start()
    return lambda: bool(interrupted)


def run_app(files: list[str] | None = None) -> int:
    from sr_studio.gui.platform_check import display_problem, plugin_problem

    # Without a display there is nothing to show: say so and stop, rather than keep an invisible
    # window.
    problem = display_problem() or plugin_problem()
    if problem:
        print(f"sr-studio: error: {problem}", file=sys.stderr)
        return 1
    app = create_application()
    interrupted = close_on_interrupt(app)
    from sr_studio.gui.app_settings import AppSettings
    from sr_studio.gui.main_window import MainWindow

    settings = AppSettings()
    follow_system_appearance(app, settings)
    window = MainWindow(settings)
    window.show()
    if files:
        window.add_paths(files)
    if (
        interrupted()
    ):  # while the window was being built: quit() did nothing, no loop was running yet
        window.close()
        return 130
    code = app.exec()
    return 130 if interrupted() else code
