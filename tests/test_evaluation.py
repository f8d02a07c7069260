"""The benchmark measurement (PSNR/SSIM on Y) and the bundled SPAN models it vouches for."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sr_studio.evaluation import (
    bicubic_upscaler,
    evaluate_set,
    make_pair,
    markdown_table,
    measure,
    model_upscaler,
    psnr,
    set_label,
    ssim,
    y_channel,
)
from tests.conftest import SHARED

REPO = Path(__file__).resolve().parents[1]

DATASETS = SHARED / "datasets"
needs_datasets = pytest.mark.skipif(
    not (DATASETS / "benchmark" / "Set5").is_dir(),
    reason=f"benchmark images not found at {DATASETS}",
)


def test_identical_images_give_infinite_psnr_and_ssim_one():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 30)).astype(np.float64)
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)


def test_psnr_of_a_uniform_shift_is_analytic():
    rng = np.random.default_rng(1)
    image = rng.integers(20, 200, (32, 32)).astype(np.float64)
    for shift in (1.0, 5.0, 16.0):
        assert psnr(image, image + shift) == pytest.approx(
            10 * math.log10(255**2 / shift**2), abs=1e-9
        )


def test_ssim_of_two_flat_images_is_the_luminance_term():
    c1 = (0.01 * 255) ** 2
    a, b = np.full((20, 20), 100.0), np.full((20, 20), 110.0)
    expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-12)


def test_ssim_drops_with_noise_and_is_symmetric():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (48, 48)).astype(np.float64)
    slightly = np.clip(image + rng.normal(0, 3, image.shape), 0, 255)
    badly = np.clip(image + rng.normal(0, 30, image.shape), 0, 255)
    assert 1.0 > ssim(image, slightly) > ssim(image, badly) > 0.0
    assert ssim(image, badly) == pytest.approx(ssim(badly, image), abs=1e-12)


def test_y_channel_uses_bt601_studio_range():
    assert y_channel(np.zeros((1, 1, 3), np.uint8))[0, 0] == pytest.approx(16.0)
    assert y_channel(np.full((1, 1, 3), 255, np.uint8))[0, 0] == pytest.approx(235.0)
    assert y_channel(np.array([[[255, 0, 0]]], np.uint8))[0, 0] == pytest.approx(16 + 65.481)


def test_pair_crops_hr_to_a_multiple_of_the_scale():
    hr = np.random.default_rng(3).integers(0, 256, (13, 11, 3)).astype(np.uint8)
    cropped, lr = make_pair(hr, 2)
    assert cropped.shape == (12, 10, 3) and lr.shape == (6, 5, 3)
    assert np.array_equal(cropped, hr[:12, :10])


def test_measurement_ignores_the_shaved_border():
    rng = np.random.default_rng(4)
    hr = rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)
    sr = hr.copy()
    sr[:2] = 0  # garbage only inside the 2-pixel border a x2 evaluation shaves
    assert measure(sr, hr, 2)[0] == math.inf
    assert measure(sr, hr, 1)[0] < 40


class NearestX2(torch.nn.Module):
    """A stand-in network whose output overshoots 0..1 so that clamping shows."""

    scale = 2
    arch = "test"

    def forward(self, x):
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest") * 2.0 - 0.25


def test_model_output_is_clamped_and_rounded_to_8_bits():
    lr = np.array([[[0, 128, 255]]], np.uint8)
    out = model_upscaler(NearestX2())(lr)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out[0, 0].tolist() == [0, 192, 255]  # 128 * 2 - 63.75 = 192.25


def test_partial_sets_are_labelled_as_such():
    assert set_label("Urban100", 50) == "Urban100 (first 50)"
    assert set_label("Urban100", 100) == "Urban100"
    assert set_label("Set5", 5) == "Set5"


@needs_datasets
@pytest.mark.parametrize("scale, published", [(2, 33.66), (4, 28.42)])
def test_bicubic_on_set5_matches_the_published_baseline(scale, published):
    result = evaluate_set(bicubic_upscaler(scale), scale, DATASETS, "Set5")
    assert result.images == 5
    assert result.psnr == pytest.approx(published, abs=0.1)
    table = markdown_table([("bicubic", scale, [result])])
    assert f"{result.psnr:.2f}" in table and "Set5" in table


@needs_datasets
@pytest.mark.parametrize("scale", [2, 4])
def test_bundled_span_is_far_better_than_bicubic_on_set5(scale):
    weights = REPO / "resources" / "models" / f"span-x{scale}.safetensors"
    if not weights.is_file():
        pytest.skip(f"{weights} not trained yet")
    from sr_studio.model_loading import load_model

    model = load_model(weights)
    assert model.descriptor.arch == "SPAN" and model.descriptor.scale == scale
    trained = evaluate_set(model_upscaler(model), scale, DATASETS, "Set5")
    bicubic = evaluate_set(bicubic_upscaler(scale), scale, DATASETS, "Set5")
    assert trained.psnr > bicubic.psnr + 2.0


@pytest.mark.parametrize("scale", [2, 4])
def test_bundled_span_files_keep_fused_kernels_consistent_with_the_chains(scale):
    """Tools that rebuild eval_conv from sk/conv (as ours does) and tools that use eval_conv as
    stored must get the same network from our files."""
    weights = REPO / "resources" / "models" / f"span-x{scale}.safetensors"
    if not weights.is_file():
        pytest.skip(f"{weights} not trained yet")
    from safetensors.torch import load_file

    from sr_studio.archs.span import SPAN

    stored = load_file(str(weights))
    model = SPAN(feature_channels=48, upscale=scale)
    assert set(stored) == set(model.state_dict())
    model.load_state_dict(stored)
    model.fuse()
    for key, value in model.state_dict().items():
        if "eval_conv" in key:
            assert torch.allclose(value, stored[key], atol=1e-5), key
