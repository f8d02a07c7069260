"""How worn a photo is before it is enlarged: JPEG quality, sensor noise, JPEG blocks and how soft
its finest detail is.

The automatic model choice (`sr_studio.automatic_choice`) reads these four numbers. They are
measured on what the network will see, the decoded pixels (plus, for a JPEG, the quality its
quantization tables give, `Photo.jpeg_quality`), on a bounded sample of the photo so that a 50 MP
file costs no more than a 1 MP one (about 30 ms).

- **noise**: the standard deviation, in levels of 255, of the luma noise in the flattest parts of
  the photo. Immerkaer's operator (Fast Noise Variance Estimation, 1996) cancels any plane and most
  smooth shading, leaving noise; applied to the flattest tenth of 16x16 patches (as Liu et al. 2013
  pick weak-texture patches), edges and texture do not count as noise.
- **detail**: the finest detail's strength against the next-coarser band's (a 3x3 binomial
  high-pass over a band-pass): about 1.1-1.8 for a sharp downscale or a render, 0.7-1.0 for a real
  camera's own pixels, which its lens and demosaicing soften (measured on the DRealSR pairs).
- **blockiness**: how much larger the luma steps across the 8x8 grid of JPEG blocks are than the
  steps inside blocks (after Wang, Bovik and Evans 2000): about 1.0 is none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

SAMPLE_WINDOW = 256  # a multiple of the 8x8 JPEG grid, so blocks stay aligned in every window
SAMPLE_WINDOWS = 4  # per side: at most 16 windows, about 1 MP
PATCH = 16
FLAT_SHARE = 0.1
STEP_FLOOR = 1.0  # levels of 255 added to every phase's mean step (blockiness)


@dataclass(frozen=True)
class PhotoCondition:
    jpeg_quality: int | None  # from the file's tables; None when it is not a JPEG
    noise: float  # levels of 255, luma, in the flattest areas
    blockiness: float  # 1.0: no JPEG blocks
    detail: float  # fine detail over coarser detail: below about 1.05, softened by optics


def luma(pixels: NDArray[np.generic]) -> NDArray[np.float32]:
    """BT.601 luma on a 0..255 scale of an (H, W), (H, W, 3) or (H, W, 4) uint8/uint16 photo."""
    values = pixels.astype(np.float32)
    if pixels.dtype == np.uint16:
        values *= 255.0 / 65535.0
    if values.ndim == 2:
        return values
    return 0.299 * values[..., 0] + 0.587 * values[..., 1] + 0.114 * values[..., 2]


def sample_windows(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """(top, left, bottom, right) of up to SAMPLE_WINDOWS^2 windows spread evenly over the photo,
    their corners on the 8-pixel grid; the whole photo when it is small."""
    if height <= SAMPLE_WINDOW * SAMPLE_WINDOWS and width <= SAMPLE_WINDOW * SAMPLE_WINDOWS:
        return [(0, 0, height, width)]

    def starts(length: int) -> list[int]:
        if length <= SAMPLE_WINDOW:
            return [0]
        count = min(SAMPLE_WINDOWS, length // SAMPLE_WINDOW)
        span = length - SAMPLE_WINDOW
        return sorted({(span * i // max(1, count - 1)) // 8 * 8 for i in range(count)})

    return [
        (top, left, min(height, top + SAMPLE_WINDOW), min(width, left + SAMPLE_WINDOW))
        for top in starts(height)
        for left in starts(width)
    ]


def noise_level(windows: list[NDArray[np.float32]]) -> float:
    """Immerkaer's noise sigma over the flattest FLAT_SHARE of 16x16 patches of the windows."""
    sigmas = []
    for y in windows:
        if y.shape[0] < PATCH + 2 or y.shape[1] < PATCH + 2:
            continue
        # [[1,-2,1],[-2,4,-2],[1,-2,1]] as the outer product of two second differences.
        rows = y[:, :-2] - 2 * y[:, 1:-1] + y[:, 2:]
        response = np.abs(rows[:-2] - 2 * rows[1:-1] + rows[2:])
        h, w = (response.shape[0] // PATCH) * PATCH, (response.shape[1] // PATCH) * PATCH
        patches = response[:h, :w].reshape(h // PATCH, PATCH, w // PATCH, PATCH)
        sigmas.append(patches.mean(axis=(1, 3)).ravel())
    if not sigmas:
        return 0.0
    means = np.sort(np.concatenate(sigmas))
    flattest = means[: max(1, int(len(means) * FLAT_SHARE))]
    # E|N(0, 36 s^2)| = 6 s sqrt(2 / pi)
    return float(flattest.mean() * math.sqrt(math.pi / 2) / 6.0)


def blockiness(windows: list[NDArray[np.float32]]) -> float:
    """The mean luma step at the strongest of the 8 phases over the next strongest, in both
    directions. A JPEG's block edges all fall on one phase, wherever a rotation or a crop put the
    grid; a resize leaves patterns of period 2 or 4, and a periodic texture (fabric, a tiled
    render) raises several phases, so both stay near 1. Each phase counts STEP_FLOOR more per
    step, so that the few steps of a flat picture (a render, a sky) are not taken for blocks."""
    phases = np.zeros((2, 8))
    counts = np.zeros(2)
    for y in windows:
        for axis, steps in enumerate((np.abs(np.diff(y, axis=1)), np.abs(np.diff(y, axis=0)).T)):
            width = steps.shape[1] // 8 * 8
            if width < 16:
                continue
            phases[axis] += steps[:, :width].reshape(steps.shape[0], -1, 8).sum(axis=(0, 1))
            counts[axis] += steps.shape[0] * width // 8
    ratios = []
    for sums, count in zip(phases, counts, strict=True):
        if count:
            second, strongest = np.sort(sums + STEP_FLOOR * count)[-2:]
            ratios.append(strongest / second)
    return float(np.mean(ratios)) if ratios else 1.0


def _binomial(y: NDArray[np.float32]) -> NDArray[np.float32]:
    """[1, 2, 1] / 4 along both axes, 'valid' (one pixel less on each side)."""
    y = (y[:, :-2] + 2 * y[:, 1:-1] + y[:, 2:]) / 4
    return (y[:-2] + 2 * y[1:-1] + y[2:]) / 4


def fine_detail(windows: list[NDArray[np.float32]]) -> float:
    """Mean |y - B y| over mean |B y - B^3 y| (B the binomial blur): how strong the finest detail
    is against the next band. Blur lowers it; noise raises it, and so does any sharp downscale."""
    finest, coarser = 0.0, 0.0
    for y in windows:
        if min(y.shape) < 16:
            continue
        once = _binomial(y)
        thrice = _binomial(_binomial(once))
        finest += float(np.abs(y[3:-3, 3:-3] - once[2:-2, 2:-2]).sum())
        coarser += float(np.abs(once[2:-2, 2:-2] - thrice).sum())
    return finest / coarser if coarser > 0 else 1.5


def assess(pixels: NDArray[np.generic], jpeg_quality: int | None = None) -> PhotoCondition:
    """The condition of a decoded photo (upright or not: the measures are orientation-free)."""
    height, width = pixels.shape[:2]
    windows = [
        luma(pixels[top:bottom, left:right])
        for top, left, bottom, right in sample_windows(height, width)
    ]
    return PhotoCondition(
        jpeg_quality, noise_level(windows), blockiness(windows), fine_detail(windows)
    )
