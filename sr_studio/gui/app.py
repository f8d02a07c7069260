"""Starting the application: QApplication, appearance, the main window, files given on the command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_ID = "sr-studio"


def needs_offscreen() -> bool:
    """No display to talk to (CI, SSH): Qt must render offscreen instead of aborting."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return False
    if sys.platform.startswith("linux"):
        return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return False


_QUIET_MESSAGES = ("This plugin does not support propagateSizeHints()",)


def _message_handler(mode, context, message) -> None:
    """Qt's own notices, minus the offscreen platform's harmless chatter."""
    if message in _QUIET_MESSAGES:
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

        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = Application(argv or [sys.argv[0]])
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QGuiApplication.setApplicationDisplayName("SR Studio")
    QGuiApplication.setDesktopFileName(APP_ID)
    icon = app_icon()
    if icon.isNull():
        print("sr-studio: the app icon is missing from this installation (resources/icons/app)", file=sys.stderr)
    else:
        app.setWindowIcon(icon)
    return app


APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def app_icon():
    """The app icon from its PNG renderings, the same files as the desktop entry, .ico and .icns: crisp at
    every size, with no SVG plugin needed. Empty when the resources are missing."""
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
            lambda *_: apply_appearance(app, settings.appearance) if settings.appearance == "system" else None
        )


def run_app(files: list[str] | None = None, self_test: str | None = None) -> int:
    if needs_offscreen():
        if self_test is None:
            print("sr-studio: no display found; running offscreen (use `sr-studio upscale` in a terminal)",
                  file=sys.stderr)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if self_test is not None:
        from sr_studio.gui.self_test import run_self_test

        return run_self_test(Path(self_test))
    app = create_application()
    from sr_studio.gui.app_settings import AppSettings
    from sr_studio.gui.main_window import MainWindow

    settings = AppSettings()
    follow_system_appearance(app, settings)
    window = MainWindow(settings)
    window.show()
    if files:
        window.add_paths(files)
    return app.exec()
