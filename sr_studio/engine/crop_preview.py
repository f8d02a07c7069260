"""Enlarge one rectangle of a photo as the full run would, so that a preview can be trusted.

The rectangle is run with the tiler's context around it (real image, clipped at the photo's border,
the start on the network's window grid), then cut out. For an exact-context network (SPAN) the crop
then holds the full run's pixels at that place; for HAT it holds what a tile of the full run would
hold there, up to the cross-fade between tiles. At a scale that is not a power of the model's, the
last resampling is done on the crop's surroundings rather than on the whole photo, which differs
from the full run by rounding only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sr_studio.engine.tiling import auto_tile
from sr_studio.engine.upscaler import TileProgress, Upscaler
from sr_studio.errors import EngineError


@dataclass(frozen=True)
class CropBox:
    """A rectangle of the original photo, in its pixels."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> CropBox:
        """'X,Y,W,H' as typed on the command line."""
        parts = text.replace(" ", "").split(",")
        try:
            x, y, width, height = (int(part) for part in parts)
        except ValueError:
            raise EngineError(
                f"a crop is X,Y,W,H in whole pixels (e.g. 100,80,256,256), not {text!r}"
            ) from None
        return cls(x, y, width, height)

    def clipped(self, width: int, height: int) -> CropBox:
        """The part inside a width x height photo; an error when nothing of it is."""
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(width, self.x + self.width), min(height, self.y + self.height)
        if self.width < 1 or self.height < 1 or x1 <= x0 or y1 <= y0:
            raise EngineError(
                f"the crop {self.x},{self.y},{self.width},{self.height} lies outside the "
                f"{width}x{height} photo"
            )
        return CropBox(x0, y0, x1 - x0, y1 - y0)

    @classmethod
    def centred(cls, width: int, height: int, side: int) -> CropBox:
        """A side x side square in the middle of the photo (smaller where the photo is)."""
        w, h = min(side, width), min(side, height)
        return cls((width - w) // 2, (height - h) // 2, w, h)


@dataclass(frozen=True)
class CropResult:
    """The enlarged crop; `seconds` is the time the network took for it, context included, and
    `patch_pixels` the input pixels it ran on (what throughput is counted in)."""

    box: CropBox
    pixels: np.ndarray
    scale: float
    seconds: float
    patch_pixels: int


@dataclass(frozen=True)
class CropTile:
    """A part of the crop just finished: `box` (y0, x0, y1, x1) in the enlarged crop's pixels."""

    done: int
    total: int
    box: tuple[int, int, int, int]
    pixels: np.ndarray  # the enlarged crop as far as it is written


def context_region(
    upscaler: Upscaler, box: CropBox, width: int, height: int, scale: float | None = None
) -> CropBox:
    """The rectangle to run: `box` plus the context every pass needs, on the window grid, in the
    photo.
    """
    policy, s = upscaler.policy, upscaler.scale
    passes = upscaler._pass_count(float(scale) if scale else float(s))
    # Pass k runs on the output of pass k-1: its context, in the photo's pixels, is context / s**k.
    margin = sum(-(-policy.context // s**k) for k in range(passes))
    align = policy.align
    x0, y0 = max(0, (box.x - margin) // align * align), max(0, (box.y - margin) // align * align)
    x1, y1 = min(width, box.x + box.width + margin), min(height, box.y + box.height + margin)
    return CropBox(x0, y0, x1 - x0, y1 - y0)


def preview_tile(upscaler: Upscaler, region_height: int, region_width: int) -> int | None:
    """A tile core that shows a slow network's preview in parts, or None to tile as the run does.

    A HAT-S preview of 256 px fits one automatic tile, so nothing would appear for ~20 s on two
    cores (then all at once); cut in two each way it appears a quarter at a time, for ~1.4x the
    work (each quarter carries its own context). A fast network keeps the run's tiles, so its
    preview holds the run's exact pixels. A tile the user set is kept.
    """
    descriptor = upscaler.descriptor
    if descriptor.speed == "fast" or upscaler.tile is not None:
        return None
    multiple = descriptor.size_multiple
    half = -(-max(region_height, region_width) // 2)
    tile = max(descriptor.tile_sizes.smallest, -(-half // multiple) * multiple)
    automatic = auto_tile(upscaler.policy, upscaler.device)
    return tile if tile < automatic else None


def patch_pixels(
    upscaler: Upscaler,
    height: int,
    width: int,
    scale: float | None = None,
    tile: int | None = None,
) -> int:
    """Input pixels the network runs on for a height x width photo, context included, over all
    passes.
    """
    s = upscaler.scale
    passes = upscaler._pass_count(float(scale) if scale else float(s))
    total = 0
    for k in range(passes):
        h, w = height * s**k, width * s**k
        patches = upscaler.patches(h, w, tile)
        total += sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in patches)
    return total


def upscale_crop(
    upscaler: Upscaler,
    pixels: np.ndarray,
    box: CropBox,
    scale: float | None = None,
    on_tile: Callable[[CropTile], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> CropResult:
    """`box` of `pixels` enlarged by `scale` (default the model's), as the full run enlarges it
    there.

    `on_tile` gets each part of the crop as its tile finishes (tiles outside the crop, in the
    context, report nothing), so a viewer can show the preview tile by tile.
    """
    height, width = pixels.shape[:2]
    box = box.clipped(width, height)
    factor = float(scale) if scale else float(upscaler.scale)
    region = context_region(upscaler, box, width, height, factor)
    source = pixels[region.y : region.y + region.height, region.x : region.x + region.width]
    top, left = round((box.y - region.y) * factor), round((box.x - region.x) * factor)
    out_h, out_w = upscaler.output_size(box.height, box.width, factor)

    def forward(progress: TileProgress) -> None:
        if on_tile is None or progress.pass_index != progress.passes - 1:
            return
        ty0, tx0, ty1, tx1 = progress.box
        y0, x0 = max(ty0 - top, 0), max(tx0 - left, 0)
        y1, x1 = min(ty1 - top, out_h), min(tx1 - left, out_w)
        if y1 <= y0 or x1 <= x0 or progress.canvas.shape[:2] != result_shape:
            return
        on_tile(
            CropTile(
                progress.done,
                progress.total,
                (y0, x0, y1, x1),
                progress.canvas[top : top + out_h, left : left + out_w],
            )
        )

    result_shape = upscaler.output_size(region.height, region.width, factor)
    tile = preview_tile(upscaler, region.height, region.width)
    work = patch_pixels(upscaler, region.height, region.width, factor, tile)
    started = time.perf_counter()
    enlarged = upscaler.upscale(
        source, factor, on_progress=forward, should_cancel=should_cancel, tile=tile
    )
    seconds = time.perf_counter() - started
    crop = np.ascontiguousarray(enlarged[top : top + out_h, left : left + out_w])
    return CropResult(box, crop, factor, seconds, work)
