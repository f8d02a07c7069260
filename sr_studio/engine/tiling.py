"""Where tiles go, how big they are, and the cross-fade weights that hide where they meet.

A tile has a *core* (cores partition the image) and is written a little beyond it, `feather` LR
pixels into each neighbour, where its weight ramps linearly so that the weights of all tiles sum to
one. Each tile is computed from a larger *patch*: the written area plus `context` pixels of real
image on every side (stopping at the image border), so that the network sees what it would see in a
whole-image run. For an exact-context network (no cross-fade, no size multiple) the edge tiles are
longer by the context they need not have, and every patch then has one shape (`split_axis_exact`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from sr_studio.archs.descriptor import ModelDescriptor
from sr_studio.engine.devices import free_memory_bytes

# A descriptor's bytes_per_pixel is the peak memory per patch pixel (input resolution) of one
# forward pass, measured on the CPU in float32: growth of the process's peak RSS (VmHWM, reset
# through /proc/self/clear_refs) over one inference on random square inputs of 64..768 px, after a
# warm-up run, torch 2.13, one thread, rounded up (each network's figures are beside its
# detector). It does not depend on depth (layers run one after another) nor much on the scale.
# Reduced precision is not credited: the fallback on out-of-memory covers GPUs whose allocators
# behave differently.

# Share of the free memory a tile may take: on the CPU the rest of the machine (and the output
# array being written) needs room; on a GPU the model is already resident and little else competes.
MEMORY_SHARE = {"cpu": 0.25, "cuda": 0.6, "mps": 0.4}


@dataclass(frozen=True)
class TilingPolicy:
    """How one architecture is tiled. `max_tile` keeps CPU tiles cache-friendly; GPUs take
    `gpu_max_tile`."""

    context: int  # LR px of image around the written area that the network sees
    feather: int  # LR px each tile is written into its neighbour, cross-fading
    align: int  # core sizes and interior cuts are multiples of this (HAT's window grid)
    bytes_per_pixel: int
    max_tile: int
    gpu_max_tile: int
    min_tile: int  # below this, running out of memory is final


def policy_for(descriptor: ModelDescriptor) -> TilingPolicy:
    """The tiling a model needs, from what its descriptor says about its reach and its memory."""
    align = descriptor.size_multiple
    sizes = descriptor.tile_sizes
    return TilingPolicy(
        context=descriptor.context,
        feather=descriptor.cross_fade,
        align=align,
        bytes_per_pixel=descriptor.bytes_per_pixel,
        max_tile=_multiple(sizes.cpu, align),
        gpu_max_tile=_multiple(sizes.gpu, align),
        min_tile=sizes.smallest,
    )


def _multiple(value: int, align: int) -> int:
    return max(align, value // align * align)


def auto_tile(policy: TilingPolicy, device: torch.device) -> int:
    """The largest core whose patch fits the device's share of free memory, within the policy's
    caps."""
    budget = free_memory_bytes(device) * MEMORY_SHARE.get(device.type, 0.25)
    patch_side = math.isqrt(max(0, int(budget / policy.bytes_per_pixel)))
    cap = policy.max_tile if device.type == "cpu" else policy.gpu_max_tile
    tile = min(cap, patch_side - 2 * policy.context)
    return _multiple(max(policy.min_tile, tile), policy.align)


@dataclass(frozen=True)
class AxisTile:
    """One tile along one axis: it writes [lo, hi) and fades in over `rise` and out over `fall`."""

    lo: int
    hi: int
    rise: tuple[int, int] | None = None  # (cut, feather) shared with the previous tile
    fall: tuple[int, int] | None = None  # (cut, feather) shared with the next tile

    def ramps(self, scale: int) -> tuple[np.ndarray, np.ndarray]:
        """Fade-in and fade-out weights for each output pixel of [lo*scale, hi*scale)."""
        centres = np.arange(self.lo * scale, self.hi * scale, dtype=np.float64) + 0.5
        up = _ramp(centres, self.rise, scale)
        down = 1.0 - _ramp(centres, self.fall, scale) if self.fall else np.ones_like(centres)
        return up.astype(np.float32), down.astype(np.float32)


def _ramp(centres: np.ndarray, cut: tuple[int, int] | None, scale: int) -> np.ndarray:
    """0 before the feather band around the cut, 1 after it, linear across it (pixel centres)."""
    if cut is None or cut[1] == 0:
        return (
            np.ones_like(centres) if cut is None else (centres >= cut[0] * scale).astype(np.float64)
        )
    position, feather = cut
    return np.clip((centres - (position - feather) * scale) / (2 * feather * scale), 0.0, 1.0)


def split_axis(
    start: int, stop: int, tile: int, align: int = 1, feather: int = 0
) -> list[AxisTile]:
    """Near-equal tiles of at most `tile` covering [start, stop), interior cuts on multiples of
    `align`.

    Each tile reaches `feather` px into its neighbours (less where a tile is too small for it), so
    neighbouring ramps never overlap and the weights of any pixel sum to one.
    """
    length = stop - start
    tile = _multiple(tile, align)
    count = -(-length // tile)
    step = -(-length // (count * align)) * align
    origin = start // align * align
    cuts = [start, *range(origin + step, stop, step), stop]
    sizes = [b - a for a, b in zip(cuts, cuts[1:], strict=False)]
    feathers = [
        min(feather, left // 2, right // 2) for left, right in zip(sizes, sizes[1:], strict=False)
    ]
    tiles = []
    for index in range(len(sizes)):
        rise = (cuts[index], feathers[index - 1]) if index > 0 else None
        fall = (cuts[index + 1], feathers[index]) if index < len(sizes) - 1 else None
        tiles.append(
            AxisTile(
                cuts[index] - (rise[1] if rise else 0),
                cuts[index + 1] + (fall[1] if fall else 0),
                rise,
                fall,
            )
        )
    return tiles


def split_axis_exact(length: int, tile: int, context: int) -> list[AxisTile]:
    """Tiles for an exact-context network (no feather): the two edge tiles `context` px longer than
    the rest.

    An edge tile needs context on one side only, so with this split every patch (tile plus the
    context that exists) is `tile + 2 * context` long, give or take the rounding, and there are no
    more patch pixels than with equal tiles. One patch shape lets every tile reuse the previous
    one's memory (engine/heap.py).
    """
    count = max(1, -(-(length - 2 * context) // tile))
    if count == 1:
        return [AxisTile(0, length)]
    inner = -(-(length - 2 * context) // count)
    cuts = [0, *(inner + context + k * inner for k in range(count - 1)), length]
    return [AxisTile(lo, hi) for lo, hi in zip(cuts, cuts[1:], strict=False) if hi > lo]
