"""8-bit display copies of a photo at full, half, quarter… size, free of Qt.

The viewer paints only the visible part of one level: full size when zoomed in (no copy of the
photo's own 8-bit pixels at all), a smaller level when zoomed out so that a 100-megapixel result
never gets resampled as a whole on a repaint. Levels are updated region by region as tiles arrive.
"""

from __future__ import annotations

import numpy as np

SMALLEST_LEVEL_SIDE = 256  # no level smaller than this (the screen is bigger anyway)


def display_pixels(pixels: np.ndarray) -> np.ndarray:
    """uint8, C-contiguous, (H,W) grey, (H,W,3) RGB or (H,W,4) RGBA; shares memory when already
    so."""
    array = np.asarray(pixels)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 2:  # grey + alpha
        grey = array[:, :, 0]
        array = np.stack([grey, grey, grey, array[:, :, 1]], axis=2)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(f"cannot display an array of shape {array.shape}")
    if array.dtype == np.uint8:
        pass
    elif array.dtype == np.uint16:
        array = ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        array = np.clip(np.nan_to_num(array, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"cannot display pixels of type {array.dtype}")
    return np.ascontiguousarray(array)


def half_size(array: np.ndarray) -> np.ndarray:
    """Box-filtered half size (odd edges repeat their last row/column)."""
    height, width = array.shape[:2]
    if height % 2 or width % 2:
        pad = [(0, height % 2), (0, width % 2)] + [(0, 0)] * (array.ndim - 2)
        array = np.pad(array, pad, mode="edge")
    total = array[0::2, 0::2].astype(np.uint16)
    total += array[1::2, 0::2]
    total += array[0::2, 1::2]
    total += array[1::2, 1::2]
    total += 2
    return (total >> 2).astype(np.uint8)


def level_count(width: int, height: int) -> int:
    count = 1
    while max(width, height) >> count >= SMALLEST_LEVEL_SIDE:
        count += 1
    return count


class DisplayPyramid:
    """Level 0 is the 8-bit photo itself; level k has 1/2**k of its width and height."""

    def __init__(self, base: np.ndarray, build_levels: bool = True):
        self.levels: list[np.ndarray] = [display_pixels(base)]
        if build_levels:
            self._build_levels()

    @classmethod
    def blank(cls, height: int, width: int, channels: int) -> DisplayPyramid:
        """An empty canvas that fills as tiles arrive (zeroed pages are only touched where
        drawn)."""
        shape = (height, width) if channels == 1 else (height, width, channels)
        pyramid = cls(np.zeros(shape, np.uint8), build_levels=False)
        for _ in range(1, level_count(width, height)):
            h, w = pyramid.levels[-1].shape[:2]
            pyramid.levels.append(np.zeros(((h + 1) // 2, (w + 1) // 2) + shape[2:], np.uint8))
        return pyramid

    def _build_levels(self) -> None:
        base = self.levels[0]
        for _ in range(1, level_count(base.shape[1], base.shape[0])):
            self.levels.append(half_size(self.levels[-1]))

    @property
    def width(self) -> int:
        return self.levels[0].shape[1]

    @property
    def height(self) -> int:
        return self.levels[0].shape[0]

    @property
    def channels(self) -> int:
        base = self.levels[0]
        return 1 if base.ndim == 2 else base.shape[2]

    def write_region(self, y0: int, x0: int, pixels: np.ndarray) -> None:
        """Copy a finished tile into level 0 and refresh the matching blocks of the smaller
        levels."""
        tile = display_pixels(pixels)
        base = self.levels[0]
        if tile.ndim != base.ndim or (tile.ndim == 3 and tile.shape[2] != base.shape[2]):
            tile = _match_channels(tile, self.channels)
        y1, x1 = min(base.shape[0], y0 + tile.shape[0]), min(base.shape[1], x0 + tile.shape[1])
        base[y0:y1, x0:x1] = tile[: y1 - y0, : x1 - x0]
        for k in range(1, len(self.levels)):
            # The source block, aligned to even rows/columns of the level above.
            y0, x0 = y0 & ~1, x0 & ~1
            y1, x1 = (
                min(y1 + (y1 & 1), self.levels[k - 1].shape[0]),
                min(x1 + (x1 & 1), self.levels[k - 1].shape[1]),
            )
            block = half_size(self.levels[k - 1][y0:y1, x0:x1])
            y0, x0, y1, x1 = y0 // 2, x0 // 2, y0 // 2 + block.shape[0], x0 // 2 + block.shape[1]
            self.levels[k][y0:y1, x0:x1] = block


def _match_channels(tile: np.ndarray, channels: int) -> np.ndarray:
    if tile.ndim == 2:
        tile = tile[:, :, None]
    if channels == 1:
        return np.ascontiguousarray(tile[:, :, 0])
    if tile.shape[2] == 1:
        tile = np.repeat(tile, 3, axis=2)
    if channels == 4 and tile.shape[2] == 3:
        tile = np.concatenate([tile, np.full(tile.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(tile[:, :, :channels])
