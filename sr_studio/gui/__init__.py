"""SR Studio's desktop window (PySide6). Qt stays inside this package; the engine never imports it.

Qt-free parts, testable without a display: `viewer_model` (zoom, pan, compare mode), `photo_queue`
(the batch and its statuses, ETA), `export_plan` (export options and file names), `display_pyramid`,
`spill_store` (finished results parked on disk while they are off screen).
Entry point: `sr_studio.gui.app.run_app(files, self_test=None)`.
"""
