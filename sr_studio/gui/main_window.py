"""The main window: the photo queue, the viewer, the run and export panels, menus and shortcuts.

It owns three worker threads (enlarging, files, models) and only ever reacts to their signals,
so nothing here blocks for longer than a repaint.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QStandardPaths, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QImage, QKeySequence, QRegion
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sr_studio import __version__
from sr_studio.gui import appearance
from sr_studio.gui.app_settings import AppSettings
from sr_studio.gui.application import Application
from sr_studio.gui.compare_viewer import CompareViewer
from sr_studio.gui.display_pyramid import DisplayPyramid
from sr_studio.gui.export_plan import output_path
from sr_studio.gui.photo_canvas import CompareImages
from sr_studio.gui.photo_queue import (
    CANCELLED,
    DONE,
    EXPORTED,
    FAILED,
    LOADING,
    PENDING,
    RUNNING,
    PhotoQueue,
    WIDEST_PROGRESS_TEXT,
    ProgressClock,
    QueueItem,
    is_model_file,
    progress_text,
)
from sr_studio.gui.side_panels import ExportPanel, ModelChoice, RunPanel, available_models
from sr_studio.gui.spill_store import open_spill_store
from sr_studio.gui.viewer_model import BEFORE_AFTER, SIDE_BY_SIDE, ViewerModel
from sr_studio.gui.workers import (
    ExportRequest,
    FileWorker,
    LoadedPhoto,
    RestoredResult,
    RunRequest,
    RunResult,
    UpscaleWorker,
    prewarm_imports,
    start_thread,
    stop_thread,
)
from sr_studio.photo_formats import INPUT_FORMAT_NAMES, is_photo_path, open_dialog_filter, photos_in_folder

STATUS_ICONS = {
    PENDING: ("fa5s.clock", None),
    LOADING: ("fa5s.hourglass-half", None),
    RUNNING: ("fa5s.cog", "#3584e4"),
    DONE: ("fa5s.check-circle", "#2ec27e"),
    FAILED: ("fa5s.exclamation-triangle", "#e5a50a"),
    CANCELLED: ("fa5s.ban", None),
    EXPORTED: ("fa5s.file-export", "#2ec27e"),
}
OPEN_FILTER = open_dialog_filter()
MODEL_FILTER = "Model weights (*.pth *.pt *.safetensors)"


def expected_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """(height, width) of the result, as the engine rounds it."""
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def qimage_to_array(image: QImage) -> np.ndarray:
    """A pasted image as uint8 RGB, or RGBA when it has transparency."""
    has_alpha = image.hasAlphaChannel()
    image = image.convertToFormat(QImage.Format.Format_RGBA8888 if has_alpha else QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    channels = 4 if has_alpha else 3
    buffer = np.frombuffer(image.constBits(), np.uint8, count=stride * height).reshape(height, stride)
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
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.kind = kind
        colours = {"error": ("#e01b24", "rgba(224, 27, 36, 40)"), "info": ("#3584e4", "rgba(53, 132, 228, 35)")}
        border, fill = colours.get(kind, colours["info"])
        self.setStyleSheet(f"#messageBar {{ border: 1px solid {border}; border-radius: 4px; background: {fill}; }}")
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


class MainWindow(QMainWindow):
    run_requested = Signal(object)
    probe_requested = Signal()
    load_requested = Signal(int, str)
    export_requested = Signal(object)
    park_requested = Signal(int, int, object)  # job id, result token, pixels
    restore_requested = Signal(int, int, object)  # job id, result token, parked file
    view_requested = Signal(int, int, object)  # job id, result token, result pixels in memory
    discard_requested = Signal(object)  # parked file no longer needed
    # For the self-test and tests: what a user would see happen.
    result_shown = Signal(int)  # a complete result is on screen (job id)
    run_ended = Signal(str)  # "done", "failed" or "cancelled" when the queue of runs empties
    photo_loaded = Signal(int)
    export_finished = Signal(str)  # path written
    export_error = Signal(str)

    def __init__(self, settings: AppSettings | None = None):
        super().__init__()
        self.settings = settings or AppSettings()
        self.setWindowTitle("SR Studio")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.queue = PhotoQueue()
        self.viewer_model = ViewerModel()
        self.images = CompareImages(self)
        self.running_item: QueueItem | None = None
        self.batch: list[QueueItem] = []
        self.clock: ProgressClock | None = None
        self.pending_exports: dict[int, QueueItem] = {}
        self._run_after_load: set[int] = set()
        self._closing = False
        self._close_when_exported = False  # "Export All" chosen on quitting: close once every file is written
        self._written: set[Path] = set()  # files exported: never queued again from their folder, whatever their name
        self._batch_outcome = "done"
        self._export_counter = 0
        self._shown_item: QueueItem | None = None
        self._result_tokens = itertools.count(1)
        self._parking: set[int] = set()  # result tokens being written to the session cache
        self._restoring: set[int] = set()  # result tokens being read back from it

        self._build_workers()
        self._build_ui()
        self._build_actions()
        self._restore_settings()
        self.queue.subscribe(self._queue_changed)
        self.viewer_model.subscribe(self._viewer_changed)
        self._viewer_changed()
        self.refresh_models()
        self._show_current()
        self._update_actions()
        self.probe_requested.emit()
        app = QApplication.instance()
        if isinstance(app, Application):  # files opened from Finder or the Dock (macOS)
            app.files_waiting.connect(self._open_waiting_files)
            QTimer.singleShot(0, self._open_waiting_files)  # the one that launched the app came first
        if self._spill_problem:
            self.show_error(f"Finished results will stay in memory: {self._spill_problem}")

    # Construction ---------------------------------------------------------------------------------
    def _build_workers(self) -> None:
        prewarm_imports()
        self.upscale_worker = UpscaleWorker()
        self.spill_store, spill_problem = open_spill_store()
        self.file_worker = FileWorker(self.spill_store)
        self.upscale_thread = start_thread(self.upscale_worker, "sr-studio-engine")
        self.file_thread = start_thread(self.file_worker, "sr-studio-files")
        self.run_requested.connect(self.upscale_worker.run)
        self.probe_requested.connect(self.upscale_worker.probe_devices)
        self.load_requested.connect(self.file_worker.load)
        self.export_requested.connect(self.file_worker.export)
        self.park_requested.connect(self.file_worker.park)
        self.restore_requested.connect(self.file_worker.restore)
        self.view_requested.connect(self.file_worker.prepare_view)
        self.discard_requested.connect(self.file_worker.discard)
        self.upscale_worker.status.connect(self._run_status)
        self.upscale_worker.enlarging.connect(self._run_enlarging)
        self.upscale_worker.progress.connect(self._run_progress)
        self.upscale_worker.tile_ready.connect(self._run_tile)
        self.upscale_worker.finished.connect(self._run_finished)
        self.upscale_worker.failed.connect(self._run_failed)
        self.upscale_worker.cancelled.connect(self._run_cancelled)
        self.upscale_worker.devices_found.connect(lambda found: self.run_panel.set_available_devices(found))
        self.file_worker.loaded.connect(self._photo_loaded)
        self.file_worker.load_failed.connect(self._photo_failed)
        self.file_worker.exported.connect(self._exported)
        self.file_worker.export_failed.connect(self._export_failed)
        self.file_worker.parked.connect(self._result_parked)
        self.file_worker.park_failed.connect(self._park_failed)
        self.file_worker.restored.connect(self._result_restored)
        self.file_worker.restore_failed.connect(self._restore_failed)
        self._spill_problem = spill_problem
        from sr_studio.gui.model_manager import ModelTasks

        self.model_tasks = ModelTasks()
        self.model_thread = start_thread(self.model_tasks, "sr-studio-models")
        self.model_tasks.imported.connect(self._model_imported)
        self.model_tasks.failed.connect(self._model_task_failed)
        self.model_tasks.library_changed.connect(self.refresh_models)

    def _build_ui(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.setSpacing(6)
        self.message_bar = MessageBar()
        layout.addWidget(self.message_bar)
        self.viewer = CompareViewer(self.viewer_model, self.images)
        layout.addWidget(self.viewer, 1)
        self.setCentralWidget(central)

        # Photos (left).
        self.queue_list = QListWidget()
        self.queue_list.setObjectName("queueList")
        self.queue_list.setAlternatingRowColors(True)
        self.queue_list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.queue_list.currentRowChanged.connect(self._queue_row_selected)
        self.queue_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.queue_list.customContextMenuRequested.connect(self._queue_menu)
        queue_panel = QWidget()
        queue_layout = QVBoxLayout(queue_panel)
        queue_layout.setContentsMargins(6, 6, 6, 6)
        queue_layout.addWidget(self.queue_list, 1)
        self.queue_buttons = QHBoxLayout()
        queue_layout.addLayout(self.queue_buttons)
        self.queue_dock = QDockWidget("Photos")
        self.queue_dock.setObjectName("photosDock")
        self.queue_dock.setWidget(queue_panel)
        self.queue_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                    | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.queue_dock)

        # Enlarge and export (right).
        self.run_panel = RunPanel()
        self.export_panel = ExportPanel()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self._section("Enlarge"))
        side_layout.addWidget(self.run_panel)
        self.run_buttons = QHBoxLayout()
        self.run_buttons.setContentsMargins(8, 0, 8, 8)
        side_layout.addLayout(self.run_buttons)
        side_layout.addWidget(self._section("Export"))
        side_layout.addWidget(self.export_panel)
        self.export_buttons = QHBoxLayout()
        self.export_buttons.setContentsMargins(8, 0, 8, 8)
        side_layout.addLayout(self.export_buttons)
        side_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(side)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(side.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self.settings_dock = QDockWidget("Settings")
        self.settings_dock.setObjectName("settingsDock")
        self.settings_dock.setWidget(scroll)
        self.settings_dock.setFeatures(self.queue_dock.features())
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.settings_dock)
        self.resizeDocks([self.queue_dock, self.settings_dock], [220, 320], Qt.Orientation.Horizontal)
        self.run_panel.changed.connect(self._run_options_changed)
        self.run_panel.manage_button.clicked.connect(lambda: self.open_model_manager())
        self.export_panel.changed.connect(self._update_actions)

        # Status bar: message, progress with ETA, cancel, zoom.
        status = self.statusBar()
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("runProgress")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setFixedWidth(max(260, self.progress_bar.fontMetrics().horizontalAdvance(WIDEST_PROGRESS_TEXT)
                                            + 2 * self.progress_bar.fontMetrics().averageCharWidth() + 8))
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(60)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        status.addPermanentWidget(self.progress_bar)
        status.addPermanentWidget(self.cancel_button)
        status.addPermanentWidget(self.zoom_label)

    @staticmethod
    def _section(title: str) -> QLabel:
        label = QLabel(title)
        font = label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        label.setFont(font)
        label.setContentsMargins(8, 10, 8, 0)
        return label

    def _action(self, text: str, icon_name: str | None, shortcut=None, slot=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setData(icon_name)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if slot is not None:
            action.triggered.connect(lambda checked=False: slot())
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')}" + (f" ({keys})" if keys else ""))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        Std = QKeySequence.StandardKey
        self.open_action = a("&Open…", "fa5s.folder-open", Std.Open, self.open_files, "Add photos")
        self.open_folder_action = a("Open &Folder…", "fa5s.folder-plus", "Ctrl+Shift+O", self.open_folder)
        self.paste_action = a("&Paste Image", "fa5s.paste", Std.Paste, self.paste_from_clipboard)
        self.run_action = a("&Enlarge", "fa5s.play", ["Ctrl+R", "Ctrl+Return"], self.run_current, "Enlarge this photo")
        self.run_all_action = a("Enlarge &All", "fa5s.forward", "Ctrl+Shift+R", self.run_all, "Enlarge every waiting photo")
        self.cancel_action = a("&Cancel", "fa5s.stop", "Esc", self.cancel_run, "Stop the run")
        self.export_action = a("&Export", "fa5s.file-export", "Ctrl+E", self.export_current, "Export this result")
        self.export_all_action = a("Export A&ll", "fa5s.file-archive", "Ctrl+Shift+E", self.export_all,
                                   "Export every finished result")
        self.remove_action = a("&Remove from Queue", "fa5s.times", Std.Delete, self.remove_current)
        self.clear_action = a("Clear &Finished", "fa5s.broom", None, self.clear_finished)
        self.quit_action = a("&Quit", None, Std.Quit, self.close)
        self.zoom_in_action = a("Zoom &In", "fa5s.search-plus", [Std.ZoomIn, "Ctrl+="], self.viewer_model.zoom_in)
        self.zoom_out_action = a("Zoom &Out", "fa5s.search-minus", Std.ZoomOut, self.viewer_model.zoom_out)
        self.zoom_fit_action = a("&Fit to Window", "fa5s.expand", "Ctrl+0", self.viewer.fit)
        self.zoom_actual_action = a("&Actual Pixels (100 %)", "fa5s.search", "Ctrl+1", lambda: self.viewer_model.set_zoom(1.0))
        self.compare_action = a("&Before/After Slider", "fa5s.columns", "Ctrl+B", self.viewer_model.toggle_mode,
                                "Switch between side by side and the before/after slider")
        self.compare_action.setCheckable(True)
        self.models_action = a("&Model Manager…", "fa5s.cubes", "Ctrl+M", self.open_model_manager)
        self.import_model_action = a("&Import Model…", "fa5s.file-import", None, self.import_model_dialog)
        self.shortcuts_action = a("&Keyboard Shortcuts", "fa5s.keyboard", "F1", self.show_shortcuts)
        self.about_action = a("&About SR Studio", "fa5s.info-circle", None, self.show_about)
        self.cancel_button.clicked.connect(self.cancel_run)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addActions([self.open_action, self.open_folder_action])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addAction(self.paste_action)
        file_menu.addSeparator()
        file_menu.addActions([self.export_action, self.export_all_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = menu.addMenu("&Edit")
        edit_menu.addActions([self.paste_action, self.remove_action, self.clear_action])
        view_menu = menu.addMenu("&View")
        view_menu.addActions([self.zoom_in_action, self.zoom_out_action, self.zoom_fit_action, self.zoom_actual_action])
        view_menu.addSeparator()
        view_menu.addAction(self.compare_action)
        view_menu.addSeparator()
        view_menu.addAction(self.queue_dock.toggleViewAction())
        view_menu.addAction(self.settings_dock.toggleViewAction())
        appearance_menu = view_menu.addMenu("A&ppearance")
        self.appearance_actions = {}
        for key, label in (("system", "Follow the &System"), ("light", "&Light"), ("dark", "&Dark")):
            action = appearance_menu.addAction(label)
            action.setCheckable(True)
            action.triggered.connect(lambda checked=False, key=key: self.set_appearance(key))
            self.appearance_actions[key] = action
        run_menu = menu.addMenu("&Run")
        run_menu.addActions([self.run_action, self.run_all_action, self.cancel_action])
        models_menu = menu.addMenu("&Models")
        models_menu.addActions([self.models_action, self.import_model_action])
        help_menu = menu.addMenu("&Help")
        help_menu.addActions([self.shortcuts_action, self.about_action])

        toolbar = QToolBar("Main toolbar")
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setMovable(False)
        for action in (self.open_action, None, self.run_action, self.run_all_action, self.cancel_action, None,
                       self.export_action, self.export_all_action, None):
            toolbar.addSeparator() if action is None else toolbar.addAction(action)
        for action in (self.zoom_out_action, self.zoom_in_action, self.zoom_fit_action, self.zoom_actual_action):
            toolbar.addAction(action)
            toolbar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        toolbar.addAction(self.compare_action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        toolbar.addWidget(spacer)
        toolbar.addAction(self.models_action)
        self.addToolBar(toolbar)
        self.toolbar = toolbar
        self._toolbar_wide = toolbar.sizeHint().width()  # what the labelled toolbar needs

        def button(action: QAction, primary: bool = False) -> QToolButton:
            widget = QToolButton()
            widget.setDefaultAction(action)
            widget.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            if primary:
                font = widget.font()
                font.setBold(True)
                widget.setFont(font)
            return widget

        self.run_buttons.addWidget(button(self.run_action, True))
        self.run_buttons.addWidget(button(self.run_all_action))
        self.export_buttons.addWidget(button(self.export_action, True))
        self.export_buttons.addWidget(button(self.export_all_action))
        for action in (self.open_action, self.remove_action):
            widget = QToolButton()
            widget.setDefaultAction(action)
            widget.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon if action is self.open_action
                                      else Qt.ToolButtonStyle.ToolButtonIconOnly)  # the list stays narrow
            self.queue_buttons.addWidget(widget)
        self.queue_buttons.addStretch(1)
        self._refresh_icons()

    def _refresh_icons(self) -> None:
        palette = self.palette()
        for action in self.findChildren(QAction):
            name = action.data()
            if isinstance(name, str) and name.startswith("fa"):
                action.setIcon(appearance.icon(name, palette))
        self.run_panel.manage_button.setIcon(appearance.icon("fa5s.cubes", palette))
        self.cancel_button.setIcon(appearance.icon("fa5s.stop", palette))
        self._queue_changed(rebuild=True)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_toolbar()

    def _fit_toolbar(self) -> None:
        """Narrower than the labelled toolbar: icons only (tooltips name them), so that nothing, Model Manager
        included, drops into the overflow menu."""
        style = (Qt.ToolButtonStyle.ToolButtonTextBesideIcon if self.width() >= self._toolbar_wide
                 else Qt.ToolButtonStyle.ToolButtonIconOnly)
        if self.toolbar.toolButtonStyle() != style:
            self.toolbar.setToolButtonStyle(style)
            for action in (self.zoom_out_action, self.zoom_in_action, self.zoom_fit_action, self.zoom_actual_action):
                self.toolbar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            QTimer.singleShot(0, self._refresh_icons)
        super().changeEvent(event)

    # Settings -------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        settings = self.settings
        geometry, state = settings.window_geometry(), settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 860)
        if state is not None:
            self.restoreState(state)
        self.run_panel.set_device(settings.device)
        self.run_panel.set_precision(settings.precision)
        self.run_panel.set_tile(settings.tile)
        self.export_panel.set_options(settings.export_options)
        mode = settings.compare_mode
        self.viewer_model.set_mode(mode if mode in (SIDE_BY_SIDE, BEFORE_AFTER) else SIDE_BY_SIDE)
        for key, action in self.appearance_actions.items():
            action.setChecked(key == settings.appearance)

    def save_settings(self) -> None:
        settings = self.settings
        model = self.run_panel.current_model()
        if model:
            settings.model_id = model.id
        settings.scale = self.run_panel.scale()
        settings.device = self.run_panel.device()
        settings.precision = self.run_panel.precision()
        settings.tile = self.run_panel.tile()
        settings.export_options = self.export_panel.options()
        settings.compare_mode = self.viewer_model.mode
        settings.save_window(self.saveGeometry(), self.saveState())
        settings.sync()

    def set_appearance(self, choice: str) -> None:
        self.settings.appearance = choice
        for key, action in self.appearance_actions.items():
            action.setChecked(key == choice)
        app = QApplication.instance()
        if app is not None:
            appearance.apply_appearance(app, choice)

    # Models ---------------------------------------------------------------------------------------
    def refresh_models(self, select_id: str = "") -> None:
        models, problem = available_models()
        first = not self.run_panel.models
        wanted = select_id or (self.settings.model_id if first else "")
        scale = self.settings.scale if first else self.run_panel.scale()
        self.run_panel.set_models(models, wanted)
        self.run_panel.set_scale(scale)
        if problem:
            self.show_error(f"The model library could not be read: {problem}")
        self._update_actions()

    def open_model_manager(self) -> None:
        from sr_studio.gui.model_manager import ModelManagerDialog

        dialog = getattr(self, "_model_manager", None)
        if dialog is None:
            dialog = ModelManagerDialog(self.model_tasks, self)
            self._model_manager = dialog
        dialog.refresh()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def import_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model", self.settings.last_folder or str(Path.home()),
                                              MODEL_FILTER)
        if path:
            self.import_model_file(path)

    def import_model_file(self, path: str | os.PathLike) -> None:
        self.statusBar().showMessage(f"Importing {Path(path).name}…")
        self.model_tasks.request_import(str(path))

    def _model_imported(self, model_id: str, name: str) -> None:
        self.refresh_models(select_id=model_id)
        self.show_info(f"Model “{name}” imported and selected.")

    def _model_task_failed(self, what: str, message: str) -> None:
        if what == "import":
            self.statusBar().clearMessage()
            self.show_error(f"Could not import the model: {message}")

    def _run_options_changed(self) -> None:
        if self.running_item is None:
            self._show_current(keep_view=True)
        self._update_actions()

    # Getting photos in ----------------------------------------------------------------------------
    def add_paths(self, paths) -> list[QueueItem]:
        """Queue photos (folders searched); model files are imported instead. Returns the new items."""
        paths = [Path(p) for p in paths]
        models = [p for p in paths if p.is_file() and is_model_file(p)]
        for model in models:
            self.import_model_file(model)
        photos = [p for p in paths if p not in models]
        problems = []

        def refuse(found: list[Path], why: str) -> None:
            if found:
                more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
                problems.append(f"{found[0]}: {why}{more}")

        refuse([p for p in photos if not p.exists()], "no such file or folder")
        photos = [p for p in photos if p.exists()]
        not_photos = [p for p in photos if not p.is_dir() and not is_photo_path(p)]
        refuse(not_photos, f"not a photo (SR Studio opens {INPUT_FORMAT_NAMES})")
        photos = [p for p in photos if p not in not_photos]
        refuse([p for p in photos if p.is_dir() and not photos_in_folder(p)], "no photos in this folder")
        if problems:
            self.show_error("\n".join(problems))
        added = self.queue.add(photos, skip=self._written)
        if added:
            self.settings.last_folder = str(added[-1].path.parent)
            self.queue.select(added[0])
            for item in added:
                self.settings.add_recent(item.path)
        return added

    def _open_waiting_files(self) -> None:
        app = QApplication.instance()
        if self._closing or not isinstance(app, Application):
            return
        paths = app.take_opened_files()
        if paths:
            self.add_paths(paths)
            self.raise_()
            self.activateWindow()

    def open_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add photos", self.settings.last_folder or str(Path.home()),
                                                OPEN_FILTER)
        if paths:
            self.add_paths(paths)

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos", self.settings.last_folder or str(Path.home()))
        if folder:
            self.add_paths([folder])

    def paste_from_clipboard(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and mime.hasUrls():
            local = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
            if local:
                self.add_paths(local)
                return
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.show_info("The clipboard holds no image or photo file to paste.")
            return
        from sr_studio.photo_files import Photo

        pixels = qimage_to_array(image)
        number = sum(1 for item in self.queue.items if item.clipboard_image) + 1
        name = f"Pasted image {number}.png"
        pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation) or str(Path.home())
        item = QueueItem(Path(pictures) / name, clipboard_image=True)
        item.photo = Photo(pixels=pixels, path=item.path, format="PNG")
        item.original_view = DisplayPyramid(pixels)
        self.queue.add_item(item)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.setEnabled(Path(path).exists())
            action.triggered.connect(lambda checked=False, path=path: self.add_paths([path]))
        if not recent:
            self.recent_menu.addAction("No recent photos").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear the List", self.settings.clear_recent)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        elif event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        local = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []
        if local:
            self.add_paths(local)
            event.acceptProposedAction()
        elif mime.hasImage():
            QGuiApplication.clipboard()  # keep the same path as paste
            image = QImage(mime.imageData())
            if not image.isNull():
                from sr_studio.photo_files import Photo

                pixels = qimage_to_array(image)
                item = QueueItem(Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
                                      or str(Path.home())) / "Dropped image.png", clipboard_image=True)
                item.photo = Photo(pixels=pixels, path=item.path, format="PNG")
                item.original_view = DisplayPyramid(pixels)
                self.queue.add_item(item)
            event.acceptProposedAction()

    # Queue list -----------------------------------------------------------------------------------
    def _queue_changed(self, rebuild: bool = False) -> None:
        items = self.queue.items
        if rebuild or self.queue_list.count() != len(items) or any(
            self.queue_list.item(row).data(Qt.ItemDataRole.UserRole) != item.id for row, item in enumerate(items)
        ):
            self.queue_list.blockSignals(True)
            self.queue_list.clear()
            for item in items:
                row = QListWidgetItem()
                row.setData(Qt.ItemDataRole.UserRole, item.id)
                self.queue_list.addItem(row)
            self.queue_list.blockSignals(False)
        palette = self.palette()
        for row, item in enumerate(items):
            widget_item = self.queue_list.item(row)
            status = item.status_label + (f": {item.message}" if item.message and item.status == FAILED else "")
            text = f"{item.name}\n{status}"
            if widget_item.text() != text:
                widget_item.setText(text)
                widget_item.setToolTip(f"{item.path}\n{item.status_label}" + (f"\n{item.message}" if item.message else ""))
            key = (item.status, palette.color(palette.ColorRole.ButtonText).name())
            if widget_item.data(Qt.ItemDataRole.UserRole + 1) != key:
                name, colour = STATUS_ICONS.get(item.status, STATUS_ICONS[PENDING])
                widget_item.setIcon(appearance.qtawesome_icon(name, colour) if colour else appearance.icon(name, palette))
                widget_item.setData(Qt.ItemDataRole.UserRole + 1, key)
        current_row = items.index(self.queue.current) if self.queue.current in items else -1
        if self.queue_list.currentRow() != current_row:
            self.queue_list.blockSignals(True)
            self.queue_list.setCurrentRow(current_row)
            self.queue_list.blockSignals(False)
        if self.queue.current is not self._shown_item:
            self._show_current()
        self._update_actions()

    def _queue_row_selected(self, row: int) -> None:
        items = self.queue.items
        self.queue.select(items[row] if 0 <= row < len(items) else None)

    def _queue_menu(self, position) -> None:
        menu = QMenu(self)
        menu.addActions([self.run_action, self.export_action, self.remove_action, self.clear_action])
        item = self.queue.current
        if item is not None and not item.clipboard_image:
            menu.addSeparator()
            menu.addAction("Show in Folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(item.path.parent))))
        menu.exec(self.queue_list.mapToGlobal(position))

    def remove_current(self) -> None:
        item = self.queue.current
        if item is None:
            return
        if item is self.running_item:
            self.show_info("This photo is being enlarged: cancel the run before removing it.")
            return
        if item in self.batch:
            self.batch.remove(item)
        self.queue.remove(item)
        self._forget_result(item)
        self._drop_messages_about([item])

    def clear_finished(self) -> None:
        removed = self.queue.clear_finished()
        for item in removed:
            self._forget_result(item)
        self._drop_messages_about(removed)

    def _drop_messages_about(self, removed: list[QueueItem]) -> None:
        if self.message_bar.about in {item.id for item in removed}:
            self.message_bar.hide()

    # Showing a photo ------------------------------------------------------------------------------
    def _show_current(self, keep_view: bool = False) -> None:
        item = self.queue.current
        previous, self._shown_item = self._shown_item, item
        self._show_item(item, keep_view)
        if previous is not None and previous is not item:
            self._park(previous)

    def _show_item(self, item: QueueItem | None, keep_view: bool) -> None:
        if item is None:
            self.images.set_original(None)
            self.viewer_model.set_image_size(0, 0)
            self.viewer.set_empty_text("Drop photos or folders here\nor press Ctrl+O to add them",
                                       "The enlarged photo appears here")
            self.viewer.set_titles("Original", "Result")
            self.setWindowTitle("SR Studio")
            return
        self.setWindowTitle(f"{item.name} — SR Studio")
        if item.original_view is None:
            self.images.set_original(None)
            self.viewer_model.set_image_size(0, 0)
            if item.status == FAILED:
                self.viewer.set_empty_text(f"{item.name} could not be opened:\n{item.message}")
            else:
                self.viewer.set_empty_text(f"Opening {item.name}…")
                self._request_load(item)
            self.viewer.set_titles("Original", "Result")
            return
        original = item.original_view
        if item.result_size is not None:
            height, width = item.result_size
        else:
            height, width = expected_size(original.width, original.height, self.run_panel.effective_scale())
        same_photo = self.images.original is original
        self.images.set_original(original, width, height)
        if item.result_view is not None:
            self.images.set_result(item.result_view)
        elif item.has_result:
            self._restore(item)
        elif item is self.running_item and item.partial_view is not None:
            self.images.result = item.partial_view
            self.images.done_region = QRegion(item.done_region or QRegion())
            self.images.changed.emit()
        if not (keep_view and same_photo):
            self.viewer_model.fit_mode = True
        self.viewer_model.set_image_size(width, height)
        if self.viewer_model.fit_mode:
            self.viewer.fit()
        if item.has_result:
            result_text = "Loading the enlarged photo…" if item.result_view is None else ""
        else:
            result_text = "Press Ctrl+R to enlarge" if item is not self.running_item else ""
        self.viewer.set_empty_text("", result_text)
        self._update_titles()

    def _update_titles(self) -> None:
        item = self.queue.current
        if item is None or item.original_view is None:
            return
        original = item.original_view
        bits = f", {item.photo.bit_depth}-bit" if item.photo is not None and getattr(item.photo, "bit_depth", 8) != 8 else ""
        original_title = f"Original · {original.width} × {original.height}{bits}"
        if item.has_result:
            result_title = (f"Result · {item.result_size[1]} × {item.result_size[0]}"
                            f" · x{item.result_scale:g} · {item.result_model_name or item.result_model}")
        elif item is self.running_item:
            result_title = f"Result · enlarging {item.progress:.0%}"
        else:
            result_title = "Result · not enlarged yet"
        self.viewer.set_titles(original_title, result_title)

    def _viewer_changed(self) -> None:
        """Zooming follows the picture on screen (the wheel zooms any photo shown, so do the keys and buttons)."""
        has_image = self.viewer_model.has_image()
        self.zoom_label.setText(self.viewer_model.zoom_label() if has_image else "")
        self.compare_action.setChecked(self.viewer_model.mode == BEFORE_AFTER)
        if hasattr(self, "zoom_in_action"):
            for action in (self.zoom_in_action, self.zoom_out_action, self.zoom_fit_action, self.zoom_actual_action):
                action.setEnabled(has_image)

    # Loading --------------------------------------------------------------------------------------
    def _request_load(self, item: QueueItem) -> None:
        if item.status == LOADING or item.photo is not None:
            return
        self.queue.set_status(item, LOADING)
        self.load_requested.emit(item.id, str(item.path))

    def _find(self, job_id: int) -> QueueItem | None:
        return next((item for item in self.queue.items if item.id == job_id), None)

    def _photo_loaded(self, loaded: LoadedPhoto) -> None:
        item = self._find(loaded.job_id)
        if item is None:
            return
        item.photo = loaded.photo
        item.original_view = loaded.pyramid
        self.queue.set_status(item, PENDING)
        for warning in getattr(loaded.photo, "warnings", []) or []:
            self.show_info(f"{item.name}: {warning}")
        if item is self.queue.current:
            self._show_current()
        self.photo_loaded.emit(item.id)
        if item.id in self._run_after_load:
            self._run_after_load.discard(item.id)
            self._start_next()

    def _photo_failed(self, job_id: int, message: str) -> None:
        item = self._find(job_id)
        if item is None:
            return
        self.queue.set_status(item, FAILED, message)
        self.show_error(f"Could not open {item.name}: {message}", about=item)
        if item is self.queue.current:
            self._show_current()
        if job_id in self._run_after_load:
            self._run_after_load.discard(job_id)
            if item in self.batch:  # done with it: the batch goes on with the next photo, never retries it
                self.batch.remove(item)
            self._batch_outcome = "failed"
            self._start_next()

    # Running --------------------------------------------------------------------------------------
    def run_current(self) -> None:
        item = self.queue.current
        if item is None:
            self.show_info("Add a photo first: drop it on the window or press Ctrl+O.")
            return
        self.start_batch([item])

    def run_all(self) -> None:
        items = [item for item in self.queue.items if not item.has_result and item.status != FAILED] or [
            item for item in self.queue.items if item.status in (FAILED, CANCELLED)]
        if not items:
            self.show_info("Every photo in the queue is already enlarged." if self.queue.items
                           else "Add photos first: drop them on the window or press Ctrl+O.")
            return
        self.start_batch(items)

    def start_batch(self, items: list[QueueItem]) -> None:
        if self.running_item is not None:
            self.batch.extend(item for item in items if item not in self.batch and item is not self.running_item)
            return
        if self.run_panel.current_model() is None:
            self.show_error("No model is installed. Open the model manager (Ctrl+M) to download or import one.")
            return
        self.batch = list(items)
        self._batch_outcome = "done"
        self._start_next()

    def _start_next(self) -> None:
        while self.batch:
            item = self.batch[0]
            if item not in self.queue.items:
                self.batch.pop(0)
                continue
            if item.photo is None:
                if item.status == FAILED and item.id not in self._run_after_load:
                    item.status = PENDING  # try reading it again
                self._run_after_load.add(item.id)
                if item.status != LOADING:
                    self._request_load(item)
                self._update_actions()
                return
            self.batch.pop(0)
            self._start_run(item)
            return
        self._update_actions()
        self.progress_bar.hide()
        self.cancel_button.hide()
        self.run_ended.emit(self._batch_outcome)

    def _start_run(self, item: QueueItem) -> None:
        model = self.run_panel.current_model()
        if model is None:
            self.batch.clear()
            self.show_error("No model is installed. Open the model manager (Ctrl+M) to download or import one.")
            self._start_next()
            return
        scale = self.run_panel.scale()
        effective = scale or float(model.scale)
        pixels = item.photo.pixels
        height, width = expected_size(pixels.shape[1], pixels.shape[0], effective)
        self._forget_result(item)
        item.partial_view = DisplayPyramid.blank(height, width, 1 if pixels.ndim == 2 else
                                                 (4 if pixels.shape[2] in (2, 4) else 3))
        item.done_region = QRegion()
        item.result_model = model.id
        item.result_model_name = model.name
        self.running_item = item
        self.clock = ProgressClock()
        item.progress = 0.0
        self.queue.set_status(item, RUNNING)
        if item is self.queue.current:
            self._show_current(keep_view=True)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Starting…")
        self.progress_bar.show()
        self.cancel_button.show()
        self.statusBar().showMessage(f"Enlarging {item.name} x{effective:g} with {model.name}…")
        self._update_actions()
        self.run_requested.emit(RunRequest(
            job_id=item.id, pixels=pixels, model_path=model.path, scale=scale, device=self.run_panel.device(),
            precision=self.run_panel.precision(), tile=self.run_panel.tile(), result_size=(height, width),
            display=item is self.queue.current,  # a photo off screen goes to the cache without a display copy
        ))

    def _run_status(self, job_id: int, text: str) -> None:
        if self.running_item is not None and self.running_item.id == job_id:
            self.progress_bar.setFormat(text)

    def _run_enlarging(self, job_id: int) -> None:
        """Time left is estimated from the tiles alone: loading the model would make it seconds too long."""
        if self.running_item is not None and self.running_item.id == job_id:
            self.clock = ProgressClock()

    def _run_progress(self, job_id: int, done: int, total: int, pass_index: int, passes: int) -> None:
        item = self.running_item
        if item is None or item.id != job_id or self.clock is None:
            return
        fraction = self.clock.update(done, total, pass_index, passes)
        item.progress = fraction
        self.progress_bar.setValue(int(fraction * 1000))
        self.progress_bar.setFormat(progress_text(fraction, done, total, pass_index, passes, self.clock.eta_text()))
        self.queue.changed()
        if item is self.queue.current:
            self._update_titles()

    def _run_tile(self, job_id: int, y0: int, x0: int, pixels) -> None:
        item = self.running_item
        if item is None or item.id != job_id or item.partial_view is None:
            return
        if item is self.queue.current and self.images.result is item.partial_view:
            self.images.add_tile(y0, x0, pixels)
            item.done_region = self.images.done_region
        else:
            item.partial_view.write_region(y0, x0, pixels)
            item.done_region = (item.done_region or QRegion()).united(
                QRegion(x0, y0, pixels.shape[1], pixels.shape[0]))

    def _run_finished(self, result: RunResult) -> None:
        item = self.running_item
        if item is None or item.id != result.job_id:
            return
        self.running_item = None
        item.result = result.pixels
        item.result_size = tuple(result.pixels.shape[:2])
        item.result_token = next(self._result_tokens)
        item.partial_view = None
        item.done_region = None
        item.result_scale = result.scale
        self.queue.set_status(item, DONE, f"x{result.scale:g} in {result.seconds:.1f} s on {result.device}")
        notice = f"; {result.notice}" if result.notice else ""
        height, width = item.result_size
        self.statusBar().showMessage(f"{item.name}: enlarged x{result.scale:g} to {width} × {height} in "
                                     f"{result.seconds:.1f} s on {result.device}{notice}", 10000)
        item.result_view = result.pyramid
        if item is self.queue.current and result.pyramid is not None:
            self.images.set_result(result.pyramid)
            self._show_current(keep_view=True)
            self.result_shown.emit(item.id)
        elif item is self.queue.current:  # selected during the run: its display copy is made now
            self._restore(item)
        else:
            self._park(item)
        self._start_next()

    def _run_failed(self, job_id: int, message: str) -> None:
        item = self.running_item
        if item is None or item.id != job_id:
            return
        self.running_item = None
        item.partial_view = None
        self.queue.set_status(item, FAILED, message)
        if item is self.queue.current:
            self.images.clear_partial()
            self._show_current(keep_view=True)
        self.show_error(f"Could not enlarge {item.name}: {message}", about=item)
        self._batch_outcome = "failed"
        self._start_next()

    def _run_cancelled(self, job_id: int) -> None:
        item = self.running_item
        if item is None or item.id != job_id:
            return
        self.running_item = None
        item.partial_view = None
        self.queue.set_status(item, CANCELLED)
        self.batch.clear()
        if item is self.queue.current:
            self.images.clear_partial()
            self._show_current(keep_view=True)
        self.statusBar().showMessage(f"{item.name}: cancelled", 6000)
        self._batch_outcome = "cancelled"
        self._start_next()

    def cancel_run(self) -> None:
        if self.running_item is None and not self._run_after_load:
            return
        self.batch.clear()
        self._run_after_load.clear()
        if self.running_item is not None:
            self.upscale_worker.cancel()
            self.progress_bar.setFormat("Stopping after this tile…")
        else:
            self._start_next()

    def is_running(self) -> bool:
        return self.running_item is not None

    # Results off screen ---------------------------------------------------------------------------
    def _park(self, item: QueueItem) -> None:
        """A result not on screen leaves memory: at once when a copy is parked on disk, else once it is."""
        if item is self.queue.current or item.result is None or item not in self.queue.items:
            return
        if item.result_file is not None:
            item.result = item.result_view = None
        elif self.spill_store is not None and item.result_token not in self._parking:
            self._parking.add(item.result_token)
            self.park_requested.emit(item.id, item.result_token, item.result)

    def _result_parked(self, job_id: int, token: int, path) -> None:
        self._parking.discard(token)
        item = self._find(job_id)
        if item is None or item.result_token != token:  # removed or enlarged again meanwhile
            self.discard_requested.emit(path)
            return
        item.result_file = Path(path)
        self._park(item)

    def _park_failed(self, job_id: int, token: int, message: str) -> None:
        self._parking.discard(token)
        item = self._find(job_id)
        if item is not None and item.result_token == token:
            self.show_info(f"{item.name}: the result stays in memory: {message}")

    def _restore(self, item: QueueItem) -> None:
        """Make the display copy of a result for the screen, off the GUI thread: from memory when the result is
        still there (enlarged off screen), else read back from the cache (result and copy leave memory together)."""
        if item.result_token not in self._restoring:
            self._restoring.add(item.result_token)
            if item.result is not None:  # still in memory (enlarged off screen, perhaps being parked)
                self.view_requested.emit(item.id, item.result_token, item.result)
            else:
                self.restore_requested.emit(item.id, item.result_token, item.result_file)

    def _result_restored(self, restored: RestoredResult) -> None:
        self._restoring.discard(restored.token)
        item = self._find(restored.job_id)
        if (item is None or item.result_token != restored.token or item is not self.queue.current
                or item.result_view is not None):
            return  # no longer wanted on screen: let it go
        item.result = restored.pixels
        item.result_view = restored.pyramid
        self._show_current(keep_view=True)
        self.result_shown.emit(item.id)

    def _restore_failed(self, job_id: int, token: int, message: str) -> None:
        self._restoring.discard(token)
        item = self._find(job_id)
        if item is None or item.result_token != token:
            return
        self._forget_result(item)
        self.queue.set_status(item, FAILED, message)
        self.show_error(f"The result of {item.name} is lost ({message}); enlarge it again.", about=item)
        if item is self.queue.current:
            self._show_current(keep_view=True)

    def _forget_result(self, item: QueueItem) -> None:
        """Drop a result (re-run, removal): from memory now, from disk after any export already asked for."""
        if item.result_file is not None:
            self.discard_requested.emit(item.result_file)
        item.result = item.result_view = item.result_file = item.result_size = None
        item.result_token = 0

    # Export ---------------------------------------------------------------------------------------
    def export_current(self) -> None:
        item = self.queue.current
        if item is None or not item.has_result:
            self.show_info("Nothing to export yet: enlarge the photo first (Ctrl+R).")
            return
        self.export_items([item])

    def export_all(self) -> None:
        items = self.queue.finished()
        if not items:
            self.show_info("Nothing to export yet: enlarge the photos first (Ctrl+Shift+R).")
            return
        self.export_items(items)

    def export_destinations(self, items: list[QueueItem]) -> list[Path]:
        options = self.export_panel.options()
        pictures = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation) or Path.home())
        destinations: list[Path] = []
        for index, item in enumerate(items, start=1):
            source = item.path
            if item.clipboard_image and not options.folder:
                source = pictures / item.path.name
            path = output_path(options, source, item.result_scale or 1, item.result_model or "model", index)
            counter = 2
            base = path
            while path in destinations:  # two photos with the same name in one batch
                path = base.with_name(f"{base.stem}-{counter}{base.suffix}")
                counter += 1
            destinations.append(path)
        return destinations

    def overwrite_box(self, existing: list[Path]) -> QMessageBox:
        """The question asked before replacing files, worded for one file or several."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        if len(existing) == 1:
            box.setWindowTitle("A file already exists")
            box.setText(f"“{existing[0].name}” already exists in {existing[0].parent}.")
            box.setInformativeText("Replace it, or keep both by numbering the new one?")
        else:
            box.setWindowTitle("Files already exist")
            box.setText(f"{len(existing)} files already exist, for example “{existing[0].name}”.")
            box.setInformativeText("Replace the existing files, or keep both by numbering the new ones?")
        box.replace_button = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
        box.keep_button = box.addButton("Keep Both", QMessageBox.ButtonRole.AcceptRole)
        box.skip_button = box.addButton("Skip", QMessageBox.ButtonRole.RejectRole) if len(existing) > 1 else None
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(box.keep_button)
        return box

    def ask_overwrite(self, existing: list[Path]) -> str:
        """'replace', 'keep' (add a number), 'skip' or 'cancel'; a dialog (tests replace this method)."""
        box = self.overwrite_box(existing)
        box.exec()
        answers = {box.replace_button: "replace", box.keep_button: "keep", box.skip_button: "skip"}
        return answers.get(box.clickedButton(), "cancel")

    def export_items(self, items: list[QueueItem]) -> int:
        """Queue the exports; returns how many were queued."""
        from sr_studio.gui.export_plan import unused_path

        problem = self.export_panel.problem()
        if problem:
            self.show_error(f"Cannot export: {problem}.")
            return 0
        options = self.export_panel.options()
        destinations = self.export_destinations(items)
        existing = [path for path in destinations if path.exists()]
        choice = self.ask_overwrite(existing) if existing else "replace"
        if choice == "cancel":
            return 0
        queued = 0
        for item, destination in zip(items, destinations):
            overwrite = False
            if destination.exists():
                if choice == "skip":
                    continue
                if choice == "keep":
                    destination = unused_path(destination)
                else:
                    overwrite = True
            self._export_counter += 1
            self.pending_exports[self._export_counter] = item
            like = item.photo if options.keep_metadata else None
            own = options.resolved(item.path)
            self.export_requested.emit(ExportRequest(
                job_id=self._export_counter, destination=destination, pixels=item.result, like=like,
                format=own.format, quality=own.write_quality(), bit_depth=own.write_bit_depth(),
                overwrite=overwrite, pixels_file=item.result_file if item.result is None else None,
            ))
            queued += 1
        if queued:
            self.statusBar().showMessage(f"Exporting {queued} photo(s)…")
            self.settings.export_options = options
        return queued

    def _exported(self, export_id: int, path: str, notices) -> None:
        item = self.pending_exports.pop(export_id, None)
        self._written.add(Path(path))
        if item is not None:
            item.exported_to = Path(path)
            self.queue.set_status(item, EXPORTED, f"saved as {Path(path).name}")
        for notice in notices or []:
            self.show_info(f"{Path(path).name}: {notice}")
        self.statusBar().showMessage(f"Exported {path}", 10000)
        self.export_finished.emit(path)
        self._close_if_exported(failed=False)

    def _export_failed(self, export_id: int, message: str) -> None:
        self.pending_exports.pop(export_id, None)
        self.show_error(f"Export failed: {message}")
        self.export_error.emit(message)
        self._close_if_exported(failed=True)

    # Messages -------------------------------------------------------------------------------------
    def show_error(self, text: str, about: QueueItem | None = None) -> None:
        """`about`: the photo the error concerns; removing it from the queue takes the error away."""
        self.message_bar.show_message(text, "error")
        self.message_bar.about = about.id if about is not None else None
        self.statusBar().showMessage(text.splitlines()[0], 10000)

    def show_info(self, text: str) -> None:
        self.message_bar.show_message(text, "info")
        self.message_bar.about = None

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td style='padding-right:16px'><b>{keys}</b></td><td>{what}</td></tr>"
                       for what, keys in self.shortcut_rows())
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>"
                                "<p>Wheel: zoom about the pointer. Drag: pan. Double-click: 100 % / fit."
                                " In the before/after view, drag the line (or Shift+arrows) to move it.</p>")

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(what, keys) for every action with a shortcut, in menu order."""
        rows = []
        for action in (self.open_action, self.open_folder_action, self.paste_action, self.run_action,
                       self.run_all_action, self.cancel_action, self.export_action, self.export_all_action,
                       self.zoom_in_action, self.zoom_out_action, self.zoom_fit_action, self.zoom_actual_action,
                       self.compare_action, self.models_action, self.remove_action, self.shortcuts_action):
            keys = " or ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
            if keys:
                rows.append((action.text().replace("&", "").rstrip("…"), keys))
        return rows

    def show_about(self) -> None:
        QMessageBox.about(self, "About SR Studio",
                          f"<h3>SR Studio {__version__}</h3><p>Enlarge photographs with HAT and SPAN super-resolution "
                          "networks, offline, keeping colours and metadata.</p>")

    # State ----------------------------------------------------------------------------------------
    def _update_actions(self) -> None:
        if not hasattr(self, "run_action"):
            return
        item = self.queue.current
        running = self.running_item is not None or bool(self._run_after_load)
        has_model = self.run_panel.current_model() is not None
        self.run_action.setEnabled(item is not None and has_model and not running)
        self.run_all_action.setEnabled(bool(self.queue.items) and has_model and not running)
        self.cancel_action.setEnabled(running)
        self.export_action.setEnabled(item is not None and item.has_result)
        self.export_all_action.setEnabled(bool(self.queue.finished()))
        self.remove_action.setEnabled(item is not None and item is not self.running_item)
        for widget in (self.run_panel.model_combo, self.run_panel.scale_combo, self.run_panel.device_combo,
                       self.run_panel.precision_combo, self.run_panel.tile_spin):
            widget.setEnabled(not running and (widget is not self.run_panel.model_combo or has_model))

    def unexported(self) -> list[QueueItem]:
        """Enlarged results never written to a file: the work quitting would lose."""
        return [item for item in self.queue.finished() if item.status != EXPORTED]

    def ask_unsaved(self, items: list[QueueItem]) -> str:
        """'export', 'discard' or 'cancel'; a dialog (tests replace this method)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Enlarged photos not exported")
        if len(items) == 1:
            box.setText(f"“{items[0].name}” is enlarged but not exported.")
        else:
            box.setText(f"{len(items)} enlarged photos are not exported.")
        box.setInformativeText("Quitting now discards the enlarged results.")
        export = box.addButton("Export All", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(export)
        box.exec()
        return {export: "export", discard: "discard"}.get(box.clickedButton(), "cancel")

    def _may_close(self) -> bool:
        """Results the user waited for are never dropped without a word: ask, and export first if wanted."""
        waiting = [] if self._closing else self.unexported()
        if not waiting:
            return True
        choice = self.ask_unsaved(waiting)
        if choice == "discard":
            return True
        if choice == "export" and self.export_items(waiting):
            self._close_when_exported = True
        return False

    def _close_if_exported(self, failed: bool) -> None:
        if not self._close_when_exported:
            return
        if failed:  # stay open: the result is still here to export elsewhere
            self._close_when_exported = False
        elif not self.pending_exports:
            self._close_when_exported = False
            QTimer.singleShot(0, self.close)

    def closeEvent(self, event) -> None:
        """Stop cleanly: cancel a run, let the engine reach the end of its tile, then end every thread."""
        if not self._may_close():
            event.ignore()
            return
        self.save_settings()
        self._closing = True
        if self.running_item is not None:
            self.upscale_worker.cancel()
        self.model_tasks.cancel()
        manager = getattr(self, "_model_manager", None)
        if manager is not None:
            manager.close()
        self.hide()
        for thread in (self.upscale_thread, self.file_thread, self.model_thread):
            stop_thread(thread)
        self.running_item = None
        if self.spill_store is not None:
            self.spill_store.close()
        event.accept()
