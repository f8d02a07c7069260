"""End to end: a 12 MP photo enlarged x4 by the `sr-studio upscale` CLI vs the model's compute time.

The test photo is made at run time (a training photo from ../shared resized to 4000x3000, or a
procedural scene when that is absent) and never stored in the repository. Reports the CLI's wall
time, CPU time and the peak resident memory of the child process, and the time the network itself
took inside that same run (the child runs the CLI with each patch's forward pass timed), two ways:
- tiled: the sum over the patches the CLI ran (each tile plus its context): wall / tiled shows what
  I/O, stitching and encoding add;
- pure: the photo's pixels at the per-pixel speed of the run's largest patches, no context: what the
  issue-7 target "wall <= 1.3x the model's compute time for that many pixels" compares with. Two
  figures: at the median patch's speed, and at the mean over those patches. SPAN's patches all have
  one shape, so the mean is the run's own model speed. Patches of one shape took 1.16-2.04 s in one
  run on this VM, and such jitter slows the model, not the I/O.
Both come from the run itself: on a VM whose speed drifts by 10-35% from minute to minute, a
separate measurement afterwards read wall / pure as 1.28 and as 1.42 for the same code.
Issue 7 targets: wall <= 1.3x pure compute, peak RSS <= 1.5 GB (1536 MB).

    .venv/bin/python benchmarks/bench_cli.py [--precision fp32|bf16|fp16] [--threads N]
        [--format jpg|png] [--size 4000x3000] [--tile N] [--device cpu|cuda] [--model FILE]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SR_STUDIO_SHARED") or REPO.parent / "shared")
sys.path.insert(0, str(REPO))
MODEL = REPO / "resources" / "models" / "span-x4.safetensors"


def make_photo(path: Path, width: int, height: int) -> str:
    """A natural-looking test photo of the given size; says where it came from."""
    import numpy as np
    from PIL import Image

    photos = sorted((SHARED / "datasets" / "train" / "photos").glob("*.jpg"))
    if photos:
        with Image.open(photos[0]) as source:
            source.convert("RGB").resize((width, height), Image.Resampling.LANCZOS).save(
                path, quality=92
            )
        return f"{photos[0].name} resized to {width}x{height}"
    # Procedural fallback: smooth sky gradient, soft hills, fine texture and sensor-like noise.
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([0.45 + 0.3 * y / height, 0.6 + 0.2 * y / height, 0.9 - 0.1 * y / height], -1)
    ridge = height * (0.55 + 0.08 * np.sin(x / 370.0) + 0.04 * np.sin(x / 91.0))
    ground = np.stack(
        [
            0.25 + 0.1 * np.sin(x / 13.0) * np.cos(y / 17.0),
            0.4 + 0.05 * np.sin(y / 7.0),
            0.2 + 0 * x,
        ],
        -1,
    )
    image = np.where((y > ridge)[..., None], ground, sky) + rng.normal(0, 0.01, (height, width, 3))
    Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path, quality=92)
    return "procedural scene (no shared photos found)"


def run_probed(timings: Path, cli_args: list[str]) -> int:
    """Run the CLI in this process with every patch's forward pass timed; the timings go to
    `timings`."""
    import json

    from sr_studio.cli import main as cli_main
    from sr_studio.engine import upscaler as engine

    forward = engine.Upscaler._run_model
    records = []

    def timed(self, source, y0, y1, x0, x1):
        py0, py1, px0, px1 = self._patch(y0, y1, x0, x1, source.shape[0], source.shape[1])
        started = time.perf_counter()
        result = forward(self, source, y0, y1, x0, x1)
        records.append((py1 - py0, px1 - px0, time.perf_counter() - started))
        return result

    engine.Upscaler._run_model = timed
    code = cli_main(cli_args)
    import torch

    peak_gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_initialized() else 0.0
    timings.write_text(json.dumps({"records": records, "peak_gpu_mb": peak_gpu}))
    return code


def compute_from(records: list, height: int, width: int) -> dict:
    shapes = collections.Counter((rows, cols) for rows, cols, _ in records)
    largest = max(shapes, key=lambda shape: shape[0] * shape[1])
    same = [(seconds, rows * cols) for rows, cols, seconds in records if (rows, cols) == largest]
    per_pixel = sorted(seconds / pixels for seconds, pixels in same)
    median = per_pixel[len(per_pixel) // 2]
    mean = sum(seconds for seconds, _ in same) / sum(pixels for _, pixels in same)
    return {
        "tiled": sum(seconds for _, _, seconds in records),
        "pure": median * height * width,
        "pure_mean": mean * height * width,
        "us_per_pixel_mean": mean * 1e6,
        "patches": len(records),
        "shapes": len(shapes),
        "largest": largest,
        "context_share": sum(rows * cols for rows, cols, _ in records) / (height * width),
        "us_per_pixel": median * 1e6,
    }


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def machine_line(threads: int) -> str:
    import torch

    from sr_studio.engine.devices import cpu_has_native_bf16

    return (
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, native bf16: "
        f"{'yes' if cpu_has_native_bf16() else 'no'}; "
        f"torch {torch.__version__}; {threads} thread(s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument(
        "--model", type=Path, default=MODEL, help="weights file (default: the bundled SPAN x4)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--format", default="jpg", choices=("jpg", "png", "webp", "tiff"))
    parser.add_argument(
        "--size", default="4000x3000", help="input photo WIDTHxHEIGHT (default: 12 MP)"
    )
    parser.add_argument(
        "--tile", type=int, default=None, help="the CLI's --tile (default: automatic)"
    )
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("cli_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return run_probed(args.probe, args.cli_args)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if not args.model.is_file():
        print(f"{args.model}: missing", file=sys.stderr)
        return 1
    from sr_studio.model_loading import load_model

    scale = load_model(args.model).descriptor.scale

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "photo.jpg"
        origin = make_photo(source, width, height)
        output = Path(folder) / f"photo_x{scale}.{args.format}"
        cli_args = [
            "upscale",
            str(source),
            "-o",
            str(output),
            "--model",
            str(args.model),
            "--device",
            args.device,
            "--precision",
            args.precision,
            "-q",
        ] + (["--tile", str(args.tile)] if args.tile else [])
        timings = Path(folder) / "timings.json"
        command = [sys.executable, __file__, "--probe", str(timings), "--", *cli_args]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        started = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return result.returncode
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        output_mb = output.stat().st_size / 1e6
        probed = json.loads(timings.read_text())
        compute = compute_from(probed["records"], height, width)
    rows, cols = compute["largest"]
    print(machine_line(args.threads))
    if args.device != "cpu":
        import torch

        print(
            f"Device: {torch.cuda.get_device_name()}; peak GPU memory allocated "
            f"{probed['peak_gpu_mb']:.0f} MB"
        )
    print(
        f"Input: {origin} ({width * height / 1e6:.1f} MP); model {args.model.name} x{scale}; "
        f"precision {args.precision}; "
        f"output {args.format} {output_mb:.0f} MB"
    )
    print(
        f"Command: OMP_NUM_THREADS={args.threads} sr-studio upscale photo.jpg -o {output.name} "
        f"--model {args.model.name} {' '.join(cli_args[6:])} "
        "(run as bench_cli.py --probe, forward passes timed)"
    )
    print(
        f"CLI wall time: {wall:.1f} s; child CPU time (user+sys): "
        f"{usage.ru_utime + usage.ru_stime:.1f} s "
        f"(sys {usage.ru_stime:.1f} s); "
        f"child peak RSS: {usage.ru_maxrss / 1024:.0f} MB (target <= 1536)"
    )
    print(
        f"Model compute inside the run ({compute['patches']} patches, {compute['shapes']} shapes, "
        f"largest {cols}x{rows}; {compute['context_share']:.3f} px computed per photo px): "
        f"{compute['tiled']:.1f} s"
    )
    print(
        f"Model compute, pure throughput ({width * height / 1e6:.1f} MP at "
        f"{compute['us_per_pixel']:.2f} us/px, "
        f"the median {cols}x{rows} patch's speed in the run): {compute['pure']:.1f} s"
    )
    print(
        "Model compute, pure at the mean speed of those patches "
        f"({compute['us_per_pixel_mean']:.2f} us/px; the VM's "
        f"jitter only ever slows a patch): {compute['pure_mean']:.1f} s"
    )
    print(
        f"Wall / tiled compute: {wall / compute['tiled']:.2f}; wall / pure compute: "
        f"{wall / compute['pure']:.2f} "
        f"(median), {wall / compute['pure_mean']:.2f} (mean) (target <= 1.3)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
