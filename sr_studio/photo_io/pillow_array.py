"""Move pixels between Pillow images and numpy arrays without transient full-size copies.

`np.asarray(image)` goes through `image.tobytes()`, which joins encoder chunks into one bytes
object: for a 50 MP photo that is Pillow's own storage plus two more full copies at once. Copying
bands of rows into a preallocated array keeps the peak at Pillow's storage plus the result.

The other way, Pillow stores RGB at 4 bytes per pixel, so `Image.fromarray` copies an RGB array
whole (768 MB for a 16000x12000 result). When the RGB array is the first three channels of a
4-byte-per-pixel buffer, Pillow can use that memory as it is (`rgbx_view`, `rgb_view`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

_BAND_BYTES = 16 << 20


def to_array(image: Image.Image) -> np.ndarray:
    """A writable, C-contiguous, native-endian array of the (loaded) image."""
    width, height = image.size
    first = np.asarray(image.crop((0, 0, width, 1)))
    dtype = first.dtype.newbyteorder("=")
    out = np.empty((height,) + first.shape[1:], dtype)
    rows = max(1, _BAND_BYTES // max(1, first.nbytes))
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        out[top:bottom] = np.asarray(image.crop((0, top, width, bottom)))
    return out


def _padded_buffer(pixels: np.ndarray) -> np.ndarray | None:
    """The (H, W, 4) uint8 array whose first three channels `pixels` is, else None."""
    buffer = pixels.base
    if not (
        isinstance(buffer, np.ndarray)
        and pixels.dtype == np.uint8
        and pixels.ndim == 3
        and pixels.shape[2] == 3
        and buffer.dtype == np.uint8
        and buffer.shape == pixels.shape[:2] + (4,)
        and buffer.flags.c_contiguous
        and pixels.strides == buffer.strides
        and pixels.__array_interface__["data"][0] == buffer.__array_interface__["data"][0]
    ):
        return None
    return buffer


def rgbx_view(pixels: np.ndarray) -> Image.Image | None:
    """RGBX image on `pixels`' memory if it is the RGB part of a (H, W, 4) uint8 array, else None.

    Read-only and sharing the memory: only for encoders that take RGBX as it is (JPEG, WebP); the
    fourth byte is never read.
    """
    buffer = _padded_buffer(pixels)
    if buffer is None:
        return None
    height, width = pixels.shape[:2]
    return Image.frombuffer("RGBX", (width, height), buffer, "raw", "RGBX", 0, 1)


def rgb_view(pixels: np.ndarray) -> Image.Image | None:
    """As `rgbx_view`, but an image of mode RGB, for encoders that refuse RGBX (PNG).

    Pillow keeps RGB at 4 bytes a pixel, the same layout as RGBX, but its public `frombuffer`
    copies RGB data; its own buffer mapping takes the layout as it is. The 4th byte is never read.
    """
    buffer = _padded_buffer(pixels)
    if buffer is None:
        return None
    height, width = pixels.shape[:2]
    core = Image.core  # type: ignore[attr-defined]  # (Pillow's C module, not re-exported)
    mapped = core.map_buffer(buffer, (width, height), "raw", 0, ("RGB", 0, 1))
    image = Image.new("RGB", (0, 0))._new(mapped)
    image.readonly = 1
    return image
