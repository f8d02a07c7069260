"""How long writing big outputs takes, per format and PNG compress level; and what reading costs.

Usage: .venv/bin/python benchmarks/photo_io_speed.py [--megapixels 20] [--read-megapixels 50]

The test picture is a mosaic of photographs from ../shared/datasets/train/photos enlarged with
Lanczos to the requested size (smooth like an upscaled photo, with real texture); without the
shared data it falls back to a synthetic gradient + noise, which compresses differently.
Reading is measured in a child process so its peak memory (VmHWM) is its own.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sr_studio.photo_io import (  # noqa: E402
    png16,  # noqa: E402
    read_photo,
    write_photo,
    writing,  # noqa: E402
)

PHOTOS = ROOT.parent / "shared" / "datasets" / "train" / "photos"


def test_picture(megapixels: float) -> np.ndarray:
    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    files = sorted(PHOTOS.glob("*.jpg"))[:6] if PHOTOS.is_dir() else []
    if len(files) == 6:
        tiles = [Image.open(f).convert("RGB").resize((1024, 768)) for f in files]
        mosaic = Image.new("RGB", (3072, 1536))
        for index, tile in enumerate(tiles):
            mosaic.paste(tile, ((index % 3) * 1024, (index // 3) * 768))
        return np.asarray(mosaic.resize((width, height), Image.LANCZOS))
    y, x = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(0).integers(0, 8, (height, width, 3))
    return ((np.stack([x, y, x + y], -1) // 16 + noise) % 256).astype(np.uint8)


def timed(label: str, action, size_of=None) -> dict:
    start, cpu_start = time.perf_counter(), time.process_time()
    result = action()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    # CPU seconds (all threads) are less disturbed than wall time on a shared, loaded machine.
    row = {"what": label, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2)}
    if size_of is not None:
        row["MB"] = round(size_of(result) / 1e6, 1)
    print(json.dumps(row), flush=True)
    return row


def pillow_png(pixels: np.ndarray, level: int) -> int:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=level)
    return buffer.tell()


def png16_bytes(pixels: np.ndarray, level: int, workers: int) -> int:
    buffer = io.BytesIO()
    png16.encode(buffer, pixels, compress_level=level, workers=workers)
    return buffer.tell()


def peak_rss_bytes() -> int:
    """VmHWM of this process (Linux). Unlike ru_maxrss it is not inherited across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_read(path: Path) -> None:
    start = time.perf_counter()
    photo = read_photo(path)
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    print(
        json.dumps(
            {
                "what": f"read {path.suffix} {photo.width}x{photo.height} {photo.bit_depth}-bit",
                "seconds": round(seconds, 2),
                "peak_rss_MB": round(peak / 1e6),
                "pixels_MB": round(photo.pixels.nbytes / 1e6),
            }
        ),
        flush=True,
    )


def measure_reads(folder: Path, megapixels: float) -> None:
    big = test_picture(megapixels)
    for suffix in (".jpg", ".png"):
        path = folder / f"read{suffix}"
        Image.fromarray(big).save(
            path, **({"quality": 95} if suffix == ".jpg" else {"compress_level": 1})
        )
        subprocess.run([sys.executable, __file__, "--read", str(path)], check=True)
    deep_big = big.astype(np.uint16) * 257
    del big
    path = folder / "read16.png"
    write_photo(path, deep_big)
    del deep_big
    subprocess.run([sys.executable, __file__, "--read", str(path)], check=True)
    baseline = subprocess.run(
        [
            sys.executable,
            "-c",
            "import re, sr_studio.photo_io;"
            "print(int(re.search(r'VmHWM:\\s+(\\d+)', "
            "open('/proc/self/status').read())[1]) // 1000)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    print(
        json.dumps({"what": "peak RSS of importing sr_studio.photo_io alone", "MB": int(baseline)})
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megapixels", type=float, default=20)
    parser.add_argument("--read-megapixels", type=float, default=50)
    parser.add_argument("--skip-read", action="store_true")
    parser.add_argument("--png-levels-only", action="store_true")
    parser.add_argument("--read-only", action="store_true")
    parser.add_argument("--read", type=Path, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    if args.read:
        measure_read(args.read)
        return

    print(f"# {os.cpu_count()} CPUs; Pillow {Image.__version__}", flush=True)
    if args.read_only:
        with tempfile.TemporaryDirectory() as folder:
            measure_reads(Path(folder), args.read_megapixels)
        return
    pixels = test_picture(args.megapixels)
    print(
        f"# test picture {pixels.shape[1]}x{pixels.shape[0]} "
        f"({pixels.shape[0] * pixels.shape[1] / 1e6:.1f} MP)"
    )
    for level in range(1, 7):
        timed(
            f"PNG 8-bit compress_level={level}",
            lambda level=level: pillow_png(pixels, level),
            lambda n: n,
        )
    if args.png_levels_only:
        return
    deep = pixels.astype(np.uint16) * 257
    deep += np.random.default_rng(1).integers(
        0, 257, deep.shape, dtype=np.uint16
    )  # low bytes vary as in real 16-bit output
    cores = os.cpu_count() or 1
    for level in (1, 6):
        for workers in sorted({1, min(8, cores)}):
            timed(
                f"PNG 16-bit level={level} threads={workers}",
                lambda level=level, workers=workers: png16_bytes(deep, level, workers),
                lambda n: n,
            )
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for name, data, options in [
            ("JPEG q95 4:4:4", pixels, {}),
            ("WebP q95", pixels[: min(pixels.shape[0], 16383), : min(pixels.shape[1], 16383)], {}),
            ("TIFF 8-bit deflate", pixels, {"format": "tiff"}),
            ("TIFF 16-bit deflate", deep, {"format": "tiff"}),
            ("PNG 8-bit via write_photo", pixels, {"format": "png"}),
        ]:
            suffix = {"JPEG": ".jpg", "WebP": ".webp"}.get(name.split()[0], ".out")
            target = folder / f"out-{len(name)}{suffix}"
            timed(
                f"write_photo {name}",
                lambda target=target, data=data, options=options: write_photo(
                    target, data, **options
                ),
                lambda p: p.stat().st_size,
            )

        if not args.skip_read:
            measure_reads(folder, args.read_megapixels)
    print(
        f"# chosen: PNG_COMPRESS_LEVEL={writing.PNG_COMPRESS_LEVEL}, "
        f"TIFF_COMPRESS_LEVEL={writing.TIFF_COMPRESS_LEVEL}"
    )


if __name__ == "__main__":
    main()
