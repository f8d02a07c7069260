"""The QApplication of SR Studio: it receives the system's requests to open files.

macOS delivers Finder's "Open With", a double-click on an associated photo and files dropped on the
Dock icon as QFileOpenEvent to the application object, not to a window (and not in argv: the app may
already be running). They are collected here and announced with `files_waiting`; the window takes
them with `take_opened_files`, also those that arrived before it existed (the event that launched
the app).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtWidgets import QApplication


class Application(QApplication):
    files_waiting = Signal()

    def __init__(self, argv: list[str]):
        super().__init__(argv)
        self._opened: list[str] = []
        # Finder sends one event per file of a multiple selection: announce them together, like one
        # drop.
        self._announce = QTimer(self)
        self._announce.setSingleShot(True)
        self._announce.setInterval(0)
        self._announce.timeout.connect(self.files_waiting)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.FileOpen:
            path = event.file() or event.url().toLocalFile()
            if path:
                self._opened.append(path)
                self._announce.start()
            return True
        return super().event(event)

    def take_opened_files(self) -> list[str]:
        opened, self._opened = self._opened, []
        return opened
