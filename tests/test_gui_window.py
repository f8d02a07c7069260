"""The main window end to end (offscreen): drop, run with live tiles, cancel, close mid-run, export,
errors."""

from __future__ import annotations

import numpy as np
from test_gui_support import (  # noqa: F401 - fixtures
    drop_paths,
    gradient_photo,
    gui_env,
    make_window,
    queue_photo,
    use_stand_in,
    window,
    write_png,
)

RUN_TIMEOUT_MS = 60000


def test_drop_run_live_tiles_and_export(qtbot, window, gui_env):
    from sr_studio.photo_io import read_photo

    photo = write_png(gui_env.photos / "harbour.png", gradient_photo(90, 120))
    item = queue_photo(qtbot, window, photo)
    assert window.queue.current is item
    assert window.images.original is item.original_view
    assert window.run_panel.current_model().id == "bundled-span-x2"

    window.run_panel.set_tile(
        16
    )  # 3 x 5 tiles (edge tiles 21 px longer: they need no outer context)
    progress, partial_seen = [], []

    def on_progress(job_id, done, total, pass_index, passes):
        progress.append((done, total))

    def on_tile(*_):
        # A finished tile is in the result view before the run ends.
        partial_seen.append(window.images.result is not None and not window.images.result_complete)

    window.upscale_worker.progress.connect(on_progress)
    window.upscale_worker.tile_ready.connect(on_tile)
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_action.trigger()
        assert window.running_item is item
        assert not window.run_action.isEnabled() and window.cancel_action.isEnabled()
    assert [done for done, _ in progress] == list(range(1, 16)) and progress[-1][1] == 15
    assert partial_seen and all(partial_seen)
    assert item.result.shape == (180, 240, 3)
    assert window.images.result_complete and window.images.result is item.result_view
    assert item.status == "done"

    window.export_panel.folder_edit.setText(str(gui_env.root / "out"))
    with qtbot.waitSignal(window.export_finished, timeout=RUN_TIMEOUT_MS) as written:
        window.export_action.trigger()
    exported = read_photo(written.args[0])
    assert written.args[0].endswith("harbour_x2_span.png")
    assert exported.pixels.shape == (180, 240, 3)
    assert np.array_equal(exported.pixels, item.result)
    assert item.status == "exported"


def test_exporting_again_asks_before_overwriting(qtbot, window, gui_env, monkeypatch):
    photo = write_png(gui_env.photos / "tree.png", gradient_photo(20, 24))
    item = queue_photo(qtbot, window, photo)
    use_stand_in(window)
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_current()
    out = gui_env.root / "out"
    window.export_panel.folder_edit.setText(str(out))
    with qtbot.waitSignal(window.export_finished, timeout=RUN_TIMEOUT_MS):
        window.export_current()
    first = out / "tree_x2_span.png"
    stamp = first.stat().st_mtime_ns

    asked = []
    monkeypatch.setattr(
        window, "ask_overwrite", lambda existing: asked.append(existing) or "cancel"
    )
    assert window.export_items([item]) == 0
    assert asked == [[first]] and first.stat().st_mtime_ns == stamp

    monkeypatch.setattr(window, "ask_overwrite", lambda existing: "keep")
    with qtbot.waitSignal(window.export_finished, timeout=RUN_TIMEOUT_MS) as written:
        window.export_current()
    assert written.args[0].endswith("tree_x2_span (2).png")
    assert first.stat().st_mtime_ns == stamp


def test_cancel_stops_within_a_tile_and_keeps_the_window_usable(qtbot, window, gui_env):
    photo = write_png(gui_env.photos / "slow.png", gradient_photo(106, 106))  # 4 x 4 tiles
    item = queue_photo(qtbot, window, photo)
    use_stand_in(window, delay=0.15)
    window.run_panel.set_tile(16)  # 16 tiles of 0.15 s
    done = []
    window.upscale_worker.progress.connect(lambda job, d, total, *_: done.append((d, total)))
    window.run_current()
    qtbot.waitUntil(lambda: len(done) >= 2, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(window.run_ended, timeout=5000) as ended:
        window.cancel_action.trigger()
    assert ended.args == ["cancelled"]
    assert done[-1][0] < done[-1][1] <= 16
    assert len(done) <= 5  # stopped within a tile of the request, not at the end
    assert item.status == "cancelled" and item.result is None
    assert window.images.result is None  # the partial result is gone from the view
    assert window.run_action.isEnabled() and not window.cancel_action.isEnabled()

    use_stand_in(window)  # and it runs again afterwards
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_current()
    assert item.result.shape == (212, 212, 3)


def test_closing_during_a_run_stops_the_worker_cleanly(qtbot, make_window, gui_env):
    window = make_window()
    photo = write_png(gui_env.photos / "closing.png", gradient_photo(106, 106))  # 4 x 4 tiles
    queue_photo(qtbot, window, photo)
    use_stand_in(window, delay=0.2)
    window.run_panel.set_tile(16)
    started = []
    window.upscale_worker.progress.connect(lambda *args: started.append(args))
    window.run_current()
    qtbot.waitUntil(lambda: bool(started), timeout=RUN_TIMEOUT_MS)
    assert window.upscale_thread.isRunning()
    window.close()
    assert not window.upscale_thread.isRunning()
    assert not window.file_thread.isRunning() and not window.model_thread.isRunning()
    assert len(started) < 16
    qtbot.wait(50)  # late signals from the stopped worker are harmless


def test_a_bad_file_dropped_gives_a_message_not_a_crash(qtbot, window, gui_env):
    broken = gui_env.photos / "broken.jpg"
    broken.write_bytes(b"this is not a JPEG")
    drop_paths(window, [broken])
    item = window.queue.items[-1]
    qtbot.waitUntil(lambda: item.status == "failed", timeout=RUN_TIMEOUT_MS)
    assert "broken.jpg" in window.message_bar.text()
    assert window.message_bar.kind == "error"
    assert (
        "broken.jpg" in window.queue_list.item(0).text()
        and "Failed" in window.queue_list.item(0).text()
    )

    drop_paths(window, [gui_env.photos / "missing.png"])
    assert "missing.png" in window.message_bar.text()

    good = write_png(gui_env.photos / "good.png", gradient_photo(16, 16))
    queue_photo(qtbot, window, good)  # still works afterwards


def test_a_failing_run_is_reported_and_the_next_photo_still_runs(qtbot, window, gui_env):
    first = queue_photo(
        qtbot, window, write_png(gui_env.photos / "one.png", gradient_photo(16, 16))
    )
    second = queue_photo(
        qtbot, window, write_png(gui_env.photos / "two.png", gradient_photo(16, 16))
    )
    calls = []

    def flaky_load(path):
        from test_gui_support import stand_in

        calls.append(path)
        if len(calls) == 1:
            raise MemoryError()
        return stand_in()

    window.upscale_worker.load_model = flaky_load
    with qtbot.waitSignal(window.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        window.run_all()
    assert ended.args == ["failed"]
    assert first.status == "failed" and "memory" in first.message
    assert second.status == "done" and second.result is not None
    assert "one.png" in window.message_bar.text()


def test_batch_run_all_and_export_all(qtbot, window, gui_env):
    folder = gui_env.photos / "batch"
    folder.mkdir()
    for index in range(3):
        write_png(folder / f"p{index}.png", gradient_photo(12 + index, 16))
    drop_paths(window, [folder])
    assert [item.name for item in window.queue.items] == ["p0.png", "p1.png", "p2.png"]
    use_stand_in(window)
    with qtbot.waitSignal(window.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        window.run_all_action.trigger()
    assert ended.args == ["done"]
    assert all(item.status == "done" for item in window.queue.items)
    window.export_panel.folder_edit.setText(str(gui_env.root / "all"))
    window.export_panel.format_combo.setCurrentIndex(
        window.export_panel.format_combo.findData("jpg")
    )
    written = []
    window.export_finished.connect(written.append)
    window.export_all_action.trigger()
    qtbot.waitUntil(lambda: len(written) == 3, timeout=RUN_TIMEOUT_MS)
    assert sorted(p.rsplit("/", 1)[1] for p in written) == [f"p{i}_x2_span.jpg" for i in range(3)]


def test_paste_an_image_from_the_clipboard(qtbot, window):
    from PySide6.QtGui import QColor, QGuiApplication, QImage

    image = QImage(20, 10, QImage.Format.Format_RGB888)
    image.fill(QColor(10, 200, 30))
    QGuiApplication.clipboard().setImage(image)
    window.paste_action.trigger()
    item = window.queue.current
    assert item is not None and item.clipboard_image
    assert item.photo.pixels.shape == (10, 20, 3)
    assert item.photo.pixels[5, 5].tolist() == [10, 200, 30]


def test_dropping_a_model_file_imports_and_selects_it(qtbot, window, gui_env):
    from test_gui_support import save_tiny_span

    weights = save_tiny_span(gui_env.root / "my-span-x2.safetensors", seed=3)
    with qtbot.waitSignal(window.model_tasks.imported, timeout=RUN_TIMEOUT_MS):
        drop_paths(window, [weights])
    qtbot.waitUntil(
        lambda: (
            window.run_panel.current_model() is not None
            and window.run_panel.current_model().id == "my-span-x2"
        ),
        timeout=5000,
    )
    assert window.run_panel.current_model().status == "imported"
    assert not window.queue.items  # not queued as a photo


def test_settings_are_kept_between_runs(qtbot, make_window, gui_env, monkeypatch):
    from sr_studio.engine import devices

    monkeypatch.setattr(
        devices, "cpu_has_native_bf16", lambda: True
    )  # bf16 stays selectable on any machine
    window = make_window()
    window.run_panel.set_precision("bf16")
    window.run_panel.set_tile(128)
    window.run_panel.set_scale(4.0)
    window.export_panel.format_combo.setCurrentIndex(
        window.export_panel.format_combo.findData("webp")
    )
    window.export_panel.quality_spin.setValue(80)
    window.export_panel.pattern_edit.setText("{name}-big")
    window.viewer_model.toggle_mode()
    window.resize(window.minimumWidth(), 560)  # within the offscreen screen (800 x 600) in height
    window.queue_dock.hide()
    window.close()

    again = make_window(resize=False)
    assert again.run_panel.precision() == "bf16"
    assert again.run_panel.tile() == 128
    assert again.run_panel.scale() == 4.0
    options = again.export_panel.options()
    assert (options.format, options.quality, options.pattern) == ("webp", 80, "{name}-big")
    assert again.viewer_model.mode == "before_after"
    assert again.height() == 560
    assert not again.queue_dock.isVisible() and again.settings_dock.isVisible()
    assert (gui_env.root / "settings" / "settings.ini").is_file()


def test_shortcuts_exist_for_the_common_actions(window):
    keys = dict(window.shortcut_rows())
    for what in (
        "Open",
        "Enlarge",
        "Cancel",
        "Export",
        "Zoom In",
        "Zoom Out",
        "Fit to Window",
        "Actual Pixels (100 %)",
        "Before/After Slider",
    ):
        assert keys.get(what), f"no shortcut for {what}"
    assert len(set(keys.values())) == len(keys)


def test_gui_command_is_registered_and_the_default():
    from sr_studio.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["gui", "a.png", "b.png"])
    assert args.files == ["a.png", "b.png"] and args.self_test is None
    assert callable(args.handler)
    assert "gui" in parser._subparsers._group_actions[0].choices


def test_self_test_runs_the_real_window_end_to_end(qtbot, gui_env, capsys):
    from sr_studio.gui.self_test import run_self_test

    photo = write_png(gui_env.photos / "self.png", gradient_photo(24, 40))
    assert run_self_test(photo, timeout=120) == 0
    assert "self-test passed" in capsys.readouterr().out
    broken = gui_env.photos / "self-broken.png"
    broken.write_bytes(b"nope")
    assert run_self_test(broken, timeout=60) == 1
    assert "self-broken.png" in capsys.readouterr().err


def test_opened_photos_become_recent_files(qtbot, make_window, gui_env):
    window = make_window()
    photo = write_png(gui_env.photos / "recent.png", gradient_photo(8, 8))
    window.add_paths([photo])
    window.close()
    again = make_window()
    assert again.settings.recent_files[0] == str(photo.resolve())
    again._fill_recent_menu()
    entry = next(a for a in again.recent_menu.actions() if a.text() == str(photo.resolve()))
    entry.trigger()
    assert [item.path for item in again.queue.items] == [photo.resolve()]


def test_bf16_is_greyed_out_with_the_reason_where_the_cpu_would_emulate_it(
    qtbot, make_window, monkeypatch
):
    from PySide6.QtCore import Qt

    from sr_studio.engine import devices

    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: False)
    window = make_window()
    panel = window.run_panel
    combo = panel.precision_combo
    bf16 = combo.findData("bf16")
    qtbot.waitUntil(
        lambda: "cpu_bf16" in panel._devices, timeout=20000
    )  # the engine thread has looked
    on_cpu = not (panel._devices["cuda"] or panel._devices["mps"])
    if on_cpu:  # "Automatic" lands on the CPU here
        assert not combo.model().item(bf16).isEnabled()
        assert "10x slower" in combo.itemData(bf16, Qt.ItemDataRole.ToolTipRole)
    panel.set_device("cpu")
    panel.set_precision("bf16")
    assert panel.precision() == "auto" and not combo.model().item(bf16).isEnabled()

    # With a GPU, bf16 is offered for it and withdrawn again (back to automatic) when the CPU is
    # chosen.
    panel.set_available_devices(
        {"auto": True, "cpu": True, "cuda": True, "mps": False, "cpu_bf16": False}
    )
    panel.set_device("cuda")
    assert combo.model().item(bf16).isEnabled()
    panel.set_precision("bf16")
    assert panel.precision() == "bf16"
    panel.set_device("cpu")
    assert panel.precision() == "auto" and not combo.model().item(bf16).isEnabled()

    # A CPU with bfloat16 instructions keeps it.
    panel.set_available_devices(
        {"auto": True, "cpu": True, "cuda": False, "mps": False, "cpu_bf16": True}
    )
    panel.set_precision("bf16")
    assert panel.precision() == "bf16" and combo.model().item(bf16).isEnabled()
    assert "AVX512-BF16" in combo.itemData(bf16, Qt.ItemDataRole.ToolTipRole)


def test_precision_is_automatic_unless_the_user_chose_a_reduced_one(tmp_path):
    from PySide6.QtCore import QSettings

    from sr_studio.gui.app_settings import AppSettings

    def settings_with(**values):
        qsettings = QSettings(
            str(tmp_path / f"{len(list(tmp_path.iterdir()))}.ini"), QSettings.Format.IniFormat
        )
        for key, value in values.items():
            qsettings.setValue(f"run/{key.replace('_', '-')}", value)
        return AppSettings(qsettings)

    assert settings_with().precision == "auto"  # first start
    # Before automatic precision every window saved its fp32 default: that is not a choice to keep.
    assert settings_with(precision="fp32").precision == "auto"
    assert settings_with(precision="bf16").precision == "bf16"
    chosen = settings_with(precision="bf16")
    chosen.precision = "fp32"  # chosen now, under the new key: kept
    assert chosen.precision == "fp32"


def test_choosing_webp_once_keeps_sixteen_bit_pngs_sixteen_bit_after_a_restart(
    qtbot, make_window, gui_env
):
    """WebP holds 8 bits: that limit applies to WebP exports only; the choice "As the original"
    stays, for the next PNG."""
    from sr_studio.photo_io import read_photo, write_photo

    window = make_window()
    panel = window.export_panel
    assert panel.depth_combo.currentData() == 0  # As the original
    panel.format_combo.setCurrentIndex(panel.format_combo.findData("webp"))
    window.export_current()  # nothing to export yet: the options are saved all the same
    window.close()

    again = make_window()
    panel = again.export_panel
    assert panel.depth_combo.currentData() == 0
    panel.format_combo.setCurrentIndex(panel.format_combo.findData("png"))
    pixels = gradient_photo(20, 24).astype(np.uint16) * 257
    deep = write_photo(gui_env.photos / "scan.png", pixels)
    queue_photo(qtbot, again, deep)
    use_stand_in(again)
    with qtbot.waitSignal(again.result_shown, timeout=RUN_TIMEOUT_MS):
        again.run_current()
    panel.folder_edit.setText(str(gui_env.root / "out"))
    with qtbot.waitSignal(again.export_finished, timeout=RUN_TIMEOUT_MS) as written:
        again.export_current()
    assert read_photo(written.args[0]).bit_depth == 16


def test_an_error_leaves_the_message_bar_once_its_cause_is_gone(qtbot, window, gui_env):
    broken = gui_env.photos / "broken.jpg"
    broken.write_bytes(b"this is not a JPEG")
    drop_paths(window, [broken])
    qtbot.waitUntil(lambda: "broken.jpg" in window.message_bar.text(), timeout=RUN_TIMEOUT_MS)
    good = queue_photo(
        qtbot, window, write_png(gui_env.photos / "good.png", gradient_photo(16, 16))
    )
    assert window.queue.current is good
    assert window.message_bar.text() == ""  # the error was about the other photo

    use_stand_in(window)
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_current()
    panel = window.export_panel
    panel.folder_edit.setText(str(gui_env.root / "out"))
    panel.pattern_edit.setText("{nme}")
    window.export_current()
    assert window.message_bar.text().startswith("Cannot export: unknown field {nme}")
    panel.pattern_edit.setText("{name}_big")
    assert window.message_bar.text() == ""
