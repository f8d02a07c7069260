"""Qt-free parts of the app: zoom/pan arithmetic, the queue, export names, display pyramids,
settings values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sr_studio.durations import format_duration
from sr_studio.gui.display_pyramid import DisplayPyramid, display_pixels, half_size
from sr_studio.gui.export_plan import (
    ExportOptions,
    output_name,
    output_path,
    pattern_problem,
    unused_path,
)
from sr_studio.gui.photo_queue import FAILED, PhotoQueue, ProgressClock, is_model_file
from sr_studio.gui.viewer_model import BEFORE_AFTER, SIDE_BY_SIDE, ViewerModel, pyramid_level_for


def model_with_image(width=1000, height=800) -> ViewerModel:
    model = ViewerModel()
    model.set_image_size(width, height)
    return model


def test_wheel_zoom_keeps_the_point_under_the_cursor():
    model = model_with_image()
    model.fit(500, 400)
    before = model.view_to_image(123, 77, 500, 400)
    model.zoom_at(2.0, 123, 77, 500, 400)
    assert model.zoom == pytest.approx(1.0)
    assert model.view_to_image(123, 77, 500, 400) == pytest.approx(before)


def test_fit_shows_the_whole_image_and_100_percent_is_one_to_one():
    model = model_with_image(2000, 1000)
    model.fit(500, 400)
    assert model.zoom == pytest.approx(0.25)
    visible = model.visible_image_rect(500, 400)
    assert (visible.width, visible.height) == pytest.approx((2000, 1000))
    model.set_zoom(1.0)
    visible = model.visible_image_rect(500, 400)
    assert (visible.width, visible.height) == pytest.approx((500, 400))


def test_zoom_steps_land_on_exact_percentages():
    model = model_with_image()
    model.set_zoom(1.0)
    for _ in range(4):
        model.zoom_in()
    assert model.zoom == 4.0
    for _ in range(6):
        model.zoom_out()
    assert model.zoom == 0.5
    assert model.zoom_label() == "50 %"


def test_pan_moves_the_picture_with_the_drag_and_stops_at_the_edges():
    model = model_with_image()
    model.set_zoom(2.0)
    x, y = model.center_x, model.center_y
    model.pan_by(100, -40)  # drag right/up: the picture follows, so the centre moves left/down
    assert (model.center_x, model.center_y) == pytest.approx((x - 50, y + 20))
    model.pan_by(100000, 100000)
    assert (model.center_x, model.center_y) == (0, 0)


def test_observers_hear_every_change_and_mode_toggles():
    model = model_with_image()
    calls = []
    model.subscribe(lambda: calls.append(1))
    model.toggle_mode()
    assert model.mode == BEFORE_AFTER
    model.set_slider(2.0)
    assert model.slider == 1.0
    model.toggle_mode()
    assert model.mode == SIDE_BY_SIDE
    assert len(calls) == 3


def test_a_new_scale_of_the_same_photo_keeps_the_same_detail_centred():
    model = model_with_image(1000, 800)
    model.set_zoom(1.0)
    model.pan_by(-200, -100)
    cx, cy, zoom = model.center_x, model.center_y, model.zoom
    model.set_image_size(2000, 1600)  # x2 -> x4
    assert (model.center_x, model.center_y) == pytest.approx((2 * cx, 2 * cy))
    assert model.zoom == pytest.approx(zoom / 2)


def test_pyramid_level_chosen_is_never_blurrier_than_the_screen():
    assert pyramid_level_for(1.0, 5) == 0
    assert pyramid_level_for(0.6, 5) == 0
    assert pyramid_level_for(0.5, 5) == 1
    assert pyramid_level_for(0.26, 5) == 1
    assert pyramid_level_for(0.01, 5) == 4


def test_display_pixels_converts_16_bit_and_grey_alpha():
    sixteen = np.array([[[0, 65535, 32896]]], np.uint16)
    assert display_pixels(sixteen).tolist() == [[[0, 255, 128]]]
    grey_alpha = np.array([[[10, 200]]], np.uint8)
    assert display_pixels(grey_alpha).tolist() == [[[10, 10, 10, 200]]]
    rgb = np.zeros((4, 4, 3), np.uint8)
    assert np.shares_memory(display_pixels(rgb), rgb)


def test_pyramid_filled_tile_by_tile_matches_one_built_at_once():
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (700, 900, 3), dtype=np.uint8)
    whole = DisplayPyramid(photo)
    assert len(whole.levels) == 2  # 900 -> 450 -> (225 < 256: stop)
    tiled = DisplayPyramid.blank(700, 900, 3)
    for y in range(0, 700, 96):
        for x in range(0, 900, 80):
            tiled.write_region(y, x, photo[y : y + 96, x : x + 80])
    for a, b in zip(whole.levels, tiled.levels, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(half_size(np.full((3, 3), 100, np.uint8)), np.full((2, 2), 100, np.uint8))


def test_queue_adds_folders_skips_duplicates_and_tracks_status(tmp_path):
    for name in ("b.png", "a.JPG", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    queue = PhotoQueue()
    changes = []
    queue.subscribe(lambda: changes.append(1))
    added = queue.add([tmp_path, tmp_path / "b.png"])
    assert [item.name for item in added] == ["a.JPG", "b.png"]
    assert queue.current is added[0]
    queue.set_status(added[0], FAILED, "broken")
    assert added[0].status_label == "Failed"
    assert queue.pending() == added
    queue.remove(added[0])
    assert queue.current is added[1]
    assert changes
    assert is_model_file("x.safetensors") and is_model_file("y.PTH") and not is_model_file("z.png")


def test_progress_clock_spreads_passes_and_estimates_time_left():
    now = [0.0]
    clock = ProgressClock(clock=lambda: now[0])
    assert clock.eta_text() == "estimating…"
    now[0] = 10.0
    assert clock.update(5, 10, pass_index=0, passes=2) == pytest.approx(0.25)
    assert clock.seconds_left() == pytest.approx(30.0)
    assert clock.eta_text() == "30 s left"
    assert format_duration(3725) == "1 h 02 min"


def test_export_names_follow_the_pattern_and_are_safe():
    source = Path("/photos/beach.jpeg")
    assert (
        output_name("{name}_x{scale}_{model}", source, 4.0, "span-x4", "png")
        == "beach_x4_span-x4.png"
    )
    assert output_name("{name}_x{scale}", source, 1.5, "m", "jpg") == "beach_x1.5.jpg"
    assert output_name("{name}:{ext}", source, 2, "m", "tiff") == "beach_jpeg.tif"
    assert (
        pattern_problem("{nme}")
        and pattern_problem("")
        and pattern_problem("a/{name}")
        and pattern_problem("{name")
    )
    options = ExportOptions(folder="/out", format="webp")
    assert output_path(options, source, 2, "m") == Path("/out/beach_x2_m.webp")
    assert output_path(ExportOptions(), source, 2, "m").parent == Path("/photos")


def test_as_the_original_keeps_each_photos_format_like_the_cli():
    options = ExportOptions()  # the first-run default
    assert options.format == "original"
    assert output_path(options, Path("/p/a.JPG"), 4, "m").name == "a_x4_m.jpg"
    assert output_path(options, Path("/p/b.tiff"), 4, "m").name == "b_x4_m.tif"
    assert output_path(options, Path("/p/IMG_1.HEIC"), 4, "m").name == "IMG_1_x4_m.png"
    jpeg = options.resolved(Path("/p/a.jpg"))
    assert (jpeg.format, jpeg.write_quality(), jpeg.write_bit_depth()) == ("jpg", 95, 8)
    assert options.resolved(Path("/p/deep.png")).write_bit_depth() is None  # 16-bit stays 16-bit


def test_export_options_survive_bad_stored_values():
    options = ExportOptions.from_dict(
        {
            "format": "gif",
            "quality": "abc",
            "bit_depth": "12",
            "pattern": "{oops}",
            "keep_metadata": "false",
            "unknown": 1,
        }
    )
    assert (options.format, options.quality, options.bit_depth) == ("original", 95, 0)
    assert options.pattern == ExportOptions().pattern and options.keep_metadata is False
    assert ExportOptions(format="jpg", bit_depth=16).write_bit_depth() == 8
    assert ExportOptions(format="png", bit_depth=0).write_bit_depth() is None
    assert ExportOptions(format="png").write_quality() is None


def test_unused_path_numbers_new_files(tmp_path):
    (tmp_path / "a.png").write_bytes(b"1")
    (tmp_path / "a (2).png").write_bytes(b"2")
    assert unused_path(tmp_path / "a.png") == tmp_path / "a (3).png"
    assert unused_path(tmp_path / "b.png") == tmp_path / "b.png"


def test_a_photo_not_read_yet_after_zooming_leaves_an_empty_view_not_a_crash():
    model = ViewerModel()
    model.set_image_size(400, 300)
    model.set_zoom(1.0)
    model.set_image_size(0, 0)  # the next photo is still being read
    assert not model.has_image() and model.fit_mode
    model.set_image_size(200, 500)
    assert model.fit_mode and (model.center_x, model.center_y) == (100, 250)
