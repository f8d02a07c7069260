"""Where a finished tile of the engine's canvas lands on a result of another size (live preview).

The engine may fill an intermediate canvas (several passes, or a larger model then downscaled); the
window shows each tile as it finishes, at the same relative position on the final result, resized
with nearest neighbours. Tile edges map to rounded positions shared by both neighbours, so the
mapped tiles meet without gaps or overlaps. Geometry only: no Qt, no torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Box = tuple[int, int, int, int]  # (y0, x0, y1, x1) on the canvas, end exclusive


def map_tile(
    tile: NDArray[Any], box: Box, canvas_size: tuple[int, int], result_size: tuple[int, int]
) -> tuple[int, int, NDArray[Any]] | None:
    """(top, left, pixels) of `tile`, the canvas's pixels inside `box`, placed on the result.

    None for an empty box. The pixels are `tile` itself when the canvas is at the result size.
    """
    y0, x0, y1, x1 = (int(v) for v in box)
    if y1 <= y0 or x1 <= x0:
        return None
    canvas_h, canvas_w = canvas_size
    out_h, out_w = result_size
    if (canvas_h, canvas_w) == (out_h, out_w):
        return y0, x0, tile
    fy, fx = out_h / canvas_h, out_w / canvas_w
    ry0, rx0 = int(round(y0 * fy)), int(round(x0 * fx))
    ry1, rx1 = max(ry0 + 1, int(round(y1 * fy))), max(rx0 + 1, int(round(x1 * fx)))
    rows = _nearest(ry0, ry1, fy, y0, tile.shape[0])
    cols = _nearest(rx0, rx1, fx, x0, tile.shape[1])
    return ry0, rx0, np.ascontiguousarray(tile[rows][:, cols])


def _nearest(start: int, stop: int, factor: float, origin: int, length: int) -> NDArray[np.int64]:
    """For each result index in [start, stop), the tile index whose pixel covers its centre."""
    source = ((np.arange(start, stop) + 0.5) / factor).astype(np.int64) - origin
    return np.clip(source, 0, length - 1)
