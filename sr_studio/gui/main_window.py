"""The main window: a view of the session (sr_studio.gui.session) with the photo queue, the viewer,
the run and export panels, menus and shortcuts.

It forwards what the user asks for to the session and renders the session's events; the workflow
itself (queue, load, enlarge, park, export, batch, cancel) lives in the session, the work in the
worker threads.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from PySide6.QtCore import QEvent, QStandardPaths, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QImage, QKeySequence, QRegion
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
)

from sr_studio.automatic_choice import AUTOMATIC
from sr_studio.gui import appearance, dialogs
from sr_studio.gui import session as events
from sr_studio.gui.app_settings import AppSettings
from sr_studio.gui.application import Application
from sr_studio.gui.export_plan import ExportLog
from sr_studio.gui.message_bar import qimage_to_array
from sr_studio.gui.photo_canvas import CompareImages
from sr_studio.gui.photo_queue import FAILED, QueueItem, is_model_file
from sr_studio.gui.queue_list import render_queue
from sr_studio.gui.session import RunOptions, Session
from sr_studio.gui.side_panels import ModelChoice, available_models
from sr_studio.gui.viewer_model import BEFORE_AFTER, SIDE_BY_SIDE, ViewerModel
from sr_studio.gui.window_parts import build_actions, build_layout
from sr_studio.gui.worker_bridge import WorkerBridge
from sr_studio.model_blending import Cleanup
from sr_studio.photo_formats import open_dialog_filter

OPEN_FILTER = open_dialog_filter()
MODEL_FILTER = "Model weights (*.pth *.pt *.safetensors)"


PREVIEW_SIDE = 512  # original pixels: SPAN previews this in under a second on a 2-core CPU


def pictures_folder() -> Path:
    return Path(
        QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
        or Path.home()
    )


def exports_log() -> ExportLog:
    """The app's exports, remembered between sessions in the user data folder."""
    from sr_studio.weights.store import data_dir

    return ExportLog(data_dir() / "exports.json")


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
        self._close_when_exported = (
            False  # "Export All" chosen on quitting: close once every file is written
        )
        # item id -> how long enlarging it would take ("": not measured yet)
        self._estimates: dict[int, str] = {}
        self._comparison = None  # the Compare Models dialog, once opened

        self.workers = WorkerBridge()
        self.session = Session(self.workers, pictures_folder(), exports_log())
        self.workers.attach(self.session)
        self.queue = self.session.queue
        self._build_models()
        build_layout(self)
        build_actions(self)
        self.viewer.original_view.region_drawn.connect(self.preview_drawn)
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
            QTimer.singleShot(
                0, self._open_waiting_files
            )  # the one that launched the app came first
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

    # Construction ---------------------------------------------------------------------------------
    def _build_models(self) -> None:
        from sr_studio.gui.model_manager import ModelTasks
        from sr_studio.gui.worker_threads import start_thread

        self.model_tasks = ModelTasks()
        self.model_thread = start_thread(self.model_tasks, "sr-studio-models")
        self.model_tasks.imported.connect(self._model_imported)
        self.model_tasks.failed.connect(self._model_task_failed)
        self.model_tasks.library_changed.connect(self.refresh_models)

    def _devices_found(self, found) -> None:
        self.run_panel.set_available_devices(found)

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
        """Narrower than the labelled toolbar: icons only (tooltips name them), so that nothing,
        Model Manager included, drops into the overflow menu."""
        style = (
            Qt.ToolButtonStyle.ToolButtonTextBesideIcon
            if self.width() >= self._toolbar_wide
            else Qt.ToolButtonStyle.ToolButtonIconOnly
        )
        if self.toolbar.toolButtonStyle() != style:
            self.toolbar.setToolButtonStyle(style)
            for action in (
                self.zoom_out_action,
                self.zoom_in_action,
                self.zoom_fit_action,
                self.zoom_actual_action,
                self.preview_action,
                self.compare_models_action,
            ):
                self.toolbar.widgetForAction(action).setToolButtonStyle(
                    Qt.ToolButtonStyle.ToolButtonIconOnly
                )

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
        self.run_panel.set_cleanup_percent(settings.cleanup_percent)
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
        settings.cleanup_percent = self.run_panel.cleanup_percent()
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
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a model", self.settings.last_folder or str(Path.home()), MODEL_FILTER
        )
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
            self._estimates.clear()  # they were for the options before
            self.session.request_estimate(self.run_options())
        self._update_actions()

    def run_options(self) -> RunOptions:
        model = self.run_panel.current_model()
        if model is not None and model.id == AUTOMATIC:
            return self._automatic_options(model)
        cleanup = self.run_panel.cleanup()
        model_id, model_name = (model.id, model.name) if model else ("", "")
        if cleanup is not None:  # another network: previews, estimates and export names say so
            model_id, model_name = cleanup.model_id(model_id), cleanup.model_name(model_name)
        elif model is not None and model.cleanup_base is not None:  # the slider at 100%
            model_name = Cleanup(model.cleanup_base, 1.0).model_name(model_name)
        return RunOptions(
            model_id=model_id,
            model_name=model_name,
            model_path=model.path if model else None,
            model_scale=model.scale if model else 2,
            scale=self.run_panel.scale(),
            device=self.run_panel.device(),
            precision=self.run_panel.precision(),
            tile=self.run_panel.tile(),
            cleanup=cleanup,
        )

    def _automatic_options(self, model: ModelChoice) -> RunOptions:
        """Automatic at the chosen scale: the photo model and clean base of that scale (x2 for
        x2), resolved for each photo by the session."""
        from sr_studio.weights.library import automatic_models

        scale = self.run_panel.scale()
        pair = automatic_models(max(1, round(scale)) if scale else model.scale)
        return RunOptions(
            model_id=AUTOMATIC,
            model_name="Automatic",
            model_path=pair.clean_path if pair else model.path,
            model_scale=model.scale,
            scale=scale,
            device=self.run_panel.device(),
            precision=self.run_panel.precision(),
            tile=self.run_panel.tile(),
            automatic=pair,
        )

    # Getting photos in ----------------------------------------------------------------------------
    def add_paths(self, paths) -> list[QueueItem]:
        """Queue photos (folders searched); model files are imported instead. Returns the new
        items."""
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
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Add photos", self.settings.last_folder or str(Path.home()), OPEN_FILTER
        )
        if paths:
            self.add_paths(paths)

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Add a folder of photos", self.settings.last_folder or str(Path.home())
        )
        if folder:
            self.add_paths([folder])

    def _add_mime(self, mime, name: str) -> bool:
        """Files (queued) or an image (queued as pixels) from the clipboard or a drop: one path for
        both."""
        local = (
            [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
            if mime and mime.hasUrls()
            else []
        )
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
        render_queue(self.queue_list, self.queue, self.palette(), rebuild)
        self._update_actions()

    def _queue_row_selected(self, row: int) -> None:
        items = self.queue.items
        self.queue.select(items[row] if 0 <= row < len(items) else None)

    def _queue_menu(self, position) -> None:
        menu = QMenu(self)
        menu.addActions(
            [self.run_action, self.export_action, self.remove_action, self.clear_action]
        )
        item = self.queue.current
        if item is not None and not item.clipboard_image:
            menu.addSeparator()
            menu.addAction(
                "Show in Folder",
                lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(item.path.parent))),
            )
        menu.exec(self.queue_list.mapToGlobal(position))

    def remove_current(self) -> None:
        self.session.remove(self.queue.current)

    def clear_finished(self) -> None:
        self.session.clear_finished()

    # Showing a photo ------------------------------------------------------------------------------
    def _show_current(self, keep_view: bool = False) -> None:
        item = self.queue.current
        if item is None:
            self.images.set_original(None)
            self.viewer_model.set_image_size(0, 0)
            self.viewer.set_empty_text(
                "Drop photos or folders here\nor press Ctrl+O to add them",
                "The enlarged photo appears here",
            )
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

    def _settings_changed_since(self, item: QueueItem) -> bool:
        """Whether the model, cleanup or scale chosen now differ from those of the item's result
        (Automatic compared by what it would choose for this photo)."""
        options = self.session.options_for(self.run_options(), item)
        return options.model_id != item.result_model or options.effective_scale != item.result_scale

    def _update_titles(self) -> None:
        item = self.queue.current
        if item is None or item.original_view is None:
            return
        original = item.original_view
        bits = (
            f", {item.photo.bit_depth}-bit"
            if item.photo is not None and getattr(item.photo, "bit_depth", 8) != 8
            else ""
        )
        original_title = f"Original · {original.width} × {original.height}{bits}"
        if item.has_result:
            result_title = (
                f"Result · {item.result_size[1]} × {item.result_size[0]}"
                f" · x{item.result_scale:g} · {item.result_model_name or item.result_model}"
            )
            if item is not self.session.running and self._settings_changed_since(item):
                result_title += " · settings changed since: Ctrl+R enlarges again"
        elif item is self.session.running:
            result_title = f"Result · enlarging {item.progress:.0%}"
        elif item.preview is not None:
            mark = item.preview
            done = f" in {mark.seconds:.1f} s" if mark.seconds is not None else "…"
            whole = f" · the whole photo: {mark.estimate}" if mark.estimate else ""
            result_title = f"Result · PREVIEW by {mark.model_name}{done}{whole}"
        else:
            estimate = self._estimates.get(item.id)
            result_title = "Result · not enlarged yet"
            if estimate:
                result_title += f" · it would take {estimate}"
            elif estimate == "":  # nothing measured for this model on this machine yet
                result_title += " · a preview (P) tells how long it would take"
        self.viewer.set_titles(original_title, result_title)
        marked = (
            item.preview is not None and not item.has_result and item is not self.session.running
        )
        self.viewer.result_view.marker = "PREVIEW" if marked else ""

    def _viewer_changed(self) -> None:
        """Zooming follows the picture on screen (the wheel zooms any photo shown, so do the keys
        and buttons)."""
        has_image = self.viewer_model.has_image()
        self.zoom_label.setText(self.viewer_model.zoom_label() if has_image else "")
        self.compare_action.setChecked(self.viewer_model.mode == BEFORE_AFTER)
        if hasattr(self, "zoom_in_action"):
            for action in (
                self.zoom_in_action,
                self.zoom_out_action,
                self.zoom_fit_action,
                self.zoom_actual_action,
            ):
                action.setEnabled(has_image)
        self._offer_preview()

    # The session's events -------------------------------------------------------------------------
    def _session_event(self, event) -> None:
        if isinstance(event, events.CurrentChanged):
            self._show_current()
        elif isinstance(event, events.ItemChanged):
            if event.item is self.queue.current:
                if (
                    event.item.partial_view is None
                    and self.images.result is not event.item.result_view
                ):
                    self.images.clear_partial()
                self._show_current(keep_view=not event.fit)
            if event.fit and event.item.photo is not None:
                self.photo_loaded.emit(event.item.id)
                if event.item is self.queue.current:
                    self.session.request_estimate(self.run_options())
        elif isinstance(event, events.TileDone):
            self._tile_done(event)
        elif isinstance(event, events.RunStarted):
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("Starting…")
            self.progress_bar.show()
            self.cancel_button.show()
            self.statusBar().showMessage(event.text)
            self._update_actions()  # the run's settings are fixed now: their controls say so
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
        elif isinstance(event, events.PreviewEnded):
            if event.item is self.queue.current:
                self._update_titles()
        elif isinstance(event, events.EstimateReady):
            self._estimates[event.item.id] = event.text
            if event.item is self.queue.current:
                self._update_titles()
        elif isinstance(event, events.ItemsRemoved):
            if self.message_bar.about in {item.id for item in event.items}:
                self.message_bar.hide()
        elif isinstance(event, events.ErrorWithdrawn):
            self._withdraw(event.notice)
        self._update_actions()

    def _tile_done(self, event) -> None:
        item, pixels = event.item, event.pixels
        if item is self.queue.current and self.images.result is item.partial_view:
            self.images.add_tile(event.y0, event.x0, pixels)
            item.done_region = self.images.done_region
        else:
            item.partial_view.write_region(event.y0, event.x0, pixels)
            item.done_region = (item.done_region or QRegion()).united(
                QRegion(event.x0, event.y0, pixels.shape[1], pixels.shape[0])
            )

    def _notice(self, notice) -> None:
        if notice.kind == "error":
            self.show_error(notice.text, about=notice.about)
        elif notice.kind == "info":
            self.show_info(notice.text)
        else:
            self.statusBar().showMessage(notice.text, int(notice.seconds * 1000))
        if notice.kind in ("error", "info"):
            self.message_bar.notice = notice

    def _withdraw(self, notice) -> None:
        """An error whose cause is gone leaves the message bar, unless a newer line replaced it."""
        if self.message_bar.notice is notice:
            self.message_bar.hide()
            self.message_bar.notice = None
        if self.statusBar().currentMessage() == notice.text.splitlines()[0]:
            self.statusBar().clearMessage()

    # Previews and comparisons ---------------------------------------------------------------------
    def region_in_view(self, limit: int, square: bool = False) -> tuple[int, int, int, int] | None:
        """(x, y, width, height) of the original shown in the result pane, at most `limit` px a side
        (around the middle of the view); `square`: a square as large as `limit` allows in the
        photo, centred on the view, whatever the pane's shape (comparisons); None without a
        photo."""
        item = self.queue.current
        if item is None or item.photo is None or not self.viewer_model.has_image():
            return None
        pane = self.viewer.active_pane()
        rect = self.viewer_model.visible_image_rect(*pane.viewport_size())
        photo_h, photo_w = item.photo.pixels.shape[:2]
        fx = photo_w / max(1, self.images.result_width)
        fy = photo_h / max(1, self.images.result_height)
        x0, y0 = max(0.0, rect.x * fx), max(0.0, rect.y * fy)
        x1, y1 = min(float(photo_w), rect.right * fx), min(float(photo_h), rect.bottom * fy)
        width, height = min(limit, max(1, round(x1 - x0))), min(limit, max(1, round(y1 - y0)))
        if square:
            width = height = min(limit, photo_w, photo_h)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        x = min(max(0, round(cx - width / 2)), photo_w - width)
        y = min(max(0, round(cy - height / 2)), photo_h - height)
        return x, y, width, height

    def preview_in_view(self) -> None:
        box = self.region_in_view(PREVIEW_SIDE)
        self.session.preview_region(self.run_options(), box or (0, 0, 0, 0))

    def preview_drawn(self, x: float, y: float, width: float, height: float) -> None:
        """A rectangle Shift+dragged on the original (viewer pixels): preview just that."""
        item = self.queue.current
        if item is None or item.photo is None:
            return
        photo_h, photo_w = item.photo.pixels.shape[:2]
        fx = photo_w / max(1, self.images.result_width)
        fy = photo_h / max(1, self.images.result_height)
        x0, y0 = max(0, math.floor(x * fx)), max(0, math.floor(y * fy))
        x1, y1 = (
            min(photo_w, math.ceil((x + width) * fx)),
            min(photo_h, math.ceil((y + height) * fy)),
        )
        self.session.preview_region(self.run_options(), (x0, y0, x1 - x0, y1 - y0))

    def _offer_preview(self) -> None:
        """Panned or zoomed away from the last preview: say how to preview what is in view now."""
        item = self.queue.current if hasattr(self, "queue") else None
        if item is None or item.preview is None or item.preview.seconds is None or item.has_result:
            return
        box = self.region_in_view(PREVIEW_SIDE)
        x, y, width, height = item.preview.box
        if box is not None and not (
            box[0] >= x
            and box[1] >= y
            and box[0] + box[2] <= x + width
            and box[1] + box[3] <= y + height
        ):
            self.statusBar().showMessage("Press P to preview the region in view", 6000)

    def open_comparison(self) -> None:
        from sr_studio.gui.comparison_grid import ComparisonDialog

        if self._comparison is None:
            self._comparison = ComparisonDialog(self)
            self._comparison.model_chosen.connect(self.choose_model)
        elif self.session.comparing is None:  # not while its crops are coming in
            self._comparison.offer_models()
        self._comparison.show()
        self._comparison.raise_()
        self._comparison.activateWindow()

    def choose_model(self, model_id: str) -> None:
        """The model chosen in a comparison becomes the model for this photo and the batch; a
        photo model chosen at a cleanup strength (`id@60`) sets the Cleanup slider too."""
        from sr_studio.weights.library import split_cleanup

        plain_id, percent = split_cleanup(model_id)
        index = self.run_panel.model_combo.findData(plain_id)
        if index >= 0:
            self.run_panel.model_combo.setCurrentIndex(index)
            if self.run_panel.current_model().cleanup_base is not None:
                self.run_panel.set_cleanup_percent(round(percent if percent is not None else 100))
            name = self.run_options().model_name
            self.statusBar().showMessage(f"{name} is now the model", 6000)

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
        return dialogs.overwrite_box(self, existing)

    def ask_overwrite(self, existing: list[Path]) -> str:
        """'replace', 'keep' (add a number), 'skip' or 'cancel'; a dialog (tests replace this
        method)."""
        box = self.overwrite_box(existing)
        box.exec()
        answers = {box.replace_button: "replace", box.keep_button: "keep", box.skip_button: "skip"}
        return answers.get(box.clickedButton(), "cancel")

    # Messages -------------------------------------------------------------------------------------
    def show_error(self, text: str, about: QueueItem | None = None) -> None:
        """`about`: the photo the error concerns; removing it from the queue takes the error
        away."""
        self.message_bar.show_message(text, "error")
        self.message_bar.about = about.id if about is not None else None
        self.message_bar.notice = None  # the session's Notice, when it said this (see _notice)
        self.statusBar().showMessage(text.splitlines()[0], 10000)

    def show_info(self, text: str) -> None:
        self.message_bar.show_message(text, "info")
        self.message_bar.about = None
        self.message_bar.notice = None

    def show_shortcuts(self) -> None:
        dialogs.show_shortcuts(self, self.shortcut_rows())

    def show_about(self) -> None:
        dialogs.show_about(self)

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(what, keys) for every action with a shortcut, in menu order."""
        rows = []
        for action in (
            self.open_action,
            self.open_folder_action,
            self.paste_action,
            self.run_action,
            self.run_all_action,
            self.cancel_action,
            self.export_action,
            self.export_all_action,
            self.zoom_in_action,
            self.zoom_out_action,
            self.zoom_fit_action,
            self.zoom_actual_action,
            self.compare_action,
            self.preview_action,
            self.compare_models_action,
            self.models_action,
            self.remove_action,
            self.shortcuts_action,
        ):
            keys = " or ".join(
                s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts()
            )
            if keys:
                rows.append((action.text().replace("&", "").rstrip("…"), keys))
        return rows

    # State ----------------------------------------------------------------------------------------
    def _update_actions(self) -> None:
        if not hasattr(self, "run_action"):
            return
        item = self.queue.current
        running = self.session.is_busy()
        has_model = self.run_panel.current_model() is not None
        self.run_action.setEnabled(item is not None and has_model and not running)
        self.run_all_action.setEnabled(bool(self.queue.items) and has_model and not running)
        previewing = self.session.previewing is not None or self.session.comparing is not None
        self.cancel_action.setEnabled(running or previewing)
        loaded = item is not None and item.photo is not None
        self.preview_action.setEnabled(loaded and has_model and not running and not item.has_result)
        self.compare_models_action.setEnabled(loaded and not running)
        self.export_action.setEnabled(item is not None and item.has_result)
        self.export_all_action.setEnabled(bool(self.queue.finished()))
        self.remove_action.setEnabled(item is not None and item is not self.session.running)
        for widget in (
            self.run_panel.model_combo,
            self.run_panel.scale_combo,
            self.run_panel.device_combo,
            self.run_panel.precision_combo,
            self.run_panel.tile_spin,
            self.run_panel.cleanup_slider,
        ):
            widget.setEnabled(
                not running and (widget is not self.run_panel.model_combo or has_model)
            )

    def unexported(self) -> list[QueueItem]:
        return self.session.unexported()

    def ask_unsaved(self, items: list[QueueItem]) -> str:
        """'export', 'discard' or 'cancel'; a dialog (tests replace this method)."""
        return dialogs.ask_unsaved(self, items)

    def _may_close(self) -> bool:
        """Results the user waited for are never dropped without a word: ask, and export first if
        wanted."""
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
        """Stop cleanly: cancel a run, let the engine reach the end of its tile, then end every
        thread."""
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
        from sr_studio.gui.worker_threads import stop_thread

        stop_thread(self.model_thread)
        event.accept()
