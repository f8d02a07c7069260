"""The Photos list: it observes the queue (sr_studio.gui.photo_queue) and draws one row per
photo."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from sr_studio.gui import appearance
from sr_studio.gui.photo_queue import CANCELLED, DONE, EXPORTED, FAILED, LOADING, PENDING, RUNNING

STATUS_ICONS = {
    PENDING: ("fa5s.clock", None),
    LOADING: ("fa5s.hourglass-half", None),
    RUNNING: ("fa5s.cog", "#3584e4"),
    DONE: ("fa5s.check-circle", "#2ec27e"),
    FAILED: ("fa5s.exclamation-triangle", "#e5a50a"),
    CANCELLED: ("fa5s.ban", None),
    EXPORTED: ("fa5s.file-export", "#2ec27e"),
}


def render_queue(view: QListWidget, queue, palette, rebuild: bool = False) -> None:
    """The rows follow the queue: one per photo with its status; only what changed is redrawn."""
    items = queue.items
    if (
        rebuild
        or view.count() != len(items)
        or any(
            view.item(row).data(Qt.ItemDataRole.UserRole) != item.id
            for row, item in enumerate(items)
        )
    ):
        view.blockSignals(True)
        view.clear()
        for item in items:
            row = QListWidgetItem()
            row.setData(Qt.ItemDataRole.UserRole, item.id)
            view.addItem(row)
        view.blockSignals(False)
    for row, item in enumerate(items):
        widget_item = view.item(row)
        status = item.status_label + (
            f": {item.message}" if item.message and item.status == FAILED else ""
        )
        text = f"{item.name}\n{status}"
        if widget_item.text() != text:
            widget_item.setText(text)
            widget_item.setToolTip(
                f"{item.path}\n{item.status_label}" + (f"\n{item.message}" if item.message else "")
            )
        key = (item.status, palette.color(palette.ColorRole.ButtonText).name())
        if widget_item.data(Qt.ItemDataRole.UserRole + 1) != key:
            name, colour = STATUS_ICONS.get(item.status, STATUS_ICONS[PENDING])
            widget_item.setIcon(
                appearance.qtawesome_icon(name, colour)
                if colour
                else appearance.icon(name, palette)
            )
            widget_item.setData(Qt.ItemDataRole.UserRole + 1, key)
    current_row = items.index(queue.current) if queue.current in items else -1
    if view.currentRow() != current_row:
        view.blockSignals(True)
        view.setCurrentRow(current_row)
        view.blockSignals(False)
