"""The main window: a view of the session (sr_studio.gui.session) with the photo queue, the viewer, the run
and export panels, menus and shortcuts.

It forwards what the user asks for to the session and renders the session's events; the workflow itself
(queue, load, enlarge, park, export, batch, cancel) lives in the session, the work in the worker threads.
"""

from __future__ import annotations

import os
from pathlib import Path

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
from sr_studio.gui import session as events
from sr_studio.gui.app_settings import AppSettings
from sr_studio.gui.application import Application
from sr_studio.gui.compare_viewer import CompareViewer
from sr_studio.gui.message_bar import MessageBar, qimage_to_array
from sr_studio.gui.photo_canvas import CompareImages
from sr_studio.gui.photo_queue import (
    CANCELLED,
    DONE,
    EXPORTED,
    FAILED,
    LOADING,
    PENDING,
    RUNNING,
    WIDEST_PROGRESS_TEXT,
    QueueItem,
    is_model_file,
)
from sr_studio.gui.session import RunOptions, Session
from sr_studio.gui.side_panels import ExportPanel, RunPanel, available_models
from sr_studio.gui.viewer_model import BEFORE_AFTER, SIDE_BY_SIDE, ViewerModel
from sr_studio.gui.workers import WorkerBridge
from sr_studio.photo_formats import open_dialog_filter

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


def pictures_folder() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation) or Path.home())


class MainWindow(QMainWindow):
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
        self.viewer_model = ViewerModel()
        self.images = CompareImages(self)
        self._closing = False
        self._close_when_exported = False  # "Export All" chosen on quitting: close once every file is written

        self.workers = WorkerBridge()
        self.session = Session(self.workers, pictures_folder())
        self.workers.attach(self.session)
        self.queue = self.session.queue
        self._build_models()
        self._build_ui()
        self._build_actions()
        self._restore_settings()
        self.queue.subscribe(self._queue_changed)
        self.session.subscribe(self._session_event)
        self.viewer_model.subscribe(self._viewer_changed)
        self._viewer_changed()
        self.refresh_models()
        self._show_current()
        self._update_actions()
        self.upscale_worker.devices_found.connect(self._devices_found)
        self.workers.probe_requested.emit()
        app = QApplication.instance()
        if isinstance(app, Application):  # files opened from Finder or the Dock (macOS)
            app.files_waiting.connect(self._open_waiting_files)
            QTimer.singleShot(0, self._open_waiting_files)  # the one that launched the app came first
        if self.workers.spill_problem:
            self.show_error(f"Finished results will stay in memory: {self.workers.spill_problem}")

    # The workers, as tests and the self-test reach them.
    upscale_worker = property(lambda self: self.workers.upscale_worker)
    file_worker = property(lambda self: self.workers.file_worker)
    upscale_thread = property(lambda self: self.workers.upscale_thread)
    file_thread = property(lambda self: self.workers.file_thread)
    spill_store = property(lambda self: self.workers.spill_store)
    running_item = property(lambda self: self.session.running)
    pending_exports = property(lambda self: self.session.pending_exports)

    def is_running(self) -> bool:
        return self.session.running is not None

    # Construction ---------------------------------------------------------------------------------
    def _build_models(self) -> None:
        from sr_studio.gui.model_manager import ModelTasks
        from sr_studio.gui.workers import start_thread

        self.model_tasks = ModelTasks()
        self.model_thread = start_thread(self.model_tasks, "sr-studio-models")
        self.model_tasks.imported.connect(self._model_imported)
        self.model_tasks.failed.connect(self._model_task_failed)
        self.model_tasks.library_changed.connect(self.refresh_models)

    def _devices_found(self, found) -> None:
        self.run_panel.set_available_devices(found)

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
        if self.session.running is None:
            self._show_current(keep_view=True)
        self._update_actions()

    def run_options(self) -> RunOptions:
        model = self.run_panel.current_model()
        return RunOptions(
            model_id=model.id if model else "", model_name=model.name if model else "",
            model_path=model.path if model else None, model_scale=model.scale if model else 2,
            scale=self.run_panel.scale(), device=self.run_panel.device(), precision=self.run_panel.precision(),
            tile=self.run_panel.tile(),
        )

    # Getting photos in ----------------------------------------------------------------------------
    def add_paths(self, paths) -> list[QueueItem]:
        """Queue photos (folders searched); model files are imported instead. Returns the new items."""
        paths = [Path(p) for p in paths]
        models = [p for p in paths if p.is_file() and is_model_file(p)]
        for model in models:
            self.import_model_file(model)
        added = self.session.add_paths([p for p in paths if p not in models])
        if added:
            self.settings.last_folder = str(added[-1].path.parent)
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

    def _add_mime(self, mime, name: str) -> bool:
        """Files (queued) or an image (queued as pixels) from the clipboard or a drop: one path for both."""
        local = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime and mime.hasUrls() else []
        if local:
            self.add_paths(local)
            return True
        image = QImage(mime.imageData()) if mime is not None and mime.hasImage() else QImage()
        if image.isNull():
            return False
        self.session.add_pixels(qimage_to_array(image), name)
        return True

    def paste_from_clipboard(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if not self._add_mime(clipboard.mimeData(), self.session.pasted_name()):
            image = clipboard.image()
            if image.isNull():
                self.show_info("The clipboard holds no image or photo file to paste.")
                return
            self.session.add_pixels(qimage_to_array(image), self.session.pasted_name())

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
        if self._add_mime(event.mimeData(), "Dropped image.png"):
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
        self.session.remove(self.queue.current)

    def clear_finished(self) -> None:
        self.session.clear_finished()

    # Showing a photo ------------------------------------------------------------------------------
    def _show_current(self, keep_view: bool = False) -> None:
        item = self.queue.current
        self._shown_item = item
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
            self.viewer.set_titles("Original", "Result")
            return
        height, width = self.session.expected_result_size(item, self.run_options())
        same_photo = self.images.original is item.original_view
        self.images.set_original(item.original_view, width, height)
        newly_shown = item.result_view is not None and self.images.result is not item.result_view
        if item.result_view is not None:
            self.images.set_result(item.result_view)
        elif item.partial_view is not None:
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
            result_text = "Press Ctrl+R to enlarge" if item is not self.session.running else ""
        self.viewer.set_empty_text("", result_text)
        self._update_titles()
        if newly_shown:
            self.result_shown.emit(item.id)

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
        elif item is self.session.running:
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

    # The session's events -------------------------------------------------------------------------
    def _session_event(self, event) -> None:
        if isinstance(event, events.CurrentChanged):
            self._show_current()
        elif isinstance(event, events.ItemChanged):
            if event.item is self.queue.current:
                if event.item.partial_view is None and self.images.result is not event.item.result_view:
                    self.images.clear_partial()
                self._show_current(keep_view=not event.fit)
            if event.fit and event.item.photo is not None:
                self.photo_loaded.emit(event.item.id)
        elif isinstance(event, events.TileDone):
            self._tile_done(event)
        elif isinstance(event, events.RunStarted):
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("Starting…")
            self.progress_bar.show()
            self.cancel_button.show()
            self.statusBar().showMessage(event.text)
        elif isinstance(event, events.RunProgress):
            if event.fraction is not None:
                self.progress_bar.setValue(int(event.fraction * 1000))
                if event.item is self.queue.current:
                    self._update_titles()
            self.progress_bar.setFormat(event.text)
        elif isinstance(event, events.BatchEnded):
            self.progress_bar.hide()
            self.cancel_button.hide()
            self.run_ended.emit(event.outcome)
        elif isinstance(event, events.Notice):
            self._notice(event)
        elif isinstance(event, events.Exported):
            self.export_finished.emit(str(event.path))
            self._close_if_exported(failed=False)
        elif isinstance(event, events.ExportFailed):
            self.export_error.emit(event.message)
            self._close_if_exported(failed=True)
        elif isinstance(event, events.ItemsRemoved):
            if self.message_bar.about in {item.id for item in event.items}:
                self.message_bar.hide()
        self._update_actions()

    def _tile_done(self, event) -> None:
        item, pixels = event.item, event.pixels
        if item is self.queue.current and self.images.result is item.partial_view:
            self.images.add_tile(event.y0, event.x0, pixels)
            item.done_region = self.images.done_region
        else:
            item.partial_view.write_region(event.y0, event.x0, pixels)
            item.done_region = (item.done_region or QRegion()).united(
                QRegion(event.x0, event.y0, pixels.shape[1], pixels.shape[0]))

    def _notice(self, notice) -> None:
        if notice.kind == "error":
            self.show_error(notice.text, about=notice.about)
        elif notice.kind == "info":
            self.show_info(notice.text)
        else:
            self.statusBar().showMessage(notice.text, int(notice.seconds * 1000))

    # Running and exporting ------------------------------------------------------------------------
    def run_current(self) -> None:
        self.session.run_current(self.run_options())

    def run_all(self) -> None:
        self.session.run_all(self.run_options())

    def cancel_run(self) -> None:
        self.session.cancel()

    def export_current(self) -> None:
        self.session.export_current(self.export_panel.options(), self.ask_overwrite)
        self.settings.export_options = self.export_panel.options()

    def export_all(self) -> None:
        self.session.export_all(self.export_panel.options(), self.ask_overwrite)
        self.settings.export_options = self.export_panel.options()

    def export_items(self, items: list[QueueItem]) -> int:
        """Queue the exports; returns how many were queued."""
        self.settings.export_options = self.export_panel.options()
        return self.session.export(items, self.export_panel.options(), self.ask_overwrite)

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
        running = self.session.is_busy()
        has_model = self.run_panel.current_model() is not None
        self.run_action.setEnabled(item is not None and has_model and not running)
        self.run_all_action.setEnabled(bool(self.queue.items) and has_model and not running)
        self.cancel_action.setEnabled(running)
        self.export_action.setEnabled(item is not None and item.has_result)
        self.export_all_action.setEnabled(bool(self.queue.finished()))
        self.remove_action.setEnabled(item is not None and item is not self.session.running)
        for widget in (self.run_panel.model_combo, self.run_panel.scale_combo, self.run_panel.device_combo,
                       self.run_panel.precision_combo, self.run_panel.tile_spin):
            widget.setEnabled(not running and (widget is not self.run_panel.model_combo or has_model))

    def unexported(self) -> list[QueueItem]:
        return self.session.unexported()

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
        waiting = [] if self._closing else self.session.unexported()
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
        elif not self.session.pending_exports:
            self._close_when_exported = False
            QTimer.singleShot(0, self.close)

    def closeEvent(self, event) -> None:
        """Stop cleanly: cancel a run, let the engine reach the end of its tile, then end every thread."""
        if not self._may_close():
            event.ignore()
            return
        self.save_settings()
        self._closing = True
        self.session.shutdown()
        self.model_tasks.cancel()
        manager = getattr(self, "_model_manager", None)
        if manager is not None:
            manager.close()
        self.hide()
        self.workers.stop()
        from sr_studio.gui.workers import stop_thread

        stop_thread(self.model_thread)
        event.accept()
