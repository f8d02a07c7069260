"""The model descriptor: what each form of weights the loaders accept says about tiling, precisions
and speed, and that a network the engine has never heard of runs from its descriptor alone."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import sr_studio.archs as archs
from sr_studio.archs import (
    Architecture,
    DetectedArchitecture,
    ModelDescriptor,
    describe_recorded,
    detect_architecture,
)
from sr_studio.archs.descriptor import TileSizes
from sr_studio.archs.detection import NotThisArchitecture, shape_of
from sr_studio.archs.hat.network import HAT
from sr_studio.archs.span.network import SPAN
from sr_studio.engine import Upscaler
from sr_studio.engine.devices import choose_dtype
from sr_studio.engine.tiling import policy_for
from sr_studio.errors import EngineError
from sr_studio.model_loading import load_model, model_from_state_dict

REPO = Path(__file__).resolve().parents[1]

# Official layouts, built on the meta device (shapes only, no memory): HAT-S, HAT, HAT-L.
HAT_FORMS = {
    "HAT-S x4": dict(embed_dim=144, compress_ratio=24, squeeze_factor=24, upscale=4),
    "HAT x3": dict(upscale=3),
    "HAT-L x4": dict(depths=(6,) * 12, num_heads=(6,) * 12, upscale=4),
    "HAT-S x2": dict(embed_dim=144, compress_ratio=24, squeeze_factor=24, upscale=2),
}


def meta_state_dict(network: type[torch.nn.Module], **options: Any) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return network(**options).state_dict()


def fused_only_entries(model: SPAN) -> dict[str, torch.Tensor]:
    """What re-fused SPAN exports keep: the eval_conv kernels, none of the training chains."""
    model.fuse()
    chain = (".sk.", ".conv.0.", ".conv.1.", ".conv.2.")
    return {k: v for k, v in model.state_dict().items() if not any(part in k for part in chain)}


@pytest.mark.parametrize("label, options", HAT_FORMS.items(), ids=list(HAT_FORMS))
def test_official_hat_layouts_are_described(label, options):
    variant, scale = label.split(" x")
    described = detect_architecture(meta_state_dict(HAT, **options)).descriptor
    assert (described.arch, described.variant, described.scale) == ("HAT", variant, int(scale))
    assert described.display_name == label
    # Two 16 px windows of context, cuts on the window grid, half a window of cross-fade.
    assert (described.context, described.size_multiple, described.cross_fade) == (32, 16, 8)
    assert described.tile_sizes.smallest == 16
    assert described.speed == ("slow" if variant == "HAT-S" else "very slow")
    for kind in ("cpu", "cuda", "mps"):
        assert described.allowed_precisions(kind) == ("fp32", "bf16")
    assert not described.allows("fp16", "cuda")


def test_a_custom_hat_window_sets_its_context_and_multiple():
    described = detect_architecture(
        meta_state_dict(
            HAT,
            embed_dim=12,
            depths=(1,),
            num_heads=(2,),
            window_size=8,
            compress_ratio=3,
            squeeze_factor=4,
            upscale=2,
        )
    ).descriptor
    assert (described.variant, described.scale) == ("HAT 12x1", 2)
    assert (described.context, described.size_multiple, described.cross_fade) == (16, 8, 4)
    policy = policy_for(described)
    assert policy.max_tile % 8 == 0 and policy.gpu_max_tile % 8 == 0 and policy.min_tile == 8


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
@pytest.mark.parametrize("fused_only", [False, True], ids=["official", "fused-only"])
def test_span_in_both_forms_is_described(scale, fused_only):
    torch.manual_seed(0)
    model = SPAN(feature_channels=48, upscale=scale)
    entries = fused_only_entries(model) if fused_only else model.state_dict()
    loaded = model_from_state_dict(entries)
    described = loaded.descriptor
    assert (described.arch, described.variant, described.scale) == ("SPAN", "SPAN ch48", scale)
    assert described.hyperparameters.get("fused_only", False) is fused_only
    # 21 stacked 3x3 convolutions: tiles with 21 px of context are exact, so no cross-fade nor grid.
    assert (described.context, described.size_multiple, described.cross_fade) == (21, 1, 0)
    assert described.speed == "fast"
    assert described.allowed_precisions("cpu") == ("fp32", "bf16")
    assert (
        described.allowed_precisions("cuda")
        == described.allowed_precisions("mps")
        == ("fp32", "bf16", "fp16")
    )


def test_refused_precisions_say_why_and_what_to_use():
    span = detect_architecture(meta_state_dict(SPAN, feature_channels=16, upscale=2)).descriptor
    hat = detect_architecture(meta_state_dict(HAT, **HAT_FORMS["HAT-S x4"])).descriptor
    assert span.precision_refusal("fp16", "cuda") is None
    assert (
        span.precision_refusal("fp16", "cpu")
        == "precision fp16 is not supported on the CPU: use fp32 or bf16"
    )
    assert hat.precision_refusal("fp16", "cuda") == (
        "precision fp16 is not supported for HAT (its attention overflows): use fp32 or bf16"
    )
    with pytest.raises(EngineError, match="fp16 is not supported for HAT"):
        choose_dtype("fp16", torch.device("cuda"), hat)


@pytest.mark.parametrize(
    "state_dict",
    [
        meta_state_dict(HAT, **HAT_FORMS["HAT-L x4"]),
        meta_state_dict(SPAN, feature_channels=32, upscale=3, norm=False),
    ],
    ids=["HAT-L", "SPAN ch32 no-norm"],
)
def test_the_store_record_gives_back_the_same_descriptor(state_dict):
    """Installed models are listed from their record (arch, hyperparameters), not by loading."""
    described = detect_architecture(state_dict).descriptor
    assert describe_recorded(described.arch, dict(described.hyperparameters)) == described
    assert (
        describe_recorded("HAT", {}) is None
        and describe_recorded("UNKNOWN", {"upscale": 2}) is None
    )
    assert describe_recorded("HAT", {"upscale": 4}) is None  # a record too thin to describe


def test_bundled_models_are_described_from_their_header_as_when_loaded():
    from sr_studio.weights.bundled import bundled_models

    models = bundled_models(REPO / "resources" / "models")
    if not models:
        pytest.skip("no bundled models in resources/models")
    for model in models:
        assert model.descriptor == load_model(model.path).descriptor, model.id


# ---------------------------------------------------------- a third architecture, registered here


class Nearest3x(torch.nn.Module):
    """A network nobody ships: a 3x3 smoothing convolution, then nearest-neighbour x3."""

    def __init__(self) -> None:
        super().__init__()
        self.smooth = torch.nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(self.smooth(x), scale_factor=3, mode="nearest")


def describe_nearest(hyperparameters: Mapping[str, Any]) -> ModelDescriptor:
    return ModelDescriptor(
        arch="NEAREST",
        variant="Nearest",
        scale=int(hyperparameters["upscale"]),
        hyperparameters=hyperparameters,
        precisions={"cpu": ("fp32",)},
        context=1,
        size_multiple=4,
        cross_fade=2,
        bytes_per_pixel=1_000,
        tile_sizes=TileSizes(cpu=64, gpu=128, smallest=4),
        speed="fast",
    )


def detect_nearest(state_dict: Mapping[str, Any]) -> DetectedArchitecture:
    if "smooth.weight" not in state_dict:
        raise NotThisArchitecture
    assert shape_of(state_dict, "smooth.weight") == (3, 3, 3, 3)
    return DetectedArchitecture(descriptor=describe_nearest({"upscale": 3}), build=Nearest3x)


NEAREST = Architecture(
    name="NEAREST",
    forms="Nearest",
    network_module=__name__,
    detect=detect_nearest,
    describe=describe_nearest,
    build=lambda hyperparameters: Nearest3x(),
    preset=lambda variant, scale: None,
)


def test_a_new_architecture_runs_from_its_registry_line_alone(tmp_path, monkeypatch):
    """Registered (the one line in sr_studio/archs), it loads, tiles on its own grid, and keeps its
    precision rule, with no engine, loader or catalog code naming it."""
    monkeypatch.setattr(archs, "ARCHITECTURES", (*archs.ARCHITECTURES, NEAREST))
    torch.manual_seed(0)
    path = tmp_path / "nearest.safetensors"
    save_file(Nearest3x().state_dict(), str(path))

    loaded = load_model(path)
    assert loaded.descriptor.display_name == "Nearest x3" and not loaded.network.training
    assert "NEAREST" in archs.architecture_names()

    pixels = (np.random.default_rng(0).random((37, 29, 3)) * 255).astype(np.uint8)
    upscaler = Upscaler(loaded, device="cpu", tile=8)
    assert (upscaler.policy.context, upscaler.policy.align, upscaler.policy.feather) == (1, 4, 2)
    tiles: list[tuple[int, int, int, int]] = []
    out = upscaler.upscale(pixels, on_progress=lambda progress: tiles.append(progress.box))
    with torch.inference_mode():
        x = torch.from_numpy(pixels.astype(np.float32) / 255).permute(2, 0, 1)[None]
        whole = np.rint(loaded(x).clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255)
    assert out.shape == (111, 87, 3) and len(tiles) > 4
    # One pixel of context is this network's whole reach: the tiles are the whole-image result.
    assert np.abs(out.astype(int) - whole.astype(int)).max() <= 1
    with pytest.raises(EngineError, match="bf16 is not supported for NEAREST"):
        choose_dtype("bf16", torch.device("cpu"), loaded.descriptor)


def test_loading_a_model_imports_nothing_new_after_model_loading():
    """The window imports model_loading on its GUI thread; its workers must import nothing new
    (gui/prewarm.py: PySide6's import hook on a worker thread crashed the app), so every network
    module comes with model_loading rather than at the first build."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import sr_studio.model_loading as loading\n"
        "SPAN = sys.modules['sr_studio.archs.span.network'].SPAN\n"
        "HAT = sys.modules['sr_studio.archs.hat.network'].HAT\n"
        "span = SPAN(feature_channels=8, upscale=2).state_dict()\n"
        "hat = HAT(embed_dim=12, depths=(1,), num_heads=(2,), window_size=8, squeeze_factor=4)\n"
        "before = set(sys.modules)\n"
        "loading.model_from_state_dict(span), loading.model_from_state_dict(hat.state_dict())\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
