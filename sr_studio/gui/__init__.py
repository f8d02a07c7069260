"""SR Studio's desktop window (PySide6). Qt stays inside this package; the engine never imports it.

Qt-free parts, testable without a display: `session` (the workflow: queue, load, enlarge, park,
export, batch, cancel; the window renders its events), `jobs` (what the workers are asked and
answer), `viewer_model` (zoom, pan, compare mode), `photo_queue` (the photos and their statuses,
ETA), `export_plan` (export options and file names), `display_pyramid`, `spill_store` (finished
results parked on disk while they are off screen). Workers, each on its own thread:
`upscale_worker`, `file_worker`; `worker_bridge` connects them to the session, `worker_threads`
starts and stops their threads, `prewarm` imports what they import before they start,
`error_wording` words their failures. Entry points: `sr_studio.gui.app.run_app(files)`,
`sr_studio.gui.self_test`.
"""
