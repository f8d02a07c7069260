"""The automatic precision keeps the quality rule it is chosen by: where a CPU computes bfloat16,
the bundled SPAN models run in bf16 by default, so their bf16 output must stay within 45 dB of
fp32."""

from __future__ import annotations

from pathlib import Path

import pytest

from sr_studio import load_model
from sr_studio.engine import Upscaler, devices
from sr_studio.evaluation import make_pair, psnr, read_rgb

BUNDLED = Path(__file__).resolve().parents[1] / "resources" / "models"


@pytest.mark.parametrize("name", ["span-x2", "span-x2-photo", "span-x4", "span-x4-photo"])
def test_bundled_span_in_automatic_bf16_stays_45_db_from_fp32_on_set5(
    shared_dir, name, monkeypatch
):
    folder = shared_dir / "datasets" / "benchmark" / "Set5"
    images = sorted(folder.glob("*.png"))
    if not images:
        pytest.skip(f"{folder} has no images")
    # As on a CPU with AVX512-BF16 or AMX, whatever this one has (emulated bf16 gives the same
    # numbers).
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: True)
    exact = Upscaler(load_model(BUNDLED / f"{name}.safetensors"), device="cpu", precision="fp32")
    automatic = Upscaler(
        load_model(BUNDLED / f"{name}.safetensors"), device="cpu", precision="auto"
    )
    assert automatic.precision == "bf16"
    for path in images:
        _, low = make_pair(read_rgb(path), exact.scale)
        low = low[:128, :128]  # a corner of each photo keeps CI short where bf16 is emulated
        value = psnr(automatic.upscale(low), exact.upscale(low))
        assert value >= 45, f"{name} on {path.name}: {value:.1f} dB"
