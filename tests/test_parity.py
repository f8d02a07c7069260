"""Our HAT and SPAN reproduce the reference implementations and accept the official checkpoint layouts."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sr_studio import load_model
from sr_studio.archs import detect_architecture
from tests.conftest import SHARED

PARITY = SHARED / "fixtures" / "parity"


def cases():
    path = PARITY / "cases.json"
    return json.loads(path.read_text()) if path.is_file() else []


def layouts():
    path = PARITY / "official_state_dict_layouts.json"
    return sorted(json.loads(path.read_text()).items()) if path.is_file() else []


@pytest.mark.parametrize("case", cases(), ids=lambda c: c["name"])
def test_reference_output_is_reproduced(parity_dir, case):
    model = load_model(parity_dir / case["weights"])
    assert model.arch == case["arch"]
    assert model.hyperparameters == case["hyperparameters"]
    assert model.scale == case["hyperparameters"]["upscale"]
    assert not model.training
    io = load_file(parity_dir / case["io"])
    with torch.no_grad():
        output = model(io["input"])
    assert list(output.shape) == case["output_shape"]
    tolerance = 1e-3 * io["output"].std().item()
    assert (output - io["output"]).abs().max().item() <= tolerance


@pytest.mark.parametrize("name,layout", layouts(), ids=lambda v: v if isinstance(v, str) else "")
def test_official_layout_is_detected_and_rebuilt_exactly(parity_dir, name, layout):
    state_dict = {
        key: torch.empty(shape, device="meta", dtype=torch.int64 if "relative_position_index" in key else torch.float32)
        for key, shape in layout["keys"].items()
    }
    detected = detect_architecture(state_dict)
    assert detected.arch == layout["arch"]
    assert detected.scale == layout["hyperparameters"]["upscale"]
    assert detected.hyperparameters == layout["hyperparameters"]
    with torch.device("meta"):
        model = detected.build()
    assert {key: list(t.shape) for key, t in model.state_dict().items()} == layout["keys"]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == layout["parameters"]


def test_stale_fused_kernels_are_rebuilt_at_load_time(parity_dir):
    """span_ch48_x4 stores stale eval_conv tensors; the loaded model must not use them."""
    raw = torch.load(parity_dir / "span_ch48_x4.pth", weights_only=True)["params"]
    model = load_model(parity_dir / "span_ch48_x4.pth")
    stored = raw["conv_1.eval_conv.weight"]
    assert not torch.allclose(model.conv_1.eval_conv.weight, stored, atol=1e-6)


def test_fusion_happens_once_not_per_call(parity_dir, monkeypatch):
    from sr_studio.archs.span.network import Conv3XC

    model = load_model(parity_dir / "span_ch48_x4.pth")
    calls = []
    monkeypatch.setattr(Conv3XC, "fuse", lambda self: calls.append(self))
    with torch.no_grad():
        model(torch.rand(1, 3, 8, 8))
        model(torch.rand(1, 3, 9, 7))
    assert calls == []


@pytest.mark.parametrize("case", [c for c in cases() if c["arch"] == "HAT"], ids=lambda c: c["name"])
def test_hat_in_bfloat16_stays_within_one_percent_rms_of_the_reference(parity_dir, case):
    """The engine's bf16 HAT (body in bf16, residual stream, norms, head and tail in float32): relative
    RMS error <= 1e-2. Cast whole to bf16, hat_s_like_x2 gives 1.17e-2."""
    from sr_studio.engine.devices import cast_model

    model = cast_model(load_model(parity_dir / case["weights"]), torch.device("cpu"), torch.bfloat16)
    assert model.layers[0].residual_group.blocks[0].attn.qkv.weight.dtype == torch.bfloat16
    assert model.conv_first.weight.dtype == model.conv_last.weight.dtype == torch.float32
    io = load_file(parity_dir / case["io"])
    with torch.no_grad():
        output = model(io["input"]).float()
    reference = io["output"]
    relative_rms = ((output - reference).pow(2).mean().sqrt() / reference.pow(2).mean().sqrt()).item()
    assert relative_rms <= 1e-2


@pytest.mark.parametrize("scale", [2, 4])
def test_bundled_span_in_bfloat16_on_the_cpu_stays_45_db_from_float32_on_photos(shared_dir, scale):
    """The quality rule that lets SPAN run in bf16: at least 45 dB from its own fp32 output on real
    photos (crops of three training photos), with the network as the engine casts it on the CPU."""
    import numpy as np
    from PIL import Image

    from sr_studio.engine.devices import cast_model
    from sr_studio.evaluation import psnr

    photos = sorted((shared_dir / "datasets" / "train" / "photos").glob("*.jpg"))[:3]
    if not photos:
        pytest.skip(f"{shared_dir / 'datasets' / 'train' / 'photos'} has no photos")
    weights = Path(__file__).resolve().parents[1] / "resources" / "models" / f"span-x{scale}.safetensors"
    exact = cast_model(load_model(weights), torch.device("cpu"), torch.float32)
    reduced = cast_model(load_model(weights), torch.device("cpu"), torch.bfloat16)
    assert reduced.conv_1.eval_conv.weight.dtype == torch.bfloat16
    for path in photos:
        pixels = np.asarray(Image.open(path).convert("RGB"))
        top, left = (pixels.shape[0] - 96) // 2, (pixels.shape[1] - 96) // 2
        area = torch.from_numpy(pixels[top : top + 96, left : left + 96].astype(np.float32) / 255)
        x = area.permute(2, 0, 1).unsqueeze(0).contiguous()
        with torch.inference_mode():
            want = exact(x).clamp(0, 1).mul(255).round()
            got = reduced(x.bfloat16()).float().clamp(0, 1).mul(255).round()
        value = psnr(got.squeeze(0).permute(1, 2, 0).numpy(), want.squeeze(0).permute(1, 2, 0).numpy())
        assert value >= 45, f"{path.name}: {value:.1f} dB"
