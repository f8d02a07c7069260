"""Light and dark appearance: follows the system (Qt 6.5+ colour scheme) unless the user picks one.

The Fusion style is used everywhere so that both palettes look the same on every platform; icons
are drawn by qtawesome in the palette's text colour and redrawn when the palette changes.
"""

from __future__ import annotations

import qtawesome
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

ACCENT = QColor(53, 132, 228)


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None:
        value = scheme()
        if value == Qt.ColorScheme.Dark:
            return True
        if value == Qt.ColorScheme.Light:
            return False
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return window.lightness() < 128


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: QColor(43, 45, 48),
        QPalette.ColorRole.WindowText: QColor(225, 227, 230),
        QPalette.ColorRole.Base: QColor(32, 33, 36),
        QPalette.ColorRole.AlternateBase: QColor(48, 50, 54),
        QPalette.ColorRole.ToolTipBase: QColor(55, 57, 61),
        QPalette.ColorRole.ToolTipText: QColor(235, 235, 235),
        QPalette.ColorRole.PlaceholderText: QColor(140, 143, 148),
        QPalette.ColorRole.Text: QColor(225, 227, 230),
        QPalette.ColorRole.Button: QColor(55, 57, 61),
        QPalette.ColorRole.ButtonText: QColor(225, 227, 230),
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Light: QColor(70, 72, 76),
        QPalette.ColorRole.Midlight: QColor(60, 62, 66),
        QPalette.ColorRole.Mid: QColor(40, 41, 44),
        QPalette.ColorRole.Dark: QColor(25, 26, 28),
        QPalette.ColorRole.Shadow: QColor(10, 10, 10),
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: QColor(110, 170, 240),
    }
    for role, colour in roles.items():
        palette.setColor(role, colour)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 122, 126))
    return palette


def light_palette() -> QPalette:
    palette = QStyleFactory.create("Fusion").standardPalette()
    palette.setColor(QPalette.ColorRole.Highlight, ACCENT)
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    return palette


def apply_appearance(app: QApplication, choice: str = "system") -> bool:
    """Set the palette for `choice` ("system", "light", "dark"); returns whether it is dark."""
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    dark = system_is_dark() if choice == "system" else choice == "dark"
    app.setPalette(dark_palette() if dark else light_palette())
    return dark


def icon(name: str, palette: QPalette | None = None) -> QIcon:
    """A Font Awesome icon in the palette's text colour (greyed when disabled)."""
    palette = palette or QApplication.palette()
    return qtawesome.icon(
        name,
        color=palette.color(QPalette.ColorRole.ButtonText),
        color_disabled=palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText),
    )


def qtawesome_icon(name: str, colour: str) -> QIcon:
    """An icon in a fixed colour (status colours that mean the same in light and dark)."""
    return qtawesome.icon(name, color=QColor(colour))
