"""The photo model's training data: what a crop is trained on decides what ships, so the data
helpers of tools/train_span.py are held to what they promise."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

TOOL = Path(__file__).resolve().parents[1] / "tools" / "train_span.py"


def train_span():
    spec = importlib.util.spec_from_file_location("train_span", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def photos(folder: Path, count: int = 20, size: tuple[int, int] = (67, 90)) -> Path:
    """`count` random photos of `size` (height, width), every 20th of which is held out."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"photo{index:02d}.png")
    return folder


def test_smaller_copies_join_the_training_photos_but_never_the_held_out_ones(tmp_path):
    tool = train_span()
    folder = photos(tmp_path / "photos")
    train, validation, names = tool.load_pairs(folder, 4)
    more, same_validation, same_names = tool.load_pairs(folder, 4, (0.75, 0.5))
    assert (len(train), len(validation), names) == (19, 1, ["photo19.png"])
    assert len(more) == 3 * 19 and same_names == names
    assert np.array_equal(validation[0][0], same_validation[0][0])
    # Every pair is an HR cropped to a multiple of the scale and its LR a quarter of it.
    sizes = {(hr.shape, lr.shape) for hr, lr in more}
    assert sizes == {
        ((64, 88, 3), (16, 22, 3)),
        ((48, 68, 3), (12, 17, 3)),  # 0.75: 50x68, cropped
        ((32, 44, 3), (8, 11, 3)),  # 0.5: 34x45, cropped
    }


def test_a_camera_batch_marks_which_crops_kept_the_clean_protocol(tmp_path):
    tool = train_span()
    train, _, _ = tool.load_pairs(photos(tmp_path / "photos"), 4)
    rng = np.random.default_rng(0)
    for share, expected in ((1.0, True), (0.0, False)):
        lr, hr, clean = tool.camera_batch(train, 6, 8, 4, rng, share, "camera-jpeg")
        assert lr.shape == (6, 3, 8, 8) and hr.shape == (6, 3, 32, 32)
        assert clean.tolist() == [expected] * 6
        # Rounded to 8 bits, as every photo the model will see is.
        assert np.allclose(lr.numpy() * 255, np.round(lr.numpy() * 255), atol=1e-4)


def test_a_run_with_the_clean_teacher_and_smaller_copies_trains(tmp_path, capsys):
    """The options the photo model's last stage used run end to end (a few steps, no checkpoint)."""
    tool = train_span()
    photos(tmp_path / "datasets" / "train" / "photos")
    published = Path(__file__).resolve().parents[1] / "resources" / "models" / "span-x4.safetensors"
    status = tool.main(
        [
            "--scale=4",
            f"--run={tmp_path / 'run'}",
            f"--datasets={tmp_path / 'datasets'}",
            f"--init-weights={published}",
            "--prior-minutes=0",
            "--degradation=camera-jpeg",
            "--clean-share=0.5",
            f"--clean-teacher={published}",
            "--smaller-copies",
            "0.75",
            "--batch=4",
            "--lr-patch=8",
            "--benchmark-steps=2",
        ]
    )
    output = capsys.readouterr().out
    assert status == 0
    assert "38 training photos" in output and "clean crops also taught by" in output
    assert " s/step" in output


def test_a_run_stops_and_keeps_its_state_when_its_schedule_is_complete(tmp_path, capsys):
    tool = train_span()
    # Large enough for the held-out curve's 128 px LR crops at x4.
    photos(tmp_path / "datasets" / "train" / "photos", size=(512, 512))
    published = Path(__file__).resolve().parents[1] / "resources" / "models" / "span-x4.safetensors"
    run = tmp_path / "run"
    arguments = [
        "--scale=4",
        f"--run={run}",
        f"--datasets={tmp_path / 'datasets'}",
        f"--init-weights={published}",
        "--prior-minutes=0",
        "--degradation=camera-jpeg",
        "--batch=2",
        "--lr-patch=8",
        "--budget-minutes=0.01",
        "--validate-every=3",
    ]
    assert tool.main(arguments) == 0
    assert "the learning-rate schedule is complete" in capsys.readouterr().out
    steps = [int(line.split(",")[0]) for line in (run / "log.csv").read_text().splitlines()[1:]]
    assert steps[0] == 0 and steps[-1] % 3 == 0 and steps[-1] > 0
    assert (run / "last.pt").is_file()


def test_an_export_at_a_strength_is_the_cleanup_blend_of_the_trained_weights(tmp_path):
    """--export-strength bakes the app's cleanup blend into the file: exported at 0.5 it runs as the
    full export at a 50 % cleanup does, and at 0 as the model the run started from."""
    import torch

    from sr_studio.model_blending import Cleanup
    from sr_studio.model_loading import load_model

    tool = train_span()
    repo = Path(__file__).resolve().parents[1]
    base = repo / "resources" / "models" / "span-x4.safetensors"

    def export(strength: float) -> Path:
        path = tmp_path / f"at-{strength:g}.safetensors"
        run = repo / "training" / "photo-x4-real"
        arguments = ["--scale=4", f"--run={run}", f"--export={path}"]
        assert tool.main([*arguments, f"--export-strength={strength}"]) == 0
        return path

    full, half, none = export(1.0), export(0.5), export(0.0)
    x = torch.rand(1, 3, 20, 24)
    with torch.inference_mode():
        expected_half = load_model(full, Cleanup(base, 0.5))(x)
        torch.testing.assert_close(load_model(half)(x), expected_half, rtol=0, atol=1e-5)
        torch.testing.assert_close(load_model(none)(x), load_model(base)(x), rtol=0, atol=1e-5)
        assert (load_model(full)(x) - load_model(base)(x)).abs().max() > 1e-3
