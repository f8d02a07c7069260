"""The window's parts that are only built once: the docks and status bar, the actions with their
shortcuts, the menus and the toolbar. Kept apart from `main_window`, which renders the session and
forwards requests."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sr_studio.gui.compare_viewer import CompareViewer
from sr_studio.gui.message_bar import MessageBar
from sr_studio.gui.photo_queue import WIDEST_PROGRESS_TEXT
from sr_studio.gui.side_panels import ExportPanel, RunPanel


def build_layout(window) -> None:
    """The viewer in the middle, the photo queue left, settings right, progress and zoom in the
    status bar."""
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(6, 6, 6, 0)
    layout.setSpacing(6)
    window.message_bar = MessageBar()
    layout.addWidget(window.message_bar)
    window.viewer = CompareViewer(window.viewer_model, window.images)
    layout.addWidget(window.viewer, 1)
    window.setCentralWidget(central)

    # Photos (left).
    window.queue_list = QListWidget()
    window.queue_list.setObjectName("queueList")
    window.queue_list.setAlternatingRowColors(True)
    window.queue_list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
    window.queue_list.setHorizontalScrollBarPolicy(
        Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    )  # long reasons: "…",
    window.queue_list.setTextElideMode(
        Qt.TextElideMode.ElideRight
    )  # the whole of them in the tooltip
    window.queue_list.currentRowChanged.connect(window._queue_row_selected)
    window.queue_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    window.queue_list.customContextMenuRequested.connect(window._queue_menu)
    queue_panel = QWidget()
    queue_layout = QVBoxLayout(queue_panel)
    queue_layout.setContentsMargins(6, 6, 6, 6)
    queue_layout.addWidget(window.queue_list, 1)
    window.queue_buttons = QHBoxLayout()
    queue_layout.addLayout(window.queue_buttons)
    window.queue_dock = QDockWidget("Photos")
    window.queue_dock.setObjectName("photosDock")
    window.queue_dock.setWidget(queue_panel)
    window.queue_dock.setFeatures(
        QDockWidget.DockWidgetFeature.DockWidgetMovable
        | QDockWidget.DockWidgetFeature.DockWidgetClosable
    )
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, window.queue_dock)

    # Enlarge and export (right).
    window.run_panel = RunPanel()
    window.export_panel = ExportPanel()
    side = QWidget()
    side_layout = QVBoxLayout(side)
    side_layout.setContentsMargins(0, 0, 0, 0)
    side_layout.addWidget(section("Enlarge"))
    side_layout.addWidget(window.run_panel)
    window.run_buttons = QHBoxLayout()
    window.run_buttons.setContentsMargins(8, 0, 8, 8)
    side_layout.addLayout(window.run_buttons)
    side_layout.addWidget(section("Export"))
    side_layout.addWidget(window.export_panel)
    window.export_buttons = QHBoxLayout()
    window.export_buttons.setContentsMargins(8, 0, 8, 8)
    side_layout.addLayout(window.export_buttons)
    side_layout.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(side)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(
        side.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
    )
    window.settings_dock = QDockWidget("Settings")
    window.settings_dock.setObjectName("settingsDock")
    window.settings_dock.setWidget(scroll)
    window.settings_dock.setFeatures(window.queue_dock.features())
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.settings_dock)
    window.resizeDocks(
        [window.queue_dock, window.settings_dock], [220, 320], Qt.Orientation.Horizontal
    )
    window.run_panel.changed.connect(window._run_options_changed)
    window.run_panel.manage_button.clicked.connect(lambda: window.open_model_manager())
    window.export_panel.changed.connect(window._update_actions)
    window.export_panel.changed.connect(
        lambda: window.session.export_options_changed(window.export_panel.options())
    )

    # Status bar: message, progress with ETA, cancel, zoom.
    status = window.statusBar()
    window.progress_bar = QProgressBar()
    window.progress_bar.setObjectName("runProgress")
    window.progress_bar.setRange(0, 1000)
    window.progress_bar.setFixedWidth(
        max(
            260,
            window.progress_bar.fontMetrics().horizontalAdvance(WIDEST_PROGRESS_TEXT)
            + 2 * window.progress_bar.fontMetrics().averageCharWidth()
            + 8,
        )
    )
    window.progress_bar.setTextVisible(True)
    window.progress_bar.hide()
    window.cancel_button = QPushButton("Cancel")
    window.cancel_button.hide()
    window.zoom_label = QLabel()
    window.zoom_label.setMinimumWidth(60)
    window.zoom_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    status.addPermanentWidget(window.progress_bar)
    status.addPermanentWidget(window.cancel_button)
    status.addPermanentWidget(window.zoom_label)


def section(title: str) -> QLabel:
    label = QLabel(title)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.1)
    label.setFont(font)
    label.setContentsMargins(8, 10, 8, 0)
    return label


def make_action(
    window, text: str, icon_name: str | None, shortcut=None, slot=None, tip: str = ""
) -> QAction:
    action = QAction(text, window)
    action.setData(icon_name)
    if shortcut is not None:
        shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    if slot is not None:
        action.triggered.connect(lambda checked=False: slot())
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(
        f"{tip or text.replace('&', '').rstrip('…')}" + (f" ({keys})" if keys else "")
    )
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    window.addAction(action)
    return action


class ShortcutsOverFields(QObject):
    """Lets these actions' shortcuts through the text fields it watches: on Linux and macOS a line
    edit takes Ctrl+E as "end of line", so Export did nothing while the File name or Folder field
    had the keyboard focus. While an action is disabled the field keeps the key."""

    def __init__(self, actions: list[QAction], parent: QObject) -> None:
        super().__init__(parent)
        self.actions = actions

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:
            pressed = QKeySequence(event.keyCombination())
            if any(action.isEnabled() and pressed in action.shortcuts() for action in self.actions):
                event.ignore()  # not the field's: the window's shortcut runs
                return True
        return False


def build_actions(window) -> None:
    """Every command as an action with its shortcut, in the menus, the toolbar and the panels'
    buttons."""
    a = partial(make_action, window)
    Std = QKeySequence.StandardKey
    window.open_action = a("&Open…", "fa5s.folder-open", Std.Open, window.open_files, "Add photos")
    window.open_folder_action = a(
        "Open &Folder…", "fa5s.folder-plus", "Ctrl+Shift+O", window.open_folder
    )
    window.paste_action = a("&Paste Image", "fa5s.paste", Std.Paste, window.paste_from_clipboard)
    window.run_action = a(
        "&Enlarge", "fa5s.play", ["Ctrl+R", "Ctrl+Return"], window.run_current, "Enlarge this photo"
    )
    window.run_all_action = a(
        "Enlarge &All",
        "fa5s.forward",
        "Ctrl+Shift+R",
        window.run_all,
        "Enlarge every waiting photo",
    )
    window.cancel_action = a("&Cancel", "fa5s.stop", "Esc", window.cancel_run, "Stop the run")
    window.export_action = a(
        "&Export", "fa5s.file-export", "Ctrl+E", window.export_current, "Export this result"
    )
    window.export_all_action = a(
        "Export A&ll",
        "fa5s.file-archive",
        "Ctrl+Shift+E",
        window.export_all,
        "Export every finished result",
    )
    window.export_shortcuts = ShortcutsOverFields(
        [window.export_action, window.export_all_action], window
    )
    panel = window.export_panel
    for field in panel.findChildren(QLineEdit) + panel.findChildren(QAbstractSpinBox):
        field.installEventFilter(window.export_shortcuts)
    window.remove_action = a("&Remove from Queue", "fa5s.times", Std.Delete, window.remove_current)
    window.clear_action = a("Clear &Finished", "fa5s.broom", None, window.clear_finished)
    window.quit_action = a("&Quit", None, Std.Quit, window.close)
    window.zoom_in_action = a(
        "Zoom &In", "fa5s.search-plus", [Std.ZoomIn, "Ctrl+="], window.viewer_model.zoom_in
    )
    window.zoom_out_action = a(
        "Zoom &Out", "fa5s.search-minus", Std.ZoomOut, window.viewer_model.zoom_out
    )
    window.zoom_fit_action = a("&Fit to Window", "fa5s.expand", "Ctrl+0", window.viewer.fit)
    window.zoom_actual_action = a(
        "&Actual Pixels (100 %)", "fa5s.search", "Ctrl+1", lambda: window.viewer_model.set_zoom(1.0)
    )
    window.compare_action = a(
        "&Before/After Slider",
        "fa5s.columns",
        "Ctrl+B",
        window.viewer_model.toggle_mode,
        "Switch between side by side and the before/after slider",
    )
    window.compare_action.setCheckable(True)
    window.preview_action = a(
        "&Preview Region in View",
        "fa5s.eye",
        "P",
        window.preview_in_view,
        "Enlarge just what the result pane shows, with the selected model",
    )
    window.compare_models_action = a(
        "Compare &Models…",
        "fa5s.th-large",
        "Ctrl+K",
        window.open_comparison,
        "Enlarge the region in view with two to four models",
    )
    window.models_action = a("&Model Manager…", "fa5s.cubes", "Ctrl+M", window.open_model_manager)
    window.import_model_action = a(
        "&Import Model…", "fa5s.file-import", None, window.import_model_dialog
    )
    window.shortcuts_action = a("&Keyboard Shortcuts", "fa5s.keyboard", "F1", window.show_shortcuts)
    window.about_action = a("&About SR Studio", "fa5s.info-circle", None, window.show_about)
    window.cancel_button.clicked.connect(window.cancel_run)

    menu = window.menuBar()
    file_menu = menu.addMenu("&File")
    file_menu.addActions([window.open_action, window.open_folder_action])
    window.recent_menu = file_menu.addMenu("Open &Recent")
    window.recent_menu.aboutToShow.connect(window._fill_recent_menu)
    file_menu.addAction(window.paste_action)
    file_menu.addSeparator()
    file_menu.addActions([window.export_action, window.export_all_action])
    file_menu.addSeparator()
    file_menu.addAction(window.quit_action)
    edit_menu = menu.addMenu("&Edit")
    edit_menu.addActions([window.paste_action, window.remove_action, window.clear_action])
    view_menu = menu.addMenu("&View")
    view_menu.addActions(
        [
            window.zoom_in_action,
            window.zoom_out_action,
            window.zoom_fit_action,
            window.zoom_actual_action,
        ]
    )
    view_menu.addSeparator()
    view_menu.addAction(window.compare_action)
    view_menu.addSeparator()
    view_menu.addAction(window.queue_dock.toggleViewAction())
    view_menu.addAction(window.settings_dock.toggleViewAction())
    appearance_menu = view_menu.addMenu("A&ppearance")
    window.appearance_actions = {}
    for key, label in (("system", "Follow the &System"), ("light", "&Light"), ("dark", "&Dark")):
        action = appearance_menu.addAction(label)
        action.setCheckable(True)
        action.triggered.connect(lambda checked=False, key=key: window.set_appearance(key))
        window.appearance_actions[key] = action
    run_menu = menu.addMenu("&Run")
    run_menu.addActions([window.preview_action, window.compare_models_action])
    run_menu.addSeparator()
    run_menu.addActions([window.run_action, window.run_all_action, window.cancel_action])
    models_menu = menu.addMenu("&Models")
    models_menu.addActions([window.models_action, window.import_model_action])
    help_menu = menu.addMenu("&Help")
    help_menu.addActions([window.shortcuts_action, window.about_action])

    toolbar = QToolBar("Main toolbar")
    toolbar.setObjectName("mainToolbar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    toolbar.setMovable(False)
    for action in (
        window.open_action,
        None,
        window.preview_action,
        window.run_action,
        window.run_all_action,
        window.cancel_action,
        None,
        window.export_action,
        window.export_all_action,
        None,
    ):
        toolbar.addSeparator() if action is None else toolbar.addAction(action)
    # Icons only (their tooltips name them): the labelled toolbar still fits a 1100 px window.
    for action in (
        window.zoom_out_action,
        window.zoom_in_action,
        window.zoom_fit_action,
        window.zoom_actual_action,
    ):
        toolbar.addAction(action)
        toolbar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    toolbar.widgetForAction(window.preview_action).setToolButtonStyle(
        Qt.ToolButtonStyle.ToolButtonIconOnly
    )
    toolbar.addAction(window.compare_action)
    toolbar.addAction(window.compare_models_action)
    toolbar.widgetForAction(window.compare_models_action).setToolButtonStyle(
        Qt.ToolButtonStyle.ToolButtonIconOnly
    )
    spacer = QWidget()
    spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    toolbar.addWidget(spacer)
    toolbar.addAction(window.models_action)
    window.addToolBar(toolbar)
    window.toolbar = toolbar

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

    window.run_buttons.addWidget(button(window.run_action, True))
    window.run_buttons.addWidget(button(window.run_all_action))
    window.export_buttons.addWidget(button(window.export_action, True))
    window.export_buttons.addWidget(button(window.export_all_action))
    for action in (window.open_action, window.remove_action):
        widget = QToolButton()
        widget.setDefaultAction(action)
        widget.setToolButtonStyle(
            Qt.ToolButtonStyle.ToolButtonTextBesideIcon
            if action is window.open_action
            else Qt.ToolButtonStyle.ToolButtonIconOnly
        )  # the list stays narrow
        window.queue_buttons.addWidget(widget)
    window.queue_buttons.addStretch(1)
    window._refresh_icons()
    # What the labelled toolbar needs, measured with its icons: before them, an icon-only button
    # without an icon shows its whole text and the toolbar seemed 240 px wider than it is.
    window._toolbar_wide = toolbar.sizeHint().width()
