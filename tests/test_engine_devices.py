"""Device and precision choices, and the automatic tile size: clear errors instead of crashes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_studio.engine import Upscaler, choose_device
from sr_studio.engine import devices, tiling
from sr_studio.errors import EngineError


class Doubler(torch.nn.Module):
    """A stand-in 2x model: a smooth 3x3 filter and nearest-neighbour enlargement."""

    def __init__(self, arch="SPAN"):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.fill_(0.0)
            for c in range(3):
                self.conv.weight[c, c] = 1 / 9
            self.conv.bias.fill_(0.0)
        self.arch, self.scale, self.hyperparameters = arch, 2, {"window_size": 8} if arch == "HAT" else {}

    def forward(self, x):
        return torch.nn.functional.interpolate(self.conv(x), scale_factor=2, mode="nearest")


def test_auto_picks_the_cpu_when_there_is_no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    assert choose_device("auto").type == "cpu"
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert choose_device("auto").type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device("auto").type == "cuda"


def test_missing_devices_are_a_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    for name in ("cuda", "mps", "tpu"):
        with pytest.raises(EngineError, match=name) as caught:
            Upscaler(Doubler(), device=name)
        assert "\n" not in str(caught.value)


def test_fp16_is_refused_on_the_cpu():
    with pytest.raises(EngineError, match="fp16 is not supported on the CPU"):
        Upscaler(Doubler(), device="cpu", precision="fp16")


def test_fp16_is_refused_for_hat_even_on_a_gpu():
    with pytest.raises(EngineError, match="fp16 is not supported for HAT"):
        devices.choose_dtype("fp16", torch.device("cuda"), "HAT")
    assert devices.choose_dtype("fp16", torch.device("cuda"), "SPAN") == torch.float16


def test_bf16_is_refused_where_the_gpu_lacks_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    with pytest.raises(EngineError, match="bf16 is not supported on cuda"):
        devices.choose_dtype("bf16", torch.device("cuda"), "SPAN")


def test_unknown_precision_is_refused():
    with pytest.raises(EngineError, match="unknown precision"):
        Upscaler(Doubler(), device="cpu", precision="int8")


def test_bf16_on_the_cpu_is_close_to_fp32():
    pixels = (np.random.default_rng(0).random((24, 20, 3)) * 255).astype(np.uint8)
    pixels[:5] = 255  # values at the top of the range must not wrap or overflow
    full = Upscaler(Doubler(), device="cpu", tile=8).upscale(pixels)
    half = Upscaler(Doubler(), device="cpu", precision="bf16", tile=8).upscale(pixels)
    assert half.dtype == np.uint8
    assert np.abs(full.astype(int) - half).max() <= 2
    assert half[2:8, 2:-2].min() >= 250  # where the whole filter sees 255 (the border meets zero padding)


def test_the_model_is_kept_on_its_device_and_precision():
    up = Upscaler(Doubler(), device="cpu", precision="bf16")
    assert up.model.conv.weight.dtype == torch.bfloat16 and up.model.conv.weight.device.type == "cpu"


@pytest.mark.parametrize("tile", [0, -3, 2.5, "64"])
def test_bad_tile_size_is_refused(tile):
    with pytest.raises(EngineError, match="tile size"):
        Upscaler(Doubler(), device="cpu", tile=tile)


def test_out_of_memory_is_recognised_from_each_backend():
    assert devices.is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))
    assert devices.is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to ..."))
    assert devices.is_out_of_memory(RuntimeError("MPS backend out of memory"))
    assert not devices.is_out_of_memory(RuntimeError("Given groups=1, weight of size [3, 3, 3, 3]"))
    assert not devices.is_out_of_memory(ValueError("out of memory"))


def test_available_ram_is_read():
    assert devices.available_ram_bytes() > 64 * 1024**2


@pytest.mark.parametrize("arch, window", [("SPAN", None), ("HAT", 16), ("HAT", 8)])
def test_auto_tile_follows_free_memory_within_caps(monkeypatch, arch, window):
    model = Doubler(arch)
    if window:
        model.hyperparameters = {"window_size": window}
    policy = tiling.policy_for(model)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")

    monkeypatch.setattr(tiling, "free_memory_bytes", lambda device: 1 << 40)
    assert tiling.auto_tile(policy, cpu) == policy.max_tile
    assert tiling.auto_tile(policy, cuda) == policy.gpu_max_tile > policy.max_tile

    monkeypatch.setattr(tiling, "free_memory_bytes", lambda device: 1 << 20)
    assert tiling.auto_tile(policy, cpu) == policy.min_tile

    monkeypatch.setattr(tiling, "free_memory_bytes", lambda device: 3 << 30)
    tiles = [tiling.auto_tile(policy, d) for d in (cpu, cuda)]
    for tile in tiles:
        assert policy.min_tile <= tile and tile % policy.align == 0
        patch = tile + 2 * policy.context
        assert patch * patch * policy.bytes_per_pixel <= 3 << 30
    if window:
        assert policy.align == window and policy.context >= 2 * window
        assert policy.max_tile < tiling.policy_for(Doubler("SPAN")).max_tile
