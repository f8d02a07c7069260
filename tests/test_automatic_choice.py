"""Automatic: the model and cleanup chosen for each photo from its condition (JPEG quality from the
file, noise, blockiness and softness from the pixels), on the command line and in the window's
session. The bundled models are in the repository, so these always run."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sr_studio.automatic_choice import choose, cleanup_for, describe
from sr_studio.cli import main
from sr_studio.photo_condition import PhotoCondition, assess
from sr_studio.photo_io import read_photo
from sr_studio.photo_io.jpeg_quality import quality_from_tables
from tests.test_bundled_models import own_data_dir  # noqa: F401 - autouse, the real bundle


def scene(height: int = 384, width: int = 512, seed: int = 0) -> np.ndarray:
    """A photo-like picture: smooth shading (sky, walls) with sharp-edged shapes and a texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([60 + 120 * x / width, 80 + 90 * y / height, 150 - 60 * x / width], -1)
    for _ in range(12):
        cy, cx, r = rng.integers(0, height), rng.integers(0, width), rng.integers(10, 60)
        image[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.integers(20, 235, 3)
    stripes = (np.sin(x / 1.9) * np.sin(y / 2.3) > 0)[: height // 3, : width // 3]
    image[: height // 3, : width // 3] += 25 * stripes[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)


def jpeg_bytes(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("quality", [20, 35, 50, 62, 75, 85, 91, 95, 100])
def test_the_quality_a_jpeg_was_saved_at_is_read_back_from_its_tables(quality):
    with Image.open(io.BytesIO(jpeg_bytes(scene(64, 64), quality))) as image:
        assert quality_from_tables(image.quantization) == quality


def test_reading_a_photo_gives_its_jpeg_quality_and_none_for_a_png(tmp_path):
    Image.fromarray(scene()).save(tmp_path / "phone.jpg", quality=70)
    Image.fromarray(scene()).save(tmp_path / "render.png")
    assert read_photo(tmp_path / "phone.jpg").jpeg_quality == 70
    assert read_photo(tmp_path / "render.png").jpeg_quality is None


def test_noise_is_measured_in_the_flat_parts_not_the_edges_and_texture():
    clean = scene()
    rng = np.random.default_rng(1)
    assert assess(clean).noise < 0.5
    luma_share = float(np.sqrt(0.299**2 + 0.587**2 + 0.114**2))  # of noise drawn per channel
    for sigma in (2.0, 5.0):
        noisy = np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 255).astype(np.uint8)
        assert assess(noisy).noise == pytest.approx(sigma * luma_share, rel=0.2)


def test_jpeg_blocks_are_found_wherever_the_grid_lies():
    clean = scene()
    blocky = decoded(jpeg_bytes(clean, 25))
    assert assess(clean).blockiness < 1.1
    assert assess(blocky).blockiness > 1.3
    # A crop moves the grid off the photo's corner; a downscale by 2 or 4 is not a block grid.
    assert assess(blocky[3:, 5:]).blockiness > 1.3
    halved = np.asarray(Image.fromarray(clean).resize((256, 192), Image.BICUBIC))
    assert assess(halved).blockiness < 1.1


def test_a_softened_photo_has_less_fine_detail_than_a_sharp_downscale():
    big = Image.fromarray(scene(768, 1024))
    sharp = np.asarray(big.resize((512, 384), Image.BICUBIC))
    from PIL import ImageFilter

    soft = np.asarray(big.filter(ImageFilter.GaussianBlur(2.2)).resize((512, 384), Image.BOX))
    assert assess(soft).detail < assess(sharp).detail - 0.2


def test_a_large_photo_is_measured_on_a_sample_as_fast_as_a_small_one():
    import time

    big = np.tile(scene(), (12, 12, 1))  # 4608 x 6144, 28 MP
    started = time.perf_counter()
    condition = assess(big)
    assert time.perf_counter() - started < 1.0
    assert condition.noise < 0.5


def test_a_clean_source_gets_the_clean_model_and_a_worn_jpeg_the_whole_cleanup():
    clean = PhotoCondition(None, 0.4, 1.02, 1.4)
    assert cleanup_for(clean) == 0 and describe(clean) == "clean"
    phone = PhotoCondition(60, 4.0, 1.4, 1.3)
    assert cleanup_for(phone) == 100
    assert "JPEG quality about 60" in describe(phone) and "visible noise" in describe(phone)
    # Worse never gets less cleanup.
    steps = [PhotoCondition(q, 1.0, 1.05, 1.3) for q in (98, 92, 85, 75, 60, 40)]
    chosen = [cleanup_for(c) for c in steps]
    assert chosen == sorted(chosen) and chosen[0] < chosen[-1]
    assert all(c % 5 == 0 for c in chosen)


def upscale_err(args, capsys) -> str:
    capsys.readouterr()
    assert main(["upscale", *args, "--precision", "fp32"]) == 0
    return capsys.readouterr().err


def test_the_command_line_chooses_per_photo_and_says_what_and_why(tmp_path, capsys):
    rng = np.random.default_rng(2)
    noisy = np.clip(scene(96, 128) + rng.normal(0, 5, (96, 128, 3)), 0, 255).astype(np.uint8)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "phone.jpg").write_bytes(jpeg_bytes(noisy, 55))
    Image.fromarray(scene(96, 128)).save(tmp_path / "in" / "render.png")
    err = upscale_err([str(tmp_path / "in"), "-o", str(tmp_path / "auto")], capsys)
    assert "model: automatic" in err
    phone_line = next(line for line in err.splitlines() if line.startswith("phone.jpg: "))
    assert "JPEG quality about 55" in phone_line and "SPAN x4 Photo" in phone_line
    assert "render.png: clean: SPAN x4 Clean" in err
    # The same bytes as naming those models by hand.
    percent = phone_line.rsplit("cleanup ", 1)[1].rstrip("%")
    model = "bundled-span-x4-photo" if percent == "100" else f"bundled-span-x4-photo@{percent}"
    upscale_err(
        [str(tmp_path / "in" / "phone.jpg"), "-o", str(tmp_path / "p.jpg"), "--model", model],
        capsys,
    )
    upscale_err(
        [str(tmp_path / "in" / "render.png"), "-o", str(tmp_path / "r.png")]
        + ["--model", "bundled-span-x4"],
        capsys,
    )
    assert (tmp_path / "auto" / "phone_x4.jpg").read_bytes() == (tmp_path / "p.jpg").read_bytes()
    assert (tmp_path / "auto" / "render_x4.png").read_bytes() == (tmp_path / "r.png").read_bytes()


def test_a_cleanup_without_a_model_is_the_photo_model_at_that_strength(tmp_path, capsys):
    Image.fromarray(scene(48, 64)).save(tmp_path / "a.png")
    err = upscale_err(
        [str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--cleanup", "40"], capsys
    )
    assert "model: bundled-span-x4-photo@40 (SPAN" in err


def test_automatic_at_x2_chooses_between_the_x2_models(tmp_path, capsys):
    (tmp_path / "phone.jpg").write_bytes(jpeg_bytes(scene(48, 64), 40))
    err = upscale_err(
        [str(tmp_path / "phone.jpg"), "-o", str(tmp_path / "b.jpg"), "--scale", "2"], capsys
    )
    assert "SPAN x2 Photo" in err and "bundled-span-x2-photo at the cleanup" in err


def test_the_choice_is_a_plain_record_with_a_reason():
    choice = choose(PhotoCondition(70, 1.0, 1.2, 1.3))
    assert 0 < choice.cleanup_percent <= 100 and "JPEG quality about 70" in choice.reason


def test_one_naming_rule_a_second_model_is_a_second_file_not_a_skip(tmp_path, capsys):
    """NAME_x4 for Automatic, NAME_x4_WORDS for a model chosen by hand, in words a person reads:
    the window's exports follow the same rule (tests/test_session.py)."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    Image.fromarray(scene(48, 64)).save(folder / "foreman.png")
    upscale_err([str(folder)], capsys)
    upscale_err([str(folder), "--model", "bundled-span-x4-photo@75"], capsys)
    err = upscale_err([str(folder), "--model", "bundled-span-x4"], capsys)
    assert "skipped" not in err
    assert sorted(p.name for p in folder.iterdir()) == [
        "foreman.png",
        "foreman_x4.png",
        "foreman_x4_clean.png",
        "foreman_x4_photo-75.png",
    ]
    # Their results are SR Studio's own: a later folder run leaves all three out.
    err = upscale_err([str(folder)], capsys)
    assert "3 earlier SR Studio result(s) left out" in err


def test_the_window_names_its_exports_by_the_same_rule(tmp_path):
    from pathlib import Path

    from sr_studio.gui.export_plan import ExportOptions, output_name
    from sr_studio.weights.library import file_words

    source = Path("foreman.png")
    pattern = ExportOptions().pattern
    assert output_name(pattern, source, 4, "", "png") == "foreman_x4.png"  # Automatic
    # Only the separator that goes with the model leaves: the photo's own name stays as it is.
    assert output_name(pattern, Path("a__b.png"), 4, "", "png") == "a__b_x4.png"
    assert output_name("{model}-{name}", source, 4, "", "png") == "foreman.png"
    words = file_words("bundled-span-x4-photo@75")
    assert output_name(pattern, source, 4, words, "png") == "foreman_x4_photo-75.png"
    assert file_words("hat-s-x4") == "hat-s" and file_words("bundled-span-x2") == "clean"
