"""The model manager: the catalog with size, license and purpose; download (with progress and
cancel), import from disk, remove, and where models are stored. Network and file work runs on a
worker thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from sr_studio.durations import format_duration
from sr_studio.errors import Cancelled
from sr_studio.gui import appearance
from sr_studio.gui.error_wording import describe_error

STATUS_LABELS = {
    "bundled": "Bundled",
    "installed": "Installed",
    "imported": "Imported",
    "available": "Available",
}
COLUMNS = ("Model", "Architecture", "Scale", "Purpose", "Size", "License", "Status")


class ModelTasks(QObject):
    """Downloads and imports, one at a time, on the model thread; answers with signals."""

    # model id, phase, bytes done, bytes total (or None), bytes/s, the server's host name
    progress = Signal(str, str, object, object, float, str)
    downloaded = Signal(str, str)  # model id, name
    imported = Signal(str, str)  # model id, name
    failed = Signal(str, str)  # "download" / "import", message
    cancelled = Signal(str)  # model id
    library_changed = Signal()
    _download = Signal(str)
    _import = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()
        self.busy = False
        self._download.connect(self._run_download)
        self._import.connect(self._run_import)

    # Called from the GUI thread.
    def request_download(self, model_id: str) -> None:
        self._cancel.clear()
        self.busy = True
        self._download.emit(model_id)

    def request_import(self, path: str) -> None:
        self.busy = True
        self._import.emit(path)

    def cancel(self) -> None:
        self._cancel.set()

    # On the model thread.
    @Slot(str)
    def _run_download(self, model_id: str) -> None:
        from sr_studio.weights import download_model

        def report(progress) -> None:
            from urllib.parse import urlsplit

            self.progress.emit(
                model_id,
                progress.phase,
                progress.bytes_done,
                progress.bytes_total,
                float(progress.bytes_per_second),
                urlsplit(progress.url).hostname or "",
            )

        try:
            model = download_model(model_id, progress=report, cancel=self._cancel)
            self.busy = False
            self.downloaded.emit(model.id, model.name)
            self.library_changed.emit()
        except Cancelled:
            self.busy = False
            self.cancelled.emit(model_id)
        except BaseException as error:  # noqa: BLE001
            self.busy = False
            self.failed.emit("download", describe_error(error))

    @Slot(str)
    def _run_import(self, path: str) -> None:
        from sr_studio.weights import import_model

        try:
            model = import_model(path)
            self.busy = False
            self.imported.emit(model.id, model.name)
            self.library_changed.emit()
        except BaseException as error:  # noqa: BLE001
            self.busy = False
            self.failed.emit("import", describe_error(error))


def _size_text(size) -> str:
    from sr_studio.weights import human_size

    return human_size(size) if size else "unknown"


def catalog_facts(model_id: str) -> list[str]:
    """What a catalog model is, before its download: size, license and the record it is verified
    against, its published accuracy, how long it takes (model_facts: as `models list --all`)."""
    from sr_studio.model_facts import facts
    from sr_studio.weights.catalog import CatalogError, find_entry

    try:
        entry = find_entry(model_id)
    except CatalogError:
        return []
    return facts(entry) if entry is not None else []


def failure_text(what: str, message: str) -> str:
    """Says that it failed once: a download's own error reads 'hat-s-x4: download failed: …'."""
    model_id, said, reason = message.partition(": download failed: ")
    if what == "download" and said:
        return f"Download of {model_id} failed: {reason}"
    return f"{'Download' if what == 'download' else 'Import'} failed: {message}"


class ModelManagerDialog(QDialog):
    def __init__(self, tasks: ModelTasks, parent=None):
        super().__init__(parent)
        self.tasks = tasks
        self.setWindowTitle("Models")
        self.resize(940, 520)
        self.listings = []
        self.downloading: str | None = None
        layout = QVBoxLayout(self)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("modelTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        layout.addWidget(self.table, 1)

        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setMinimumHeight(40)
        layout.addWidget(self.details)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        layout.addWidget(self.progress)

        buttons = QHBoxLayout()
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel Download")
        self.import_button = QPushButton("Import from Disk…")
        self.remove_button = QPushButton("Remove")
        for button in (
            self.download_button,
            self.cancel_button,
            self.import_button,
            self.remove_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        where = QHBoxLayout()
        self.location_label = QLabel()
        self.location_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_folder_button = QPushButton("Open Folder")
        where.addWidget(self.location_label, 1)
        where.addWidget(self.open_folder_button)
        layout.addLayout(where)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)

        self.download_button.clicked.connect(self.download_selected)
        # A lambda, not the bound slot: the tasks object lives on the busy model thread, and a
        # queued call would wait until the download it is meant to stop had finished.
        self.cancel_button.clicked.connect(lambda: self.tasks.cancel())
        self.import_button.clicked.connect(self._choose_import)
        self.remove_button.clicked.connect(self.remove_selected)
        self.open_folder_button.clicked.connect(self._open_folder)
        tasks.progress.connect(self._progress)
        tasks.downloaded.connect(self._downloaded)
        tasks.cancelled.connect(self._cancelled)
        tasks.failed.connect(self._failed)
        tasks.library_changed.connect(self.refresh)
        self._set_icons()
        self.refresh()

    def _set_icons(self) -> None:
        for button, name in (
            (self.download_button, "fa5s.download"),
            (self.cancel_button, "fa5s.stop"),
            (self.import_button, "fa5s.file-import"),
            (self.remove_button, "fa5s.trash-alt"),
            (self.open_folder_button, "fa5s.folder-open"),
        ):
            button.setIcon(appearance.icon(name, self.palette()))

    def refresh(self) -> None:
        from sr_studio.weights import PURPOSES, list_models, models_dir, purpose_name

        selected = self.selected()
        try:
            self.listings = list_models()
            problem = ""
        except Exception as error:  # noqa: BLE001
            self.listings = []
            problem = describe_error(error)
        self.table.setRowCount(len(self.listings))
        for row, listing in enumerate(self.listings):
            purpose = purpose_name(listing.purpose)
            values = (
                listing.name,
                listing.variant or listing.arch or "?",
                f"x{listing.scale}",
                purpose or "—",
                _size_text(listing.size),
                listing.license or "unknown",
                STATUS_LABELS.get(listing.status, listing.status)
                + (" · unverified" if listing.verified is False else ""),
            )
            for column, value in enumerate(values):
                cell = QTableWidgetItem(value)
                if column == 0:
                    cell.setData(Qt.ItemDataRole.UserRole, listing.id)
                    cell.setToolTip(listing.description)
                if column == 3 and listing.purpose in PURPOSES:
                    cell.setToolTip(PURPOSES[listing.purpose])
                self.table.setItem(row, column, cell)
        if selected is not None:
            self.select(selected.id)
        elif self.listings:
            self.table.selectRow(0)
        self.location_label.setText(f"Models are stored in {models_dir()}")
        if problem:
            self.details.setText(f"The model catalog could not be read: {problem}")
        self._selection_changed()

    def selected(self):
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.listings):
            return None
        return self.listings[rows[0].row()]

    def select(self, model_id: str) -> None:
        for row, listing in enumerate(self.listings):
            if listing.id == model_id:
                self.table.selectRow(row)
                return

    def _selection_changed(self) -> None:
        listing = self.selected()
        busy = self.downloading is not None
        if listing is not None and not busy:
            from sr_studio.weights import PURPOSES

            text = listing.description or listing.name
            if listing.purpose in PURPOSES:
                text += f"\nFor: {PURPOSES[listing.purpose]}."
            for line in catalog_facts(listing.id):
                text += f"\n{line}"
            if listing.path is not None:
                text += f"\nFile: {listing.path}"
            self.details.setText(text)
        self.download_button.setEnabled(
            listing is not None and listing.status == "available" and not busy
        )
        self.remove_button.setEnabled(
            listing is not None and listing.status in ("installed", "imported") and not busy
        )
        self.cancel_button.setEnabled(busy)
        self.import_button.setEnabled(not busy)

    def download_selected(self) -> None:
        listing = self.selected()
        if listing is None or listing.status != "available" or self.downloading:
            return
        self.downloading = listing.id
        self.progress.setValue(0)
        self.progress.setFormat(f"Connecting for {listing.name}…")
        self.progress.show()
        self.tasks.request_download(listing.id)
        self._selection_changed()

    def _progress(
        self, model_id: str, phase: str, done, total, speed: float, host: str = ""
    ) -> None:
        if model_id != self.downloading:
            return
        if phase in ("waiting", "verifying"):
            self.progress.setRange(0, 0)
            self.progress.setFormat(
                "Waiting for another SR Studio download of this model to finish…"
                if phase == "waiting"
                else "Verifying…"
            )
            return
        self.progress.setRange(0, 1000)
        if (
            phase == "connecting"
        ):  # nothing has arrived yet: no amounts to show, only where it is waiting
            self.progress.setValue(int(1000 * done / total) if total else 0)
            self.progress.setFormat(f"Connecting to {host}…" if host else "Connecting…")
            return
        from sr_studio.weights import human_size

        # Bytes are counted from the first one (0 B is a size, not "unknown"); the speed and time
        # left appear once there is a speed to tell.
        amount = f"{human_size(done)} of {human_size(total)}" if total else human_size(done)
        rate = f" · {human_size(int(speed))}/s" if speed > 0 else ""
        left = f" · {format_duration((total - done) / speed)} left" if total and speed > 0 else ""
        if total:
            self.progress.setValue(int(1000 * done / total))
        self.progress.setFormat(amount + rate + left)

    def _download_over(self) -> None:
        self.downloading = None
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self._selection_changed()

    def _downloaded(self, model_id: str, name: str) -> None:
        self._download_over()
        self.refresh()
        self.select(model_id)
        self.details.setText(f"“{name}” is installed and can be chosen in the model list.")

    def _cancelled(self, model_id: str) -> None:
        self._download_over()
        self.details.setText("Download cancelled; nothing was installed.")

    def _failed(self, what: str, message: str) -> None:
        if what == "download":
            self._download_over()
        self.details.setText(failure_text(what, message))

    def _choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a model", str(Path.home()), "Model weights (*.pth *.pt *.safetensors)"
        )
        if path:
            self.details.setText(f"Importing {Path(path).name}…")
            self.tasks.request_import(path)

    def confirm_remove(self, name: str) -> bool:
        """Asks first (tests replace this method)."""
        answer = QMessageBox.question(
            self,
            "Remove model",
            f"Remove “{name}” from this computer?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def remove_selected(self) -> None:
        listing = self.selected()
        if listing is None or listing.status not in ("installed", "imported"):
            return
        if not self.confirm_remove(listing.name):
            return
        from sr_studio.weights import ModelStore

        try:
            ModelStore().remove(listing.id)
        except Exception as error:  # noqa: BLE001
            self.details.setText(f"Could not remove {listing.name}: {describe_error(error)}")
            return
        self.tasks.library_changed.emit()
        self.details.setText(f"“{listing.name}” was removed.")

    def _open_folder(self) -> None:
        from sr_studio.weights import models_dir

        folder = models_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def closeEvent(self, event) -> None:
        super().closeEvent(event)
