"""Tile geometry, on its own: the live preview's tiles (engine.tile_map) land where the result's
pixels are, each result pixel painted once, and the engine's tiles (engine.tiling) cover the photo
once, meet on the window grid and cross-fade to exactly one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sr_studio.engine.tile_map import map_tile
from sr_studio.engine.tiling import split_axis


def coordinates(height: int, width: int) -> np.ndarray:
    """A canvas whose pixels say where they are: (row, column)."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([rows, cols], axis=2).astype(np.int64)


def cuts(length: int, pieces: int, rng: np.random.Generator) -> list[int]:
    inner = sorted(rng.choice(np.arange(4, length - 3), size=pieces - 1, replace=False).tolist())
    spaced = [0]
    for cut in inner:
        if cut - spaced[-1] >= 4 and length - cut >= 4:
            spaced.append(cut)
    return [*spaced, length]


@settings(max_examples=150, deadline=None)
@given(
    canvas_h=st.integers(12, 300),
    canvas_w=st.integers(12, 300),
    factor_y=st.floats(0.5, 3.0),
    factor_x=st.floats(0.5, 3.0),
    pieces=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_preview_tiles_paint_every_result_pixel_once_from_the_canvas_pixel_beneath(
    canvas_h, canvas_w, factor_y, factor_x, pieces, seed
):
    rng = np.random.default_rng(seed)
    result = (max(1, round(canvas_h * factor_y)), max(1, round(canvas_w * factor_x)))
    canvas = coordinates(canvas_h, canvas_w)
    row_cuts, col_cuts = cuts(canvas_h, pieces, rng), cuts(canvas_w, pieces, rng)
    painted = np.zeros(result, np.int64)
    shown = np.zeros((*result, 2), np.int64)
    fy, fx = result[0] / canvas_h, result[1] / canvas_w
    for y0, y1 in zip(row_cuts, row_cuts[1:], strict=False):
        for x0, x1 in zip(col_cuts, col_cuts[1:], strict=False):
            mapped = map_tile(canvas[y0:y1, x0:x1], (y0, x0, y1, x1), (canvas_h, canvas_w), result)
            assert mapped is not None
            top, left, pixels = mapped
            # Seams where the cut falls on the result, shared by both neighbours.
            assert (top, left) == (round(y0 * fy), round(x0 * fx))
            assert pixels.shape[:2] == (round(y1 * fy) - top, round(x1 * fx) - left)
            painted[top : top + pixels.shape[0], left : left + pixels.shape[1]] += 1
            shown[top : top + pixels.shape[0], left : left + pixels.shape[1]] = pixels
            # Each tile shows its own pixels only (clipped at its edges, never its neighbour's).
            assert pixels[..., 0].min() >= y0 and pixels[..., 0].max() < y1
            assert pixels[..., 1].min() >= x0 and pixels[..., 1].max() < x1
    assert painted.min() == 1 and painted.max() == 1
    # Nearest neighbour: the canvas pixel under the result pixel's centre, or its neighbour where
    # a seam was rounded across it.
    beneath_y = ((np.arange(result[0]) + 0.5) / fy).astype(np.int64)
    beneath_x = ((np.arange(result[1]) + 0.5) / fx).astype(np.int64)
    assert np.abs(shown[..., 0] - beneath_y[:, None]).max() <= 1
    assert np.abs(shown[..., 1] - beneath_x[None, :]).max() <= 1


def test_at_the_result_size_a_tile_is_passed_through_in_place():
    canvas = coordinates(40, 30)
    tile = canvas[8:20, 5:25]
    top, left, pixels = map_tile(tile, (8, 5, 20, 25), (40, 30), (40, 30))
    assert (top, left) == (8, 5) and pixels is tile


def test_an_exact_2x_preview_repeats_each_canvas_pixel_in_a_2x2_block():
    canvas = coordinates(10, 10)
    top, left, pixels = map_tile(canvas[4:8, 2:6], (4, 2, 8, 6), (10, 10), (20, 20))
    assert (top, left, pixels.shape[:2]) == (8, 4, (8, 8))
    assert np.array_equal(pixels, canvas[4:8, 2:6].repeat(2, axis=0).repeat(2, axis=1))


def test_an_empty_box_places_nothing():
    canvas = coordinates(10, 10)
    assert map_tile(canvas[3:3, 0:5], (3, 0, 3, 5), (10, 10), (20, 20)) is None


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(0, 200),
    length=st.integers(1, 1500),
    tile=st.integers(1, 400),
    align=st.sampled_from([1, 8, 16]),
    feather=st.integers(0, 16),
    scale=st.sampled_from([1, 2, 4]),
)
def test_engine_tiles_cover_the_axis_once_on_the_grid_and_fade_to_exactly_one(
    start, length, tile, align, feather, scale
):
    stop = start + length
    tiles = split_axis(start, stop, tile, align, feather)
    assert tiles[0].lo == start and tiles[-1].hi == stop  # nothing written outside the photo
    total = np.zeros((stop - start) * scale)
    for index, piece in enumerate(tiles):
        if index:  # seams: where the previous tile fades out, on the align grid inside the photo
            assert piece.rise == tiles[index - 1].fall and piece.rise is not None
            assert piece.rise[0] % align == 0
        up, down = piece.ramps(scale)
        total[(piece.lo - start) * scale : (piece.hi - start) * scale] += up * down
    np.testing.assert_allclose(total, 1.0, atol=1e-6)  # no seam brighter or darker


@pytest.mark.parametrize("tile, context", [(64, 21), (100, 0), (37, 5)])
def test_exact_context_tiles_partition_the_axis(tile, context):
    from sr_studio.engine.tiling import split_axis_exact

    tiles = split_axis_exact(500, tile, context)
    covered = np.zeros(500, np.int64)
    for piece in tiles:
        covered[piece.lo : piece.hi] += 1
        assert piece.rise is None and piece.fall is None  # nothing to cross-fade
    assert covered.min() == covered.max() == 1
