"""The camera-like degradations: the degraded benchmark must never change silently (every figure in
the model cards rests on it), and the training recipes must make what they promise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_studio.degradation import (
    TRAINING_RECIPE_TEXT,
    TRAINING_RECIPES,
    apply,
    benchmark_recipe,
    camera_jpeg_recipe,
    degrade_benchmark_image,
    gaussian_noise,
)


def hr_image(height=96, width=128, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))  # blocks: edges and flat areas


def test_the_degraded_benchmark_is_the_same_every_time_and_differs_per_image():
    image = hr_image()
    first = degrade_benchmark_image(image, 4, "baboon.png")
    again = degrade_benchmark_image(image, 4, "baboon.png")
    other = degrade_benchmark_image(image, 4, "barbara.png")
    assert first.shape == (24, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_the_benchmark_recipe_keeps_its_published_ranges():
    for index in range(200):
        recipe, _ = benchmark_recipe(64, 64, 4, f"image-{index}")
        kinds = [step.kind for step in recipe]
        assert kinds == ["blur", "resize", "gaussian_noise", "jpeg"]
        assert 0.5 <= recipe[0].params["sigma_x"] <= 2.0
        assert 1.0 <= recipe[2].params["sigma"] <= 10.0
        assert 50 <= recipe[3].params["quality"] <= 95


@pytest.mark.parametrize("name", sorted(TRAINING_RECIPES))
def test_every_training_recipe_ends_at_the_lr_size(name):
    rng = np.random.default_rng(1)
    hr = torch.from_numpy(hr_image()).permute(2, 0, 1)[None].float() / 255
    for _ in range(20):
        recipe = TRAINING_RECIPES[name](96, 128, 4, rng, clean_share=0.3)
        assert apply(hr, recipe, seed=3).shape == (1, 3, 24, 32)


def test_a_camera_jpeg_crop_always_has_blur_noise_and_jpeg():
    rng = np.random.default_rng(2)
    recipes = [camera_jpeg_recipe(64, 64, 4, rng, clean_share=0.3) for _ in range(2000)]
    clean = [r for r in recipes if len(r) == 1]
    assert all(r[0].kind == "resize" and r[0].params["method"] == "bicubic" for r in clean)
    assert 0.25 < len(clean) / len(recipes) < 0.35
    for recipe in recipes:
        if len(recipe) == 1:
            continue
        kinds = [step.kind for step in recipe]
        # A blurred crop without noise or JPEG would look clean and teach over-sharpening.
        assert kinds[0] == "blur" and kinds[-1] == "jpeg" and kinds[-3] == "resize"
        assert kinds[-2] in {"gaussian_noise", "poisson_noise"}
        assert (recipe[-3].params["height"], recipe[-3].params["width"]) == (16, 16)


def test_luma_noise_is_the_same_in_every_channel():
    image = torch.full((1, 3, 32, 32), 0.5)
    noisy = gaussian_noise(image, 8.0, grey=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(noisy[:, 0], noisy[:, 1]) and torch.equal(noisy[:, 1], noisy[:, 2])
    assert 5.0 < float((noisy - image).std()) * 255 < 11.0


def test_every_training_recipe_is_described_for_the_model_cards():
    assert set(TRAINING_RECIPE_TEXT) == set(TRAINING_RECIPES)
    for name, text in TRAINING_RECIPE_TEXT.items():
        assert text.startswith(
            f"`{name}` (`sr_studio.degradation.{TRAINING_RECIPES[name].__name__}`)"
        )
