"""`sr-studio upscale --cluster` on a real local Ray cluster (2 CPUs, 127.0.0.1), as a user runs it.

The cluster is started here as `ray.init()` starts one; the CLI joins it from its own process, as it
would join a remote head, and the test kills one of its workers or the CLI itself midway.
"""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_studio.cli import main

ray = pytest.importorskip(
    "ray", reason="the cluster extra is part of the test extra: pip install -e '.[test]'"
)

MODEL = "bundled-span-x4"
DONE_LINE = re.compile(r"^\[\d+/\d+\] (\S+) -> .* pid (\d+)\)$")
SKIPPED_LINE = re.compile(r"^\[\d+/\d+\] (\S+) skipped: ")


@pytest.fixture(scope="module")
def cluster_address():
    """A 2-CPU Ray cluster on this machine. Ray starts a local one with token authentication; the
    CLI's process is told to use it (RAY_AUTH_MODE=token), as a user of such a cluster is."""
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024**2,
        log_to_driver=False,
        logging_level="ERROR",
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


CLI_ENVIRONMENT = {**os.environ, "RAY_AUTH_MODE": "token"}


def make_photos(folder: Path, count: int, size=(96, 72)) -> list[Path]:
    """Photos of the kinds a batch holds: RGB PNGs, a camera JPEG with EXIF, grey and RGBA PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    paths = []
    for index in range(count):
        pixels = rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
        kind = index % 4
        if kind == 1:
            exif = Image.Exif()
            exif[0x010F] = "Camera Maker"  # Make
            exif[0x0132] = "2024:05:01 10:00:00"  # DateTime
            path = folder / f"photo{index:02d}.jpg"
            Image.fromarray(pixels[..., :3]).save(path, quality=90, exif=exif, dpi=(300, 300))
        elif kind == 2:
            path = folder / f"photo{index:02d}.png"
            Image.fromarray(pixels[..., 0], "L").save(path)
        elif kind == 3:
            path = folder / f"photo{index:02d}.png"
            Image.fromarray(pixels, "RGBA").save(path)
        else:
            path = folder / f"photo{index:02d}.png"
            Image.fromarray(pixels[..., :3]).save(path)
        paths.append(path)
    return paths


# "auto" is resolved by each worker for its own CPU or GPU; the in-process reference sees a CPU
# without bf16 (conftest), so both sides name the precision.
FIXED_PRECISION = ("--precision", "fp32")


def local_reference(inputs: Path, output: Path) -> dict[str, bytes]:
    """What the plain CLI writes for the same batch, file by file."""
    main(["upscale", "--quiet", str(inputs), "-o", str(output), "--model", MODEL, *FIXED_PRECISION])
    return {path.name: path.read_bytes() for path in output.iterdir()}


def written(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def cluster_command(address: str, inputs: Path, output: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sr_studio",
        "upscale",
        str(inputs),
        "-o",
        str(output),
        "--model",
        MODEL,
        *FIXED_PRECISION,
        "--cluster",
        address,
        "--worker-cpus",
        "1",
    ]


def run_cluster(address: str, inputs: Path, output: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        cluster_command(address, inputs, output),
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=CLI_ENVIRONMENT,
    )


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Twelve photos and the local CLI's outputs for them."""
    root = tmp_path_factory.mktemp("batch")
    make_photos(root / "in", 12)
    return root / "in", local_reference(root / "in", root / "local")


def test_cluster_outputs_equal_the_local_cli_byte_for_byte(cluster_address, tmp_path):
    inputs = tmp_path / "in"
    make_photos(inputs, 6)
    (inputs / "broken.jpg").write_text("this is not a photo")
    local = tmp_path / "local"
    assert (
        main(
            [
                "upscale",
                "--quiet",
                str(inputs),
                "-o",
                str(local),
                "--model",
                MODEL,
                *FIXED_PRECISION,
            ]
        )
        == 1
    )

    result = run_cluster(cluster_address, inputs, tmp_path / "cluster")

    assert result.returncode == 1, result.stderr  # the local CLI's code: one photo failed
    assert written(tmp_path / "cluster") == written(local)
    assert len(written(local)) == 6
    errors = [line for line in result.stderr.splitlines() if line.startswith("sr-studio: error:")]
    assert len(errors) == 1 and "broken.jpg" in errors[0], result.stderr
    assert "sr-studio: 1 of 7 image(s) failed" in result.stderr
    assert "worker 1 (" in result.stderr and "worker 2 (" in result.stderr
    assert re.search(r"^done: 7/7 photos \(\S+: 6\) in ", result.stderr, re.MULTILINE), (
        result.stderr
    )


def test_a_photo_model_at_a_cleanup_strength_gives_the_local_bytes(cluster_address, tmp_path):
    """The workers blend the photo model with its clean base exactly as a local run does."""
    inputs = tmp_path / "in"
    make_photos(inputs, 2)
    blended = ("--model", "bundled-span-x4-photo@40", *FIXED_PRECISION)
    local = tmp_path / "local"
    assert main(["upscale", "--quiet", str(inputs), "-o", str(local), *blended]) == 0
    trained = tmp_path / "trained"
    main(
        ["upscale", "--quiet", str(inputs), "-o", str(trained), "--model", "bundled-span-x4-photo"]
    )
    command = cluster_command(cluster_address, inputs, tmp_path / "cluster")
    at = command.index("--model")
    command[at : at + 4] = blended
    result = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=300, env=CLI_ENVIRONMENT
    )
    assert result.returncode == 0, result.stderr
    assert "model: bundled-span-x4-photo@40 (SPAN" in result.stderr
    assert written(tmp_path / "cluster") == written(local)
    assert written(local) != written(trained)


def test_a_killed_worker_loses_no_photo_and_writes_none_twice(cluster_address, batch, tmp_path):
    inputs, reference = batch
    output = tmp_path / "cluster"
    process = subprocess.Popen(
        cluster_command(cluster_address, inputs, output),
        stderr=subprocess.PIPE,
        text=True,
        env=CLI_ENVIRONMENT,
    )
    lines = []
    killed = None
    try:
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            match = DONE_LINE.match(lines[-1])
            if match and killed is None:
                # The worker that finished first already holds its next photo: it dies mid-batch.
                killed = int(match.group(2))
                os.kill(killed, signal.SIGKILL)
        assert process.wait(timeout=300) == 0, "\n".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
    log = "\n".join(lines)
    assert killed is not None, log
    assert re.search(
        rf"^sr-studio: note: worker \d \(\S+, pid {killed}\) died", log, re.MULTILINE
    ), log
    assert "is tried again on another worker" in log
    reported = [
        m.group(1)
        for line in lines
        for m in [DONE_LINE.match(line) or SKIPPED_LINE.match(line)]
        if m
    ]
    assert sorted(reported) == sorted(path.name for path in inputs.iterdir())  # each photo once
    # A photo written twice would fail ("already exists"): outputs are never overwritten.
    assert not [line for line in lines if line.startswith("sr-studio: error:")], log
    assert written(output) == reference  # no photo lost, no leftover temporary file, same bytes


def test_an_interrupted_batch_restarted_skips_what_is_done(cluster_address, batch, tmp_path):
    inputs, reference = batch
    output = tmp_path / "cluster"
    process = subprocess.Popen(
        cluster_command(cluster_address, inputs, output),
        stderr=subprocess.PIPE,
        text=True,
        env=CLI_ENVIRONMENT,
    )
    try:
        done = 0
        for line in process.stderr:
            done += bool(DONE_LINE.match(line.rstrip("\n")))
            if done == 2:
                process.send_signal(signal.SIGINT)  # Ctrl+C
                break
        process.stderr.read()
        assert process.wait(timeout=120) == 130
    finally:
        if process.poll() is None:
            process.kill()
    finished = {path.name for path in output.iterdir() if not path.name.startswith(".")}
    assert 2 <= len(finished) < len(reference)
    for name in finished:
        assert (output / name).read_bytes() == reference[name]  # complete, never half-written
    before = {name: (output / name).stat().st_mtime_ns for name in finished}

    result = run_cluster(cluster_address, inputs, output)

    assert result.returncode == 0, result.stderr
    assert f"sr-studio: {len(finished)} of 12 image(s) skipped" in result.stderr
    enlarged = [line for line in result.stderr.splitlines() if DONE_LINE.match(line)]
    assert len(enlarged) == 12 - len(finished)
    assert {name: (output / name).stat().st_mtime_ns for name in finished} == before  # not touched
    assert {k: v for k, v in written(output).items() if not k.startswith(".")} == reference


def test_cluster_without_ray_installed_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    source = make_photos(tmp_path, 1)[0]
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed

    assert main(["upscale", str(source), "--cluster", "auto"]) == 1

    err = capsys.readouterr().err.strip()
    assert err == (
        "sr-studio: error: --cluster needs Ray, which is not installed: "
        "pip install 'sr-studio[cluster]'"
    )
    assert not list(tmp_path.glob("*_x4*"))


def test_a_cluster_that_cannot_be_reached_is_one_line(tmp_path):
    source = make_photos(tmp_path, 1)[0]
    port = 1  # nothing listens there
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sr_studio",
            "upscale",
            str(source),
            "--cluster",
            f"127.0.0.1:{port}",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
    )
    assert result.returncode == 1
    assert "sr-studio: error: cannot join the Ray cluster at 127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*_x4*"))


def test_workers_that_cannot_start_end_the_batch_in_one_line_each(
    cluster_address, tmp_path, capsys
):
    inputs = tmp_path / "in"
    make_photos(inputs, 3)
    # No MPS (Apple GPU) here: every worker fails to build its engine. This process is the driver.
    code = main(
        [
            "upscale",
            str(inputs),
            "-o",
            str(tmp_path / "out"),
            "--model",
            MODEL,
            "--cluster",
            cluster_address,
            "--worker-cpus",
            "1",
            "--device",
            "mps",
        ]
    )

    assert code == 1
    err = capsys.readouterr().err.splitlines()
    notes = [line for line in err if " did not start: " in line]
    assert len(notes) == 2 and all("device mps is not available" in line for line in notes), err
    assert err[-1] == "sr-studio: error: no worker of the cluster could start (see the notes above)"
    assert not list((tmp_path / "out").iterdir())


def test_a_run_in_a_terminal_draws_its_status_and_eta_and_chooses_like_the_local_cli(
    cluster_address, tmp_path
):
    """In a terminal the live status line with its ETA is drawn (a pipe never shows it: a crash in
    it went unseen once), and Automatic, the default, picks per photo as the local CLI does."""
    from tests.conftest import run_in_terminal

    inputs = tmp_path / "in"
    make_photos(inputs, 6)
    local = tmp_path / "local"
    assert main(["upscale", "--quiet", str(inputs), "-o", str(local), *FIXED_PRECISION]) == 0
    command = cluster_command(cluster_address, inputs, tmp_path / "cluster")
    at = command.index("--model")
    del command[at : at + 2]  # the default: Automatic
    code, output = run_in_terminal(command, CLI_ENVIRONMENT)
    assert code == 0, output
    assert "Traceback" not in output
    assert "model: automatic (per photo: bundled-span-x4-photo" in output
    assert "ETA " in output, output  # the status line was drawn, with its time left
    assert "photo01.jpg: JPEG quality about 90" in output, output
    assert written(tmp_path / "cluster") == written(local)


def test_a_result_too_large_for_its_format_fails_before_the_cluster_is_joined(tmp_path, capsys):
    """As locally: the format's limit is checked on the machine running the command, at once."""
    source = tmp_path / "camera12mp.png"
    Image.fromarray(np.zeros((3072, 4096, 3), np.uint8)).save(source)
    code = main(
        ["upscale", str(source), "-o", str(tmp_path / "big.webp"), "--model", MODEL]
        + ["--cluster", "127.0.0.1:1"]  # nothing listens there: joining would fail
    )
    assert code == 1
    err = capsys.readouterr().err
    assert (
        f"sr-studio: error: {source}: the x4 result is 16384x12288 px, larger than WebP allows "
        "(16383 px a side); choose PNG, TIFF or JPEG"
    ) in err
    assert "cannot join" not in err


def test_a_worker_finding_its_output_written_meanwhile_reports_it_skipped(tmp_path, monkeypatch):
    """Another run over the same folder wrote it while this worker enlarged it: skipped, as a
    later run would say, not a failed photo."""
    from sr_studio.checkpoint import read_state_dict
    from sr_studio.cli.cluster_run import PhotoJob, PhotoWorker, WorkerSettings
    from sr_studio.weights import resolve_model
    from tests.conftest import another_run_writes_meanwhile

    source = make_photos(tmp_path, 1)[0]
    destination = tmp_path / "photo00_x4.png"
    settings = WorkerSettings(MODEL, None, None, "cpu", "fp32", None, 4.0, None, False, 200.0)
    worker = PhotoWorker(read_state_dict(resolve_model(MODEL)), settings)
    another_run_writes_meanwhile(monkeypatch, destination)

    outcome = worker.enlarge(PhotoJob(1, source, destination, "png"))

    assert outcome["status"] == "skipped", outcome
    assert destination.read_bytes() == b"the other run's result"
