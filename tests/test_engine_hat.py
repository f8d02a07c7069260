"""HAT cannot be tiled exactly (its channel attention pools over the whole image): tiles must still
agree with a whole-image run to >= 45 dB with the default context and cross-fade, even at small
tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_studio.archs import LoadedModel
from sr_studio.archs.hat.detect import describe_hat
from sr_studio.archs.hat.network import HAT
from sr_studio.engine import Upscaler
from sr_studio.model_loading import load_model


def photo(h: int, w: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = (
        np.stack([np.sin(6 * yy + 2 * xx), np.cos(5 * xx - 3 * yy), np.sin(4 * (xx + yy))], -1)
        * 0.35
        + 0.5
    )
    return np.rint(np.clip(base + rng.normal(0, 0.08, (h, w, 3)), 0, 1) * 255).astype(np.uint8)


def whole_image(model, pixels: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(pixels.astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        y = model(x).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    return np.rint(y * 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def tiled_psnr(model, pixels: np.ndarray, tile: int) -> tuple[float, int]:
    events = []
    tiled = Upscaler(model, tile=tile).upscale(pixels, on_progress=events.append)
    return psnr(tiled, whole_image(model, pixels)), len(events)


@pytest.fixture(scope="module")
def small_hat():
    torch.manual_seed(0)
    model = (
        HAT(
            embed_dim=16,
            depths=(2,),
            num_heads=(2,),
            window_size=8,
            compress_ratio=2,
            squeeze_factor=4,
            upscale=2,
        )
        .eval()
        .requires_grad_(False)
    )
    with torch.no_grad():  # keep outputs inside 0..1 so clamping hides nothing
        model.conv_last.weight *= 0.2
        model.conv_last.bias *= 0.2
    hyperparameters = {
        "embed_dim": 16,
        "depths": [2],
        "num_heads": [2],
        "window_size": 8,
        "upscale": 2,
    }
    return LoadedModel(model, describe_hat(hyperparameters))


def test_small_hat_tiles_match_the_whole_image(small_hat):
    pixels = photo(56, 72)
    assert np.mean((whole_image(small_hat, pixels) % 255) != 0) > 0.95
    value, tiles = tiled_psnr(small_hat, pixels, tile=16)
    assert tiles == 20
    assert value >= 45


def test_small_hat_after_running_out_of_memory(small_hat):
    class OutOfMemoryAbove(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner, self.failures = small_hat.network, 0

        def forward(self, x):
            if max(x.shape[-2:]) > 56:
                self.failures += 1
                raise torch.OutOfMemoryError("CUDA out of memory")
            assert x.shape[-2] % 8 == 0 and x.shape[-1] % 8 == 0  # patches stay on the window grid
            return self.inner(x)

    model = OutOfMemoryAbove()
    pixels = photo(56, 72)
    tiled = Upscaler(LoadedModel(model, small_hat.descriptor), tile=32).upscale(pixels)
    assert model.failures >= 1
    assert psnr(tiled, whole_image(small_hat, pixels)) >= 45


@pytest.mark.parametrize(
    "name, size, tile",
    [
        ("hat_tiny_x4.pth", (64, 72), 16),
        ("hat_s_like_x2.safetensors", (80, 96), 32),
    ],
)
def test_parity_fixture_hat_tiles_match_the_whole_image(parity_dir, name, size, tile):
    model = load_model(parity_dir / name)
    value, tiles = tiled_psnr(model, photo(*size), tile)
    assert tiles >= 9
    assert value >= 45
