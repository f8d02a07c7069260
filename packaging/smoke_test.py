"""Smoke test of the built bundle: does the frozen executable do, on its own, what the installed app
does?

    .venv/bin/python packaging/smoke_test.py [dist/sr-studio] [--timings N]

Runs the frozen `sr-studio` with a clean environment (no venv on PATH, no PYTHONPATH, HOME and the
data, settings and catalog locations in a temporary folder, current folder outside the checkout) and
compares it with the unfrozen app run by this script's Python (the venv). Checks, in order:

  version      `--version` prints sr_studio.__version__
  commands     `--help` lists every command the source registers (they are imported by name)
  resources    `models list` prints the same catalog, bundled models and data folder as the venv
  upscale      the bundled model enlarges a PNG x2, pixel for pixel as the venv does; a JPEG with
               EXIF at the default scale keeps its EXIF; a HAT .pth file given by path works too
  bad input    a missing file gives exit code 1 and one line naming it, no traceback
  desktop      (Linux) sr-studio.desktop and its icon lie beside the executable
  gui          `gui --self-test IMAGE` offscreen (the real window, worker thread, export)
  window       `sr-studio` with no arguments keeps a window open (offscreen) until it is closed
  download     `models download` from an HTTP server on 127.0.0.1 (a catalog written here, a
               checkpoint made here) installs the same files as the venv does, then `models verify`
               and an upscale with the downloaded model succeed

When the bundle has no bundled model (resources/models/*.safetensors not trained yet) a tiny SPAN
stand-in is made and SR_STUDIO_BUNDLED_DIR points at it; the report says so.
`--timings N` also times N runs of `--version` and of a small upscale (frozen and venv): median,
min. Exit code 0 when every check passed; the failures are listed otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sr_studio import __version__  # noqa: E402

SLOW_RUN_S = 600  # one frozen command on a loaded 2-core CI machine stays far below this


class Check:
    def __init__(self):
        self.failures: list[str] = []
        self.notes: list[str] = []

    def run(self, name: str, function, *args) -> None:
        started = time.monotonic()
        try:
            detail = function(*args)
        except AssertionError as error:
            self.failures.append(f"{name}: {error}")
            print(f"FAIL {name}: {error}", flush=True)
            return
        print(
            f"ok   {name} ({time.monotonic() - started:.1f} s){': ' + detail if detail else ''}",
            flush=True,
        )


class Runner:
    """Runs the frozen executable and the venv's app with the same isolated environment."""

    def __init__(self, executable: Path, work: Path):
        self.executable = executable
        self.work = work
        home = work / "home"
        home.mkdir()
        keep = (
            "PATH",
            "LANG",
            "LC_ALL",
            "SYSTEMROOT",
            "TEMP",
            "TMP",
            "TMPDIR",
            "DISPLAY",
            "WAYLAND_DISPLAY",
        )
        self.base_env = {key: os.environ[key] for key in keep if key in os.environ}
        venv_bin = str(Path(sys.executable).parent)
        self.base_env["PATH"] = os.pathsep.join(
            part
            for part in self.base_env.get("PATH", "").split(os.pathsep)
            if part and part != venv_bin
        )
        self.base_env.update(
            {
                "HOME": str(home),
                "USERPROFILE": str(home),
                "XDG_DATA_HOME": str(home / ".local" / "share"),
                "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_CACHE_HOME": str(home / ".cache"),
                "QT_QPA_PLATFORM": "offscreen",
                "SR_STUDIO_SETTINGS_DIR": str(work / "settings"),
            }
        )

    def env(self, extra: dict | None) -> dict:
        env = dict(self.base_env)
        env.update(extra or {})
        return env

    def frozen(self, *args: str, extra_env: dict | None = None, timeout: float = SLOW_RUN_S):
        return subprocess.run(
            [str(self.executable), *args],
            cwd=self.work,
            env=self.env(extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def venv(self, *args: str, extra_env: dict | None = None, timeout: float = SLOW_RUN_S):
        env = self.env(extra_env)
        env["PYTHONPATH"] = str(ROOT)  # the checkout's sr_studio, as the bundle was built from
        return subprocess.run(
            [sys.executable, "-m", "sr_studio", *args],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def succeeded(result, what: str) -> str:
    assert result.returncode == 0, (
        f"{what} exited with {result.returncode}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n"
        f"--- stderr\n{result.stderr[-3000:]}"
    )
    return result.stdout


# ----- test data made with the venv's torch ------------------------------------------------------


def write_photo(path: Path, width: int, height: int, exif_artist: str | None = None) -> None:
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack(
        [(x * 255 // max(1, width - 1)), (y * 255 // max(1, height - 1)), ((x + y) * 37) % 256],
        axis=-1,
    )
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    if exif_artist:
        exif = Image.Exif()
        exif[0x013B] = exif_artist  # Artist
        image.save(path, quality=95, exif=exif)
    else:
        image.save(path)


def span_state_dict(upscale: int, seed: int):
    import torch

    from sr_studio.archs.span.network import SPAN

    torch.manual_seed(seed)
    return SPAN(feature_channels=8, upscale=upscale).state_dict()


def write_stand_in_bundled_models(folder: Path) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    for scale in (2, 4):
        state = {
            key: value.contiguous() for key, value in span_state_dict(scale, seed=scale).items()
        }
        save_file(state, str(folder / f"span-x{scale}.safetensors"))


def write_tiny_hat(path: Path) -> None:
    import torch

    from sr_studio.archs.hat.network import HAT

    torch.manual_seed(0)
    model = HAT(
        embed_dim=16,
        depths=(1,),
        num_heads=(2,),
        window_size=8,
        compress_ratio=2,
        squeeze_factor=4,
        upscale=2,
    )
    torch.save({"params_ema": model.state_dict()}, path)


def checkpoint_bytes() -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save({"params": span_state_dict(2, seed=7)}, buffer)
    return buffer.getvalue()


def serve(files: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            data = files.get(self.path)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ----- the checks ---------------------------------------------------------------------------------


def check_desktop_entry(executable: Path) -> str:
    for name in ("sr-studio.desktop", "sr-studio.png"):
        assert (executable.parent / name).is_file(), f"{name} is missing beside {executable.name}"
    exec_line = next(
        line
        for line in (executable.parent / "sr-studio.desktop")
        .read_text(encoding="utf-8")
        .splitlines()
        if line.startswith("Exec=")
    )
    return exec_line


def check_version(runner: Runner) -> str:
    out = succeeded(runner.frozen("--version"), "--version").strip()
    assert out == f"sr-studio {__version__}", (
        f"--version printed {out!r}, expected 'sr-studio {__version__}'"
    )
    return out


def source_commands() -> list[str]:
    from sr_studio.cli import build_parser

    parser = build_parser()
    return sorted(parser._subparsers._group_actions[0].choices)


def check_commands(runner: Runner) -> str:
    out = succeeded(runner.frozen("--help"), "--help")
    missing = [command for command in source_commands() if command not in out]
    assert not missing, f"--help does not list {missing}:\n{out}"
    return ", ".join(source_commands())


def check_resources(runner: Runner, extra_env: dict) -> str:
    frozen = succeeded(runner.frozen("models", "list", extra_env=extra_env), "frozen models list")
    venv = succeeded(runner.venv("models", "list", extra_env=extra_env), "venv models list")
    assert frozen == venv, (
        f"`models list` differs between the bundle and the venv:\n{frozen}\n--- venv:\n{venv}"
    )
    assert "bundled" in frozen, f"no bundled model listed:\n{frozen}"
    store_line = [line for line in frozen.splitlines() if line.startswith("Models are stored in")]
    return store_line[0] if store_line else ""


def check_upscale(runner: Runner, photo: Path, extra_env: dict) -> str:
    import numpy as np
    from PIL import Image

    frozen_out, venv_out = runner.work / "frozen_x2.png", runner.work / "venv_x2.png"
    for run, output, what in (
        (runner.frozen, frozen_out, "frozen"),
        (runner.venv, venv_out, "venv"),
    ):
        succeeded(
            run(
                "upscale", str(photo), "--scale", "2", "-o", str(output), "-q", extra_env=extra_env
            ),
            f"{what} upscale",
        )
    with (
        Image.open(photo) as source,
        Image.open(frozen_out) as ours,
        Image.open(venv_out) as theirs,
    ):
        assert ours.size == (source.width * 2, source.height * 2), (
            f"output is {ours.size}, input {source.size}"
        )
        difference = np.abs(
            np.asarray(ours, dtype=np.int16) - np.asarray(theirs, dtype=np.int16)
        ).max()
    assert difference <= 1, f"the bundle's pixels differ from the venv's by up to {difference}"
    return (
        f"{photo.name} -> {frozen_out.name} {ours.size[0]}x{ours.size[1]}, "
        f"max |frozen - venv| = {difference}"
    )


def check_default_scale_keeps_exif(runner: Runner, photo: Path, extra_env: dict) -> str:
    from PIL import Image

    succeeded(
        runner.frozen("upscale", str(photo), "-q", extra_env=extra_env),
        "frozen upscale (default scale)",
    )
    outputs = sorted(photo.parent.glob(f"{photo.stem}_x*{photo.suffix}"))
    assert outputs, f"no {photo.stem}_x<scale>{photo.suffix} written beside {photo}"
    with Image.open(photo) as source, Image.open(outputs[0]) as result:
        artist = result.getexif().get(0x013B)
        factor = result.width / source.width
    assert artist == "SR Studio smoke test", (
        f"{outputs[0].name} lost its EXIF Artist tag (got {artist!r})"
    )
    return f"{outputs[0].name}: x{factor:g}, EXIF kept"


def check_hat_by_path(runner: Runner, photo: Path, hat: Path) -> str:
    from PIL import Image

    output = runner.work / "hat_x2.png"
    succeeded(
        runner.frozen("upscale", str(photo), "--model", str(hat), "-o", str(output), "-q"),
        "upscale with HAT",
    )
    with Image.open(output) as result:
        return f"HAT .pth -> {result.width}x{result.height}"


def check_cleanup(runner: Runner, photo: Path) -> str:
    """A photo model at a cleanup strength: the bundle finds the clean base its card names."""
    from PIL import Image

    output = runner.work / "photo_at_50.png"
    result = runner.frozen(
        "upscale", str(photo), "--model", "bundled-span-x4-photo@50", "-o", str(output)
    )
    succeeded(result, "upscale with a cleanup strength")
    assert "model: bundled-span-x4-photo@50 " in result.stderr, result.stderr
    with Image.open(output) as enlarged:
        return f"bundled-span-x4-photo@50 -> {enlarged.width}x{enlarged.height}"


def check_bad_input(runner: Runner) -> str:
    result = runner.frozen("upscale", "no-such-photo.jpg")
    assert result.returncode == 1, f"exit code {result.returncode} for a missing file"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-photo.jpg" in lines[0], (
        f"expected one line naming the file:\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr
    return lines[0]


def check_cluster_left_out(runner: Runner, photo: Path) -> str:
    """Ray (the `cluster` extra) is not in the bundle: --cluster says so in one line, nothing is
    written."""
    result = runner.frozen(
        "upscale", str(photo), "--cluster", "auto", "-o", str(runner.work / "cluster.png")
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "sr-studio[cluster]" in lines[0], (
        result.stderr
    )
    assert not (runner.work / "cluster.png").exists()
    return lines[0]


def check_gui_self_test(runner: Runner, photo: Path, extra_env: dict) -> str:
    result = runner.frozen("gui", "--self-test", str(photo), extra_env=extra_env)
    succeeded(result, "gui --self-test")
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def check_window_stays_open(runner: Runner, extra_env: dict, seconds: float = 10.0) -> str:
    process = subprocess.Popen(
        [str(runner.executable)],
        cwd=runner.work,
        env=runner.env(extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        code = process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    stdout, stderr = process.communicate()
    assert code is None, (
        f"`sr-studio` with no arguments exited ({code}) within {seconds:g} s:\n{stdout}\n{stderr}"
    )
    assert "Traceback" not in stderr, stderr
    return f"still running after {seconds:g} s, then closed"


def installed_files(models: Path) -> dict[str, object]:
    """What a download leaves in the models folder, minus what differs between two runs (time,
    paths)."""
    summary = {}
    for path in sorted(models.iterdir()):
        if path.name.endswith(".json"):
            record = json.loads(path.read_text(encoding="utf-8"))
            summary[path.name] = {
                k: v for k, v in record.items() if k not in ("installed_at", "path")
            }
        elif path.is_file():
            summary[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            summary[path.name + "/"] = sorted(p.name for p in path.iterdir())
    return summary


def check_download(runner: Runner, photo: Path, extra_env: dict) -> str:
    data = checkpoint_bytes()
    server = serve({"/smoke-span-x2.pth": data})
    try:
        catalog = runner.work / "catalog.json"
        catalog.write_text(
            json.dumps(
                {
                    "format": 1,
                    "models": [
                        {
                            "id": "smoke-span-x2",
                            "name": "SPAN x2 (smoke test)",
                            "arch": "SPAN",
                            "scale": 2,
                            "purpose": "bicubic",
                            "license": "Apache-2.0",
                            "urls": [
                                f"http://127.0.0.1:{server.server_address[1]}/smoke-span-x2.pth"
                            ],
                            "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest(),
                            "expect": {"feature_channels": 8},
                            "description": "Served by packaging/smoke_test.py.",
                            "source": "packaging/smoke_test.py's own server",
                        }
                    ],
                }
            ),
            encoding="utf-8",
        )
        frozen_data, venv_data = runner.work / "data-frozen", runner.work / "data-venv"
        env = dict(extra_env, SR_STUDIO_CATALOG=str(catalog))
        succeeded(
            runner.frozen(
                "models",
                "download",
                "smoke-span-x2",
                extra_env=dict(env, SR_STUDIO_DATA_DIR=str(frozen_data)),
            ),
            "frozen models download",
        )
        succeeded(
            runner.venv(
                "models",
                "download",
                "smoke-span-x2",
                extra_env=dict(env, SR_STUDIO_DATA_DIR=str(venv_data)),
            ),
            "venv models download",
        )
    finally:
        server.shutdown()
        server.server_close()
    frozen_files = installed_files(frozen_data / "models")
    venv_files = installed_files(venv_data / "models")
    assert frozen_files == venv_files, (
        f"the bundle installed {frozen_files}\nthe venv installed {venv_files}"
    )
    assert "smoke-span-x2.json" in frozen_files, f"no record written: {frozen_files}"
    frozen_env = dict(env, SR_STUDIO_DATA_DIR=str(frozen_data))
    listing = succeeded(
        runner.frozen("models", "list", extra_env=frozen_env), "models list after download"
    )
    assert any(
        line.startswith("smoke-span-x2") and "installed" in line for line in listing.splitlines()
    ), listing
    succeeded(runner.frozen("models", "verify", extra_env=frozen_env), "models verify")
    output = runner.work / "downloaded_x2.png"
    succeeded(
        runner.frozen(
            "upscale",
            str(photo),
            "--model",
            "smoke-span-x2",
            "-o",
            str(output),
            "-q",
            extra_env=frozen_env,
        ),
        "upscale with the downloaded model",
    )
    return (
        f"installed {sorted(frozen_files)} in SR_STUDIO_DATA_DIR/models, as the venv does; "
        "verified; used"
    )


def timings(runner: Runner, photo: Path, extra_env: dict, repeat: int) -> None:
    def measure(function) -> list[float]:
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            succeeded(function(), "timed run")
            samples.append(time.perf_counter() - started)
        return samples

    output = runner.work / "timed.png"
    enlarge = ("upscale", str(photo), "--scale", "2", "-o", str(output), "-q", "--overwrite")
    cases = {
        "frozen --version": lambda: runner.frozen("--version"),
        "venv   --version": lambda: runner.venv("--version"),
        f"frozen upscale {photo.name} x2": lambda: runner.frozen(*enlarge, extra_env=extra_env),
        f"venv   upscale {photo.name} x2": lambda: runner.venv(*enlarge, extra_env=extra_env),
    }
    print(f"\nWall time of {repeat} runs each (median / min):")
    for label, function in cases.items():
        samples = measure(function)
        print(
            f"  {label:34} {statistics.median(samples):6.2f} s / {min(samples):6.2f} s", flush=True
        )


def find_executable(target: Path) -> Path:
    if target.is_dir():
        for name in ("sr-studio.exe", "sr-studio"):
            if (target / name).is_file():
                return target / name
        raise SystemExit(f"smoke_test.py: {target}: no sr-studio executable in this folder")
    if not target.is_file():
        raise SystemExit(
            f"smoke_test.py: {target}: no such bundle (build it with packaging/build.py)"
        )
    return target


def bundled_models_in(executable: Path) -> list[Path]:
    resources = executable.parent / "_internal" / "sr_studio" / "resources" / "models"
    return sorted(resources.glob("*.safetensors"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke test of the built SR Studio bundle.")
    parser.add_argument(
        "bundle",
        nargs="?",
        type=Path,
        default=ROOT / "dist" / "sr-studio",
        help="the bundle folder or its executable (default: dist/sr-studio)",
    )
    parser.add_argument(
        "--timings", type=int, default=0, metavar="N", help="also time N runs of each command"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (printed)")
    args = parser.parse_args(argv)

    executable = find_executable(args.bundle.resolve())
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="sr-studio-smoke-"))
    try:
        runner = Runner(executable, work)
        check = Check()
        photos = work / "photos"
        photos.mkdir()
        small = photos / "small.png"
        write_photo(small, 32, 24)
        with_exif = photos / "camera.jpg"
        write_photo(with_exif, 24, 16, exif_artist="SR Studio smoke test")
        hat = work / "tiny-hat-x2.pth"
        write_tiny_hat(hat)

        model_env: dict[str, str] = {}
        shipped = bundled_models_in(executable)
        if shipped:
            print(f"bundled models: {', '.join(p.name for p in shipped)}")
        else:
            stand_in = work / "bundled"
            write_stand_in_bundled_models(stand_in)
            model_env["SR_STUDIO_BUNDLED_DIR"] = str(stand_in)
            check.notes.append("the bundle has no bundled model: a tiny SPAN stand-in was used")
            print(
                "bundled models: none in the bundle; "
                "using a tiny SPAN stand-in (SR_STUDIO_BUNDLED_DIR)"
            )

        commands = source_commands()
        check.run("version", check_version, runner)
        check.run("commands", check_commands, runner)
        check.run("resources", check_resources, runner, model_env)
        check.run("upscale", check_upscale, runner, small, model_env)
        check.run(
            "upscale keeps EXIF", check_default_scale_keeps_exif, runner, with_exif, model_env
        )
        check.run("upscale with a HAT file", check_hat_by_path, runner, small, hat)
        if any(path.name == "span-x4-photo.safetensors" for path in shipped):
            check.run("cleanup strength", check_cleanup, runner, small)
        check.run("bad input", check_bad_input, runner)
        check.run("cluster left out", check_cluster_left_out, runner, small)
        if sys.platform.startswith("linux"):
            check.run("desktop entry", check_desktop_entry, executable)
        if "gui" in commands:
            check.run("gui self-test", check_gui_self_test, runner, small, model_env)
            check.run("window", check_window_stays_open, runner, model_env)
        else:
            check.notes.append("no `gui` command in this source tree: the window was not tested")
        if "models" in commands:
            check.run("download", check_download, runner, small, model_env)
        else:
            check.notes.append("no `models` command in this source tree: downloads were not tested")
        if args.timings:
            timings(runner, small, model_env, args.timings)
    finally:
        if args.keep:
            print(f"temporary files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    for note in check.notes:
        print(f"note: {note}")
    elapsed = time.monotonic() - started
    if check.failures:
        print(
            f"\nsmoke test FAILED ({len(check.failures)} check(s)) in {elapsed:.0f} s",
            file=sys.stderr,
        )
        return 1
    print(f"\nsmoke test passed in {elapsed:.0f} s: {executable}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
