"""A batch in the window: results off screen are parked on disk, shown and exported from there
unchanged."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
from test_gui_support import (  # noqa: F401 - fixtures
    drop_paths,
    gradient_photo,
    gui_env,
    make_window,
    use_stand_in,
    wait_loaded,
    window,
)

RUN_TIMEOUT_MS = 60000


def write_batch(folder: Path) -> list[Path]:
    """Three photos: 8-bit with EXIF, colour profile and DPI; 16-bit; 8-bit with transparency."""
    from PIL import Image, ImageCms

    from sr_studio.photo_io import write_photo

    folder.mkdir()
    exif = Image.Exif()
    exif[0x010F] = "Test Camera Co."  # Make
    exif[0x0110] = "Model 7"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    first = folder / "p0.png"
    Image.fromarray(gradient_photo(12, 16)).save(first, exif=exif, icc_profile=icc, dpi=(300, 300))
    deep = (gradient_photo(14, 10).astype(np.uint16) * 257) ^ np.uint16(
        0x0123
    )  # low bits that 8-bit would lose
    second = write_photo(folder / "p1.png", deep, format="png")
    rgba = np.concatenate([gradient_photo(10, 12), np.full((10, 12, 1), 128, np.uint8)], axis=2)
    third = folder / "p2.png"
    Image.fromarray(rgba).save(third)
    return [first, second, third]


def run_batch(qtbot, window, folder: Path):
    """Drop the folder, enlarge all; returns the items and what the engine produced for each (by job
    id)."""
    drop_paths(window, [folder])
    items = list(window.queue.items)
    assert [item.name for item in items] == ["p0.png", "p1.png", "p2.png"]
    use_stand_in(window, invert=True)
    produced, alive = {}, {}

    def on_finished(result):
        produced[result.job_id] = result.pixels.copy()
        alive[result.job_id] = weakref.ref(result.pixels)

    window.upscale_worker.finished.connect(on_finished)
    with qtbot.waitSignal(window.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        window.run_all_action.trigger()
    assert ended.args == ["done"]
    assert [item.status for item in items] == ["done"] * 3
    return items, produced, alive


def parked(item) -> bool:
    return item.result is None and item.result_view is None and item.result_file is not None


def test_results_off_screen_live_on_disk_and_come_back_unchanged(qtbot, window, gui_env):
    from sr_studio.gui.display_pyramid import display_pixels
    from sr_studio.photo_io import read_photo, write_photo

    items, produced, alive = run_batch(
        qtbot, window, write_batch(gui_env.photos / "batch")[0].parent
    )
    first, second, third = items
    assert window.queue.current is first

    # The shown photo keeps its result in memory; the others only have a file in the session cache.
    qtbot.waitUntil(lambda: parked(second) and parked(third), timeout=RUN_TIMEOUT_MS)
    folder = window.spill_store.folder
    assert folder.parent == gui_env.cache
    for item in (second, third):
        assert (
            isinstance(item.result_file, Path)
            and item.result_file.parent == folder
            and item.result_file.is_file()
        )
    assert first.result is not None and window.images.result is first.result_view
    gc.collect()
    assert alive[second.id]() is None and alive[third.id]() is None, (
        "a parked result is still held in memory"
    )
    assert "Done" in window.queue_list.item(1).text()

    # Choosing a parked photo in the list shows its result again, exactly as the engine made it.
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS) as shown:
        window.queue_list.setCurrentRow(1)
    assert shown.args == [second.id]
    assert second.result.dtype == np.uint16 and np.array_equal(second.result, produced[second.id])
    assert window.images.result is second.result_view and window.images.result_complete
    assert np.array_equal(window.images.result.levels[0], display_pixels(produced[second.id]))
    height, width = produced[second.id].shape[:2]
    assert f"{width} × {height}" in window.viewer.result_title.text()
    # ... and the photo shown before goes to disk in its turn.
    qtbot.waitUntil(lambda: parked(first), timeout=RUN_TIMEOUT_MS)
    gc.collect()
    assert alive[first.id]() is None

    # Export all: every file equals what writing the engine's output directly gives, metadata
    # included.
    out = gui_env.root / "all"
    window.export_panel.folder_edit.setText(str(out))
    options = window.export_panel.options()
    assert options.keep_metadata and options.format == "original"  # PNGs stay PNGs
    written = []
    window.export_finished.connect(written.append)
    window.export_all_action.trigger()
    qtbot.waitUntil(lambda: len(written) == 3, timeout=RUN_TIMEOUT_MS)
    assert not window.message_bar.text()
    direct = gui_env.root / "direct"
    direct.mkdir()
    for item in items:
        exported = out / f"{Path(item.name).stem}_x2_span.png"
        own = options.resolved(item.path)
        reference = write_photo(
            direct / exported.name,
            produced[item.id],
            metadata_from=read_photo(item.path),
            format="png",
            quality=own.write_quality(),
            bit_depth=own.write_bit_depth(),
        )
        assert exported.read_bytes() == reference.read_bytes(), item.name
        assert item.status == "exported"
    again = read_photo(out / "p0_x2_span.png")
    assert again.icc_profile and again.dpi == (300, 300) and b"Test Camera Co." in again.exif
    assert read_photo(out / "p1_x2_span.png").pixels.dtype == np.uint16

    # Closing the window removes the session cache.
    window.close()
    assert not folder.exists()


def test_removing_or_enlarging_again_deletes_the_parked_file(qtbot, window, gui_env):
    items, _, _ = run_batch(qtbot, window, write_batch(gui_env.photos / "batch")[0].parent)
    first, second, third = items
    qtbot.waitUntil(lambda: parked(second) and parked(third), timeout=RUN_TIMEOUT_MS)
    old_file = third.result_file

    window.queue.select(third)
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_current()  # enlarged again: the new result replaces the parked one
    qtbot.waitUntil(lambda: not old_file.exists(), timeout=5000)
    assert third.result is not None and third.result_file is None

    removed_file = second.result_file
    window.queue.select(second)
    window.remove_action.trigger()
    qtbot.waitUntil(lambda: not removed_file.exists(), timeout=5000)
    assert second not in window.queue.items

    window.queue.select(first)  # third leaves the screen: parked under a new name
    qtbot.waitUntil(lambda: parked(third), timeout=RUN_TIMEOUT_MS)
    assert third.result_file != old_file
    window.clear_action.trigger()
    qtbot.waitUntil(lambda: not any(window.spill_store.folder.iterdir()), timeout=5000)
    assert window.queue.items == []


def test_a_result_lost_from_the_cache_is_reported_not_a_crash(qtbot, window, gui_env):
    items, _, _ = run_batch(qtbot, window, write_batch(gui_env.photos / "batch")[0].parent)
    second = items[1]
    qtbot.waitUntil(lambda: parked(second), timeout=RUN_TIMEOUT_MS)
    second.result_file.unlink()  # e.g. a cleaner emptied the cache folder
    window.queue_list.setCurrentRow(1)
    qtbot.waitUntil(lambda: second.status == "failed", timeout=RUN_TIMEOUT_MS)
    assert "p1.png" in window.message_bar.text() and "enlarge it again" in window.message_bar.text()
    assert not second.has_result and window.images.result is None
    with qtbot.waitSignal(window.result_shown, timeout=RUN_TIMEOUT_MS):
        window.run_current()  # and it can be enlarged again
    assert second.status == "done"


def test_when_nothing_can_be_parked_results_stay_in_memory_and_export(
    qtbot, window, gui_env, monkeypatch
):
    from sr_studio.gui import spill_store

    monkeypatch.setattr(spill_store, "DISK_MARGIN_BYTES", 1 << 62)  # every disk looks full
    items, produced, _ = run_batch(qtbot, window, write_batch(gui_env.photos / "batch")[0].parent)
    qtbot.waitUntil(lambda: "stays in memory" in window.message_bar.text(), timeout=RUN_TIMEOUT_MS)
    assert "disk full" in window.message_bar.text()
    assert all(item.result is not None and item.result_file is None for item in items)
    # Enlarged off screen: no display copy was made for them (it would only have been thrown away).
    assert [item.result_view is None for item in items] == [
        item is not window.queue.current for item in items
    ]
    window.queue_list.setCurrentRow(2)  # made now, from the result in memory
    qtbot.waitUntil(
        lambda: (
            items[2].result_view is not None
            and window.images.result is items[2].result_view
            and window.images.result_complete
        ),
        timeout=RUN_TIMEOUT_MS,
    )
    assert items[2].result_view.width == items[2].result.shape[1]
    written = []
    window.export_finished.connect(written.append)
    window.export_panel.folder_edit.setText(str(gui_env.root / "out"))
    window.export_all_action.trigger()
    qtbot.waitUntil(lambda: len(written) == 3, timeout=RUN_TIMEOUT_MS)


def test_a_photo_selected_while_it_is_enlarged_off_screen_is_shown_when_done(
    qtbot, window, gui_env
):
    """It started without a display copy (it was off screen); it is made once the run ends."""
    drop_paths(window, [write_batch(gui_env.photos / "batch")[0].parent])
    items = list(window.queue.items)
    window.queue_list.setCurrentRow(0)
    use_stand_in(window, delay=0.3)
    window.run_panel.set_tile(16)
    shown = []
    window.result_shown.connect(shown.append)
    window.run_all_action.trigger()
    qtbot.waitUntil(lambda: window.running_item is items[1], timeout=RUN_TIMEOUT_MS)
    window.queue_list.setCurrentRow(1)
    qtbot.waitUntil(lambda: items[1].id in shown, timeout=RUN_TIMEOUT_MS)
    assert window.images.result is items[1].result_view and window.images.result_complete
    assert (items[1].result_view.height, items[1].result_view.width) == items[1].result.shape[:2]
    qtbot.waitUntil(lambda: window.running_item is None, timeout=RUN_TIMEOUT_MS)
