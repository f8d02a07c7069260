"""Where tiles go, how big they are, and the cross-fade weights that hide where they meet.

A tile has a *core* (cores partition the image) and is written a little beyond it, `feather` LR pixels
into each neighbour, where its weight ramps linearly so that the weights of all tiles sum to one.
Each tile is computed from a larger *patch*: the written area plus `context` pixels of real image
on every side (stopping at the image border), so that the network sees what it would see in a
whole-image run. For an exact-context network (SPAN) the edge tiles are longer by the context they need
not have, and every patch then has one shape (`split_axis_exact`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from sr_studio.engine.devices import free_memory_bytes

# Peak memory per patch pixel (input resolution) of one forward pass, measured on the CPU in float32:
# growth of the process's peak RSS (VmHWM, reset through /proc/self/clear_refs) over one inference on
# random square inputs of 64..768 px, after a warm-up run, torch 2.13, one thread. It does not depend
# on depth (layers run one after another) nor much on the scale (the upsampler is small next to the body).
#   SPAN ch48 x2/x4: 2.0-3.3 KB/px (bf16: 2.0 KB/px)
#   HAT-S x4: 11.6-11.7 KB/px at 256-384 px; HAT (and HAT-L: same width) x4: 15.0 KB/px at 256 px, 17.6 at
#   128 px. (43-50 KB/px before the shifted windows stopped building a (windows, heads, n, n) mask and the
#   overlapping cross-attention stopped going through im2col.)
# The engine keeps the heap between tiles (engine/heap.py), which settles higher: HAT x4 at 256 px, patch
# shapes alternating as at the image's edges, 29.5 KB/px from the third tile on (2 threads). It pays for
# itself: the same four passes took 40% longer with the heap trimmed and re-faulted every pass.
# The constants round the worst case up. Reduced precision is not credited: HAT's bf16 peak measured
# the same as fp32, and the fallback on out-of-memory covers GPUs whose allocators behave differently.
SPAN_BYTES_PER_PIXEL = 3_500
HAT_BYTES_PER_PIXEL = 32_000
UNKNOWN_BYTES_PER_PIXEL = 52_000

# Share of the free memory a tile may take: on the CPU the rest of the machine (and the output
# array being written) needs room; on a GPU the model is already resident and little else competes.
MEMORY_SHARE = {"cpu": 0.25, "cuda": 0.6, "mps": 0.4}


@dataclass(frozen=True)
class TilingPolicy:
    """How one architecture is tiled. `max_tile` keeps CPU tiles cache-friendly; GPUs take `gpu_max_tile`."""

    context: int  # LR px of image around the written area that the network sees
    feather: int  # LR px each tile is written into its neighbour, cross-fading
    align: int  # core sizes and interior cuts are multiples of this (HAT's window grid)
    bytes_per_pixel: int
    max_tile: int
    gpu_max_tile: int
    min_tile: int  # below this, running out of memory is final


def policy_for(model: torch.nn.Module) -> TilingPolicy:
    """SPAN is exact with context beyond its receptive field; HAT needs generous, window-aligned context."""
    arch = getattr(model, "arch", "")
    if arch == "SPAN":
        # 21 stacked 3x3 convolutions (conv_1, 6 blocks x 3, conv_2, the upsampler's): receptive radius
        # 21 LR px, everything else is pointwise. Tiles computed with exactly that much context equal the
        # whole-image result, so no cross-fade is needed. (The influence of the patch border fades long
        # before: float-rounding level from 6-8 px on for the bundled and randomly initialised models.)
        return TilingPolicy(context=21, feather=0, align=1, bytes_per_pixel=SPAN_BYTES_PER_PIXEL,
                            max_tile=384, gpu_max_tile=1024, min_tile=16)
    if arch == "HAT":
        window = int(getattr(model, "hyperparameters", {}).get("window_size", 16))
        # Two windows of context cover a shifted window plus the overlapping cross-attention's reach;
        # the channel attention's global average pooling is what remains, so tiles also cross-fade.
        # CPU tiles of 320 (384 px patches) where memory allows: the context is then 44% extra pixels instead
        # of 78% at 192, and a patch pixel costs about the same (HAT-S x4, 2 threads, AVX2, held heap: 445 /
        # 461 / 468 us at 224 / 256 / 384 px), so a written pixel costs 18% less (819 -> 675 us).
        return TilingPolicy(context=2 * window, feather=window // 2, align=window,
                            bytes_per_pixel=HAT_BYTES_PER_PIXEL,
                            max_tile=_multiple(320, window), gpu_max_tile=_multiple(512, window), min_tile=window)
    return TilingPolicy(context=32, feather=8, align=1, bytes_per_pixel=UNKNOWN_BYTES_PER_PIXEL,
                        max_tile=256, gpu_max_tile=512, min_tile=16)


def _multiple(value: int, align: int) -> int:
    return max(align, value // align * align)


def auto_tile(policy: TilingPolicy, device: torch.device) -> int:
    """The largest core whose patch fits the device's share of free memory, within the policy's caps."""
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
        return np.ones_like(centres) if cut is None else (centres >= cut[0] * scale).astype(np.float64)
    position, feather = cut
    return np.clip((centres - (position - feather) * scale) / (2 * feather * scale), 0.0, 1.0)


def split_axis(start: int, stop: int, tile: int, align: int = 1, feather: int = 0) -> list[AxisTile]:
    """Near-equal tiles of at most `tile` covering [start, stop), interior cuts on multiples of `align`.

    Each tile reaches `feather` px into its neighbours (less where a tile is too small for it), so
    neighbouring ramps never overlap and the weights of any pixel sum to one.
    """
    length = stop - start
    tile = _multiple(tile, align)
    count = -(-length // tile)
    step = -(-length // (count * align)) * align
    origin = start // align * align
    cuts = [start, *range(origin + step, stop, step), stop]
    sizes = [b - a for a, b in zip(cuts, cuts[1:])]
    feathers = [min(feather, left // 2, right // 2) for left, right in zip(sizes, sizes[1:])]
    tiles = []
    for index in range(len(sizes)):
        rise = (cuts[index], feathers[index - 1]) if index > 0 else None
        fall = (cuts[index + 1], feathers[index]) if index < len(sizes) - 1 else None
        tiles.append(AxisTile(cuts[index] - (rise[1] if rise else 0), cuts[index + 1] + (fall[1] if fall else 0),
                              rise, fall))
    return tiles


def split_axis_exact(length: int, tile: int, context: int) -> list[AxisTile]:
    """Tiles for an exact-context network (no feather): the two edge tiles `context` px longer than the rest.

    An edge tile needs context on one side only, so with this split every patch (tile plus the context that
    exists) is `tile + 2 * context` long, give or take the rounding, and there are no more patch pixels than
    with equal tiles. One patch shape lets every tile reuse the previous one's memory (engine/heap.py).
    """
    count = max(1, -(-(length - 2 * context) // tile))
    if count == 1:
        return [AxisTile(0, length)]
    inner = -(-(length - 2 * context) // count)
    cuts = [0, *(inner + context + k * inner for k in range(count - 1)), length]
    return [AxisTile(lo, hi) for lo, hi in zip(cuts, cuts[1:]) if hi > lo]
