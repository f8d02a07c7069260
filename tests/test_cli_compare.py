"""`sr-studio compare` and `sr-studio upscale --estimate` as a photographer uses them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sr_studio.cli import main
from sr_studio.contact_sheet import read_layout


@pytest.fixture()
def street(tmp_path):
    """A 160x120 photo-like JPEG (smooth colour and grain)."""
    from tests.test_engine_upscale import photo

    path = tmp_path / "street.jpg"
    Image.fromarray(photo(120, 160)).save(path, quality=95)
    return path


def sheet_cells(path):
    layout = read_layout(path)
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    return (
        layout,
        pixels,
        [
            pixels[c["box"][1] : c["box"][1] + c["box"][3], c["box"][0] : c["box"][0] + c["box"][2]]
            for c in layout["cells"]
        ],
    )


def test_the_sheet_holds_the_original_and_each_models_crop_labelled(street, capsys):
    code = main(
        [
            "compare",
            str(street),
            "--models",
            "bundled-span-x4,bundled-span-x4-photo",
            "--crop",
            "40,30,50,40",
        ]
    )
    assert code == 0
    sheet = street.with_name("street_compare.png")
    layout, pixels, crops = sheet_cells(sheet)
    assert [c["name"] for c in layout["cells"]] == ["Original", "SPAN x4 Clean", "SPAN x4 Photo"]
    assert layout["cells"][1]["purpose"].startswith("Clean: ") and layout["cells"][2][
        "purpose"
    ].startswith("Photo: ")
    assert all(c["seconds"] > 0 for c in layout["cells"][1:])
    assert all(
        c["detail"].startswith(f"{c['seconds']:.1f} s for this crop") for c in layout["cells"][1:]
    )
    assert layout["crop"] == [40, 30, 50, 40] and layout["scale"] == 4
    # One row: same-size crops side by side, in order, none overlapping, all inside the sheet.
    boxes = [c["box"] for c in layout["cells"]]
    assert {(w, h) for _, _, w, h in boxes} == {(200, 160)}
    assert len({y for _, y, _, _ in boxes}) == 1 and [x for x, *_ in boxes] == sorted(
        x for x, *_ in boxes
    )
    assert all(a[0] + a[2] < b[0] for a, b in zip(boxes, boxes[1:], strict=False))
    assert (
        max(x + w for x, _, w, _ in boxes) <= pixels.shape[1]
        and max(y + h for _, y, _, h in boxes) <= pixels.shape[0]
    )
    # The label bands carry text (light pixels on the dark background); the gap between cells does
    # not.
    for cell in layout["cells"]:
        x, y, w, h = cell["label_box"]
        assert (pixels[y : y + h, x : x + w] > 150).any(axis=2).sum() > 200
    first_label = layout["cells"][0]["label_box"]
    gap_x = first_label[0] + first_label[2] + 2
    assert (pixels[boxes[0][1] :, gap_x] == (32, 32, 32)).all()
    # The original is the crop itself, blown up pixel for pixel; the models' crops differ from it
    # and each other.
    with Image.open(street) as source:
        original = np.asarray(source.convert("RGB"))[30:70, 40:90]
    np.testing.assert_array_equal(crops[0][::4, ::4], original)
    assert np.abs(crops[1].astype(int) - crops[2]).mean() > 0.5
    assert "[2/2] bundled-span-x4-photo:" in capsys.readouterr().err


def test_a_crop_on_the_sheet_is_the_full_runs_pixels_at_that_place(street, tmp_path):
    assert (
        main(
            [
                "compare",
                str(street),
                "--models",
                "bundled-span-x4",
                "--crop",
                "100,70,60,50",
                "-o",
                str(tmp_path / "sheet.png"),
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "upscale",
                str(street),
                "--model",
                "bundled-span-x4",
                "--tile",
                "48",
                "-o",
                str(tmp_path / "full.png"),
                "--quiet",
            ]
        )
        == 0
    )
    _, _, crops = sheet_cells(tmp_path / "sheet.png")
    with Image.open(tmp_path / "full.png") as full:
        expected = np.asarray(full)[280:480, 400:640]
    difference = np.abs(crops[1].astype(int) - expected)
    assert crops[1].shape == expected.shape
    assert difference.max() <= 1 and np.count_nonzero(difference) <= difference.size // 10_000


def test_more_than_four_models_wrap_into_even_rows():
    from sr_studio.contact_sheet import SheetCell, columns_for, compose

    assert [columns_for(n) for n in (1, 2, 4, 5, 6, 9)] == [1, 2, 4, 3, 3, 3]
    cells = [
        SheetCell(np.full((40, 60, 3), 9 * i, np.uint8), f"model {i}", "", "") for i in range(5)
    ]
    sheet, layout = compose("five", cells)
    boxes = [c["box"] for c in layout["cells"]]
    assert len({y for _, y, _, _ in boxes}) == 2 and len({x for x, *_ in boxes}) == 3
    image = np.asarray(sheet)
    for index, (x, y, w, h) in enumerate(boxes):
        assert (image[y : y + h, x : x + w] == 9 * index).all()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--models", "bundled-span-x4,bundled-span-x4"], "names bundled-span-x4 more than once"),
        (["--models", "no-such-model"], "no installed model or file named 'no-such-model'"),
        (
            ["--models", "bundled-span-x4", "--crop", "500,500,10,10"],
            "lies outside the 160x120 photo",
        ),
        (["--models", "bundled-span-x4", "--crop", "1,2,3"], "X,Y,W,H"),
        (["--models", "bundled-span-x4", "-o", "sheet.jpg"], "a contact sheet is a PNG"),
    ],
)
def test_mistakes_are_one_line_and_write_nothing(street, capsys, arguments, message):
    before = sorted(p.name for p in street.parent.iterdir())
    assert main(["compare", str(street), *arguments]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in street.parent.iterdir()) == before


def test_an_existing_sheet_is_kept_unless_overwrite(street, capsys):
    sheet = street.with_name("street_compare.png")
    sheet.write_bytes(b"mine")
    assert main(["compare", str(street), "--models", "bundled-span-x4", "--crop", "0,0,20,20"]) == 1
    assert "already exists" in capsys.readouterr().err and sheet.read_bytes() == b"mine"
    assert (
        main(
            [
                "compare",
                str(street),
                "--models",
                "bundled-span-x4",
                "--crop",
                "0,0,20,20",
                "--overwrite",
                "--quiet",
            ]
        )
        == 0
    )
    assert read_layout(sheet)["crop"] == [0, 0, 20, 20]


def test_estimate_prints_the_time_and_writes_nothing(street, tmp_path_factory, capsys, monkeypatch):
    data = tmp_path_factory.mktemp("data")
    tmp_path = street.parent
    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(data))
    before = sorted(p.name for p in street.parent.iterdir())
    out = tmp_path / "new-folder"
    assert main(["upscale", str(street), "--estimate", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"{street}: 160x120 -> 640x480: a few seconds"
    assert "calibrating" in captured.err
    assert sorted(p.name for p in street.parent.iterdir()) == before and not out.exists()
    # The calibration is kept: the next estimate measures nothing and says so.
    recorded = json.loads((data / "throughput.json").read_text())
    entries = next(iter(recorded["machines"].values()))
    assert [
        m["source"] for key, runs in entries.items() for m in runs if key.startswith("SPAN")
    ] == ["calibration"]
    assert main(["upscale", str(street), "--estimate"]) == 0
    assert "calibrating" not in capsys.readouterr().err


def test_a_run_records_its_speed_for_the_next_estimate(street, tmp_path, capsys, monkeypatch):
    from sr_studio.engine.throughput import ThroughputStore

    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(tmp_path / "data"))
    assert main(["upscale", str(street), "-o", str(tmp_path / "big.png"), "--quiet"]) == 0
    store = ThroughputStore.default()
    document = json.loads(store.path.read_text())
    entries = next(iter(document["machines"].values()))
    span = [runs for key, runs in entries.items() if key.startswith("SPAN")][0]
    assert [m["source"] for m in span] == ["run"] and span[0]["pixels"] >= 160 * 120
    assert [m["pixels"] for m in entries["io:read-and-write"]] == [640 * 480]


def test_a_long_estimate_names_the_much_faster_span(tmp_path, capsys, monkeypatch):
    """A slow model's estimate says what SPAN would take, from what this machine measured."""
    import torch

    from sr_studio.archs.hat import HAT
    from sr_studio.engine.throughput import ThroughputStore, speed_key
    from sr_studio.model_loading import load_model
    from sr_studio.weights import default_model_path

    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(tmp_path / "data"))
    torch.manual_seed(0)
    hat = HAT(
        upscale=4,
        embed_dim=24,
        depths=[1],
        num_heads=[2],
        window_size=8,
        compress_ratio=3,
        squeeze_factor=4,
        mlp_ratio=2,
    )
    from safetensors.torch import save_file

    weights = tmp_path / "tiny-hat.safetensors"
    save_file({k: v.contiguous() for k, v in hat.state_dict().items()}, weights)
    store, cpu = ThroughputStore.default(), torch.device("cpu")
    store.record(
        speed_key(load_model(weights).descriptor, cpu, "fp32"), 1000, 10.0, "run"
    )  # 100 px/s: hours
    store.record(
        speed_key(load_model(default_model_path(4)).descriptor, cpu, "fp32"), 10**6, 10.0, "run"
    )
    photo = tmp_path / "wide.png"
    Image.fromarray(np.zeros((300, 400, 3), np.uint8)).save(photo)
    assert main(["upscale", str(photo), "--model", str(weights), "--estimate"]) == 0
    line = capsys.readouterr().out.strip()
    assert (
        line.startswith(f"{photo}: 400x300 -> 1600x1200: about ")
        and ": SPAN would take a few seconds" in line
    )


def test_a_weights_file_outside_the_model_list_is_compared_at_its_own_scale(
    street, tmp_path, capsys
):
    """A file the user has not imported: its scale comes from the file (this once crashed with a
    traceback instead of running)."""
    import shutil

    from tests.test_bundled_models import MODELS

    mine = tmp_path / "my-x2.safetensors"
    shutil.copyfile(MODELS / "span-x2.safetensors", mine)
    code = main(["compare", str(street), "--models", str(mine), "--crop", "0,0,30,20", "--quiet"])
    assert code == 0, capsys.readouterr().err
    layout = read_layout(street.with_name("street_compare.png"))
    assert layout["scale"] == 2 and layout["cells"][1]["name"] == "my-x2.safetensors"
