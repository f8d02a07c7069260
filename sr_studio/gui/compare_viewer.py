"""The central area: original and result side by side, or one pane with a before/after slider."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from sr_studio.gui.photo_canvas import COMPARE, ORIGINAL, RESULT, CompareImages, PhotoCanvas
from sr_studio.gui.viewer_model import BEFORE_AFTER, SIDE_BY_SIDE, ViewerModel


def _titled(canvas: PhotoCanvas, title: QLabel) -> QWidget:
    frame = QFrame()
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    title.setContentsMargins(8, 4, 8, 4)
    title.setTextFormat(Qt.TextFormat.PlainText)
    title.setSizePolicy(
        QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
    )  # long titles never skew the halves
    title.setWordWrap(True)  # a narrow window wraps a heading rather than cutting it
    layout.addWidget(title)
    layout.addWidget(canvas, 1)
    return frame


class CompareViewer(QWidget):
    def __init__(self, model: ViewerModel, images: CompareImages, parent=None):
        super().__init__(parent)
        self.model = model
        self.images = images
        self.original_view = PhotoCanvas(ORIGINAL, model, images)
        self.result_view = PhotoCanvas(RESULT, model, images)
        self.compare_view = PhotoCanvas(COMPARE, model, images)
        self.original_title = QLabel("Original")
        self.result_title = QLabel("Result")
        self.original_title.setObjectName("originalTitle")
        self.result_title.setObjectName("resultTitle")

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(_titled(self.original_view, self.original_title))
        self.splitter.addWidget(_titled(self.result_view, self.result_title))
        # Equal halves keep the two panes showing the same region.
        self.splitter.splitterMoved.connect(lambda *_: self._equal_halves())

        self.stack = QStackedWidget()
        self.stack.addWidget(self.splitter)
        self.stack.addWidget(self.compare_view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self._shown_mode = None
        model.subscribe(self._model_changed)
        self._model_changed()

    def _equal_halves(self) -> None:
        half = max(1, (self.splitter.width() - self.splitter.handleWidth()) // 2)
        self.splitter.setSizes([half, half])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._equal_halves()
        self._even_titles()

    def _even_titles(self) -> None:
        """Both headings as tall as the taller one, wrapped: the panes below stay the same size (and
        so in sync)."""
        titles = (self.original_title, self.result_title)
        height = max(
            title.heightForWidth(max(1, self.splitter.widget(0).width())) for title in titles
        )
        for title in titles:
            if title.minimumHeight() != height:
                title.setMinimumHeight(height)

    def panes(self) -> list[PhotoCanvas]:
        return [self.original_view, self.result_view, self.compare_view]

    def active_pane(self) -> PhotoCanvas:
        return self.compare_view if self.model.mode == BEFORE_AFTER else self.result_view

    def set_empty_text(self, text: str, result_text: str = "") -> None:
        for pane in self.panes():
            pane.empty_text = text
        self.result_view.empty_text = result_text or text
        for pane in self.panes():
            pane.update()

    def fit(self) -> None:
        self.model.fit(*self.active_pane().viewport_size())

    def _model_changed(self) -> None:
        if self.model.mode != self._shown_mode:
            self._shown_mode = self.model.mode
            self.stack.setCurrentIndex(1 if self.model.mode == BEFORE_AFTER else 0)
            if self.model.fit_mode and self.model.has_image():
                self.fit()

    def set_titles(self, original: str, result: str) -> None:
        self.original_title.setText(original)
        self.result_title.setText(result)
        self._even_titles()


__all__ = ["CompareViewer", "SIDE_BY_SIDE", "BEFORE_AFTER"]
