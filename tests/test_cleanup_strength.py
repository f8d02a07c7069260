"""Cleanup strength: a photo model blended with the clean model it was fine-tuned from, from the
engine to the command line. The bundled models are in the repository, so these always run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sr_studio.cli import main
from sr_studio.errors import CheckpointError, SRStudioError
from sr_studio.model_blending import Cleanup, blend_models
from sr_studio.model_loading import load_model
from sr_studio.weights.library import cleanup_base, resolve_choice, split_cleanup
from tests.conftest import heavy_imports
from tests.test_bundled_models import (  # noqa: F401 - own_data_dir: autouse, the real bundle
    DATASETS,
    MODELS,
    needs_datasets,
    own_data_dir,
)

CLEAN = {scale: MODELS / f"span-x{scale}.safetensors" for scale in (2, 4)}
PHOTO = {scale: MODELS / f"span-x{scale}-photo.safetensors" for scale in (2, 4)}


def run(model, pixels):
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        return model(x)


@pytest.fixture(scope="module")
def patch():
    return np.random.default_rng(3).integers(0, 256, (24, 20, 3), dtype=np.uint8)


@pytest.mark.parametrize("scale", [2, 4])
def test_the_ends_of_the_cleanup_are_the_two_models_exactly(scale, patch):
    photo, clean = load_model(PHOTO[scale]), load_model(CLEAN[scale])
    at_zero = load_model(PHOTO[scale], Cleanup(CLEAN[scale], 0.0))
    at_full = load_model(PHOTO[scale], Cleanup(CLEAN[scale], 1.0))
    assert torch.equal(run(at_zero, patch), run(clean, patch))
    assert torch.equal(run(at_full, patch), run(photo, patch))


def test_half_cleanup_is_the_midpoint_of_the_weights_that_run(patch):
    photo, clean = load_model(PHOTO[4]), load_model(CLEAN[4])
    half = load_model(PHOTO[4], Cleanup(CLEAN[4], 0.5))
    # eval_conv is the fused 3x3 kernel that runs: the blend is made there, not in the chain.
    name = "block_1.c1_r.eval_conv.weight"
    mine, a, b = (m.network.state_dict()[name] for m in (half, photo, clean))
    torch.testing.assert_close(mine, (a + b) / 2, rtol=0, atol=1e-7)
    out = run(half, patch)
    assert not torch.equal(out, run(photo, patch)) and not torch.equal(out, run(clean, patch))


def test_weights_that_are_not_the_same_network_are_refused():
    with pytest.raises(CheckpointError, match="same architecture and scale"):
        blend_models(load_model(PHOTO[4]), load_model(CLEAN[2]), 0.5)
    with pytest.raises(SRStudioError, match="from 0 to 100%, not 150%"):
        Cleanup(CLEAN[4], 1.5)


@pytest.mark.parametrize(
    "reference, expected",
    [
        ("bundled-span-x4-photo@60", ("bundled-span-x4-photo", 60.0)),
        ("bundled-span-x4-photo@12.5%", ("bundled-span-x4-photo", 12.5)),
        ("bundled-span-x4-photo", ("bundled-span-x4-photo", None)),
        ("me@example", ("me@example", None)),
    ],
)
def test_a_model_reference_may_carry_its_cleanup(reference, expected):
    assert split_cleanup(reference) == expected


def test_a_file_whose_name_ends_like_a_cleanup_is_the_file(tmp_path):
    odd = tmp_path / "model@50"
    odd.write_bytes(b"")
    assert split_cleanup(str(odd)) == (str(odd), None)


def test_only_photo_models_offer_a_cleanup_and_it_is_given_once():
    assert cleanup_base(PHOTO[4]) == CLEAN[4] and cleanup_base(PHOTO[2]) == CLEAN[2]
    assert cleanup_base(CLEAN[4]) is None
    path, cleanup = resolve_choice("bundled-span-x2-photo@30")
    assert path == PHOTO[2] and cleanup == Cleanup(CLEAN[2], 0.3)
    with pytest.raises(SRStudioError, match=r"bundled-span-x2-photo, bundled-span-x4-photo\); "):
        resolve_choice("bundled-span-x4@50")
    with pytest.raises(SRStudioError, match="the cleanup is given twice"):
        resolve_choice("bundled-span-x4-photo@50", cleanup_percent=40)
    with pytest.raises(SRStudioError, match="not 101%"):
        resolve_choice("bundled-span-x4-photo", cleanup_percent=101)


@pytest.fixture()
def street(tmp_path):
    from tests.test_engine_upscale import photo

    path = tmp_path / "street.png"
    Image.fromarray(photo(40, 48)).save(path)
    return path


def upscale(street, tmp_path, name, *model_args):
    out = tmp_path / f"{name}.png"
    assert main(["upscale", str(street), "-o", str(out), "--precision", "fp32", *model_args]) == 0
    return np.asarray(Image.open(out))


def test_the_command_line_runs_a_photo_model_at_a_cleanup_strength(street, tmp_path, capsys):
    clean = upscale(street, tmp_path, "clean", "--model", "bundled-span-x4")
    photo = upscale(street, tmp_path, "photo", "--model", "bundled-span-x4-photo")
    at_zero = upscale(
        street, tmp_path, "zero", "--model", "bundled-span-x4-photo", "--cleanup", "0"
    )
    np.testing.assert_array_equal(at_zero, clean)
    capsys.readouterr()
    half = upscale(street, tmp_path, "half", "--model", "bundled-span-x4-photo@50")
    assert "model: bundled-span-x4-photo@50 (SPAN" in capsys.readouterr().err
    # Half way in weights lies between the two models in pixels: mostly inside their range where
    # they differ, and well away from each (measured: 0.49 and 0.75 of their mean difference).
    photo, clean, half = (image.astype(int) for image in (photo, clean, half))
    far = np.abs(photo - clean) > 6
    low, high = np.minimum(photo, clean)[far], np.maximum(photo, clean)[far]
    assert far.sum() > 100
    between = ((half[far] >= low - 1) & (half[far] <= high + 1)).mean()
    gap = np.abs(photo - clean).mean()
    assert between > 0.9
    assert 0.3 < np.abs(half - photo).mean() / gap < 0.85
    assert 0.3 < np.abs(half - clean).mean() / gap < 0.85


def test_a_cleanup_the_model_cannot_take_is_one_line_and_writes_nothing(street, tmp_path, capsys):
    out = tmp_path / "out.png"
    code = main(
        ["upscale", str(street), "-o", str(out), "--model", "bundled-span-x4", "--cleanup", "50"]
    )
    err = capsys.readouterr().err
    assert code != 0 and not out.exists()
    assert err.count("\n") == 1 and "--cleanup needs a photo model" in err
    assert "; bundled-span-x4 has none" in err


def test_compare_shows_one_model_at_several_strengths(street, capsys):
    from sr_studio.contact_sheet import read_layout

    code = main(
        [
            "compare",
            str(street),
            "--models",
            "bundled-span-x4-photo@0,bundled-span-x4-photo@100",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    layout = read_layout(street.with_name("street_compare.png"))
    assert [c["name"] for c in layout["cells"]][1:] == [
        "SPAN x4 Photo, cleanup 0%",
        "SPAN x4 Photo, cleanup 100%",
    ]
    # The names are drawn whole even under a small crop (48 px wide here, 192 px enlarged).
    from PIL import ImageDraw

    from sr_studio.contact_sheet import fitted_text, sheet_font

    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    for cell in layout["cells"][1:]:
        assert cell["box"][2] == 192
        name, width = cell["name"], cell["label_box"][2]
        assert fitted_text(draw, name, sheet_font(16), width) == name


@needs_datasets
def test_less_cleanup_keeps_clean_detail_and_more_restores_camera_jpegs():
    """What the slider promises, on Set14 as the benchmark measures it (RESULTS.md): each step
    towards the photo model gains on camera-degraded input and gives up on clean input."""
    from sr_studio.evaluation import evaluate_set, model_upscaler

    def psnr(percent: float, degraded: bool) -> float:
        model = load_model(PHOTO[4], Cleanup(CLEAN[4], percent / 100))
        return evaluate_set(model_upscaler(model), 4, DATASETS, "Set14", degraded).psnr

    clean = [psnr(p, False) for p in (0, 50, 100)]
    degraded = [psnr(p, True) for p in (0, 50, 100)]
    assert clean[0] > clean[1] > clean[2]
    assert degraded[0] + 0.2 < degraded[1] < degraded[2] - 0.2


def test_resolving_a_cleanup_imports_no_torch():
    code = (
        "from sr_studio.weights.library import resolve_choice\n"
        "resolve_choice('bundled-span-x4-photo@50')"
    )
    assert heavy_imports(code, {"torch"}) == []


def test_the_model_list_says_which_models_take_a_cleanup(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert (
        "Cleanup strength, 0-100 (100: as trained; less keeps more fine texture), for "
        "bundled-span-x2-photo, bundled-span-x4-photo:\n  sr-studio upscale --model ID --cleanup 60"
    ) in out
