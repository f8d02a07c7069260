"""engine.resampling on its own: the final resize to the size the user asked for (and the alpha
channel's) gives what resizing the whole picture at once with Pillow's filter gives, band by band,
in 8 and 16 bits."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sr_studio.engine import resampling
from sr_studio.engine.resampling import BICUBIC, LANCZOS, resize_into
from sr_studio.errors import Cancelled


def reference(
    source: np.ndarray, height: int, width: int, resample: Image.Resampling
) -> np.ndarray:
    """Each channel resized whole by Pillow in float, rounded once."""
    top = np.iinfo(source.dtype).max
    planes = source[..., None] if source.ndim == 2 else source
    out = np.stack(
        [
            np.asarray(Image.fromarray(plane.astype(np.float32)).resize((width, height), resample))
            for plane in np.moveaxis(planes, 2, 0)
        ],
        axis=2,
    )
    out = np.rint(np.clip(out, 0, top)).astype(source.dtype)
    return out[..., 0] if source.ndim == 2 else out


def photo(height: int, width: int, channels: int, dtype: type) -> np.ndarray:
    """Smooth gradients plus fine noise: edges and flat areas both, in the dtype's full range."""
    rng = np.random.default_rng(height * 31 + width * 7 + channels)
    top = np.iinfo(dtype).max
    y, x = np.mgrid[0:height, 0:width]
    base = (np.sin(y / 3.0) + np.cos(x / 5.0) + 2) / 4 * top
    shape = (height, width) if channels == 1 else (height, width, channels)
    noise = rng.normal(0, top * 0.05, shape)
    base = base if channels == 1 else base[..., None]
    return np.clip(base + noise, 0, top).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize(
    "size, out", [((37, 53), (111, 159)), ((120, 90), (47, 35)), ((40, 40), (57, 23))]
)
@pytest.mark.parametrize("resample", [LANCZOS, BICUBIC])
def test_bands_give_the_whole_picture_resize(monkeypatch, dtype, size, out, resample):
    # Bands of a few rows, so every case crosses many band edges.
    monkeypatch.setattr(resampling, "BAND_BYTES", 4 * out[1] * 5)
    source = photo(*size, 3, dtype)
    target = np.zeros((*out, 3), dtype)
    resize_into(source, target, resample)
    expected = reference(source, *out, resample)
    difference = np.abs(target.astype(np.int64) - expected.astype(np.int64))
    # Float rounding may move a sample sitting on .5 by one step, nothing more.
    assert difference.max() <= 1 and (difference == 0).mean() > 0.99


def test_a_grey_picture_and_an_alpha_channel_are_resized_as_planes():
    source = photo(30, 20, 1, np.uint8)
    target = np.zeros((75, 50), np.uint8)
    resize_into(source, target)
    assert np.abs(target.astype(int) - reference(source, 75, 50, LANCZOS).astype(int)).max() <= 1


def test_16_bit_detail_survives_the_resize():
    """No detour through 8 bits: a gentle 16-bit ramp keeps its in-between levels."""
    ramp = np.tile(np.linspace(30000, 30400, 64).astype(np.uint16), (16, 1))[..., None]
    target = np.zeros((32, 128, 1), np.uint16)
    resize_into(ramp, target)
    assert len(np.unique(target)) > 100  # through 8 bits: 3 levels (116..118 x 257)
    assert np.any(target % 257 != 0)


def test_a_flat_picture_stays_exactly_flat():
    source = np.full((33, 47, 3), (12, 200, 255), np.uint8)
    target = np.zeros((100, 20, 3), np.uint8)
    resize_into(source, target)
    assert np.array_equal(target, np.broadcast_to(np.array([12, 200, 255], np.uint8), target.shape))


def test_the_same_size_is_a_plain_copy():
    source = photo(21, 13, 4, np.uint16)
    target = np.zeros_like(source)
    resize_into(source, target)
    assert np.array_equal(target, source)


def test_mismatched_or_float_arrays_are_refused():
    with pytest.raises(ValueError, match="uint8/uint16"):
        resize_into(np.zeros((4, 4), np.uint8), np.zeros((8, 8), np.uint16))
    with pytest.raises(ValueError, match="uint8/uint16"):
        resize_into(np.zeros((4, 4), np.float32), np.zeros((8, 8), np.float32))


def test_cancel_stops_between_bands(monkeypatch):
    monkeypatch.setattr(resampling, "BAND_BYTES", 4 * 40 * 4)
    source = photo(20, 20, 3, np.uint8)
    target = np.zeros((40, 40, 3), np.uint8)
    asked = []

    def cancel_on_third_band() -> bool:
        asked.append(1)
        return len(asked) >= 3

    with pytest.raises(Cancelled):
        resize_into(source, target, should_cancel=cancel_on_third_band)
    assert len(asked) == 3
    assert target[:8].any() and not target[8:].any()  # two bands written, nothing after
