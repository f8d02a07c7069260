"""Upscale a whole image with a loaded network, tile by tile, in bounded memory and without seams.

The output is allocated once, as the integer array that is returned, and each tile is quantized into
it as soon as it is computed: only tile-sized float arrays ever exist. Where neighbouring tiles
overlap (HAT), the new tile is cross-faded with what is already written there, reading it back.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from sr_studio.archs.descriptor import LoadedModel
from sr_studio.engine import heap
from sr_studio.engine.devices import (
    AUTOMATIC,
    automatic_precision,
    available_ram_bytes,
    cast_model,
    choose_device,
    choose_dtype,
    effective_precision,
    is_out_of_memory,
    release_cached_memory,
    strict_float32,
)
from sr_studio.engine.resampling import BICUBIC, LANCZOS, resize_into
from sr_studio.engine.tiling import AxisTile, auto_tile, policy_for, split_axis, split_axis_exact
from sr_studio.errors import Cancelled, EngineError


@dataclass(frozen=True)
class TileProgress:
    """Sent after every tile. `box` (y0, x0, y1, x1) is the area of `canvas` just written, so a
    viewer can show it; `canvas` is the (H, W, C) colour array being filled by pass `pass_index` of
    `passes`.
    """

    done: int
    total: int
    box: tuple[int, int, int, int]
    canvas: np.ndarray
    pass_index: int
    passes: int


class Upscaler:
    """A model on its device and precision, ready for a batch of images.

    The network is moved and cast in place (not copied: a large HAT is hundreds of MB), so it
    belongs to this Upscaler afterwards; its descriptor says how to tile it and which precisions
    it allows.
    `tile` is the core size in input pixels; None picks it from free memory.
    `precision` is the one the run uses: "auto" picks the fastest that keeps the model's quality on
    the device (`precision_reason` says why); bf16 asked for on a CPU without it in hardware runs
    as fp32 and `notice` then says why, in one line, for the caller to show; otherwise it is None.
    """

    def __init__(
        self,
        model: LoadedModel,
        device: str = "auto",
        precision: str = "fp32",
        tile: int | None = None,
    ) -> None:
        self.device = choose_device(device)
        self.descriptor = model.descriptor
        # Why this precision runs, for the CLI's header and the window: set when it was chosen for
        # the user ("auto"), None when the caller named it.
        self.precision_reason: str | None = None
        if precision == AUTOMATIC:
            precision, self.precision_reason = automatic_precision(self.descriptor, self.device)
        self.precision, self.notice = effective_precision(precision, self.device)
        self.dtype = choose_dtype(self.precision, self.device, self.descriptor)
        self.scale = self.descriptor.scale
        self.policy = policy_for(self.descriptor)
        self.tile: int | None = None
        if tile is not None:
            # Checked at run time whatever the annotation says: callers pass numpy integers too.
            requested: object = tile
            if (
                isinstance(requested, bool)
                or not isinstance(requested, numbers.Integral)
                or requested < 1
            ):
                raise EngineError(f"tile size must be a positive number of pixels, not {tile!r}")
            self.tile = int(requested)
        mixed = hasattr(model.network, "cast_for_inference")
        if self.device.type == "cuda":
            strict_float32()
        self.model = cast_model(model.network, self.device, self.dtype).eval()
        # A mixed-precision network (HAT) takes float32 input; its float32 head casts for the body
        # itself.
        self.input_dtype = torch.float32 if mixed else self.dtype
        self._limit: int | None = None  # largest tile side known to fit, once memory ran out
        # Every patch of the current pass, where uniform.
        self._patch_shape: tuple[int, int] | None = None

    def output_size(self, height: int, width: int, scale: float | None = None) -> tuple[int, int]:
        """Size of the result for an input of this size: round(scale * side), at least one pixel."""
        scale = self._checked_scale(scale)
        return max(1, round(scale * height)), max(1, round(scale * width))

    def upscale(
        self,
        pixels: np.ndarray,
        scale: float | None = None,
        on_progress: Callable[[TileProgress], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        out: np.ndarray | None = None,
        tile: int | None = None,
    ) -> np.ndarray:
        """`pixels` (H, W) or (H, W, 1|3|4), uint8 or uint16, enlarged to the same layout and dtype.

        The model runs k times (the fewest with model.scale**k >= scale), then a Lanczos filter
        brings the result to the exact size. Alpha does not go through the model: it is resized with
        bicubic, which rings less than Lanczos on hard cut-out edges. `out`, when given, is filled
        and returned instead of a new array: any array of that shape and dtype, e.g. a view into an
        encoder's buffer. `tile`, when given, is this call's tile core instead of the Upscaler's.
        """
        _check_pixels(pixels)
        out_h, out_w = self.output_size(pixels.shape[0], pixels.shape[1], scale)
        shape = (out_h, out_w) + pixels.shape[2:]
        if out is not None and (
            not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != pixels.dtype
        ):
            raise EngineError(
                f"out must be a {shape} {pixels.dtype} array, not {getattr(out, 'shape', out)} "
                f"{getattr(out, 'dtype', '')}".rstrip()
            )
        passes = self._pass_count(self._checked_scale(scale))
        channels = 1 if pixels.ndim == 2 else pixels.shape[2]
        colour = pixels[..., None] if pixels.ndim == 2 else pixels[..., : min(channels, 3)]
        tile = tile or self.tile or auto_tile(self.policy, self.device)

        sizes = [
            (pixels.shape[0] * self.scale**k, pixels.shape[1] * self.scale**k)
            for k in range(passes)
        ]
        grids = [self._grid(h, w, tile) for h, w in sizes]
        job = _Job(
            total=sum(len(rows) * len(cols) for rows, cols in grids),
            passes=passes,
            on_progress=on_progress,
            should_cancel=should_cancel,
        )

        exact = (sizes[-1][0] * self.scale, sizes[-1][1] * self.scale) == (out_h, out_w)
        self._check_memory(pixels, (out_h, out_w), sizes, exact, tile)
        output = np.empty(shape, dtype=pixels.dtype) if out is None else out
        output_colour = output[..., None] if pixels.ndim == 2 else output[..., : colour.shape[2]]
        if self.device.type == "cpu":
            heap.hold_freed_memory()
        try:
            current = colour
            for index, (rows, cols) in enumerate(grids):
                last = index == passes - 1
                h, w = current.shape[0] * self.scale, current.shape[1] * self.scale
                target = (
                    output_colour
                    if last and exact
                    else np.empty((h, w, colour.shape[2]), dtype=pixels.dtype)
                )
                self._run_pass(current, target, rows, cols, job, index)
                current = target
            if not exact:
                resize_into(current, output_colour, LANCZOS, should_cancel)
            del current
            if channels == 4:
                resize_into(pixels[..., 3], output[..., 3], BICUBIC, should_cancel)
        finally:
            heap.release()
        return output

    # -- planning ----------------------------------------------------------------------------------

    def _check_memory(
        self,
        pixels: np.ndarray,
        output_size: tuple[int, int],
        sizes: list[tuple[int, int]],
        exact: bool,
        tile: int,
    ) -> None:
        """Refuse up front, with the numbers, a job whose arrays cannot fit in RAM (instead of being
        killed)."""
        item, channels = pixels.dtype.itemsize, 1 if pixels.ndim == 2 else pixels.shape[2]
        needed = output_size[0] * output_size[1] * channels * item
        # Intermediate passes (and the last one when a resize follows) live beside the output.
        passes = [(h * self.scale) * (w * self.scale) * min(channels, 3) * item for h, w in sizes]
        needed += sum(sorted(passes if not exact else passes[:-1])[-2:])
        if self.device.type == "cpu":
            needed += self.policy.bytes_per_pixel * (tile + 2 * self.policy.context) ** 2
        available = available_ram_bytes()
        if needed > 0.9 * available:
            h, w = output_size
            raise EngineError(
                f"a {w}x{h} result needs about {needed / 1024**3:.1f} GB of memory, but only "
                f"{available / 1024**3:.1f} GB is available: "
                "choose a smaller scale or close other programs"
            )

    def _checked_scale(self, scale: float | None) -> float:
        if scale is None:
            return float(self.scale)
        # Checked at run time whatever the annotation says: callers pass numpy numbers, or worse.
        requested: object = scale
        if (
            isinstance(requested, bool)
            or not isinstance(requested, numbers.Real)
            or not math.isfinite(requested)
            or requested <= 0
        ):
            raise EngineError(f"scale must be a positive number, not {scale!r}")
        return float(requested)

    def _pass_count(self, scale: float) -> int:
        """At least one pass (the caller asked for the model).

        A 1x model runs once and is resized.
        """
        passes = 1
        while self.scale > 1 and self.scale**passes < scale * (1 - 1e-9):
            passes += 1
        return passes

    def patches(
        self, height: int, width: int, tile: int | None = None
    ) -> list[tuple[int, int, int, int]]:
        """(y0, y1, x0, x1) of each patch the network runs on in one pass over a height x width
        input (tiles plus context; no out-of-memory splits): for benchmarks that time the model
        alone."""
        tile = tile or self.tile or auto_tile(self.policy, self.device)
        rows, cols = self._grid(height, width, tile)
        self._patch_shape = self._uniform_shape(rows, cols)
        return [
            self._patch(ty.lo, ty.hi, tx.lo, tx.hi, height, width) for ty in rows for tx in cols
        ]

    def _patch(
        self, y0: int, y1: int, x0: int, x1: int, height: int, width: int
    ) -> tuple[int, int, int, int]:
        """The area plus its context, clipped to the image. It starts and ends on the align grid
        (HAT's windows then fall where they fall in a whole-image run, and no mirror padding is
        added inside)."""
        c, a = self.policy.context, self.policy.align
        py0, py1 = max(0, (y0 - c) // a * a), min(height, -(-(y1 + c) // a) * a)
        px0, px1 = max(0, (x0 - c) // a * a), min(width, -(-(x1 + c) // a) * a)
        if self._patch_shape is not None:
            (py0, py1), (px0, px1) = (
                _widen(py0, py1, self._patch_shape[0], height),
                _widen(px0, px1, self._patch_shape[1], width),
            )
        return py0, py1, px0, px1

    def _uniform_shape(self, rows: list[AxisTile], cols: list[AxisTile]) -> tuple[int, int] | None:
        """One patch shape for a whole pass: the largest patch's, the others widened with more
        context.

        split_axis_exact already gives every patch that shape but for a few pixels of rounding in
        the last tile. With one shape, every patch allocates the same tensors, which the held heap
        (engine/heap.py) serves again exactly; the six shapes of equal tiles fragmented it by about
        400 MB on a 12 MP photo x4. Exact-context networks only (SPAN): more context changes nothing
        there, while HAT's patches must start on its window grid.
        """
        if self.policy.align != 1 or self.policy.feather or self._limit is not None:
            return None
        return self._longest_patch(rows), self._longest_patch(cols)

    def _longest_patch(self, tiles: list[AxisTile]) -> int:
        c, end = self.policy.context, tiles[-1].hi
        return max(min(end, t.hi + c) - max(0, t.lo - c) for t in tiles)

    def _grid(self, height: int, width: int, tile: int) -> tuple[list[AxisTile], list[AxisTile]]:
        p = self.policy
        if p.align == 1 and not p.feather:
            return split_axis_exact(height, tile, p.context), split_axis_exact(
                width, tile, p.context
            )
        return split_axis(0, height, tile, p.align, p.feather), split_axis(
            0, width, tile, p.align, p.feather
        )

    # -- running -----------------------------------------------------------------------------------

    def _run_pass(
        self,
        source: np.ndarray,
        target: np.ndarray,
        rows: list[AxisTile],
        cols: list[AxisTile],
        job: _Job,
        index: int,
    ) -> None:
        s = self.scale
        self._patch_shape = self._uniform_shape(rows, cols)
        for ty in rows:
            up_y, down_y = ty.ramps(s)
            for tx in cols:
                job.check_cancel()
                values = self._render(source, ty.lo, ty.hi, tx.lo, tx.hi, job)
                _write_tile(target, values, ty.lo * s, tx.lo * s, (up_y, down_y), tx.ramps(s))
                job.tile_done((ty.lo * s, tx.lo * s, ty.hi * s, tx.hi * s), target, index)

    def _render(
        self, source: np.ndarray, y0: int, y1: int, x0: int, x1: int, job: _Job
    ) -> np.ndarray:
        """Output (float32, 0..1, HWC) for input rows y0:y1, cols x0:x1, in pieces if memory ran out
        before."""
        if self._limit is None or max(y1 - y0, x1 - x0) <= self._limit:
            return self._render_once(source, y0, y1, x0, x1, job)
        p, s = self.policy, self.scale
        self._patch_shape = None  # pieces are as small as memory requires
        # Cores small enough that a piece with its cross-fade bands fits the limit (if the align
        # allows).
        core = max(p.align, self._limit - 2 * p.feather)
        total = np.zeros(((y1 - y0) * s, (x1 - x0) * s, source.shape[2]), dtype=np.float32)
        for ty in split_axis(y0, y1, core, p.align, p.feather):
            up_y, down_y = ty.ramps(s)
            for tx in split_axis(x0, x1, core, p.align, p.feather):
                up_x, down_x = tx.ramps(s)
                weight = (up_y * down_y)[:, None, None] * (up_x * down_x)[None, :, None]
                piece = self._render(source, ty.lo, ty.hi, tx.lo, tx.hi, job)
                total[(ty.lo - y0) * s : (ty.hi - y0) * s, (tx.lo - x0) * s : (tx.hi - x0) * s] += (
                    weight * piece
                )
        return total

    def _render_once(
        self, source: np.ndarray, y0: int, y1: int, x0: int, x1: int, job: _Job
    ) -> np.ndarray:
        job.check_cancel()
        try:
            return self._run_model(source, y0, y1, x0, x1)
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
        # Out of memory: retried outside the except block so the failed attempt's tensors are
        # released.
        release_cached_memory(self.device)
        side = max(y1 - y0, x1 - x0)
        if side <= self.policy.min_tile:
            raise EngineError(
                f"out of memory on {self.device} even with {side}px tiles: close other programs, "
                f"use a lower precision or another device"
            )
        self._limit = max(self.policy.min_tile, min(self._limit or side, side) // 2)
        return self._render(source, y0, y1, x0, x1, job)

    def _run_model(self, source: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Run the network on the area plus its context, clipped to the image, and keep just the
        area."""
        s = self.scale
        py0, py1, px0, px1 = self._patch(y0, y1, x0, x1, source.shape[0], source.shape[1])
        maximum = float(np.iinfo(source.dtype).max)
        patch = torch.from_numpy(source[py0:py1, px0:px1].astype(np.float32))
        expected = (1, 3, (py1 - py0) * s, (px1 - px0) * s)
        with torch.inference_mode():
            x = patch.to(self.device).permute(2, 0, 1).unsqueeze(0).mul_(1.0 / maximum)
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            y = self.model(x.to(self.input_dtype).contiguous())
            if tuple(y.shape) != expected:
                raise EngineError(
                    f"the {self.descriptor.arch} returned shape {tuple(y.shape)}, "
                    f"expected {expected}"
                )
            # Cast to float32 before clamping: bf16/fp16 cannot tell 1.0 from values just below it.
            y = (
                y[0, :, (y0 - py0) * s : (y1 - py0) * s, (x0 - px0) * s : (x1 - px0) * s]
                .float()
                .clamp_(0.0, 1.0)
            )
            if source.shape[2] == 1:
                y = y.mean(dim=0, keepdim=True)
            # HWC as a strided view on the CPU: _write_tile's one multithreaded copy does the
            # transpose.
            y = y.permute(1, 2, 0)
            if self._quantizes_on_device(source):
                # The same arithmetic as _write_tile's, where the tile was computed.
                quantized: np.ndarray = (
                    y.mul_(maximum).round_().to(torch.uint8).contiguous().cpu().numpy()
                )
                return quantized
            values: np.ndarray = (y if y.device.type == "cpu" else y.contiguous().cpu()).numpy()
            return values

    def _quantizes_on_device(self, source: np.ndarray) -> bool:
        """On a GPU, a tile written as it is (8-bit photo, no cross-fade, not in pieces) crosses to
        the host as uint8: a quarter of the bytes of float32. On the CPU, _write_tile's in-place
        pass is cheaper."""
        return (
            self.device.type != "cpu"
            and source.dtype == np.uint8
            and not self.policy.feather
            and self._limit is None
        )


@dataclass
class _Job:
    """Progress and cancellation across all passes of one upscale() call."""

    total: int
    passes: int
    on_progress: Callable[[TileProgress], None] | None
    should_cancel: Callable[[], bool] | None
    done: int = 0

    def check_cancel(self) -> None:
        if self.should_cancel is not None and self.should_cancel():
            raise Cancelled()

    def tile_done(
        self, box: tuple[int, int, int, int], canvas: np.ndarray, pass_index: int
    ) -> None:
        self.done += 1
        if self.on_progress is not None:
            self.on_progress(
                TileProgress(self.done, self.total, box, canvas, pass_index, self.passes)
            )


def _widen(lo: int, hi: int, size: int, limit: int) -> tuple[int, int]:
    """[lo, hi) grown to `size` (toward the inside of [0, limit)), or to all of it where it is
    shorter."""
    if hi - lo >= size:
        return lo, hi
    if limit <= size:
        return 0, limit
    lo = min(max(0, min(lo, hi - size)), limit - size)
    return lo, lo + size


def _write_tile(
    target: np.ndarray,
    values: np.ndarray,
    top: int,
    left: int,
    ramps_y: tuple[np.ndarray, np.ndarray],
    ramps_x: tuple[np.ndarray, np.ndarray],
) -> None:
    """Quantize `values` into target[top:, left:], cross-fading where earlier tiles already wrote.

    Tiles go row by row, left to right, and their weights (products of the axis ramps) sum to one.
    Before this tile, a pixel holds the weighted average of the tiles done so far; their total
    weight is S = (1 - up_y) + up_y * down_y * down_x (rows above, then tiles to the left in this
    row), so the new tile enters with alpha = w / S. That is 1 except in the top and left fade
    bands.

    `values` (float32, 0..1, any strides) is scaled in place. The bulk of the tile is scaled,
    rounded, cast and transposed by torch, in place and on all cores: numpy's single-threaded passes
    over a temporary took 5-7 s of a 12 MP x4 run. Values of the target's own integer type
    (quantized on a GPU) are copied as they are.
    """
    maximum = np.iinfo(target.dtype).max
    (up_y, down_y), (up_x, down_x) = ramps_y, ramps_x
    region = target[top : top + values.shape[0], left : left + values.shape[1]]
    fade_top = int(np.count_nonzero(up_y < 1))  # fade-in bands sit at the start of the tile
    fade_left = int(np.count_nonzero(up_x < 1))
    if values.dtype == target.dtype:  # already quantized on the GPU
        if not (fade_top or fade_left):
            region[...] = values
            return
        values = values.astype(np.float32) / maximum
    scaled = torch.from_numpy(values).mul_(float(maximum))
    # Rounded, the values are exact integers in 0..maximum: the integer cast then only drops ".0".
    torch.from_numpy(region[fade_top:, fade_left:]).copy_(scaled[fade_top:, fade_left:].round_())
    if fade_top:
        uy, dy = up_y[:fade_top, None], down_y[:fade_top, None]
        alpha = uy * dy * up_x * down_x / ((1 - uy) + uy * dy * down_x)
        _blend(region[:fade_top], values[:fade_top], alpha)
    if fade_left:
        _blend(region[fade_top:, :fade_left], values[fade_top:, :fade_left], up_x[None, :fade_left])


def _blend(written: np.ndarray, scaled: np.ndarray, alpha: np.ndarray) -> None:
    old = written.astype(np.float32)
    written[...] = np.rint(old + alpha[..., None] * (scaled - old))


def _check_pixels(pixels: object) -> None:
    if not isinstance(pixels, np.ndarray):
        raise EngineError(f"expected a numpy image, got {type(pixels).__name__}")
    layout_ok = pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (1, 3, 4))
    if not layout_ok or pixels.dtype not in (np.uint8, np.uint16) or 0 in pixels.shape[:2]:
        raise EngineError(
            f"unsupported image: shape {pixels.shape}, {pixels.dtype} "
            "(need H x W [x 1|3|4], uint8 or uint16)"
        )
