"""Throughput of `sr-studio upscale --cluster` on a local 2-worker Ray cluster vs the plain CLI.

Both enlarge the same batch (x4, bundled SPAN x4 Clean, photos made at run time: crops of the
training photos in ../shared, or a procedural scene when that is absent). The plain CLI runs one
photo at a time with PyTorch's threads on every core; the cluster runs one worker per core, one
thread each.
Each CLI's stderr is read as it arrives, so the start-up (model loaded, or cluster joined and every
worker ready) is told apart from the batch itself. Reported per run:
- start-up: from the command's start to its first photo started;
- batch: from then to the last photo written, and photos per second over it;
- overhead per photo: the batch's CPU-worker time (batch x workers) minus the time the workers said
  each photo took (read, enlarge, encode, write), over the photos: what queueing, Ray's calls
  and the driver add to each photo.

    .venv/bin/python benchmarks/bench_cluster.py [--photos 16] [--size 320x240] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SR_STUDIO_SHARED") or REPO.parent / "shared")
PHOTO_LINE = re.compile(r"^\[\d+/\d+\] \S+ -> .*\(\d+x\d+, ([\d.]+) s")


def make_photos(folder: Path, count: int, width: int, height: int) -> str:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    sources = sorted((SHARED / "datasets" / "train" / "photos").glob("*.jpg"))
    for index in range(count):
        if sources:
            with Image.open(sources[index % len(sources)]) as photo:
                photo = photo.convert("RGB")
                left = (index * 97) % max(1, photo.width - width)
                top = (index * 53) % max(1, photo.height - height)
                photo.crop((left, top, left + width, top + height)).save(
                    folder / f"p{index:03d}.jpg", quality=92
                )
        else:
            y, x = np.mgrid[0:height, 0:width]
            pixels = np.stack([(x * 7 + index) % 256, (y * 5) % 256, ((x + y) * 3) % 256], -1)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"p{index:03d}.jpg", quality=92)
    return f"crops of {SHARED / 'datasets/train/photos'}" if sources else "procedural"


def timed_run(command: list[str], env: dict[str, str], first_marker: str) -> dict[str, float]:
    """Runs the CLI; times when the line containing `first_marker` and each photo line arrived."""
    started = time.monotonic()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    batch_start = None
    photo_seconds: list[float] = []
    last = started
    assert process.stderr is not None
    for line in process.stderr:
        now = time.monotonic()
        if first_marker in line:
            batch_start = now  # the last such line: with a cluster, the last worker ready
        match = PHOTO_LINE.match(line)
        if match:
            photo_seconds.append(float(match.group(1)))
            last = now
    if process.wait() != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    assert batch_start is not None
    return {
        "startup": batch_start - started,
        "batch": last - batch_start,
        "photos": len(photo_seconds),
        "photo_seconds": sum(photo_seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--size", default="320x240", help="photo size WxH (default 320x240)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))

    import logging

    import ray

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024**2,
        log_to_driver=False,
        logging_level=logging.ERROR,
    )
    address = ray.get_runtime_context().gcs_address
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    cli = [sys.executable, "-m", "sr_studio", "upscale", "--model", "bundled-span-x4"]
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as work:
        inputs = Path(work) / "in"
        origin = make_photos(inputs, args.photos, width, height)
        print(
            f"{args.photos} photos {width}x{height} ({origin}), x4 bundled SPAN, "
            f"{os.cpu_count()} CPUs"
        )
        for attempt in range(args.repeat):
            runs = {
                "plain CLI (1 process, 2 threads)": (
                    timed_run([*cli, str(inputs), "-o", f"{work}/local{attempt}"], env, "model: "),
                    1,
                ),
                "cluster (2 workers x 1 thread)": (
                    timed_run(
                        [
                            *cli,
                            str(inputs),
                            "-o",
                            f"{work}/cluster{attempt}",
                            "--cluster",
                            address,
                            "--worker-cpus",
                            "1",
                        ],
                        env,
                        " ready: ",
                    ),
                    2,
                ),
            }
            for name, (run, workers) in runs.items():
                per_photo = (run["batch"] * workers - run["photo_seconds"]) / run["photos"]
                print(
                    f"{name}: start-up {run['startup']:.1f} s, batch {run['batch']:.1f} s = "
                    f"{run['photos'] / run['batch']:.2f} photos/s, "
                    f"{run['photo_seconds'] / run['photos']:.2f} "
                    f"s per photo in a worker, overhead {per_photo * 1000:.0f} ms per photo"
                )
    ray.shutdown()


if __name__ == "__main__":
    main()
