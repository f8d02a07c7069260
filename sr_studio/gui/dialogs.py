"""The window's questions and notes: replace existing files?, quit without exporting?, shortcuts,
about."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from sr_studio import __version__


def overwrite_box(parent, existing: list[Path]) -> QMessageBox:
    """The question asked before replacing files, worded for one file or several."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    if len(existing) == 1:
        box.setWindowTitle("A file already exists")
        box.setText(f"“{existing[0].name}” already exists in {existing[0].parent}.")
        box.setInformativeText("Replace it, or keep both by numbering the new one?")
    else:
        box.setWindowTitle("Files already exist")
        box.setText(f"{len(existing)} files already exist, for example “{existing[0].name}”.")
        box.setInformativeText(
            "Replace the existing files, or keep both by numbering the new ones?"
        )
    box.replace_button = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
    box.keep_button = box.addButton("Keep Both", QMessageBox.ButtonRole.AcceptRole)
    box.skip_button = (
        box.addButton("Skip", QMessageBox.ButtonRole.RejectRole) if len(existing) > 1 else None
    )
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(box.keep_button)
    return box


def ask_unsaved(parent, items) -> str:
    """Quitting with enlarged photos not exported: 'export', 'discard' or 'cancel'."""
    box = QMessageBox(parent)
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


def show_shortcuts(parent, shortcut_rows: list[tuple[str, str]]) -> None:
    rows = "".join(
        f"<tr><td style='padding-right:16px'><b>{keys}</b></td><td>{what}</td></tr>"
        for what, keys in shortcut_rows
    )
    QMessageBox.information(
        parent,
        "Keyboard shortcuts",
        f"<table>{rows}</table>"
        "<p>Wheel: zoom about the pointer. Drag: pan. Double-click: 100 % / fit."
        " In the before/after view, drag the line (or Shift+arrows) to move it.</p>",
    )


def about_box(parent) -> QMessageBox:
    """About SR Studio, with the third-party notices (the bundled SPAN weights' authors and license,
    the libraries) one click away under Show Details, as their licenses ask."""
    box = QMessageBox(parent)
    box.setWindowTitle("About SR Studio")
    box.setIconPixmap(
        parent.windowIcon().pixmap(64, 64) if parent is not None else box.iconPixmap()
    )
    box.setText(
        f"<h3>SR Studio {__version__}</h3><p>Enlarge photographs with HAT and SPAN "
        "super-resolution networks, offline, keeping colours and metadata.</p>"
        "<p>Licensed under the Apache License 2.0. "
        "The bundled models are the SPAN networks of Wan et al. (Apache-2.0); see the notices.</p>"
    )
    box.setDetailedText(third_party_notices())
    box.addButton(QMessageBox.StandardButton.Close)
    return box


def third_party_notices() -> str:
    from sr_studio.resource_paths import resource_path

    try:
        return resource_path("NOTICE.md").read_text(encoding="utf-8")
    except (OSError, FileNotFoundError):
        return "The third-party notices (NOTICE.md) are missing from this installation."


def show_about(parent) -> None:
    about_box(parent).exec()
