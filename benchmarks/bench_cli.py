"""End to end: a 12 MP photo enlarged x4 by the `sr-studio upscale` CLI, against the model's own compute time.

The test photo is made at run time (a training photo from ../shared resized to 4000x3000, or a procedural
scene when that is absent) and never stored in the repository. Reports the CLI's wall time and the peak
resident memory of the child process, and the time the network alone needs for that many input pixels
(forward passes on one tile-sized patch in this process, same thread count), so that the overhead of
tiling, image I/O and encoding shows. Issue 7 targets: wall <= 1.3x compute, peak RSS <= 1.5 GB.

    .venv/bin/python benchmarks/bench_cli.py [--precision fp32|bf16] [--threads N] [--format jpg|png]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
WIDTH, HEIGHT = 4000, 3000


def make_photo(path: Path) -> str:
    """A natural-looking 12 MP test photo; says where it came from."""
    import numpy as np
    from PIL import Image

    photos = sorted((SHARED / "datasets" / "train" / "photos").glob("*.jpg"))
    if photos:
        with Image.open(photos[0]) as source:
            source.convert("RGB").resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS).save(path, quality=92)
        return f"{photos[0].name} resized to {WIDTH}x{HEIGHT}"
    # Procedural fallback: smooth sky gradient, soft hills, fine texture and sensor-like noise.
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    sky = np.stack([0.45 + 0.3 * y / HEIGHT, 0.6 + 0.2 * y / HEIGHT, 0.9 - 0.1 * y / HEIGHT], -1)
    ridge = HEIGHT * (0.55 + 0.08 * np.sin(x / 370.0) + 0.04 * np.sin(x / 91.0))
    ground = np.stack([0.25 + 0.1 * np.sin(x / 13.0) * np.cos(y / 17.0), 0.4 + 0.05 * np.sin(y / 7.0), 0.2 + 0 * x], -1)
    image = np.where((y > ridge)[..., None], ground, sky) + rng.normal(0, 0.01, (HEIGHT, WIDTH, 3))
    Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path, quality=92)
    return "procedural scene (no shared photos found)"


def model_path() -> tuple[Path, list[str]]:
    """The bundled x4 model, or the x2 one asked for x4 while no x4 is bundled."""
    x4 = REPO / "resources" / "models" / "span-x4.safetensors"
    if x4.is_file():
        return x4, []
    return REPO / "resources" / "models" / "span-x2.safetensors", ["--scale", "4"]


def compute_seconds(model_file: Path, precision: str, threads: int, pixels: int, target_scale: int) -> tuple[float, str]:
    """Network-only time for `pixels` input pixels, from the best of a few passes on one tile-sized patch."""
    import torch

    from sr_studio.engine.devices import PRECISIONS
    from sr_studio.engine.tiling import policy_for
    from sr_studio.model_loading import load_model

    torch.set_num_threads(threads)
    model = load_model(model_file).to(PRECISIONS[precision])
    policy = policy_for(model)
    side = policy.max_tile + 2 * policy.context
    x = torch.rand(1, 3, side, side, dtype=PRECISIONS[precision])
    passes = 1 if model.scale == target_scale else 2  # an x2 model asked for x4 runs twice (2nd on 4x the pixels)
    with torch.inference_mode():
        model(x)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - started)
    per_pixel = best / (side * side)
    total = per_pixel * pixels * (1 if passes == 1 else 1 + model.scale**2)
    return total, f"{model.arch} x{model.scale}, {side}x{side} patch {best:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--format", default="jpg")
    args = parser.parse_args()

    model_file, extra = model_path()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "photo.jpg"
        origin = make_photo(source)
        output = Path(folder) / f"photo_x4.{args.format}"
        command = [str(REPO / ".venv" / "bin" / "sr-studio"), "upscale", str(source), "-o", str(output),
                   "--model", str(model_file), "--precision", args.precision, "-q", *extra]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        started = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return result.returncode
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        output_mb = output.stat().st_size / 1e6
    compute, detail = compute_seconds(model_file, args.precision, args.threads, WIDTH * HEIGHT, 4)
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.threads} threads")
    print(f"Input: {origin}; model {model_file.name} {' '.join(extra)}; precision {args.precision}; output {args.format} {output_mb:.0f} MB")
    print(f"Command: {' '.join(command[1:2])} ... ({' '.join(command[4:])})")
    print(f"CLI wall time: {wall:.1f} s; child peak RSS: {peak_mb:.0f} MB (target <= 1536)")
    print(f"Model compute for {WIDTH * HEIGHT / 1e6:.0f} MP ({detail}): {compute:.1f} s")
    print(f"Wall / compute: {wall / compute:.2f} (target <= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
