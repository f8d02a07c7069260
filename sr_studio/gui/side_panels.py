"""The right-hand panels: how to enlarge (model, cleanup, scale, device, precision, tile) and how
to export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sr_studio.automatic_choice import AUTOMATIC
from sr_studio.gui.export_plan import (
    AS_ORIGINAL,
    CHOICE_LABELS,
    CHOICES,
    FORMAT_LABELS,
    LOSSY_FORMATS,
    PATTERN_FIELDS,
    SIXTEEN_BIT_FORMATS,
    ExportOptions,
    pattern_problem,
)
from sr_studio.gui.session import SCALE_CHOICES
from sr_studio.model_blending import Cleanup

DEVICE_LABELS = {
    "auto": "Automatic",
    "cpu": "CPU",
    "cuda": "NVIDIA GPU (CUDA)",
    "mps": "Apple GPU (Metal)",
}
PRECISION_LABELS = {
    "auto": "Automatic",
    "fp32": "Full (fp32)",
    "bf16": "bfloat16",
    "fp16": "Half (fp16)",
}
PRECISION_TIPS = {
    "auto": (
        "The fastest that keeps the model's quality here: bf16 on CPUs with bfloat16 instructions, "
        "fp16 (SPAN) or bf16 (HAT) on GPUs, otherwise fp32. The status line says which ran"
    ),
    "fp32": "Exact; the safe choice everywhere",
    "bf16": (
        "Faster on CPUs with AVX512-BF16 or AMX and on recent GPUs, with a tiny loss of precision"
    ),
    "fp16": "Fastest on GPUs; SPAN models only, not on the CPU",
}
CLEANUP_TIP = (
    "How much of the photo model's JPEG, noise and blur cleanup to use. 100%: the photo model as "
    "trained, for camera JPEGs and phone photos. Lower keeps more fine texture of clean sources; "
    "0% is the clean model it was trained from. Any value costs the same time."
)
CLEANUP_STEP = 5
EMULATED_BF16_TIP = (
    "Not on this CPU: it lacks bfloat16 instructions (AVX512-BF16, AMX, Arm BF16), "
    "so bf16 would run about 10x slower than fp32"
)


@dataclass(frozen=True)
class ModelChoice:
    """A model the picker offers: one that is on this computer."""

    id: str
    name: str
    arch: str
    variant: str
    scale: int
    license: str
    status: str  # bundled, installed, imported
    path: Path
    description: str = ""
    purpose: str | None = None  # a catalog purpose: "real-world" (Photo) or "bicubic" (Clean)
    speed: str = "unknown speed"  # the model descriptor's speed class
    # the clean model a photo model was fine-tuned from: it offers a cleanup strength
    cleanup_base: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.name}"

    @property
    def summary(self) -> str:
        from sr_studio.weights.catalog import PURPOSES

        if self.id == AUTOMATIC:
            return self.description

        source = {"bundled": "bundled", "installed": "downloaded", "imported": "imported"}.get(
            self.status, self.status
        )
        facts = (
            f"{self.variant or self.arch} · x{self.scale} · {self.speed} · "
            f"{self.license or 'license unknown'} · {source}"
        )
        # The same words as `sr-studio models list` and the Model Manager.
        return f"{PURPOSES[self.purpose]}\n{facts}" if self.purpose in PURPOSES else facts


def available_models() -> tuple[list[ModelChoice], str]:
    """Models on disk, and a problem description when the library cannot be read (empty if fine)."""
    try:
        from sr_studio.weights import list_models

        listings = list_models()
    except Exception as error:  # noqa: BLE001 - a broken catalog must not stop the window from opening
        problem = str(error)
        try:
            from sr_studio.weights import bundled_models

            return [
                ModelChoice(
                    m.id,
                    m.name,
                    m.arch or "",
                    m.arch or "",
                    m.scale,
                    m.license,
                    "bundled",
                    m.path,
                    m.description,
                    m.purpose,
                    m.descriptor.speed if m.descriptor else "unknown speed",
                    m.base_path,
                )
                for m in bundled_models()
            ], problem
        except Exception:  # noqa: BLE001
            return [], problem
    return [
        ModelChoice(
            m.id,
            m.name,
            m.arch or "",
            m.variant or (m.arch or ""),
            m.scale,
            m.license or "",
            m.status,
            m.path,
            m.description,
            m.purpose,
            m.speed or "unknown speed",
            m.cleanup_base,
        )
        for m in listings
        if m.on_disk
    ], ""


AUTOMATIC_TIP = (
    "For each photo, the bundled Photo model at the cleanup its JPEG quality, noise and softness "
    "call for; a clean source (a render, a well-downscaled PNG) gets the Clean model. The status "
    "line says what was chosen and why. Pick a model yourself to use it for every photo."
)


def automatic_choice_entry(models: list[ModelChoice]) -> ModelChoice | None:
    """The list's "Automatic" entry, when a photo model and its clean base are bundled (x4)."""
    try:
        from sr_studio.weights.library import automatic_models

        pair = automatic_models(4)
    except Exception:  # noqa: BLE001 - no Automatic entry rather than no window
        return None
    if pair is None:
        return None
    clean = next((m for m in models if m.path == pair.clean_path), None)
    if clean is None:
        return None
    return ModelChoice(
        AUTOMATIC,
        "Automatic",
        clean.arch,
        clean.variant,
        clean.scale,
        clean.license,
        "bundled",
        clean.path,
        f"Automatic: {pair.photo_name} at the cleanup each photo needs; {pair.clean_name} for a "
        f"clean source\n{clean.variant or clean.arch} · {clean.speed} · {clean.license}",
        None,
        clean.speed,
    )


def _default_model_path() -> Path | None:
    """What `sr-studio upscale` runs without --model; None when nothing is bundled."""
    from sr_studio.errors import SRStudioError
    from sr_studio.weights import default_model_path

    try:
        return default_model_path(4)
    except SRStudioError:
        return None


class RunPanel(QWidget):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.models: list[ModelChoice] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.addLayout(form)

        model_row = QHBoxLayout()
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("modelCombo")
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_combo.setMinimumContentsLength(14)
        self.manage_button = QToolButton()
        self.manage_button.setToolTip("Model manager: download, import and remove models")
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.manage_button)
        form.addRow("Model", model_row)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.model_info.setObjectName("modelInfo")
        font = self.model_info.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.model_info.setFont(font)
        form.addRow("", self.model_info)

        cleanup_row = QHBoxLayout()
        self.cleanup_slider = QSlider(Qt.Orientation.Horizontal)
        self.cleanup_slider.setObjectName("cleanupSlider")
        self.cleanup_slider.setRange(0, 100)
        self.cleanup_slider.setSingleStep(CLEANUP_STEP)
        self.cleanup_slider.setPageStep(25)
        self.cleanup_slider.setTickInterval(25)
        self.cleanup_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.cleanup_slider.setValue(100)
        self.cleanup_slider.setToolTip(CLEANUP_TIP)
        self.cleanup_slider.setAccessibleName("Cleanup strength")
        self.cleanup_value = QLabel()
        self.cleanup_value.setMinimumWidth(
            self.cleanup_value.fontMetrics().horizontalAdvance("100%")
        )
        self.cleanup_value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        cleanup_row.addWidget(self.cleanup_slider, 1)
        cleanup_row.addWidget(self.cleanup_value)
        self.cleanup_label = QLabel("Cleanup")
        self.cleanup_label.setToolTip(CLEANUP_TIP)
        form.addRow(self.cleanup_label, cleanup_row)
        self._form = form
        self._show_cleanup_value()

        self.scale_combo = QComboBox()
        self.scale_combo.setObjectName("scaleCombo")
        self.scale_combo.setToolTip(
            "Other sizes than the model's own are reached by running it again and/or "
            "resampling the result precisely"
        )
        form.addRow("Enlarge", self.scale_combo)

        self.device_combo = QComboBox()
        for name, label in DEVICE_LABELS.items():
            self.device_combo.addItem(label, name)
        form.addRow("Device", self.device_combo)

        self.precision_combo = QComboBox()
        self.precision_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.precision_combo.setMinimumContentsLength(10)
        for name, label in PRECISION_LABELS.items():
            self.precision_combo.addItem(label, name)
            self.precision_combo.setItemData(
                self.precision_combo.count() - 1, PRECISION_TIPS[name], Qt.ItemDataRole.ToolTipRole
            )
        form.addRow("Precision", self.precision_combo)

        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(0, 4096)
        self.tile_spin.setSingleStep(64)
        self.tile_spin.setSpecialValueText("Automatic")
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setToolTip(
            "Tile size in photo pixels. Automatic picks the largest that fits in memory."
        )
        form.addRow("Tile size", self.tile_spin)

        self._devices: dict[
            str, bool
        ] = {}  # what the engine thread found; empty until it has looked
        self.device_combo.currentIndexChanged.connect(self._update_precisions)
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        for widget in (self.scale_combo, self.device_combo, self.precision_combo):
            widget.currentIndexChanged.connect(self.changed)
        self.tile_spin.valueChanged.connect(self.changed)
        self.cleanup_slider.valueChanged.connect(self._cleanup_moved)
        self.cleanup_slider.sliderReleased.connect(self.changed)

    def _cleanup_moved(self) -> None:
        """Snap to the step (a drag lands anywhere), show the value, and tell the window once the
        value is settled: not at every pixel of a drag, each of which would ask a new estimate."""
        value = self.cleanup_slider.value()
        snapped = round(value / CLEANUP_STEP) * CLEANUP_STEP
        if snapped != value:
            self.cleanup_slider.setValue(snapped)
            return
        self._show_cleanup_value()
        if not self.cleanup_slider.isSliderDown():
            self.changed.emit()

    def _show_cleanup_value(self) -> None:
        self.cleanup_value.setText(f"{self.cleanup_slider.value()}%")

    def cleanup_percent(self) -> int:
        """The slider's value, whether or not the current model offers a cleanup (it is kept
        for the next photo model chosen)."""
        return int(self.cleanup_slider.value())

    def set_cleanup_percent(self, percent: int) -> None:
        self.cleanup_slider.setValue(max(0, min(100, int(percent))))

    def cleanup(self) -> Cleanup | None:
        """The blend the current model runs with; None for the model as trained (100%, or a
        model without a clean base)."""
        model = self.current_model()
        percent = self.cleanup_percent()
        if model is None or model.cleanup_base is None or percent == 100:
            return None
        return Cleanup(model.cleanup_base, percent / 100)

    def set_models(self, models: list[ModelChoice], selected_id: str = "") -> None:
        current = selected_id or (self.current_model().id if self.current_model() else "")
        automatic = automatic_choice_entry(models)
        models = [automatic, *models] if automatic is not None else list(models)
        self.models = models
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for model in models:
            self.model_combo.addItem(model.label, model.id)
            self.model_combo.setItemData(
                self.model_combo.count() - 1, model.summary, Qt.ItemDataRole.ToolTipRole
            )
        if not models:
            self.model_combo.addItem("No model installed: open the model manager", "")
        index = max(0, self.model_combo.findData(current)) if current else 0
        if models and not current and automatic is not None:
            index = 0  # Automatic, as on the command line
        elif (
            models and not current
        ):  # the CLI's default (the bundled x4 its card names), else the first bundled one
            default = _default_model_path()
            index = next(
                (i for i, m in enumerate(models) if m.status == "bundled" and m.path == default),
                next((i for i, m in enumerate(models) if m.status == "bundled"), 0),
            )
        if automatic is not None:
            self.model_combo.setItemData(0, AUTOMATIC_TIP, Qt.ItemDataRole.ToolTipRole)
        self.model_combo.setCurrentIndex(index)
        self.model_combo.setEnabled(bool(models))
        self.model_combo.blockSignals(False)
        self._model_changed()

    def current_model(self) -> ModelChoice | None:
        model_id = self.model_combo.currentData()
        return next((m for m in self.models if m.id == model_id), None)

    def _model_changed(self) -> None:
        model = self.current_model()
        self.model_info.setText(model.summary if model else "Download or import a model to start.")
        self._form.setRowVisible(self.cleanup_label, bool(model and model.cleanup_base))
        wanted = self.scale()
        self.scale_combo.blockSignals(True)
        self.scale_combo.clear()
        if model:
            self.scale_combo.addItem(f"x{model.scale} (model's own)", 0.0)
            for scale in SCALE_CHOICES:
                if scale != model.scale:
                    self.scale_combo.addItem(f"x{scale:g}", scale)
        self.set_scale(wanted)
        self.scale_combo.blockSignals(False)
        self.changed.emit()

    def scale(self) -> float | None:
        """None: the model's own scale."""
        value = self.scale_combo.currentData()
        return float(value) if value else None

    def effective_scale(self) -> float:
        model = self.current_model()
        return self.scale() or float(model.scale if model else 2)

    def set_scale(self, scale: float | None) -> None:
        model = self.current_model()
        if scale is None or (model and scale == model.scale):
            self.scale_combo.setCurrentIndex(0)
            return
        index = self.scale_combo.findData(float(scale))
        self.scale_combo.setCurrentIndex(index if index >= 0 else 0)

    def device(self) -> str:
        return self.device_combo.currentData()

    def set_available_devices(self, devices: dict[str, bool]) -> None:
        """Grey out devices this computer lacks (known once the engine thread has looked), and bf16
        where the CPU would emulate it (`cpu_bf16`)."""
        self._devices = dict(devices)
        for index in range(self.device_combo.count()):
            available = bool(devices.get(self.device_combo.itemData(index), False))
            self.device_combo.model().item(index).setEnabled(available)
            self.device_combo.setItemData(
                index,
                None if available else "not available on this computer",
                Qt.ItemDataRole.ToolTipRole,
            )
        if not devices.get(self.device()):
            self.device_combo.setCurrentIndex(0)
        self._update_precisions()

    def _update_precisions(self) -> None:
        """bf16 is offered unless the run would land on a CPU without bfloat16 instructions."""
        found, device = self._devices, self.device()
        on_cpu = device == "cpu" or (
            device == "auto" and not found.get("cuda") and not found.get("mps")
        )
        usable = not (on_cpu and found.get("cpu_bf16") is False)
        index = self.precision_combo.findData("bf16")
        self.precision_combo.model().item(index).setEnabled(usable)
        self.precision_combo.setItemData(
            index,
            PRECISION_TIPS["bf16"] if usable else EMULATED_BF16_TIP,
            Qt.ItemDataRole.ToolTipRole,
        )
        if not usable and self.precision() == "bf16":
            self.precision_combo.setCurrentIndex(self.precision_combo.findData("auto"))

    def set_device(self, device: str) -> None:
        index = self.device_combo.findData(device)
        if index >= 0 and self.device_combo.model().item(index).isEnabled():
            self.device_combo.setCurrentIndex(index)

    def precision(self) -> str:
        return self.precision_combo.currentData()

    def set_precision(self, precision: str) -> None:
        index = self.precision_combo.findData(precision)
        if index >= 0 and self.precision_combo.model().item(index).isEnabled():
            self.precision_combo.setCurrentIndex(index)

    def tile(self) -> int | None:
        value = self.tile_spin.value()
        return max(16, value) if value else None

    def set_tile(self, tile: int | None) -> None:
        self.tile_spin.setValue(tile or 0)


class ExportPanel(QWidget):
    """Format, quality, bit depth, name pattern, folder, metadata; edits an ExportOptions."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.addLayout(form)

        self.format_combo = QComboBox()
        for name in CHOICES:
            self.format_combo.addItem(CHOICE_LABELS[name], name)
        self.format_combo.setItemData(
            0,
            "JPEG stays JPEG, PNG stays PNG, …; other photos (HEIC, GIF, …) become PNG",
            Qt.ItemDataRole.ToolTipRole,
        )
        form.addRow("Format", self.format_combo)

        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setToolTip("JPEG and WebP quality (95 keeps fine detail)")
        form.addRow("Quality", self.quality_spin)

        self.depth_combo = QComboBox()
        self.depth_combo.addItem("As the original", 0)
        self.depth_combo.addItem("8 bits per channel", 8)
        self.depth_combo.addItem("16 bits per channel", 16)
        form.addRow("Bit depth", self.depth_combo)

        self.pattern_edit = QLineEdit()
        self.pattern_edit.setToolTip(
            "Fields: " + ", ".join("{" + name + "}" for name in PATTERN_FIELDS)
        )
        form.addRow("File name", self.pattern_edit)
        self.pattern_problem = QLabel()
        self.pattern_problem.setWordWrap(True)
        self.pattern_problem.setStyleSheet("color: #d9534f;")
        self.pattern_problem.hide()
        form.addRow("", self.pattern_problem)

        folder_row = QHBoxLayout()
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("Beside the original")
        self.folder_edit.setClearButtonEnabled(True)
        self.folder_button = QToolButton()
        self.folder_button.setText("…")
        self.folder_button.setToolTip("Choose the destination folder")
        self.folder_button.clicked.connect(self._choose_folder)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.folder_button)
        form.addRow("Folder", folder_row)

        self.metadata_check = QCheckBox("Keep metadata")
        self.metadata_check.setToolTip(
            "Copy the original's EXIF (camera, date, GPS), colour profile and DPI"
        )
        form.addRow("", self.metadata_check)

        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self.quality_spin.valueChanged.connect(self.changed)
        self.depth_combo.currentIndexChanged.connect(self.changed)
        self.pattern_edit.textChanged.connect(self._pattern_changed)
        self.folder_edit.textChanged.connect(self.changed)
        self.metadata_check.toggled.connect(self.changed)
        self.set_options(ExportOptions())

    def set_options(self, options: ExportOptions) -> None:
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(options.format)))
        self.quality_spin.setValue(options.quality)
        self.depth_combo.setCurrentIndex(max(0, self.depth_combo.findData(options.bit_depth)))
        self.pattern_edit.setText(options.pattern)
        self.folder_edit.setText(options.folder)
        self.metadata_check.setChecked(options.keep_metadata)
        self._format_changed()

    def options(self) -> ExportOptions:
        return ExportOptions(
            format=self.format_combo.currentData(),
            quality=self.quality_spin.value(),
            # The user's choice, kept while a format that holds 8 bits only is chosen: that
            # format's limit applies when it is written (ExportOptions.write_bit_depth).
            bit_depth=self.depth_combo.currentData(),
            pattern=self.pattern_edit.text(),
            folder=self.folder_edit.text().strip(),
            keep_metadata=self.metadata_check.isChecked(),
        )

    def problem(self) -> str | None:
        return pattern_problem(self.pattern_edit.text())

    def _format_changed(self) -> None:
        fmt = self.format_combo.currentData()
        self.quality_spin.setEnabled(
            fmt in LOSSY_FORMATS or fmt == AS_ORIGINAL
        )  # for the JPEGs and WebPs
        sixteen = fmt in SIXTEEN_BIT_FORMATS or fmt == AS_ORIGINAL
        self.depth_combo.setEnabled(sixteen)
        if not sixteen:
            self.depth_combo.setToolTip(f"{FORMAT_LABELS[fmt]} holds 8 bits per channel only")
        else:
            self.depth_combo.setToolTip("")
        self.changed.emit()

    def _pattern_changed(self) -> None:
        problem = self.problem()
        self.pattern_problem.setText(problem or "")
        self.pattern_problem.setVisible(bool(problem))
        self.changed.emit()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Export to folder", self.folder_edit.text() or str(Path.home())
        )
        if folder:
            self.folder_edit.setText(folder)
