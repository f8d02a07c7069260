"""The message bar above the viewer, and images that arrive as pixels (pasted or dropped, not
files)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

from sr_studio.gui import appearance


def qimage_to_array(image: QImage) -> np.ndarray:
    """A pasted image as uint8 RGB, or RGBA when it has transparency."""
    has_alpha = image.hasAlphaChannel()
    image = image.convertToFormat(
        QImage.Format.Format_RGBA8888 if has_alpha else QImage.Format.Format_RGB888
    )
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    channels = 4 if has_alpha else 3
    buffer = np.frombuffer(image.constBits(), np.uint8, count=stride * height).reshape(
        height, stride
    )
    return buffer[:, : width * channels].reshape(height, width, channels).copy()


class MessageBar(QFrame):
    """A dismissible line above the viewer for errors and notices (never a blocking dialog)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.icon_label = QLabel()
        self.text_label = QLabel()
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton()
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.hide)
        layout.addWidget(self.icon_label)
        layout.addWidget(self.text_label, 1)
        layout.addWidget(self.close_button)
        self.kind = ""
        self.about: int | None = None  # the queue item an error concerns, if any
        self.notice: object | None = None  # the session's Notice shown, which it may withdraw
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.kind = kind
        colours = {
            "error": ("#e01b24", "rgba(224, 27, 36, 40)"),
            "info": ("#3584e4", "rgba(53, 132, 228, 35)"),
        }
        border, fill = colours.get(kind, colours["info"])
        self.setStyleSheet(
            f"#messageBar {{ border: 1px solid {border}; border-radius: 4px; background: {fill}; }}"
        )
        name = "fa5s.exclamation-circle" if kind == "error" else "fa5s.info-circle"
        self.icon_label.setPixmap(appearance.qtawesome_icon(name, border).pixmap(18, 18))
        self.close_button.setIcon(appearance.icon("fa5s.times"))
        self.text_label.setText(text)
        self.show()
        if kind == "info":
            self._timer.start(8000)
        else:
            self._timer.stop()

    def text(self) -> str:
        return self.text_label.text() if self.isVisible() else ""
