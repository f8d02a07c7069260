r"""PSNR / SSIM (Y channel, paper protocol) of models on Set5, Set14 and Urban100, as a Markdown
table.

  python tools/evaluate.py bicubic --scale 2
  python tools/evaluate.py resources/models/span-x2.safetensors bicubic
  python tools/evaluate.py bundled-span-x4 path/to/checkpoint.pth --sets Set5 Set14
  python tools/evaluate.py bicubic bundled-span-x4 bundled-span-x4-photo --degraded \
      --sets Set14 Urban100
  python tools/evaluate.py bundled-span-x4-photo@50 bundled-span-x4-photo@75 --degraded
  python tools/evaluate.py bicubic bundled-span-x4 bundled-span-x4-photo --sets DRealSR_x4_dev

A MODEL is `bicubic` (needs --scale, or takes the scale of the other models), a weights file, or a
model id (installed, bundled or catalog) as `sr-studio upscale --model` takes it, with its cleanup
strength as a photo model's `@PERCENT`. A set is a benchmark folder (Set5, Set14, Urban100) or a
real camera LR/HR pair set (DRealSR_x4_dev: its own real LR, x4 only, never --degraded). Each model
runs whole-image in float32 on the CPU at its own scale; the output is clamped and rounded to 8
bits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sr_studio.errors import SRStudioError  # noqa: E402
from sr_studio.evaluation import (  # noqa: E402
    BENCHMARK_SETS,
    bicubic_upscaler,
    evaluate_set,
    markdown_table,
    model_upscaler,
)

DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"


def load(spec: str):
    """(label, model) for a file path or a model id, either ending in @PERCENT for a photo model's
    cleanup strength."""
    from sr_studio.model_loading import load_model
    from sr_studio.weights.library import resolve_choice

    path, cleanup = resolve_choice(spec)
    return spec, load_model(path, cleanup)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+", metavar="MODEL")
    parser.add_argument(
        "--scale", type=int, default=None, help="scale for bicubic (default: the models' scale)"
    )
    parser.add_argument(
        "--datasets", type=Path, default=DEFAULT_DATASETS, help=f"default {DEFAULT_DATASETS}"
    )
    parser.add_argument("--sets", nargs="+", default=list(BENCHMARK_SETS))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--degraded",
        action="store_true",
        help="camera-like degraded inputs (blur, downscale, noise, JPEG; seeded, see "
        "benchmarks/DEGRADED.md) "
        "instead of the clean bicubic protocol",
    )
    args = parser.parse_args(argv)

    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        loaded = [(spec, None) if spec.lower() == "bicubic" else load(spec) for spec in args.models]
        model_scales = sorted({m.descriptor.scale for _, m in loaded if m is not None})
        rows = []
        started = time.perf_counter()
        for spec, model in loaded:
            if model is None:
                scales = [args.scale] if args.scale else model_scales
                if not scales:
                    parser.error("bicubic needs --scale when no model is given")
                for scale in scales:
                    results = [
                        evaluate_set(
                            bicubic_upscaler(scale), scale, args.datasets, s, args.degraded
                        )
                        for s in args.sets
                    ]
                    rows.append(("bicubic (Pillow)", scale, results))
            else:
                scale = model.descriptor.scale
                run = model_upscaler(model)
                results = [
                    evaluate_set(run, scale, args.datasets, s, args.degraded) for s in args.sets
                ]
                rows.append((f"{spec} ({model.descriptor.arch})", scale, results))
    except SRStudioError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(markdown_table(rows))
    print(
        f"\nY channel (BT.601), shave = scale, LR by Pillow BICUBIC downscale, float32 CPU, "
        f"{torch.get_num_threads()} threads; total {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
