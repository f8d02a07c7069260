"""Re-fused SPAN checkpoints (the `eval_conv` kernels only, as model zoos and converters ship them)
load, run like the network they were fused from, import, and report damaged entries in one line.

The files are made here by fusing random SPANs and keeping only the fused entries; the parity
standard is the project's: max |ours - reference| <= 1e-3 x std(reference), float32 on the CPU.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from sr_studio.archs.span import SPAN
from sr_studio.errors import CheckpointError
from sr_studio.model_loading import load_model, model_from_state_dict
from sr_studio.weights import ModelStore

CHAIN_ENTRY = re.compile(
    r"\.(sk|conv\.\d)\."
)  # the 1x1 / 3x3 / 1x1 chains and skips that fusing removes


def random_span(channels: int, scale: int, norm: bool, seed: int) -> SPAN:
    """A SPAN with random weights whose `eval_conv` kernels are stale until fused (as during
    training).

    Each convolution halves the standard deviation of its input (std 0.5 / sqrt(fan-in)). At unit
    gain the normalised (x255) variant is so ill-conditioned that plain float32, fused or not, is
    1-3e-3 x std away from the exact (float64) output: a property of such random weights, which
    would hide what is tested.
    """
    torch.manual_seed(seed)
    model = SPAN(feature_channels=channels, upscale=scale, norm=norm)
    for conv in (m for m in model.modules() if isinstance(m, torch.nn.Conv2d)):
        fan_in = conv.weight[0].numel()
        conv.weight.data.normal_(0, 0.5 * fan_in**-0.5)
        conv.bias.data.normal_(0, 0.02)
    return model


def expected_fused_keys(norm: bool) -> set[str]:
    """The entries of a re-fused file, spelled out independently of the code under test."""
    convs = ["conv_1", "conv_2"] + [f"block_{n}.c{k}_r" for n in range(1, 7) for k in range(1, 4)]
    keys = {f"{conv}.eval_conv.{p}" for conv in convs for p in ("weight", "bias")}
    keys |= {"conv_cat.weight", "conv_cat.bias", "upsampler.0.weight", "upsampler.0.bias"}
    return keys if norm else keys | {"no_norm"}


def fused_entries(model: SPAN) -> dict[str, torch.Tensor]:
    """What a re-fused export keeps: the state dict after fusing, without the chain entries."""
    model.fuse()
    return {
        k: v.detach().clone() for k, v in model.state_dict().items() if not CHAIN_ENTRY.search(k)
    }


def unfused_output(model: SPAN, x: torch.Tensor) -> torch.Tensor:
    """The reference: the training-time graph (the chains themselves, never the fused kernels),
    computed in float64 so that its own rounding does not count against ours; returned in
    float32."""
    exact = copy.deepcopy(model).double().train()
    with torch.no_grad():
        return exact(x.double()).float()


def write_checkpoint(entries: dict, path, container: str) -> None:
    if container == "safetensors":
        save_file({k: v.contiguous() for k, v in entries.items()}, str(path))
    elif container == "flat":
        torch.save(entries, path)
    elif container == "module":
        torch.save({f"module.{k}": v for k, v in entries.items()}, path)
    else:  # "params" or "params_ema"
        torch.save({container: entries}, path)


def error_ratio(ours: torch.Tensor, reference: torch.Tensor) -> float:
    """max |ours - reference| / std(reference): the parity standard asks for <= 1e-3."""
    return ((ours - reference).abs().max() / reference.std()).item()


CASES = [
    # channels, scale, norm, container, float16 file, suffix
    (16, 2, True, "flat", False, ".pth"),
    (28, 3, True, "params", False, ".pth"),
    (48, 4, True, "params_ema", False, ".pth"),
    (52, 2, False, "module", False, ".pth"),
    (16, 4, False, "safetensors", False, ".safetensors"),
    (52, 3, True, "safetensors", False, ".safetensors"),
    (28, 2, True, "safetensors", True, ".safetensors"),
    (48, 3, False, "params", True, ".pth"),
    (52, 4, True, "module", True, ".pth"),
]


@pytest.mark.parametrize(
    "channels,scale,norm,container,half,suffix",
    CASES,
    ids=[
        f"ch{c}-x{s}-{'norm' if n else 'nonorm'}-{k}{'-fp16' if h else ''}{x}"
        for c, s, n, k, h, x in CASES
    ],
)
def test_re_fused_file_loads_and_matches_the_network_it_was_fused_from(
    tmp_path, channels, scale, norm, container, half, suffix
):
    trained = random_span(channels, scale, norm, seed=channels + scale)
    entries = fused_entries(trained)
    assert set(entries) == expected_fused_keys(norm)
    x = torch.rand(1, 3, 19, 14)
    if half:
        entries = {k: v.half() if v.is_floating_point() else v for k, v in entries.items()}
        # The reference runs the very kernels the file holds (the fused ones, rounded to float16),
        # in float64.
        rounded = copy.deepcopy(trained).double().eval()
        for key, tensor in rounded.state_dict().items():
            if key in entries:
                tensor.copy_(entries[key].double())
        with torch.no_grad():
            reference = rounded(x.double()).float()
    else:
        reference = unfused_output(trained, x)
    path = tmp_path / f"span{suffix}"
    write_checkpoint(entries, path, container)

    loaded = load_model(path)
    model, described = loaded.network, loaded.descriptor

    expected = {
        "feature_channels": channels,
        "upscale": scale,
        **({} if norm else {"norm": False}),
        "fused_only": True,
    }
    assert (described.arch, described.scale, described.hyperparameters) == ("SPAN", scale, expected)
    assert (described.context, described.size_multiple, described.cross_fade) == (21, 1, 0)
    assert not model.training
    # One network per file: the loaded model holds exactly the file's entries, the kernels as
    # stored.
    assert set(model.state_dict()) == expected_fused_keys(norm)
    stored = entries["block_3.c2_r.eval_conv.weight"].float()
    assert torch.equal(model.block_3.c2_r.eval_conv.weight, stored)
    with torch.no_grad():
        output = model(x)
    assert output.shape == (1, 3, 19 * scale, 14 * scale)
    ratio = error_ratio(output, reference)
    label = f"ch{channels} x{scale} norm={norm} {container}{' fp16' if half else ''}{suffix}"
    print(f"{label}: max err / std = {ratio:.3g}")
    assert ratio <= 1e-3


def test_params_ema_is_preferred_over_params_in_a_re_fused_file(tmp_path):
    ema, raw = random_span(16, 2, True, seed=1), random_span(16, 2, True, seed=2)
    path = tmp_path / "both.pth"
    torch.save({"params": fused_entries(raw), "params_ema": fused_entries(ema)}, path)
    x = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        output = load_model(path)(x)
    assert error_ratio(output, unfused_output(ema, x)) <= 1e-3
    assert error_ratio(output, unfused_output(raw, x)) > 1e-3


def test_a_fused_only_model_state_dict_loads_back_as_the_same_network():
    trained = random_span(28, 4, False, seed=3)
    model = model_from_state_dict(fused_entries(trained)).network
    again = model_from_state_dict(model.state_dict()).network
    x = torch.rand(1, 3, 8, 10)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)
    model.fuse()  # nothing to rebuild: calling it again changes no kernel
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    )


def test_the_official_form_still_rebuilds_its_kernels_from_the_chains():
    """An official file keeps the chain network (and stale eval_conv tensors are replaced, not
    trusted)."""
    trained = random_span(16, 2, True, seed=4)
    official = {
        k: v.clone() for k, v in trained.state_dict().items()
    }  # eval_conv still the random init
    loaded = model_from_state_dict(official)
    model = loaded.network
    assert "fused_only" not in loaded.descriptor.hyperparameters
    assert "conv_1.sk.weight" in model.state_dict()
    assert not torch.equal(model.conv_1.eval_conv.weight, official["conv_1.eval_conv.weight"])
    x = torch.rand(1, 3, 10, 7)
    with torch.no_grad():
        assert error_ratio(model(x), unfused_output(trained, x)) <= 1e-3


# ----------------------------------------------------------------------- the published SPAN weights


def set5_crop(shared_dir, size: int = 40) -> torch.Tensor:
    path = shared_dir / "datasets" / "benchmark" / "Set5" / "butterfly.png"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    image = Image.open(path).convert("RGB")
    pixels = np.asarray(image, dtype=np.float32)[100 : 100 + size, 80 : 80 + size] / 255.0
    return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).contiguous()


@pytest.mark.parametrize("scale", [2, 4])
def test_published_span_re_fused_gives_the_official_output(shared_dir, tmp_path, scale):
    official_path = shared_dir / "weights" / "span-official" / f"spanx{scale}_ch48.pth"
    if not official_path.is_file():
        pytest.skip(f"{official_path} is absent")
    official = load_model(official_path).network
    entries = {k: v.clone() for k, v in official.state_dict().items() if not CHAIN_ENTRY.search(k)}
    assert set(entries) == expected_fused_keys(norm=True)
    path = tmp_path / f"spanx{scale}_ch48_fused.safetensors"
    save_file(entries, str(path))

    re_fused = load_model(path)

    detected = {"feature_channels": 48, "upscale": scale, "fused_only": True}
    assert re_fused.descriptor.hyperparameters == detected
    x = set5_crop(shared_dir)
    with torch.no_grad():
        expected, output = official(x), re_fused(x)
    assert output.shape == (1, 3, 40 * scale, 40 * scale)
    print(
        f"published spanx{scale}_ch48 re-fused: max err / std = {error_ratio(output, expected):.3g}"
    )
    assert error_ratio(output, expected) <= 1e-3
    assert torch.equal(output, expected)  # the same kernels through the same convolutions


# ------------------------------------------------------------------------ `sr-studio models import`


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "bundled").mkdir()
    monkeypatch.setenv("SR_STUDIO_BUNDLED_DIR", str(tmp_path / "bundled"))
    (tmp_path / "catalog.json").write_text('{"models": []}')
    monkeypatch.setenv("SR_STUDIO_CATALOG", str(tmp_path / "catalog.json"))
    return tmp_path


def test_models_import_stores_a_re_fused_file_that_loads_back(data_home, capsys):
    from sr_studio.cli import main

    trained = random_span(48, 4, False, seed=5)
    entries = {
        k: v.half() if v.is_floating_point() else v for k, v in fused_entries(trained).items()
    }
    source = data_home / "4x-zoo-span.pth"
    torch.save({"params_ema": {f"module.{k}": v for k, v in entries.items()}}, source)
    x = torch.rand(1, 3, 12, 9)
    with torch.no_grad():
        expected = load_model(source)(x)

    assert main(["models", "import", str(source)]) == 0, capsys.readouterr().err

    [installed] = ModelStore().installed()
    assert (installed.arch, installed.scale, installed.path.suffix) == ("SPAN", 4, ".safetensors")
    assert installed.hyperparameters == {
        "feature_channels": 48,
        "upscale": 4,
        "norm": False,
        "fused_only": True,
    }
    stored = load_file(installed.path)
    assert set(stored) == expected_fused_keys(norm=False)
    assert all(v.dtype == torch.float32 for v in stored.values())
    reloaded = load_model(installed.path)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x), expected, rtol=0, atol=0)


# ----------------------------------------------------------------------------- damaged files


def damaged(entries: dict, key: str, change) -> dict:
    """`key` removed (change None) or set to change(the stored tensor, None for an entry the file
    lacks)."""
    entries = dict(entries)
    if change is None:
        del entries[key]
    else:
        entries[key] = change(entries.get(key))
    return entries


DAMAGES = [
    # entry, change (None: removed), what the message must say (a stray chain entry is added last)
    (
        "block_3.c2_r.eval_conv.weight",
        None,
        r"1 missing \(e\.g\. block_3\.c2_r\.eval_conv\.weight\)",
    ),
    ("conv_cat.bias", None, r"1 missing \(e\.g\. conv_cat\.bias\)"),
    (
        "block_2.c1_r.eval_conv.weight",
        lambda t: t[:, :-1],
        r"wrong shape \(e\.g\. block_2\.c1_r\.eval_conv\.weight \(16, 15, 3, 3\) "
        r"vs \(16, 16, 3, 3\)\)",
    ),
    (
        "conv_2.eval_conv.bias",
        lambda t: t[:-2],
        r"wrong shape \(e\.g\. conv_2\.eval_conv\.bias \(14,\) vs \(16,\)\)",
    ),
    (
        "conv_1.eval_conv.weight",
        lambda t: torch.zeros(16, 4, 3, 3),
        r"4 input channels .*RGB models only",
    ),
    (
        "conv_1.eval_conv.weight",
        lambda t: t[:, :, :1, :1],
        r"'conv_1\.eval_conv\.weight' has the shape \(16, 3, 1, 1\)",
    ),
    ("upsampler.0.weight", None, r"'upsampler\.0\.weight' is missing"),
    (
        "upsampler.0.weight",
        lambda t: torch.zeros(13, 16, 3, 3),
        r"13 output channels, which is not 3 x scale\^2",
    ),
    (
        "upsampler.0.weight",
        lambda t: torch.zeros(12, 20, 3, 3),
        r"upsampler reads 20 channels .* makes 16",
    ),
    (
        "block_3.c1_r.sk.weight",
        lambda t: torch.zeros(16, 16, 1, 1),
        r"1 unexpected \(e\.g\. block_3\.c1_r\.sk\.weight\)",
    ),
]
DAMAGE_IDS = [f"{key}-{'missing' if change is None else 'changed'}" for key, change, _ in DAMAGES]


@pytest.mark.parametrize("key,change,message", DAMAGES, ids=DAMAGE_IDS)
def test_a_damaged_re_fused_file_is_refused_in_one_line_naming_the_entry(
    tmp_path, key, change, message
):
    entries = fused_entries(random_span(16, 2, True, seed=6))
    path = tmp_path / "damaged.safetensors"
    save_file({k: v.contiguous() for k, v in damaged(entries, key, change).items()}, str(path))

    with pytest.raises(CheckpointError) as raised:
        load_model(path)

    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: ")
    assert re.search(message, text), text
