"""A preview of a crop must show what the full run gives there, and its estimate must be honest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sr_studio.engine import Upscaler
from sr_studio.engine.crop_preview import CropBox, context_region, patch_pixels, upscale_crop
from sr_studio.engine.throughput import (
    IO_KEY,
    ThroughputStore,
    calibrate,
    duration_text,
    estimate_run,
    estimate_text,
    speed_key,
)
from sr_studio.errors import EngineError
from sr_studio.model_loading import load_model
from sr_studio.weights import default_model_path
from tests.test_engine_hat import small_hat  # noqa: F401  (a fixture)
from tests.test_engine_upscale import make_span, photo


@pytest.fixture(scope="module")
def bundled_span_x4():
    return load_model(default_model_path(4))


def same_but_rounding(a: np.ndarray, b: np.ndarray) -> None:
    """Equal, but for float rounding of differently shaped convolutions: at most one level, on
    almost no values (a tiled run and a whole-image run differ the same way)."""
    assert a.shape == b.shape
    difference = np.abs(a.astype(np.int64) - b.astype(np.int64))
    assert difference.max() <= 1
    assert np.count_nonzero(difference) <= max(1, difference.size // 10_000)


@pytest.mark.parametrize(
    "box", [CropBox(70, 45, 90, 60), CropBox(0, 0, 40, 30), CropBox(150, 100, 50, 40)]
)
def test_a_span_crop_holds_the_full_runs_pixels_at_its_place(bundled_span_x4, box):
    pixels = photo(140, 200)
    upscaler = Upscaler(bundled_span_x4, device="cpu", tile=48)  # the full run has many tiles
    full = upscaler.upscale(pixels)
    crop = upscale_crop(upscaler, pixels, box)
    s = 4
    same_but_rounding(
        crop.pixels, full[box.y * s : (box.y + box.height) * s, box.x * s : (box.x + box.width) * s]
    )
    assert crop.seconds > 0 and crop.patch_pixels >= box.width * box.height


def test_a_crop_without_its_context_would_differ(bundled_span_x4):
    """The check above can fail: enlarging the crop alone changes its border."""
    pixels = photo(140, 200)  # the crop of the test above: x 70-160, y 45-105
    upscaler = Upscaler(bundled_span_x4, device="cpu")
    full = upscaler.upscale(pixels)
    alone = upscaler.upscale(np.ascontiguousarray(pixels[45:105, 70:160]))
    assert np.abs(alone.astype(int) - full[180:420, 280:640]).max() > 8


def test_the_crop_arrives_tile_by_tile_and_the_tiles_make_the_result(bundled_span_x4):
    pixels, box = photo(120, 160), CropBox(30, 20, 100, 80)
    upscaler = Upscaler(bundled_span_x4, device="cpu", tile=40)
    seen: list[tuple[tuple[int, int, int, int], np.ndarray]] = []
    crop = upscale_crop(
        upscaler,
        pixels,
        box,
        on_tile=lambda tile: seen.append(
            (tile.box, tile.pixels[tile.box[0] : tile.box[2], tile.box[1] : tile.box[3]].copy())
        ),
    )
    assert len(seen) >= 4
    covered = np.zeros(crop.pixels.shape[:2], bool)
    for (y0, x0, y1, x1), part in seen:
        np.testing.assert_array_equal(part, crop.pixels[y0:y1, x0:x1])  # a shown tile is final
        covered[y0:y1, x0:x1] = True
    assert covered.all()


def test_the_context_region_starts_on_the_window_grid_and_stays_in_the_photo():
    span = Upscaler(make_span(2), device="cpu")
    assert context_region(span, CropBox(5, 30, 10, 10), 60, 80) == CropBox(0, 9, 36, 52)
    # Two passes (x4 from a x2 model): the second pass's context, in the photo, is half as wide.
    assert context_region(span, CropBox(30, 30, 10, 10), 100, 100, scale=4) == CropBox(0, 0, 72, 72)


def test_a_crop_outside_the_photo_is_a_clear_error(bundled_span_x4):
    upscaler = Upscaler(bundled_span_x4, device="cpu")
    with pytest.raises(EngineError, match="lies outside the 40x30 photo"):
        upscale_crop(upscaler, photo(30, 40), CropBox(50, 0, 10, 10))
    with pytest.raises(EngineError, match="X,Y,W,H"):
        CropBox.parse("10,20,30")
    assert CropBox.parse(" 1, 2,3 ,4") == CropBox(1, 2, 3, 4)
    assert CropBox.centred(100, 50, 64) == CropBox(18, 0, 64, 50)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3, "a few seconds"),
        (42, "about 40 s"),
        (61, "about 1 min"),
        (130, "about 2 min"),
        (14 * 60, "about 15 min"),
        (59 * 60, "about 1 h"),
        (3 * 3600 + 9 * 60, "about 3 h 10 min"),
        (2 * 3600 + 58 * 60, "about 3 h"),
    ],
)
def test_durations_read_as_a_person_would_say_them(seconds, text):
    assert duration_text(seconds) == text


def test_a_much_faster_option_is_named_only_when_it_matters():
    assert (
        estimate_text(3 * 3600 + 10 * 60, [("SPAN", 230), ("a GPU", 250)])
        == "about 3 h 10 min: SPAN or a GPU would take about 4 min"
    )
    assert (
        estimate_text(3600, [("SPAN", 100), ("a GPU", 600)])
        == "about 1 h: SPAN would take about 2 min, a GPU about 10 min"
    )
    assert (
        estimate_text(3600, [("SPAN", 1800)]) == "about 1 h"
    )  # only twice as fast: not worth saying
    assert estimate_text(100, [("SPAN", 5)]) == "about 2 min"  # a short run: no advice


def test_measurements_are_kept_per_machine_and_network_and_survive_a_damaged_file(tmp_path):
    store = ThroughputStore(tmp_path / "data" / "throughput.json")
    assert store.rate("k") is None
    store.record("k", 1000, 2.0, "run")
    store.record("k", 3000, 2.0, "preview")
    assert store.rate("k") == pytest.approx(1000.0)
    assert ThroughputStore(store.path).rate("other") is None
    for _ in range(20):
        store.record("k", 100, 1.0, "run")
    assert len(store.measurements("k")) == 6 and store.rate("k") == pytest.approx(100.0)
    document = json.loads(store.path.read_text())
    assert list(document["machines"].values())[0]["k"][-1]["source"] == "run"
    store.path.write_text("{not json")
    assert store.rate("k") is None
    store.record("k", 10, 1.0, "run")  # rewritten whole
    assert store.rate("k") == pytest.approx(10.0)


def test_the_key_is_the_networks_shape_not_its_weights(bundled_span_x4):
    import torch

    cpu = torch.device("cpu")
    other = make_span(4)
    assert speed_key(bundled_span_x4.descriptor, cpu, "fp32") != speed_key(
        other.descriptor, cpu, "fp32"
    )  # 48 vs 8 channels
    assert speed_key(bundled_span_x4.descriptor, cpu, "fp32") != speed_key(
        bundled_span_x4.descriptor, cpu, "bf16"
    )
    assert speed_key(load_model(default_model_path(4)).descriptor, cpu, "fp32") == speed_key(
        bundled_span_x4.descriptor, cpu, "fp32"
    )


def test_an_estimate_calibrates_once_then_uses_what_was_measured(tmp_path, bundled_span_x4):
    store = ThroughputStore(tmp_path / "throughput.json")
    upscaler = Upscaler(bundled_span_x4, device="cpu")
    assert estimate_run(upscaler, 3000, 4000, None, store, calibrate_if_unknown=False) is None
    first = estimate_run(upscaler, 3000, 4000, None, store)
    assert first is not None and first.measured_from == "calibration"
    key = speed_key(upscaler.descriptor, upscaler.device, upscaler.precision)
    store.record(
        key, 10**6, 1.0, "run"
    )  # a run much faster than the calibration: the estimate follows
    store.record(IO_KEY, 10**8, 1.0, "run")
    second = estimate_run(upscaler, 3000, 4000, None, store)
    assert second is not None and second.measured_from == "run" and second.rate > first.rate
    work = patch_pixels(upscaler, 3000, 4000)
    assert work > 12_000_000  # the tiles' context is work too
    assert second.network_seconds == pytest.approx(work / second.rate)
    assert second.seconds == pytest.approx(second.network_seconds + 192e6 / 1e8)


def test_calibration_times_one_patch_and_leaves_the_tile_as_it_was(bundled_span_x4):
    upscaler = Upscaler(bundled_span_x4, device="cpu", tile=64)
    measured = calibrate(upscaler)
    assert measured.pixels == (64 + 42) ** 2 and measured.seconds > 0
    assert upscaler.tile == 64


def test_a_slow_networks_preview_comes_in_parts_close_to_the_full_run(small_hat):
    """A crop that fits one automatic HAT tile would appear all at once after the whole wait: it
    is cut in two each way instead, and still shows what the run gives there (HAT's tiles
    cross-fade, so the parts are within the tiled-run tolerance, not bit-equal)."""
    pixels, box = photo(96, 96), CropBox(24, 24, 48, 48)
    upscaler = Upscaler(small_hat, device="cpu")
    parts: list[tuple[int, int, int, int]] = []
    crop = upscale_crop(upscaler, pixels, box, on_tile=lambda tile: parts.append(tile.box))
    assert len(parts) >= 4 and upscaler.tile is None  # the automatic tile is left as it was
    full = Upscaler(small_hat, device="cpu").upscale(pixels)
    reference = full[48:144, 48:144].astype(np.float64)
    error = np.mean((crop.pixels.astype(np.float64) - reference) ** 2)
    assert 10 * np.log10(255**2 / max(error, 1e-12)) >= 45


def test_a_fast_network_or_a_tile_the_user_set_keeps_the_runs_tiles(bundled_span_x4, small_hat):
    from sr_studio.engine.crop_preview import preview_tile

    assert preview_tile(Upscaler(bundled_span_x4, device="cpu"), 300, 300) is None
    assert preview_tile(Upscaler(small_hat, device="cpu", tile=64), 300, 300) is None
    assert preview_tile(Upscaler(small_hat, device="cpu"), 80, 80) == 40  # on HAT's window grid
