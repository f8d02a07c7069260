"""On a CUDA GPU the engine gives the photo the CPU gives, and its fast precisions stay faithful.

These run only where PyTorch sees a CUDA GPU (CI has none; benchmarks/RESULTS.md records the runs on
one). fp32 is strict IEEE float32 there (no TF32), so it must match the reference outputs as tightly
as the CPU does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from sr_studio import load_model
from sr_studio.engine import Upscaler
from sr_studio.engine.devices import cast_model, strict_float32
from sr_studio.evaluation import make_pair, psnr, read_rgb
from tests.conftest import SHARED

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="no CUDA GPU here: these checks run on a machine that has one",
)

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "resources" / "models"
PARITY = SHARED / "fixtures" / "parity"
CUDA = torch.device("cuda")


def cases(arch: str | None = None) -> list[dict]:
    path = PARITY / "cases.json"
    found = json.loads(path.read_text()) if path.is_file() else []
    return [c for c in found if arch is None or c["arch"] == arch]


def photo(h: int, w: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = (
        np.stack([np.sin(9 * yy + 2 * xx), np.cos(7 * xx - 3 * yy), np.sin(5 * (xx + yy))], -1)
        * 0.35
        + 0.5
    )
    return np.rint(np.clip(base + rng.normal(0, 0.06, (h, w, 3)), 0, 1) * 255).astype(np.uint8)


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    """Largest difference in 8-bit levels, and the share of values that differ at all."""
    difference = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int(difference.max()), float(np.count_nonzero(difference)) / difference.size


@pytest.mark.parametrize("case", cases(), ids=lambda c: c["name"])
def test_float32_on_the_gpu_reproduces_the_reference(parity_dir, case):
    strict_float32()
    model = load_model(parity_dir / case["weights"]).network.to(CUDA)
    io = load_file(parity_dir / case["io"])
    with torch.inference_mode():
        output = model(io["input"].to(CUDA)).cpu()
    tolerance = 1e-3 * io["output"].std().item()
    assert (output - io["output"]).abs().max().item() <= tolerance


@pytest.mark.parametrize("case", cases("HAT"), ids=lambda c: c["name"])
def test_hat_in_bfloat16_on_the_gpu_stays_within_one_percent_rms(parity_dir, case):
    model = cast_model(load_model(parity_dir / case["weights"]).network, CUDA, torch.bfloat16)
    io = load_file(parity_dir / case["io"])
    with torch.inference_mode():
        output = model(io["input"].to(CUDA)).float().cpu()
    reference = io["output"]
    relative_rms = (
        (output - reference).pow(2).mean().sqrt() / reference.pow(2).mean().sqrt()
    ).item()
    assert relative_rms <= 1e-2


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_bundled_span_in_reduced_precision_matches_float32_to_45_db_on_set5(
    shared_dir, scale, precision
):
    folder = shared_dir / "datasets" / "benchmark" / "Set5"
    images = sorted(folder.glob("*.png"))
    if not images:
        pytest.skip(f"{folder} has no images")
    weights = BUNDLED / f"span-x{scale}.safetensors"  # each Upscaler casts its own model in place
    exact = Upscaler(load_model(weights), device="cuda", precision="fp32")
    reduced = Upscaler(load_model(weights), device="cuda", precision=precision)
    for path in images:
        _, lr = make_pair(read_rgb(path), scale)
        value = psnr(reduced.upscale(lr), exact.upscale(lr))
        assert value >= 45, f"{path.name}: {value:.1f} dB"


def test_tiled_span_on_the_gpu_gives_the_cpu_photo():
    """Wider than one GPU tile (1024 px), so the GPU run is stitched; SPAN's exact context leaves no
    seam."""
    model = load_model(BUNDLED / "span-x2.safetensors")
    pixels = photo(150, 1300)
    on_gpu = Upscaler(model, device="cuda").upscale(pixels)
    on_cpu = Upscaler(model, device="cpu").upscale(pixels)
    largest, share = agreement(on_gpu, on_cpu)
    assert on_gpu.shape == (300, 2600, 3)
    assert largest <= 1 and share < 1e-3


def test_tiled_hat_on_the_gpu_gives_the_cpu_photo_in_float32_and_stays_close_in_bfloat16(
    parity_dir,
):
    model = load_model(parity_dir / "hat_tiny_x4.pth")
    pixels = photo(70, 90)
    on_cpu = Upscaler(model, device="cpu", tile=32).upscale(pixels)
    on_gpu = Upscaler(model, device="cuda", tile=32).upscale(pixels)
    largest, share = agreement(on_gpu, on_cpu)
    assert largest <= 1 and share < 1e-3
    in_bf16 = Upscaler(
        load_model(parity_dir / "hat_tiny_x4.pth"), device="cuda", precision="bf16", tile=32
    )
    assert psnr(in_bf16.upscale(pixels), on_cpu) >= 40


def test_cli_enlarges_a_photo_on_the_gpu_in_half_precision(tmp_path):
    source, output = tmp_path / "photo.png", tmp_path / "photo_x2.png"
    Image.fromarray(photo(120, 160)).save(source)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sr_studio",
            "upscale",
            str(source),
            "-o",
            str(output),
            "--device",
            "cuda",
            "--precision",
            "fp16",
            "--scale",
            "2",
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    with Image.open(output) as written:
        assert written.size == (320, 240)
        on_gpu = np.asarray(written.convert("RGB"))
    on_cpu = Upscaler(load_model(BUNDLED / "span-x2.safetensors"), device="cpu").upscale(
        photo(120, 160)
    )
    assert psnr(on_gpu, on_cpu) >= 45
