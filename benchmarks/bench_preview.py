"""How long a preview of the region in view takes: SPAN x4 on 512 x 512 px, HAT-S x4 on 256 x 256
px.

The first preview after choosing a model pays for oneDNN's set-up ("cold"); the window keeps the
model, so the next one is "warm". Time to the first tile is what the user waits before something
appears. HAT-S runs with random weights in the official layout (same speed).

    .venv/bin/python benchmarks/bench_preview.py [--precision auto|fp32|bf16]

The window previews in the run panel's precision, "auto" by default (bf16 on a CPU with bfloat16
instructions).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def measure(model_path: Path, side: int, repeats: int, precision: str) -> dict:
    import numpy as np

    from sr_studio.engine import Upscaler
    from sr_studio.engine.crop_preview import CropBox, upscale_crop
    from sr_studio.model_loading import load_model

    upscaler = Upscaler(load_model(model_path), device="cpu", precision=precision)
    pixels = np.random.default_rng(0).integers(0, 256, (3 * side, 3 * side, 3), np.uint8)
    runs = []
    for index in range(repeats):
        first: list[float] = []
        started = time.perf_counter()
        box = CropBox(side // 2 + 16 * index, side, side, side)
        upscale_crop(
            upscaler,
            pixels,
            box,
            on_tile=lambda tile, first=first, started=started: (
                first.append(time.perf_counter() - started) if not first else None
            ),
        )
        runs.append(
            {"total_s": round(time.perf_counter() - started, 2), "first_tile_s": round(first[0], 2)}
        )
    return {"side": side, "precision": upscaler.precision, "runs": runs}


def main() -> int:
    import argparse

    from bench_estimates import hat_s_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--precision", default="auto", help="auto (the default, as the window), fp32, bf16"
    )
    precision = parser.parse_args().precision

    span = REPO / "resources" / "models" / "span-x4.safetensors"
    print(
        json.dumps({"model": "SPAN x4 (bundled)", **measure(span, 512, 3, precision)}), flush=True
    )
    with tempfile.TemporaryDirectory() as folder:
        print(
            json.dumps(
                {"model": "HAT-S x4", **measure(hat_s_file(Path(folder)), 256, 1, precision)}
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
