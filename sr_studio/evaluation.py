"""Measure super-resolution quality as the HAT and SPAN papers do, so our numbers compare to theirs.

Protocol (see the shared datasets README): crop the HR image to a multiple of the scale, make the LR
input with Pillow's BICUBIC downscale (the closest common equivalent of MATLAB's antialiased
`imresize`), super-resolve it whole in float32, clamp and round the result to 8 bits, convert both
images to BT.601 luma (Y of YCbCr, 16..235), shave `scale` pixels from every border, and compute
PSNR and SSIM (Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, 'valid' filtering) on 0..255 values.

`degraded=True` replaces step two by a fixed, seeded camera-like degradation of each image (lens
blur, downscale, sensor noise, JPEG: `sr_studio.degradation.BENCHMARK_RECIPE_TEXT`); the scoring is
unchanged.

A real-pair set (`REAL_PAIR_SETS`, e.g. DRealSR: the same scene photographed at two focal lengths
and registered) brings its own LR input: no downscale and no synthetic degradation, only the
scoring.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from sr_studio.errors import SRStudioError

BENCHMARK_SETS = ("Set5", "Set14", "Urban100")
IMAGE_SUFFIXES = {".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff"}
FULL_SET_SIZES = {"Set5": 5, "Set14": 14, "Urban100": 100, "BSD100": 100, "Manga109": 109}
# Real camera LR/HR pairs: name -> (folder under the datasets folder, scale). Evaluation only.
REAL_PAIR_SETS = {"DRealSR_x4_dev": ("real/DRealSR_x4_dev", 4)}

Upscaler = Callable[[np.ndarray], np.ndarray]  # LR uint8 HxWx3 -> SR uint8 (sH)x(sW)x3


def y_channel(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma in 16..235 (float64) of an 8-bit RGB image, as MATLAB's rgb2ycbcr gives it."""
    rgb = np.asarray(rgb, dtype=np.float64) / 255.0
    return 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]


def shave(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border > 0 else image


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB of two same-shaped arrays on a 0..peak scale; inf when they are identical."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"PSNR of images of different shapes {a.shape} and {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    kernel = np.exp(-(offsets**2) / (2 * sigma * sigma))
    return kernel / kernel.sum()


def filter_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation with a symmetric 1-D kernel along both axes (float64)."""
    size = len(kernel)
    rows = sum(kernel[i] * image[i : image.shape[0] - size + 1 + i] for i in range(size))
    return sum(kernel[i] * rows[:, i : rows.shape[1] - size + 1 + i] for i in range(size))


def ssim(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Mean SSIM (Wang et al. 2004) of two 1-channel images on 0..peak, Gaussian 11x11 sigma 1.5."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"SSIM needs two single-channel images of one shape, got {a.shape} and {b.shape}"
        )
    if min(a.shape) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {a.shape}")
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    window = gaussian_window()
    mu_a, mu_b = filter_valid(a, window), filter_valid(b, window)
    var_a = filter_valid(a * a, window) - mu_a**2
    var_b = filter_valid(b * b, window) - mu_b**2
    covariance = filter_valid(a * b, window) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * covariance + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(ssim_map.mean())


def read_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except OSError as error:
        raise SRStudioError(f"cannot read the image ({error})", path) from None


def make_pair(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(HR cropped to a multiple of scale, its Pillow-BICUBIC downscale), both uint8 HxWx3."""
    height, width = hr.shape[0] - hr.shape[0] % scale, hr.shape[1] - hr.shape[1] % scale
    hr = np.ascontiguousarray(hr[:height, :width])
    lr = Image.fromarray(hr).resize((width // scale, height // scale), Image.BICUBIC)
    return hr, np.asarray(lr, dtype=np.uint8).copy()


def measure(sr: np.ndarray, hr: np.ndarray, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) on the shaved Y channel of two 8-bit RGB images."""
    if sr.shape != hr.shape:
        raise ValueError(
            f"the result is {sr.shape[1]}x{sr.shape[0]} "
            f"but the reference is {hr.shape[1]}x{hr.shape[0]}"
        )
    a, b = shave(y_channel(sr), scale), shave(y_channel(hr), scale)
    return psnr(a, b), ssim(a, b)


def bicubic_upscaler(scale: int) -> Upscaler:
    """The baseline: Pillow BICUBIC upscale of the LR image."""

    def upscale(lr: np.ndarray) -> np.ndarray:
        image = Image.fromarray(lr).resize(
            (lr.shape[1] * scale, lr.shape[0] * scale), Image.BICUBIC
        )
        return np.asarray(image, dtype=np.uint8)

    return upscale


def model_upscaler(model) -> Upscaler:
    """Run a network on the whole LR image in float32 on the CPU; clamp and round to 8 bits."""
    import torch

    def upscale(lr: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(lr)).permute(2, 0, 1)[None].float().div_(255.0)
        with torch.inference_mode():
            out = model(x).clamp(0.0, 1.0)[0].permute(1, 2, 0).mul(255.0).round().to(torch.uint8)
        return out.numpy()

    return upscale


def automatic_upscaler(photo_path: Path, clean_path: Path) -> Upscaler:
    """Automatic as the app runs it: each input's condition (its pixels: arrays carry no JPEG
    tables) picks the photo model's cleanup strength, 0 being the clean model."""
    from sr_studio.automatic_choice import ModelsByCleanup
    from sr_studio.model_blending import Cleanup
    from sr_studio.model_loading import load_model

    models = ModelsByCleanup(
        lambda strength: model_upscaler(load_model(photo_path, Cleanup(clean_path, strength)))
    )

    def upscale(lr: np.ndarray) -> np.ndarray:
        run, _ = models.for_photo(lr, None)
        return run(lr)

    return upscale


@dataclass(frozen=True)
class SetResult:
    name: str  # the label for tables, e.g. "Urban100 (first 50)"
    images: int
    psnr: float
    ssim: float
    seconds: float


def set_label(name: str, count: int) -> str:
    full = FULL_SET_SIZES.get(name)
    return f"{name} (first {count})" if full is not None and count < full else name


def benchmark_images(datasets: Path, name: str) -> list[Path]:
    folder = Path(datasets) / "benchmark" / name
    if not folder.is_dir():
        raise SRStudioError(
            "benchmark folder not found (give the datasets folder with --datasets)", folder
        )
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise SRStudioError("no images in the benchmark folder", folder)
    return paths


def real_pairs(datasets: Path, name: str, scale: int) -> list[tuple[str, Path, Path]]:
    """(name, HR path, LR path) of a real-pair set: `HR/NAME` and `LR_x{scale}/NAME`."""
    folder_name, set_scale = REAL_PAIR_SETS[name]
    if scale != set_scale:
        raise SRStudioError(f"{name} holds x{set_scale} pairs, not x{scale}")
    folder = Path(datasets) / folder_name
    hr_folder, lr_folder = folder / "HR", folder / f"LR_x{scale}"
    if not hr_folder.is_dir() or not lr_folder.is_dir():
        raise SRStudioError(
            f"real-pair folder with HR/ and LR_x{scale}/ not found (give the datasets folder "
            "with --datasets)",
            folder,
        )
    pairs = [
        (p.name, p, lr_folder / p.name)
        for p in sorted(hr_folder.iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]
    missing = [lr for _, _, lr in pairs if not lr.exists()]
    if missing:
        raise SRStudioError("the LR image of this pair is missing", missing[0])
    return pairs


def evaluation_inputs(
    datasets: Path, name: str, scale: int, degraded: bool
) -> list[tuple[Path, np.ndarray, np.ndarray]]:
    """(source path, HR, LR input) of every image of a set, as `evaluate_set` scores them."""
    if name in REAL_PAIR_SETS:
        if degraded:
            raise SRStudioError(f"{name} holds real LR photos: it has no synthetic degraded form")
        return [
            (hr_path, read_rgb(hr_path), read_rgb(lr_path))
            for _, hr_path, lr_path in real_pairs(datasets, name, scale)
        ]
    inputs = []
    for path in benchmark_images(datasets, name):
        hr, lr = make_pair(read_rgb(path), scale)
        if degraded:
            from sr_studio.degradation import degrade_benchmark_image

            lr = degrade_benchmark_image(hr, scale, path.name)
        inputs.append((path, hr, lr))
    return inputs


def evaluate_set(
    upscaler: Upscaler, scale: int, datasets: str | os.PathLike, name: str, degraded: bool = False
) -> SetResult:
    """Mean PSNR/SSIM (Y, shave = scale) of `upscaler` over one benchmark set, clean or
    camera-degraded, or over one real-pair set."""
    started = time.perf_counter()
    psnrs, ssims = [], []
    for path, hr, lr in evaluation_inputs(Path(datasets), name, scale, degraded):
        sr = upscaler(lr)
        if sr.shape != hr.shape:
            raise SRStudioError(
                f"the upscaler made {sr.shape[1]}x{sr.shape[0]} from {lr.shape[1]}x{lr.shape[0]}, "
                f"expected {hr.shape[1]}x{hr.shape[0]} (is its scale {scale}?)",
                path,
            )
        value_psnr, value_ssim = measure(sr, hr, scale)
        psnrs.append(value_psnr)
        ssims.append(value_ssim)
    return SetResult(
        set_label(name, len(psnrs)),
        len(psnrs),
        float(np.mean(psnrs)),
        float(np.mean(ssims)),
        time.perf_counter() - started,
    )


def markdown_table(rows: list[tuple[str, int, list[SetResult]]]) -> str:
    """One row per (model label, scale, results); a PSNR/SSIM column per set, and the time taken."""
    if not rows:
        return ""
    labels = [r.name for r in rows[0][2]]
    header = (
        "| model | scale | " + " | ".join(f"{label} PSNR / SSIM" for label in labels) + " | time |"
    )
    lines = [header, "|" + " --- |" * (len(labels) + 3)]
    for model, scale, results in rows:
        cells = " | ".join(f"{r.psnr:.2f} / {r.ssim:.4f}" for r in results)
        lines.append(f"| {model} | x{scale} | {cells} | {sum(r.seconds for r in results):.0f} s |")
    return "\n".join(lines)
