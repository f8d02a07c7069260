"""How close `sr-studio upscale --estimate` comes to the real run, per model and per source of the
estimate.

For each model and photo size, with a fresh measurement file each time: 1. the estimate from a short
calibration alone (what a first `--estimate` says); 2. the estimate from one preview of a crop (what
the window knows after a preview); 3. the real run: `sr-studio upscale PHOTO --model M -o OUT.jpg`,
wall time of the whole command; 4. the estimate for a second photo of the same size from that run
(what the next `--estimate` says). HAT-S runs with random weights in the official layout (its speed
does not depend on the weights).

    .venv/bin/python benchmarks/bench_estimates.py [--span 4000x3000] [--hat-s 480x360]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def make_photo(path: Path, width: int, height: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    image.save(path, quality=92)


def hat_s_file(folder: Path) -> Path:
    import torch
    from bench_models import HAT_S
    from safetensors.torch import save_file

    from sr_studio.archs.hat import HAT

    torch.manual_seed(0)
    model = HAT(upscale=4, **HAT_S)
    path = folder / "hat-s-x4-random.safetensors"
    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, path)
    return path


def estimate(
    model_path: Path, width: int, height: int, data: Path, preview_side: int | None
) -> dict:
    from sr_studio.engine import Upscaler
    from sr_studio.engine.crop_preview import CropBox, upscale_crop
    from sr_studio.engine.throughput import ThroughputStore, estimate_run, speed_key
    from sr_studio.model_loading import load_model

    store = ThroughputStore(data / "throughput.json")
    upscaler = Upscaler(load_model(model_path), device="cpu", precision="auto")  # as the CLI runs
    started = time.perf_counter()
    if preview_side:
        import numpy as np

        pixels = np.random.default_rng(1).integers(
            0, 256, (preview_side * 2, preview_side * 2, 3), np.uint8
        )
        crop = upscale_crop(
            upscaler,
            pixels,
            CropBox(preview_side // 2, preview_side // 2, preview_side, preview_side),
        )
        store.record(
            speed_key(upscaler.descriptor, upscaler.device, upscaler.precision),
            crop.patch_pixels,
            crop.seconds,
            "preview",
        )
    result = estimate_run(upscaler, height, width, None, store)
    assert result is not None
    return {
        "estimate_s": round(result.seconds, 1),
        "from": result.measured_from,
        "measuring_s": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--span", default="4000x3000")
    parser.add_argument("--hat-s", default="480x360")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        span_path = REPO / "resources" / "models" / "span-x4.safetensors"
        cases = [
            ("SPAN x4 (bundled)", span_path, args.span, 512),
            ("HAT-S x4", hat_s_file(folder), args.hat_s, 256),
        ]
        for label, model_path, size, preview_side in cases:
            width, height = (int(v) for v in size.split("x"))
            photo = folder / f"photo-{width}x{height}.jpg"
            make_photo(photo, width, height)
            data = folder / f"data-{label[:4]}"
            calibration = estimate(model_path, width, height, data / "calibration", None)
            preview = estimate(model_path, width, height, data / "preview", preview_side)
            env = dict(os.environ, SR_STUDIO_DATA_DIR=str(data / "calibration"))
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "sr_studio",
                    "upscale",
                    str(photo),
                    "--model",
                    str(model_path),
                    "-o",
                    str(folder / f"out-{label[:4]}.jpg"),
                    "--quiet",
                    "--overwrite",
                ],
                check=True,
                env=env,
            )
            real = time.perf_counter() - started
            after_run = estimate(model_path, width, height, data / "calibration", None)
            row = {
                "model": label,
                "photo": size,
                "real_s": round(real, 1),
                "calibration": calibration,
                "preview": preview,
                "after_run": after_run,
            }
            for key in ("calibration", "preview", "after_run"):
                row[key]["error_pct"] = round(100 * (row[key]["estimate_s"] / real - 1), 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
