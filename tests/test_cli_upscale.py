"""`sr-studio upscale` as a user runs it: files and folders in, complete files out, one-line
errors."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from sr_studio.archs.span import SPAN
from sr_studio.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny-span-x2.safetensors"
    save_file(SPAN(feature_channels=8, upscale=2).state_dict(), path)
    return path


def photo(path, size=(24, 16), mode="RGB"):
    rng = np.random.default_rng(7)
    channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode).save(path)
    return path


def run_cli(*args):
    return main(["upscale", "--quiet", *map(str, args)])


def test_single_file_is_written_beside_the_input(tmp_path, model_file, capsys):
    source = photo(tmp_path / "street.png")
    assert run_cli(source, "--model", model_file) == 0
    with Image.open(tmp_path / "street_x2_tiny-span.png") as result:
        assert result.size == (48, 32)
        assert result.mode == "RGB"


def test_output_file_and_format_and_scale(tmp_path, model_file):
    source = photo(tmp_path / "face.png", size=(10, 14))
    target = tmp_path / "out" / "face-big.jpg"
    target.parent.mkdir()
    assert (
        run_cli(source, "--model", model_file, "--scale", "3", "-o", target, "--quality", "90") == 0
    )
    with Image.open(target) as result:
        assert result.format == "JPEG"
        assert result.size == (30, 42)


def test_folder_with_a_bad_file_still_does_the_good_ones(tmp_path, model_file, capsys):
    folder = tmp_path / "shoot"
    folder.mkdir()
    photo(folder / "a.png")
    photo(folder / "c.png", mode="L")
    (folder / "b.jpg").write_text("this is not a photo")
    out = tmp_path / "results"
    out.mkdir()
    assert run_cli(folder, "--model", model_file, "-o", out) == 1
    assert sorted(p.name for p in out.iterdir()) == ["a_x2_tiny-span.png", "c_x2_tiny-span.png"]
    with Image.open(out / "c_x2_tiny-span.png") as gray:
        assert gray.mode == "L"
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "b.jpg" in errors[0]


def test_existing_output_is_skipped_not_overwritten_and_not_a_failure(tmp_path, model_file, capsys):
    source = photo(tmp_path / "x.png")
    existing = tmp_path / "x_x2_tiny-span.png"
    existing.write_bytes(b"precious")
    assert main(["upscale", str(source), "--model", str(model_file)]) == 0
    assert existing.read_bytes() == b"precious"
    err = capsys.readouterr().err
    assert f"[1/1] x.png skipped: {existing} already exists (--overwrite replaces it)" in err
    assert (
        "sr-studio: 1 of 1 image(s) skipped: the output already exists (--overwrite replaces it)"
        in err
    )
    assert "error" not in err
    assert run_cli(source, "--model", model_file) == 0  # --quiet: the summary line still says why
    assert "1 of 1 image(s) skipped" in capsys.readouterr().err
    assert run_cli(source, "--model", model_file, "--overwrite") == 0
    with Image.open(existing) as result:
        assert result.size == (48, 32)


def test_bad_model_file_is_one_line_and_writes_nothing(tmp_path, capsys):
    source = photo(tmp_path / "x.png")
    bogus = tmp_path / "model.pth"
    bogus.write_text("not weights")
    assert run_cli(source, "--model", bogus) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.pth" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pth", "x.png"]


def test_missing_input_is_reported(tmp_path, model_file, capsys):
    assert run_cli(tmp_path / "nope.jpg", "--model", model_file) == 1
    assert "nope.jpg" in capsys.readouterr().err


def test_sixteen_bit_input_gives_sixteen_bit_output(tmp_path, model_file):
    pixels = (np.arange(20 * 12, dtype=np.uint16).reshape(12, 20) * 250).astype(np.uint16)
    source = tmp_path / "deep.png"
    Image.fromarray(pixels).save(source)
    assert run_cli(source, "--model", model_file) == 0
    with Image.open(tmp_path / "deep_x2_tiny-span.png") as result:
        assert result.mode.startswith("I")
        values = np.asarray(result)
    assert values.shape == (24, 40) and values.max() > 255


def test_help_does_not_import_torch():
    code = (
        "import sys; from sr_studio.cli import build_parser; build_parser(); "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_console_script_reports_bad_arguments_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sr_studio", "upscale", str(tmp_path / "x.png"), "--tile", "2"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "sr-studio: error: --tile must be at least 8 pixels, not 2"


def test_pixel_limit_is_configurable_and_checked_before_decoding(tmp_path, model_file, capsys):
    source = photo(tmp_path / "big.png", size=(400, 300))  # 0.12 MP
    assert run_cli(source, "--model", model_file, "--max-megapixels", "0.1") == 1
    err = capsys.readouterr().err
    assert "big.png" in err and not (tmp_path / "big_x2_tiny-span.png").exists()
    assert run_cli(source, "--model", model_file, "--max-megapixels", "0.2") == 0
    assert (tmp_path / "big_x2_tiny-span.png").exists()


@pytest.mark.parametrize("native", [False, True])
def test_bf16_on_a_cpu_without_it_runs_in_fp32_with_a_one_line_note(
    tmp_path, model_file, capsys, monkeypatch, native
):
    from sr_studio.engine import devices

    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda native=native: native)
    source = photo(tmp_path / "pier.png")
    assert (
        main(
            [
                "upscale",
                str(source),
                "--model",
                str(model_file),
                "--device",
                "cpu",
                "--precision",
                "bf16",
            ]
        )
        == 0
    )
    assert (tmp_path / "pier_x2_tiny-span.png").exists()
    lines = capsys.readouterr().err.splitlines()
    notes = [line for line in lines if line.startswith("sr-studio: note:")]
    header = next(line for line in lines if line.startswith("model:"))
    if native:
        assert notes == [] and ", bf16;" in header
    else:
        assert (
            len(notes) == 1 and "emulated on this CPU" in notes[0] and "running in fp32" in notes[0]
        )
        assert ", fp32;" in header


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_jpeg_png_webp_output_is_the_engine_result_encoded(tmp_path, model_file, suffix):
    """The CLI fills a 4-byte-per-pixel buffer for JPEG, PNG and WebP (no full-size copy when
    encoding): same file as encoding the engine's own result."""
    from sr_studio.engine import Upscaler
    from sr_studio.model_loading import load_model
    from sr_studio.photo_io import read_photo, write_photo

    source = photo(tmp_path / "dune.png", size=(40, 30))
    assert run_cli(source, "--model", model_file, "-o", tmp_path / f"cli{suffix}") == 0
    picture = read_photo(source)
    result = Upscaler(load_model(model_file), device="cpu").upscale(picture.pixels)
    write_photo(tmp_path / f"direct{suffix}", result, metadata_from=picture)
    assert (tmp_path / f"cli{suffix}").read_bytes() == (tmp_path / f"direct{suffix}").read_bytes()


# -- output paths that do what a user means --------------------------------------------------------


def test_an_output_folder_that_does_not_exist_is_created(tmp_path, model_file):
    """The README's own example: `sr-studio upscale ~/Pictures/trip -o ~/Pictures/trip-x4`."""
    trip = tmp_path / "trip"
    trip.mkdir()
    photo(trip / "a.png")
    photo(trip / "b.jpg")
    assert run_cli(trip, "--model", model_file, "-o", tmp_path / "trip-x4") == 0
    assert sorted(p.name for p in (tmp_path / "trip-x4").iterdir()) == [
        "a_x2_tiny-span.png",
        "b_x2_tiny-span.jpg",
    ]

    # Several files into a new nested folder; one file into a new folder named without a suffix.
    assert (
        run_cli(
            trip / "a.png", trip / "b.jpg", "--model", model_file, "-o", tmp_path / "new" / "deeper"
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "new" / "deeper").iterdir()) == [
        "a_x2_tiny-span.png",
        "b_x2_tiny-span.jpg",
    ]
    assert run_cli(trip / "a.png", "--model", model_file, "-o", tmp_path / "just-a") == 0
    assert [p.name for p in (tmp_path / "just-a").iterdir()] == ["a_x2_tiny-span.png"]


def test_an_output_file_name_for_one_photo_is_a_file_and_its_folder_is_created(
    tmp_path, model_file
):
    source = photo(tmp_path / "a.png")
    assert run_cli(source, "--model", model_file, "-o", tmp_path / "out" / "big.jpg") == 0
    with Image.open(tmp_path / "out" / "big.jpg") as result:
        assert result.format == "JPEG" and result.size == (48, 32)


@pytest.mark.parametrize(
    "output, message",
    [
        (
            "out.bmp",
            "out.bmp: SR Studio cannot write .bmp files; name the output .png, .jpg, .webp or .tif",
        ),
        ("a.png", "a.png: is the input itself; name another output (inputs are never overwritten)"),
    ],
)
def test_an_output_file_name_that_cannot_be_honoured_is_one_line(
    tmp_path, model_file, capsys, output, message
):
    source = photo(tmp_path / "a.png")
    assert run_cli(source, "--model", model_file, "-o", tmp_path / output) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"sr-studio: error: {tmp_path / message}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_a_folder_of_photos_into_an_existing_file_is_refused(tmp_path, model_file, capsys):
    folder = tmp_path / "shoot"
    folder.mkdir()
    photo(folder / "a.png")
    (tmp_path / "notes").write_text("a file, not a folder")
    assert run_cli(folder, "--model", model_file, "-o", tmp_path / "notes") == 1
    err = capsys.readouterr().err.strip()
    assert (
        err
        == f"sr-studio: error: {tmp_path / 'notes'}: is a file; the output must be a folder here"
    )


def test_running_twice_over_a_folder_does_not_enlarge_the_first_results(
    tmp_path, model_file, capsys
):
    folder = tmp_path / "shoot"
    folder.mkdir()
    photo(folder / "a.png")
    photo(folder / "b.jpg")
    assert main(["upscale", str(folder), "--model", str(model_file)]) == 0
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(first) == ["a.png", "a_x2_tiny-span.png", "b.jpg", "b_x2_tiny-span.jpg"]
    capsys.readouterr()

    assert main(["upscale", str(folder), "--model", str(model_file)]) == 0

    assert {p.name: p.read_bytes() for p in folder.iterdir()} == first, (
        "no second round of results, nothing rewritten"
    )
    err = capsys.readouterr().err
    assert f"sr-studio: note: {folder}: 2 earlier SR Studio result(s) left out" in err
    assert "2 image(s) to x2" in err and "2 of 2 image(s) skipped" in err and "error" not in err

    # Named as a file, a result is enlarged again: the rule is for folder scans only.
    assert run_cli(folder / "a_x2_tiny-span.png", "--model", model_file) == 0
    assert (folder / "a_x2_tiny-span_x2_tiny-span.png").exists()


@pytest.mark.parametrize(
    "name, fmt, ok",
    [
        ("out.png", "webp", False),
        ("out.jpg", "png", False),
        ("out.webp", "webp", True),
        ("out.jpeg", "jpg", True),
        ("out.tif", "tiff", True),
    ],
)
def test_a_format_that_contradicts_the_output_name_is_refused(
    tmp_path, model_file, capsys, name, fmt, ok
):
    source = photo(tmp_path / "a.png")
    code = run_cli(source, "--model", model_file, "-o", tmp_path / name, "--format", fmt)
    if ok:
        assert code == 0 and (tmp_path / name).exists()
        return
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(
        f"sr-studio: error: {tmp_path / name}: --format {fmt} contradicts the name's"
    )
    assert not (tmp_path / name).exists()


# -- the small ones --------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["0", "-2", "0.5", "17"])
def test_scale_out_of_range_says_the_range(tmp_path, scale, capsys):
    assert run_cli(tmp_path / "x.png", "--scale", scale) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"sr-studio: error: --scale must be from 1 to 16, not {float(scale):g}"
    )


def test_every_option_is_explained_in_the_help():
    from sr_studio.cli import build_parser

    parser = build_parser()
    upscale = parser._subparsers._group_actions[0].choices["upscale"]
    unexplained = [action.dest for action in upscale._actions if not action.help]
    assert unexplained == []
    text = upscale.format_help()
    assert "CUDA or Apple GPU" in text and "fp16: GPUs only" in text


def test_the_model_is_named_by_the_id_models_list_shows(tmp_path, model_file, capsys, monkeypatch):
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    (bundled / "span-x2.safetensors").write_bytes(model_file.read_bytes())
    monkeypatch.setenv("SR_STUDIO_BUNDLED_DIR", str(bundled))
    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(tmp_path / "data"))
    source = photo(tmp_path / "a.png")
    assert main(["upscale", str(source), "--scale", "2"]) == 0
    header = next(
        line for line in capsys.readouterr().err.splitlines() if line.startswith("model:")
    )
    assert header.startswith("model: bundled-span-x2 (SPAN ch8 x2) on ")
    assert main(["models", "list"]) == 0
    assert any(line.startswith("bundled-span-x2 ") for line in capsys.readouterr().out.splitlines())
    assert main(["upscale", str(source), "--model", str(model_file), "--overwrite"]) == 0
    header = next(
        line for line in capsys.readouterr().err.splitlines() if line.startswith("model:")
    )
    assert header.startswith(
        "model: tiny-span-x2.safetensors (SPAN ch8 x2)"
    )  # a file of one's own: its name


def test_the_header_says_which_precision_runs_and_why(tmp_path, model_file, capsys, monkeypatch):
    from sr_studio.engine import devices

    source = photo(tmp_path / "a.png")
    for native, expected in (
        (True, "bf16 (automatic: this CPU computes bfloat16 in hardware)"),
        (False, "fp32 (automatic: this CPU has no bfloat16 instructions)"),
    ):
        monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda native=native: native)
        argv = [
            "upscale",
            str(source),
            "--model",
            str(model_file),
            "--device",
            "cpu",
            "--overwrite",
        ]
        assert main(argv) == 0
        header = next(
            line for line in capsys.readouterr().err.splitlines() if line.startswith("model:")
        )
        assert f"on cpu, {expected}; " in header
    assert main([*argv, "--precision", "fp32"]) == 0  # named by the user: no reason given
    header = next(
        line for line in capsys.readouterr().err.splitlines() if line.startswith("model:")
    )
    assert "on cpu, fp32; " in header


def test_upscale_and_compare_run_a_model_with_the_same_options():
    """A sheet previews the run it compares: the same devices, precisions, defaults and limits."""
    from sr_studio.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices

    def run_options(name):
        return {
            action.dest: (action.choices, action.default, action.type)
            for action in commands[name]._actions
            if action.dest in {"tile", "device", "precision", "overwrite", "max_megapixels"}
        }

    assert len(run_options("upscale")) == 5
    assert run_options("upscale") == run_options("compare")
    assert run_options("compare")["precision"][1] == "auto"


def test_a_run_in_a_terminal_draws_its_progress_and_finishes(tmp_path):
    """The progress bar and its ETA are drawn only in a terminal: run there, as a user does."""
    import os

    from tests.conftest import run_in_terminal

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for index in range(3):
        pixels = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"p{index}.png")
    command = [sys.executable, "-m", "sr_studio", "upscale", str(folder), "-o", str(tmp_path / "o")]
    code, output = run_in_terminal(command + ["--tile", "32"], dict(os.environ))
    assert code == 0, output
    assert "Traceback" not in output
    assert "\r" in output  # the bar redrew itself in place
    assert output.count(" -> ") == 3, output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "p0_x4.png",
        "p1_x4.png",
        "p2_x4.png",
    ]


def test_a_long_photo_prints_progress_lines_when_stderr_is_not_a_terminal(monkeypatch):
    """A log or a pipe sees a progress line every few seconds of a long photo, not silence."""
    import io

    from sr_studio.cli import terminal_progress

    clock = [100.0]
    monkeypatch.setattr(terminal_progress.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    bar = terminal_progress.ProgressBar("[1/2] big.jpg", stream=stream)
    for done in range(1, 31):
        clock[0] += 1.0  # a tile a second
        bar.update(done, 40)
    bar.finish("[1/2] big.jpg -> big_x4.jpg")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[1/2] big.jpg: 25% (10/40 tiles, 0:10, ETA 0:30)"
    assert lines[1].startswith("[1/2] big.jpg: 50% (20/40 tiles")
    assert len(lines) == 4 and lines[-1] == "[1/2] big.jpg -> big_x4.jpg"
    assert "\r" not in stream.getvalue()


def test_estimate_of_a_catalog_model_not_downloaded_times_its_shape_here(tmp_path, capsys):
    """--estimate answers before the download: a network of the model's shape runs as fast as
    the published file will."""
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (60, 80, 3), np.uint8)).save(photo)
    code = main(["upscale", str(photo), "--model", "hat-s-x2", "--estimate"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "hat-s-x2 is not downloaded yet (79.9 MB)" in captured.err
    assert captured.out.startswith(f"{photo}: 80x60 -> 160x120: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]  # nothing written
    assert main(["upscale", str(photo), "--model", "hat-s-x2"]) == 1  # still needs it
    assert "sr-studio models download hat-s-x2" in capsys.readouterr().err


def test_the_published_span_ids_run_the_bundled_network(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (30, 40, 3), np.uint8)).save(photo)
    out = tmp_path / "out.png"
    assert main(["upscale", str(photo), "-o", str(out), "--model", "span-x4-official"]) == 0
    assert "model: bundled-span-x4 (SPAN" in capsys.readouterr().err
    assert main(["upscale", str(photo), "--model", "span-x4-official", "--estimate"]) == 0
    assert "not downloaded" not in capsys.readouterr().err
    assert main(["models", "download", "span-x4-official"]) == 1
    assert "is bundled with SR Studio as SPAN x4 Clean ('bundled-span-x4')" in (
        capsys.readouterr().err
    )


def test_a_result_too_large_for_its_format_fails_at_once_and_the_others_are_done(
    tmp_path, model_file, capsys, monkeypatch
):
    """A WebP holds at most 16383 px a side: said before the model runs, not after it."""
    from sr_studio.engine.upscaler import Upscaler

    folder = tmp_path / "trip"
    folder.mkdir()
    Image.fromarray(np.zeros((3072, 4096, 3), np.uint8)).save(folder / "camera12mp.png")
    photo(folder / "small.png")
    enlarged = []
    upscale = Upscaler.upscale
    monkeypatch.setattr(
        Upscaler,
        "upscale",
        lambda self, pixels, *a, **k: (
            enlarged.append(pixels.shape[:2]) or upscale(self, pixels, *a, **k)
        ),
    )
    out = tmp_path / "out"

    code = main(
        ["upscale", str(folder), "-o", str(out), "--model", str(model_file), "--scale", "4"]
        + ["--format", "webp"]
    )

    assert code == 1
    assert enlarged == [(16, 24)]  # the large photo never reached the network
    assert sorted(path.name for path in out.iterdir()) == ["small_x4_tiny-span.webp"]
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == [
        f"sr-studio: error: {folder / 'camera12mp.png'}: the x4 result is 16384x12288 px, "
        "larger than WebP allows (16383 px a side); choose PNG, TIFF or JPEG"
    ]


def test_a_batch_that_no_output_can_hold_loads_no_model(tmp_path, model_file, capsys, monkeypatch):
    import sr_studio.model_loading

    source = tmp_path / "panorama.png"
    Image.fromarray(np.zeros((100, 17_000, 3), np.uint8)).save(source)
    loaded = []
    monkeypatch.setattr(sr_studio.model_loading, "load_model", lambda *a: loaded.append(a))

    assert run_cli(source, "--model", model_file, "--scale", "4", "--format", "jpg") == 1

    assert loaded == []
    err = capsys.readouterr().err
    assert (
        f"{source}: the x4 result is 68000x400 px, larger than JPEG allows (65500 px a side); "
        "choose PNG or TIFF" in err
    )
    assert not list(tmp_path.glob("panorama_x4*"))


def test_an_output_another_run_wrote_meanwhile_is_skipped_not_a_failure(
    tmp_path, model_file, capsys, monkeypatch
):
    """Two runs over one folder at once: each photo is enlarged once, and neither run fails."""
    from tests.conftest import another_run_writes_meanwhile

    source = photo(tmp_path / "x.png")
    destination = tmp_path / "x_x2_tiny-span.png"
    another_run_writes_meanwhile(monkeypatch, destination)

    assert main(["upscale", str(source), "--model", str(model_file)]) == 0

    assert destination.read_bytes() == b"the other run's result"
    err = capsys.readouterr().err
    assert "error" not in err
    assert f"[1/1] x.png skipped: {destination} already exists (--overwrite replaces it)" in err
    assert "sr-studio: 1 of 1 image(s) skipped" in err
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_a_result_many_programs_cannot_open_is_said_before_the_run(
    tmp_path, model_file, capsys, monkeypatch
):
    """A 12 MP photo x4 is 192 MP, over Pillow's 179 MP: a note first, and the run goes on."""
    import sr_studio.cli.upscale_command as upscale_command

    folder = tmp_path / "trip"
    folder.mkdir()
    camera = folder / "camera12mp.png"
    Image.fromarray(np.zeros((3000, 4000, 3), np.uint8)).save(camera)
    photo(folder / "small.png")
    enlarged = []

    def enlarge_photo(upscaler_for, source, destination, *args, on_timing, **kwargs):
        enlarged.append(source.name)  # the run itself is not this test's business
        on_timing((1, 1), 0.01)
        return destination, (1, 1)

    monkeypatch.setattr(upscale_command, "enlarge_photo", enlarge_photo)

    assert run_cli(folder, "--model", model_file, "--scale", "4") == 0

    assert enlarged == ["camera12mp.png", "small.png"]  # warned, not refused
    notes = [line for line in capsys.readouterr().err.splitlines() if "note" in line]
    assert notes == [
        f"sr-studio: note: {camera}: the x4 result is 16000x12000 px (192 MP), more than many "
        "programs open (Pillow refuses images over 179 MP); --scale 2 or 3 makes one they open"
    ]
