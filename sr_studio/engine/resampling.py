"""Resize integer images to an exact size with Pillow's antialiased filters, a band of rows at a
time.

Every channel goes through Pillow as a float32 plane (mode "F"): Pillow has no 16-bit RGB mode, and
its integer modes round and clamp between the horizontal and vertical passes, in an order that
depends on the sizes, so bands would not match the whole. In float the result is rounded once. Each
output band is computed from just the source rows its filter reaches, handed to Pillow with a
fractional `box`, which gives the same samples as resizing the whole image while holding only a band
in memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image

from sr_studio.errors import Cancelled

LANCZOS = Image.Resampling.LANCZOS
BICUBIC = Image.Resampling.BICUBIC
FILTER_RADIUS = {LANCZOS: 3.0, BICUBIC: 2.0, Image.Resampling.BILINEAR: 1.0}
BAND_BYTES = 32 * 1024**2  # rough size of one float32 output band, per channel


def resize_into(
    source: np.ndarray,
    target: np.ndarray,
    resample: Image.Resampling = LANCZOS,
    should_cancel: Callable[[], bool] | None = None,
) -> None:
    """Fill `target` (H, W) or (H, W, C) with `source` resized to its size; same dtype (uint8 or
    uint16)."""
    if source.dtype != target.dtype or source.dtype not in (np.uint8, np.uint16):
        raise ValueError(
            f"resize_into needs matching uint8/uint16 arrays, got {source.dtype} and {target.dtype}"
        )
    if source.ndim == 2:
        source, target = source[..., None], target[..., None]
    in_h, in_w = source.shape[:2]
    out_h, out_w = target.shape[:2]
    if (in_h, in_w) == (out_h, out_w):
        target[...] = source
        return
    maximum = np.iinfo(target.dtype).max
    ratio = in_h / out_h  # source rows per output row
    reach = FILTER_RADIUS.get(resample, 3.0) * max(1.0, ratio) + 2  # source rows a sample may touch
    band = max(1, min(out_h, BAND_BYTES // (4 * out_w)))
    for top in range(0, out_h, band):
        if should_cancel is not None and should_cancel():
            raise Cancelled()
        bottom = min(out_h, top + band)
        first = max(0, math.floor(top * ratio - reach))
        last = min(in_h, math.ceil(bottom * ratio + reach))
        box = (0.0, top * ratio - first, float(in_w), bottom * ratio - first)
        for channel in range(source.shape[2]):
            plane = source[first:last, :, channel].astype(np.float32)
            resized = np.asarray(
                Image.fromarray(plane).resize((out_w, bottom - top), resample, box=box)
            )
            target[top:bottom, :, channel] = np.rint(np.clip(resized, 0, maximum))
