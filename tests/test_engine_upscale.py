"""The upscaler with small random-weight SPAN models: tiles must not show, whatever the image or
tile size."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sr_studio.archs import LoadedModel
from sr_studio.archs.span.detect import describe_span
from sr_studio.archs.span.network import SPAN
from sr_studio.engine import TileProgress, Upscaler
from sr_studio.errors import Cancelled, EngineError


def make_span(scale: int = 2, seed: int = 0) -> LoadedModel:
    """SPAN(8 channels) with its last conv dimmed and offset, so outputs fall inside 0..1 (not
    clamped)."""
    torch.manual_seed(seed)
    model = SPAN(feature_channels=8, upscale=scale)
    model.fuse()
    model.eval().requires_grad_(False)
    probe = torch.from_numpy(photo(32, 32).astype(np.float32) / 255).permute(2, 0, 1)[None]
    conv = model.upsampler[0]
    with torch.no_grad():
        gain = 0.15 / float(model(probe).std())
        conv.weight *= gain
        conv.bias.mul_(gain).add_(0.5)
    return LoadedModel(model, describe_span({"feature_channels": 8, "upscale": scale}))


def photo(h: int, w: int, seed: int = 1, dtype=np.uint8) -> np.ndarray:
    """Smooth colour gradients plus grain: what a photograph looks like to a tiler."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w, 1)
    base = (
        np.stack([np.sin(6 * yy + 2 * xx), np.cos(5 * xx - 3 * yy), np.sin(4 * (xx + yy))], -1)
        * 0.35
        + 0.5
    )
    values = np.clip(base + rng.normal(0, 0.08, (h, w, 3)), 0, 1)
    maximum = np.iinfo(dtype).max
    return np.rint(values * maximum).astype(dtype)


def whole_image(model, pixels: np.ndarray) -> np.ndarray:
    """The model run once on the whole image, clamped and rounded: what tiling must reproduce."""
    maximum = np.iinfo(pixels.dtype).max
    x = torch.from_numpy(pixels.astype(np.float32) / maximum).permute(2, 0, 1)[None]
    with torch.inference_mode():
        y = model(x).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    return np.rint(y * maximum).astype(pixels.dtype)


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())


@pytest.fixture(scope="module")
def span_x2():
    return make_span(2)


@pytest.fixture(scope="module")
def span_x4():
    return make_span(4, seed=3)


def test_the_test_model_is_not_saturated(span_x2):
    out = whole_image(span_x2, photo(40, 40))
    assert 0.95 < np.mean((out > 0) & (out < 255))  # otherwise clamping would hide tiling errors
    assert out.std() > 10


def test_span_tiles_see_exactly_its_receptive_field():
    """Context below SPAN's reach would change tiles near their edges; above it, it is work for
    nothing."""
    from sr_studio.engine.tiling import policy_for

    span = make_span(2)
    model = span.network.double()
    x = torch.rand(1, 3, 64, 64, dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        model(x)[
            0, :, 64, 64
        ].sum().backward()  # output pixel (64, 64) sits on input pixel (32, 32)
    rows, cols = np.nonzero(
        x.grad.abs().amax(dim=(0, 1)).numpy()
    )  # every input it depends on, however weakly
    reach = max(np.abs(rows - 32).max(), np.abs(cols - 32).max())
    assert policy_for(span.descriptor).context == reach == 21


def test_patches_hold_their_tiles_with_context_and_all_have_one_shape(span_x2, monkeypatch):
    """Edge tiles are longer by the context they do not need, so one patch shape serves every
    tile."""
    up = Upscaler(span_x2, tile=24)
    seen = []
    real_model = up.model
    monkeypatch.setattr(up, "model", lambda x: seen.append(tuple(x.shape[2:])) or real_model(x))
    up.upscale(photo(70, 93))
    boxes = up.patches(70, 93)
    assert [
        (y1 - y0, x1 - x0) for y0, y1, x0, x1 in boxes
    ] == seen  # what the network really ran on
    rows, cols = up._grid(70, 93, 24)
    assert [(t.lo, t.hi) for t in rows] == [(0, 35), (35, 70)]
    assert [(t.lo, t.hi) for t in cols] == [(0, 38), (38, 55), (55, 93)]
    assert set(seen) == {
        (35 + 21, 17 + 2 * 21)
    }  # every patch: the inner tile plus context on both sides
    tiles = [(ty.lo, ty.hi, tx.lo, tx.hi) for ty in rows for tx in cols]
    for (y0, y1, x0, x1), (py0, py1, px0, px1) in zip(tiles, boxes, strict=True):
        assert py0 <= max(0, y0 - 21) and py1 >= min(70, y1 + 21)
        assert px0 <= max(0, x0 - 21) and px1 >= min(93, x1 + 21)
    # Equal 24 px tiles would have run 12 patches, (45 + 66 + 43) x (45 + 66 + 66 + 42) px in all.
    assert sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in boxes) == (2 * 56) * (3 * 59) < 154 * 219


def test_a_photo_smaller_than_one_patch_runs_whole(span_x2):
    up = Upscaler(span_x2, tile=24)
    assert set(up.patches(30, 50)) == {(0, 30, 0, 50)}


@pytest.mark.parametrize("dtype, tolerance", [(np.uint8, 1), (np.uint16, 2)])
def test_tiled_span_equals_whole_image_run(span_x2, dtype, tolerance):
    pixels = photo(70, 93, dtype=dtype)
    events = []
    out = Upscaler(span_x2, tile=12).upscale(pixels, on_progress=events.append)
    assert len(events) > 9  # really tiled
    assert out.shape == (140, 186, 3) and out.dtype == dtype
    assert max_diff(out, whole_image(span_x2, pixels)) <= tolerance


def test_uint16_keeps_its_precision(span_x2):
    out = Upscaler(span_x2, tile=32).upscale(photo(30, 30, dtype=np.uint16))
    assert np.mean(out % 257 != 0) > 0.9  # not squeezed through 8 bits


@pytest.mark.parametrize(
    "size, tile", [((1, 1), None), ((1, 7), 3), ((13, 1), 4), ((17, 23), 5), ((9, 40), 7)]
)
def test_tiny_and_odd_sizes(span_x2, size, tile):
    pixels = photo(*size)
    out = Upscaler(span_x2, tile=tile).upscale(pixels)
    assert out.shape == (2 * size[0], 2 * size[1], 3)
    assert max_diff(out, whole_image(span_x2, pixels)) <= 1


def test_progress_after_every_tile_with_finished_tiles_on_the_canvas(span_x2):
    events: list[TileProgress] = []
    snapshots = []

    def on_progress(event: TileProgress):
        events.append(event)
        y0, x0, y1, x1 = event.box
        snapshots.append(event.canvas[y0:y1, x0:x1].copy())

    out = Upscaler(span_x2, tile=20).upscale(photo(90, 85), on_progress=on_progress)
    assert [e.done for e in events] == list(range(1, len(events) + 1))
    assert {e.total for e in events} == {len(events)} == {9}
    assert {(e.pass_index, e.passes) for e in events} == {(0, 1)}
    for event, snapshot in zip(events, snapshots, strict=True):
        assert np.shares_memory(event.canvas, out)
        y0, x0, y1, x1 = event.box
        np.testing.assert_array_equal(
            snapshot, out[y0:y1, x0:x1]
        )  # what the viewer showed is final
    covered = np.zeros(out.shape[:2], bool)
    for e in events:
        covered[e.box[0] : e.box[2], e.box[1] : e.box[3]] = True
    assert covered.all()


def test_progress_counts_tiles_of_every_pass(span_x2):
    events = []
    out = Upscaler(span_x2, tile=8).upscale(photo(52, 52), scale=4, on_progress=events.append)
    assert out.shape == (208, 208, 3)
    # pass 1: 52x52 in 2x2 tiles; pass 2: 104x104 in 8x8 tiles
    assert [e.pass_index for e in events] == [0] * 4 + [1] * 64
    assert [e.done for e in events] == list(range(1, 69)) and {e.total for e in events} == {68}
    assert events[-1].canvas.shape == (208, 208, 3) and events[0].canvas.shape == (104, 104, 3)


class Counting(torch.nn.Module):
    """Wraps a model, counting calls and optionally running out of memory above an input size."""

    def __init__(self, inner: LoadedModel, oom_above: int | None = None, error=None):
        super().__init__()
        self.inner, self.oom_above = inner.network, oom_above
        self.calls, self.failures, self.sizes = 0, 0, []
        self.error = error or (
            lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        )
        self.loaded = LoadedModel(self, inner.descriptor)

    def forward(self, x):
        self.calls += 1
        if self.oom_above is not None and max(x.shape[-2:]) > self.oom_above:
            self.failures += 1
            raise self.error()
        self.sizes.append(tuple(x.shape[-2:]))
        return self.inner(x)


def test_cancel_stops_between_tiles(span_x2):
    model = Counting(span_x2)
    events = []
    with pytest.raises(Cancelled):
        Upscaler(model.loaded, tile=16).upscale(
            photo(64, 64), on_progress=events.append, should_cancel=lambda: len(events) >= 3
        )
    assert len(events) == 3 and model.calls == 3


def test_cancel_before_start_runs_nothing(span_x2):
    model = Counting(span_x2)
    with pytest.raises(Cancelled):
        Upscaler(model.loaded, tile=16).upscale(photo(20, 20), should_cancel=lambda: True)
    assert model.calls == 0


@pytest.mark.parametrize(
    "error",
    [
        lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        lambda: RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"
        ),
        lambda: RuntimeError("MPS backend out of memory (MPS allocated: 8 GB)"),
    ],
)
def test_out_of_memory_halves_the_tile_and_gives_the_same_result(span_x2, error):
    pixels = photo(150, 170)
    model = Counting(span_x2, oom_above=80, error=error)
    events = []
    out = Upscaler(model.loaded, tile=64).upscale(pixels, on_progress=events.append)
    assert model.failures >= 1 and max(max(s) for s in model.sizes) <= 80
    assert [e.done for e in events] == list(range(1, events[0].total + 1))
    assert max_diff(out, whole_image(span_x2, pixels)) <= 1


def test_out_of_memory_at_the_smallest_tile_is_a_clear_error(span_x2):
    model = Counting(span_x2, oom_above=0)
    with pytest.raises(EngineError, match="out of memory") as caught:
        Upscaler(model.loaded, tile=64).upscale(photo(40, 40))
    assert "\n" not in str(caught.value)


def test_other_runtime_errors_are_not_mistaken_for_out_of_memory(span_x2):
    model = Counting(span_x2, oom_above=0, error=lambda: RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        Upscaler(model.loaded, tile=64).upscale(photo(10, 10))
    assert model.calls == 1


def test_grayscale_stays_grayscale(span_x2):
    gray = photo(21, 18)[..., 1]
    out = Upscaler(span_x2, tile=8).upscale(gray)
    assert out.shape == (42, 36) and out.dtype == np.uint8
    expected = (
        whole_image(span_x2, np.repeat(gray[..., None], 3, axis=2)).astype(np.float64).mean(axis=2)
    )
    assert np.abs(out - expected).max() <= 1.0
    out3 = Upscaler(span_x2, tile=8).upscale(gray[..., None])
    assert out3.shape == (42, 36, 1)
    np.testing.assert_array_equal(out3[..., 0], out)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_rgba_colour_through_the_model_alpha_resized(span_x2, dtype):
    rgb = photo(19, 26, dtype=dtype)
    maximum = np.iinfo(dtype).max
    alpha = np.zeros((19, 26), dtype)
    alpha[4:15, 6:20] = maximum  # a cut-out
    alpha[:, :3] = maximum // 3
    out = Upscaler(span_x2, tile=10).upscale(np.dstack([rgb, alpha]))
    assert out.shape == (38, 52, 4) and out.dtype == dtype
    assert max_diff(out[..., :3], whole_image(span_x2, rgb)) <= 1
    reference = Image.fromarray(alpha.astype(np.float32)).resize((52, 38), Image.Resampling.BICUBIC)
    assert max_diff(out[..., 3], np.rint(np.clip(np.asarray(reference), 0, maximum))) <= 1
    assert out[12:26, 16:36, 3].min() == maximum and out[:4, 10:40, 3].max() == 0


def test_scale_2_from_a_4x_model_is_the_4x_result_downsampled(span_x4):
    pixels = photo(23, 30)
    up = Upscaler(span_x4, tile=12)
    out = up.upscale(pixels, scale=2)
    assert out.shape == (46, 60, 3)
    full = up.upscale(pixels)
    reference = np.stack(
        [
            np.asarray(
                Image.fromarray(full[..., c].astype(np.float32)).resize(
                    (60, 46), Image.Resampling.LANCZOS
                )
            )
            for c in range(3)
        ],
        axis=-1,
    )
    assert np.abs(out - np.clip(reference, 0, 255)).max() <= 1.0
    assert (
        max_diff(
            out, np.asarray(Image.fromarray(pixels).resize((60, 46), Image.Resampling.LANCZOS))
        )
        > 3
    )


@pytest.mark.parametrize(
    "model_scale, scale, passes, size",
    [
        (2, 3, 2, (33, 45)),
        (2, 1.5, 1, (16, 22)),
        (4, 8, 2, (88, 120)),
        (2, 1, 1, (11, 15)),
    ],
)
def test_any_output_scale_gives_the_exact_size(span_x2, span_x4, model_scale, scale, passes, size):
    model = span_x2 if model_scale == 2 else span_x4
    events = []
    pixels = photo(11, 15)
    up = Upscaler(model, tile=32)
    out = up.upscale(pixels, scale=scale, on_progress=events.append)
    assert out.shape == size + (3,) == up.output_size(11, 15, scale) + (3,)
    assert events[-1].passes == passes
    assert 60 < out.mean() < 200  # a picture, not an empty buffer


def test_a_batch_reuses_the_model(span_x2):
    up = Upscaler(span_x2, tile=16)
    first = up.upscale(photo(20, 20))
    second = up.upscale(photo(20, 20))
    np.testing.assert_array_equal(first, second)
    assert up.model is span_x2.network


def test_a_given_output_array_is_filled_and_returned(span_x2):
    pixels = photo(30, 26)
    expected = Upscaler(span_x2, tile=12).upscale(pixels, scale=3)
    buffer = np.zeros((90, 78, 4), np.uint8)  # e.g. an encoder's 4-byte-per-pixel buffer
    out = Upscaler(span_x2, tile=12).upscale(pixels, scale=3, out=buffer[..., :3])
    assert out.base is buffer
    np.testing.assert_array_equal(out, expected)
    assert not buffer[..., 3].any()  # nothing written outside the view
    for wrong in (np.zeros((90, 78, 3), np.uint16), np.zeros((60, 52, 3), np.uint8), [[0]]):
        with pytest.raises(EngineError, match="out must be a"):
            Upscaler(span_x2, tile=12).upscale(pixels, scale=3, out=wrong)


def test_output_is_written_in_place_without_a_float_copy(span_x2):
    pixels = photo(200, 200)
    up = Upscaler(span_x2, tile=48)
    tracemalloc.start()
    try:
        out = up.upscale(pixels)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    float_output = out.size * 4
    assert peak < out.nbytes + float_output / 2  # the output itself, plus tile-sized buffers only


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.zeros((2, 4, 4, 3), np.uint8),
    ],
)
def test_unsupported_pixels_are_a_clear_error(span_x2, pixels):
    with pytest.raises(EngineError, match="unsupported image"):
        Upscaler(span_x2).upscale(pixels)


@pytest.mark.parametrize("scale", [0, -2, float("nan"), "2"])
def test_bad_scale_is_a_clear_error(span_x2, scale):
    with pytest.raises(EngineError, match="scale"):
        Upscaler(span_x2).upscale(photo(4, 4), scale=scale)


def test_result_too_large_for_memory_is_refused_before_allocating(monkeypatch):
    """A photographer asking 16x of a large photo on a small machine gets the numbers, not a killed
    process."""
    import sr_studio.engine.upscaler as upscaler_module
    from sr_studio.archs.span import SPAN
    from sr_studio.model_loading import model_from_state_dict

    torch.manual_seed(0)
    model = model_from_state_dict(SPAN(feature_channels=8, upscale=4).state_dict())
    upscaler = Upscaler(model, device="cpu", tile=64)
    monkeypatch.setattr(upscaler_module, "available_ram_bytes", lambda: 150 * 1024**2)
    allocations = []
    real_empty = np.empty
    monkeypatch.setattr(
        upscaler_module.np, "empty", lambda *a, **k: allocations.append(a) or real_empty(*a, **k)
    )
    with pytest.raises(EngineError) as error:
        upscaler.upscale(np.zeros((2000, 1500, 3), dtype=np.uint8), scale=4)
    message = str(error.value)
    assert "6000x8000" in message and "GB" in message and "\n" not in message
    assert allocations == []
    small = upscaler.upscale(np.zeros((20, 15, 3), dtype=np.uint8))
    assert small.shape == (80, 60, 3)


@given(length=st.integers(1, 3000), tile=st.integers(1, 512), context=st.integers(0, 40))
@settings(max_examples=300, deadline=None)
def test_exact_split_covers_the_axis_with_patches_no_longer_than_the_tile_and_its_context(
    length, tile, context
):
    from sr_studio.engine.tiling import split_axis_exact

    tiles = split_axis_exact(length, tile, context)
    assert tiles[0].lo == 0 and tiles[-1].hi == length
    assert all(a.hi == b.lo for a, b in zip(tiles, tiles[1:], strict=False)) and all(
        t.hi > t.lo for t in tiles
    )
    patches = [min(length, t.hi + context) - max(0, t.lo - context) for t in tiles]
    if len(tiles) > 1:
        assert max(patches) <= tile + 2 * context  # the memory a tile size promises
        assert max(patches) - min(patches) < len(tiles)  # one shape, but for the rounding


@pytest.mark.parametrize("fade", [False, True])
def test_a_tile_quantized_on_the_gpu_is_written_as_the_float_tile_would_be(fade):
    """On a GPU, SPAN's tiles come back as uint8 (a quarter of the bytes); the photo must not
    change."""
    from sr_studio.engine.upscaler import _write_tile

    rng = np.random.default_rng(5)
    values = rng.random((12, 10, 3), dtype=np.float32)
    quantized = np.rint(values * 255).astype(np.uint8)  # what the GPU sends: scaled, rounded, cast
    ones_y, ones_x = np.ones(12, np.float32), np.ones(10, np.float32)
    up_y = (
        np.where(np.arange(12) < 3, (np.arange(12) + 0.5) / 3, 1).astype(np.float32)
        if fade
        else ones_y
    )
    before = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    from_float, from_uint8 = before.copy(), before.copy()
    _write_tile(from_float, values.copy(), 4, 5, (up_y, ones_y), (ones_x, ones_x))
    _write_tile(from_uint8, quantized, 4, 5, (up_y, ones_y), (ones_x, ones_x))
    assert np.abs(from_float.astype(int) - from_uint8.astype(int)).max() <= (1 if fade else 0)
    assert np.array_equal(from_uint8[:4], before[:4]) and not np.array_equal(from_uint8, before)


@pytest.mark.parametrize("scale", [2, 4])
def test_quantizing_tiles_where_they_are_computed_gives_the_same_photo(span_x2, monkeypatch, scale):
    """The GPU path (tiles sent as uint8) run on the CPU: bit-identical to the float path, one and
    two passes."""
    pixels = photo(90, 100)
    expected = Upscaler(span_x2, tile=16).upscale(pixels, scale=scale)
    calls = []
    monkeypatch.setattr(
        Upscaler, "_quantizes_on_device", lambda self, source: calls.append(1) or True
    )
    assert np.array_equal(Upscaler(span_x2, tile=16).upscale(pixels, scale=scale), expected)
    assert calls
