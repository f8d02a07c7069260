"""Compare models: the same crop from two to four models in a grid that zooms and pans as one.

The dialog asks the session for the comparison and shows what the session's events bring; it
computes nothing. Each cell says the model's name, its purpose and the time it took; "Use this
model" makes it the model of the Settings panel, for this photo and the batch.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sr_studio.automatic_choice import AUTOMATIC
from sr_studio.gui import session as events
from sr_studio.gui.display_pyramid import DisplayPyramid
from sr_studio.gui.jobs import CompareModel
from sr_studio.gui.photo_canvas import RESULT, CompareImages, PhotoCanvas
from sr_studio.gui.viewer_model import ViewerModel
from sr_studio.model_blending import Cleanup
from sr_studio.weights.catalog import PURPOSES

COMPARE_SIDE = 256  # original pixels: a HAT-S crop this size takes under a minute on a 2-core CPU


class ComparisonCellView(QFrame):
    """One model's crop with its labels; its canvas shares the grid's ViewerModel (one zoom, one
    pan).
    """

    chosen = Signal(str)  # model id

    def __init__(
        self, model: CompareModel | None, viewer_model: ViewerModel, parent: QWidget | None = None
    ) -> None:
        """`model` None: the reference cell, the original's own pixels at the grid's size."""
        super().__init__(parent)
        self.model = model
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.images = CompareImages(self)
        self.canvas = PhotoCanvas(RESULT, viewer_model, self.images)
        self.canvas.setMinimumSize(220, 180)
        name = model.name if model is not None else "Original"
        self.canvas.empty_text = f"Enlarging with {name}…" if model else "The original crop"
        self.name_label = QLabel(name)
        font = self.name_label.font()
        font.setBold(True)
        self.name_label.setFont(font)
        purpose = "its own pixels, each shown as a block: no model" if model is None else None
        self.purpose_label = QLabel(
            purpose or (model.purpose if model else "") or "purpose not stated"
        )
        self.time_label = QLabel("waiting…" if model is not None else "")
        self.use_button = QPushButton("Use this model")
        self.use_button.setEnabled(False)
        self.use_button.setVisible(model is not None)
        self.use_button.clicked.connect(
            lambda: self.chosen.emit(self.model.id if self.model else "")
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.canvas, 1)
        row = QHBoxLayout()
        texts = QVBoxLayout()
        for label in (self.name_label, self.purpose_label, self.time_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            texts.addWidget(label)
        row.addLayout(texts, 1)
        row.addWidget(self.use_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addLayout(row)

    def show_crop(self, original: DisplayPyramid, pixels: Any, seconds: float) -> None:
        result = DisplayPyramid(pixels)
        self.images.set_original(original, result.width, result.height)
        self.images.set_result(result)
        if self.model is None:
            return
        took = "under 0.1 s" if seconds < 0.1 else f"{seconds:.1f} s"
        self.time_label.setText(f"{took} for this crop")
        self.use_button.setEnabled(True)


def blocks(pixels: Any, height: int, width: int) -> Any:
    """`pixels` enlarged to height x width by repeating each pixel (nearest neighbour): the
    original as it is, at the size of the models' crops."""
    import numpy as np

    rows = np.arange(height) * pixels.shape[0] // height
    columns = np.arange(width) * pixels.shape[1] // width
    return np.ascontiguousarray(pixels[rows][:, columns])


def compared_models(panel: Any) -> list[tuple[CompareModel, str]]:
    """What the dialog offers, with the facts shown beside each name: every model of the window's
    list, and each photo model once more at a cleanup strength (the window's when it is below
    100 %, else half), so that the strength can be judged on the photo itself."""
    percent = panel.cleanup_percent()
    strength = (percent if percent < 100 else 50) / 100
    offered = []
    for choice in panel.models:
        if choice.id == AUTOMATIC:  # a rule, not a network: its picks are among the others
            continue
        purpose = PURPOSES.get(choice.purpose or "", "")
        facts = f"{choice.variant or choice.arch} x{choice.scale}, {choice.speed}"
        offered.append((CompareModel(choice.id, choice.name, purpose, choice.path), facts))
        if choice.cleanup_base is not None:
            cleanup = Cleanup(choice.cleanup_base, strength)
            blended = CompareModel(
                cleanup.model_id(choice.id),
                cleanup.model_name(choice.name),
                purpose,
                choice.path,
                cleanup,
            )
            offered.append((blended, facts))
    return offered


class ComparisonDialog(QDialog):
    """Pick models, compare them on the region in view, choose one."""

    model_chosen = Signal(str)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.setWindowTitle("Compare Models")
        self.window_ = window
        self.session = window.session
        self.viewer_model = ViewerModel()
        self.cells: list[ComparisonCellView] = []
        self.box: tuple[int, int, int, int] | None = None
        self._original: DisplayPyramid | None = None
        self._crop: Any = None

        self.model_list = QListWidget()
        self.model_list.setMaximumHeight(96)
        self.model_list.itemChanged.connect(self._update_buttons)
        self.hint = QLabel(
            "Tick two to four models. They enlarge the same crop: the middle of the region in view."
        )
        self.hint.setWordWrap(True)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setDefault(True)
        self.compare_button.clicked.connect(self.start)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.model_list, 1)
        top.addWidget(self.compare_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addLayout(top)
        layout.addWidget(self.grid_host, 1)
        layout.addWidget(buttons)
        screen = window.screen().availableGeometry() if window.screen() else None
        width, height = (1100, 800) if screen is None else (screen.width(), screen.height())
        self.resize(min(1100, int(width * 0.9)), min(800, int(height * 0.9)))
        self.session.subscribe(self._session_event)
        self.offer_models()

    def offer_models(self) -> None:
        """List the window's models as they are now (a model installed, a cleanup moved since the
        dialog was last open), the one the window would run ticked."""
        ticked = self.window_.run_options().model_id
        self.model_list.blockSignals(True)
        self.model_list.clear()
        for model, facts in compared_models(self.window_.run_panel):
            entry = QListWidgetItem(f"{model.name}  ({facts})")
            entry.setData(Qt.ItemDataRole.UserRole, model)
            entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            entry.setCheckState(
                Qt.CheckState.Checked if model.id == ticked else Qt.CheckState.Unchecked
            )
            self.model_list.addItem(entry)
        self.model_list.blockSignals(False)
        self._update_buttons()

    def checked_models(self) -> list[CompareModel]:
        return [
            self.model_list.item(row).data(Qt.ItemDataRole.UserRole)
            for row in range(self.model_list.count())
            if self.model_list.item(row).checkState() == Qt.CheckState.Checked
        ]

    def set_checked(self, model_ids: list[str]) -> None:
        for row in range(self.model_list.count()):
            entry = self.model_list.item(row)
            wanted = entry.data(Qt.ItemDataRole.UserRole).id in model_ids
            entry.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)

    def _update_buttons(self, *_: Any) -> None:
        count = len(self.checked_models())
        self.compare_button.setEnabled(
            2 <= count <= events.MAX_COMPARED and self.session.comparing is None
        )
        self.compare_button.setText(f"Compare {count}" if count else "Compare")

    def start(self) -> None:
        # No photo: an empty box, and the session says what is missing.
        self.box = self.window_.region_in_view(COMPARE_SIDE, square=True) or (0, 0, 0, 0)
        self.session.compare_models(self.checked_models(), self.window_.run_options(), self.box)

    def _session_event(self, event: Any) -> None:
        if isinstance(event, events.CompareStarted):
            self._build_grid(event)
        elif isinstance(event, events.CompareCellDone):
            cell = event.cell
            if cell.index + 1 < len(self.cells) and self._original is not None:
                self.cells[cell.index + 1].show_crop(self._original, cell.pixels, cell.seconds)
                if self.cells[0].images.result is None:  # the reference, at the crops' size
                    height, width = cell.pixels.shape[:2]
                    self.cells[0].show_crop(self._original, blocks(self._crop, height, width), 0.0)
                if cell.index == 0:
                    self.viewer_model.set_image_size(cell.pixels.shape[1], cell.pixels.shape[0])
                    self.viewer_model.fit(*self.cells[0].canvas.viewport_size())
        elif isinstance(event, events.CompareEnded):
            for cell in self.cells[1:]:
                if not cell.use_button.isEnabled():
                    cell.time_label.setText(
                        "not enlarged" if event.outcome != "done" else cell.time_label.text()
                    )
        self._update_buttons()

    def _build_grid(self, event: Any) -> None:
        for cell in self.cells:
            cell.setParent(None)
            cell.deleteLater()
        self.cells = []
        x, y, width, height = event.box
        pixels = event.item.photo.pixels
        self._crop = pixels[y : y + height, x : x + width]
        self._original = DisplayPyramid(self._crop)
        count = len(event.models) + 1  # the original first, for reference
        columns = count if count <= 3 else 3  # one row, or two of three
        for index, model in enumerate([None, *event.models]):
            cell = ComparisonCellView(model, self.viewer_model)
            cell.chosen.connect(self._choose)
            self.grid.addWidget(cell, index // columns, index % columns)
            self.cells.append(cell)

    def _choose(self, model_id: str) -> None:
        self.model_chosen.emit(model_id)
        self.accept()

    def done(self, result: int) -> None:
        if self.session.comparing is not None:
            self.session.cancel()
        super().done(result)
