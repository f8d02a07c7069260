"""Copy a decoded Pillow image into a numpy array without transient full-size copies.

`np.asarray(image)` goes through `image.tobytes()`, which joins encoder chunks into one bytes
object: for a 50 MP photo that is Pillow's own storage plus two more full copies at once. Copying
bands of rows into a preallocated array keeps the peak at Pillow's storage plus the result.
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
