"""Device and precision choices, and the automatic tile size: clear errors instead of crashes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_studio.archs import LoadedModel, ModelDescriptor
from sr_studio.archs.hat.detect import describe_hat
from sr_studio.archs.span.detect import describe_span
from sr_studio.engine import Upscaler, choose_device, devices, tiling
from sr_studio.errors import EngineError

SPAN_X2 = describe_span({"feature_channels": 8, "upscale": 2})


def hat_x2(window: int = 8) -> ModelDescriptor:
    hyperparameters = {"embed_dim": 12, "depths": [1], "num_heads": [2], "upscale": 2}
    return describe_hat({**hyperparameters, "window_size": window})


def Doubler(descriptor: ModelDescriptor = SPAN_X2) -> LoadedModel:
    return LoadedModel(DoublerNetwork(), descriptor)


class DoublerNetwork(torch.nn.Module):
    """A stand-in 2x model: a smooth 3x3 filter and nearest-neighbour enlargement."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.fill_(0.0)
            for c in range(3):
                self.conv.weight[c, c] = 1 / 9
            self.conv.bias.fill_(0.0)

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
        devices.choose_dtype("fp16", torch.device("cuda"), hat_x2())
    assert devices.choose_dtype("fp16", torch.device("cuda"), SPAN_X2) == torch.float16


def test_bf16_is_refused_where_the_gpu_lacks_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    with pytest.raises(EngineError, match="bf16 is not supported on cuda"):
        devices.choose_dtype("bf16", torch.device("cuda"), SPAN_X2)


def test_unknown_precision_is_refused():
    with pytest.raises(EngineError, match="unknown precision"):
        Upscaler(Doubler(), device="cpu", precision="int8")


@pytest.fixture
def native_bf16(monkeypatch):
    """Pretend the CPU computes bfloat16 in hardware (AVX512-BF16 / AMX), whatever this machine
    has."""
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: True)


@pytest.fixture
def emulated_bf16(monkeypatch):
    """Pretend the CPU lacks bfloat16 instructions (AVX2 only), whatever this machine has."""
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: False)


def test_bf16_on_a_cpu_without_it_runs_in_fp32_and_says_so_in_one_line(emulated_bf16):
    up = Upscaler(Doubler(), device="cpu", precision="bf16")
    assert up.precision == "fp32" and up.dtype == torch.float32
    assert up.model.conv.weight.dtype == torch.float32
    assert "bf16" in up.notice and "fp32" in up.notice and "\n" not in up.notice
    assert Upscaler(Doubler(), device="cpu", precision="fp32").notice is None  # the run asked for
    with pytest.raises(EngineError, match="fp16 is not supported on the CPU"):
        Upscaler(Doubler(), device="cpu", precision="fp16")


def test_bf16_on_a_cpu_with_it_and_on_gpus_is_kept(native_bf16, monkeypatch):
    up = Upscaler(Doubler(), device="cpu", precision="bf16")
    assert (up.precision, up.dtype, up.notice) == ("bf16", torch.bfloat16, None)
    # A GPU's bf16 never depends on the CPU's instructions.
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert devices.effective_precision("bf16", torch.device("cuda")) == ("bf16", None)
    assert devices.effective_precision("bf16", torch.device("mps")) == ("bf16", None)
    assert devices.choose_dtype("bf16", torch.device("cuda"), hat_x2()) == torch.bfloat16


@pytest.mark.real_cpu_features
def test_native_bf16_is_read_from_the_cpu_features(monkeypatch):
    monkeypatch.setattr(devices.platform, "machine", lambda: "x86_64")
    try:
        # Plain AVX-512 (oneDNN's bf16 "support", in software) does not count.
        monkeypatch.setattr(
            torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False
        )
        for avx512_bf16, amx, expected in (
            (False, False, False),
            (True, False, True),
            (False, True, True),
        ):
            monkeypatch.setattr(
                torch.cpu, "_is_avx512_bf16_supported", lambda avx512_bf16=avx512_bf16: avx512_bf16
            )
            monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda amx=amx: amx)
            devices.cpu_has_native_bf16.cache_clear()
            assert devices.cpu_has_native_bf16() is expected
    finally:
        devices.cpu_has_native_bf16.cache_clear()


def test_bf16_on_the_cpu_is_close_to_fp32(native_bf16):
    pixels = (np.random.default_rng(0).random((24, 20, 3)) * 255).astype(np.uint8)
    pixels[:5] = 255  # values at the top of the range must not wrap or overflow
    full = Upscaler(Doubler(), device="cpu", tile=8).upscale(pixels)
    half = Upscaler(Doubler(), device="cpu", precision="bf16", tile=8).upscale(pixels)
    assert half.dtype == np.uint8
    assert np.abs(full.astype(int) - half).max() <= 2
    assert (
        half[2:8, 2:-2].min() >= 250
    )  # where the whole filter sees 255 (the border meets zero padding)


def test_the_model_is_kept_on_its_device_and_precision(native_bf16):
    up = Upscaler(Doubler(), device="cpu", precision="bf16")
    assert (
        up.model.conv.weight.dtype == torch.bfloat16 and up.model.conv.weight.device.type == "cpu"
    )


@pytest.mark.parametrize("tile", [0, -3, 2.5, "64"])
def test_bad_tile_size_is_refused(tile):
    with pytest.raises(EngineError, match="tile size"):
        Upscaler(Doubler(), device="cpu", tile=tile)


def test_out_of_memory_is_recognised_from_each_backend():
    assert devices.is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))
    assert devices.is_out_of_memory(
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to ...")
    )
    assert devices.is_out_of_memory(RuntimeError("MPS backend out of memory"))
    assert not devices.is_out_of_memory(RuntimeError("Given groups=1, weight of size [3, 3, 3, 3]"))
    assert not devices.is_out_of_memory(ValueError("out of memory"))


def test_available_ram_is_read():
    assert devices.available_ram_bytes() > 64 * 1024**2


@pytest.mark.parametrize("window", [None, 16, 8])
def test_auto_tile_follows_free_memory_within_caps(monkeypatch, window):
    policy = tiling.policy_for(hat_x2(window) if window else SPAN_X2)
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
        assert policy.max_tile < tiling.policy_for(SPAN_X2).max_tile


def test_hat_in_bf16_runs_mixed_and_takes_float32_pixels(native_bf16):
    """The engine casts HAT with its own recipe (bf16 body, float32 residual stream, head and tail),
    and feeds it float32 pixels: bf16 input would round a 16-bit photo to about 256 levels before
    the network sees it."""
    from sr_studio.archs.hat.network import HAT

    def tiny_hat():
        torch.manual_seed(0)
        hat = HAT(
            embed_dim=12,
            depths=(1,),
            num_heads=(2,),
            window_size=8,
            compress_ratio=3,
            squeeze_factor=4,
            upscale=2,
        )
        return LoadedModel(hat, hat_x2())

    hat, reference = tiny_hat(), Upscaler(tiny_hat(), device="cpu", precision="fp32")
    up = Upscaler(hat, device="cpu", precision="bf16")
    assert up.input_dtype == torch.float32
    assert (
        up.model.layers[0].conv.weight.dtype == torch.bfloat16
        and up.model.conv_last.weight.dtype == torch.float32
    )
    pixels = (np.random.default_rng(1).random((20, 24, 3)) * 65535).astype(np.uint16)
    ours, exact = (
        up.upscale(pixels).astype(np.float64),
        reference.upscale(pixels).astype(np.float64),
    )
    assert np.sqrt(np.mean((ours - exact) ** 2)) / np.sqrt(np.mean(exact**2)) <= 1e-2


def test_automatic_precision_takes_bf16_only_where_the_cpu_computes_it(native_bf16, monkeypatch):
    up = Upscaler(Doubler(), device="cpu", precision="auto")
    assert (up.precision, up.dtype, up.notice) == ("bf16", torch.bfloat16, None)
    assert "bfloat16 in hardware" in up.precision_reason
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: False)
    up = Upscaler(Doubler(), device="cpu", precision="auto")
    # fp32 without the emulation notice: nobody asked for bf16.
    assert (up.precision, up.dtype, up.notice) == ("fp32", torch.float32, None)
    assert "no bfloat16 instructions" in up.precision_reason
    named = Upscaler(Doubler(), device="cpu", precision="fp32")
    assert named.precision_reason is None


def test_automatic_precision_on_gpus_follows_each_networks_rule(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(devices, "_bf16_supported", lambda device: True)
    assert devices.automatic_precision(SPAN_X2, cuda)[0] == "fp16"
    precision, reason = devices.automatic_precision(hat_x2(), cuda)
    assert precision == "bf16" and "fp16" in reason  # HAT's attention overflows in fp16
    assert devices.automatic_precision(hat_x2(), torch.device("mps"))[0] == "bf16"
    monkeypatch.setattr(devices, "_bf16_supported", lambda device: False)
    assert devices.automatic_precision(hat_x2(), cuda)[0] == "fp32"
    assert devices.automatic_precision(SPAN_X2, cuda)[0] == "fp16"


def test_a_network_allowed_only_fp32_stays_there_whatever_the_cpu(native_bf16):
    strict = ModelDescriptor(**{**SPAN_X2.__dict__, "precisions": {"cpu": ("fp32",)}})
    precision, reason = devices.automatic_precision(strict, torch.device("cpu"))
    assert precision == "fp32" and "only in fp32" in reason
