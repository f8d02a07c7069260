r"""Measure what the automatic model choice decides from, and how well it decides.

  python tools/measure_choice.py --scale 4 --table benchmarks/choice-x4.csv     # measure (minutes)
  python tools/measure_choice.py --scale 4 --table benchmarks/choice-x4.csv --report

Measuring writes one row per test image (Set5, Set14, Urban100 clean and camera-degraded, and for x4
the DRealSR real camera pairs): the condition `sr_studio.photo_condition` reads from the input (the
JPEG quality its file would carry, noise, blockiness) and the PSNR-Y of the bundled photo model at
each cleanup strength of STRENGTHS (0 is the published clean SPAN). The table is the evidence that
`sr_studio.automatic_choice` is fitted to; `--report` scores the choice the app makes now against
every fixed strength, per set, as a Markdown table (the choice's own PSNR: from the table at its
strengths, measured at any other).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sr_studio.automatic_choice import cleanup_for  # noqa: E402
from sr_studio.evaluation import (  # noqa: E402
    BENCHMARK_SETS,
    REAL_PAIR_SETS,
    evaluation_inputs,
    measure,
    model_upscaler,
)
from sr_studio.photo_condition import assess  # noqa: E402

DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"
STRENGTHS = (0, 25, 50, 75, 90, 100)


def jpeg_quality_of(set_name: str, degraded: bool, path: Path, hr: np.ndarray, scale: int):
    """The quality the input's file would say: the degraded benchmark's JPEG step (Pillow's
    libjpeg tables, so photo_io.jpeg_quality reads it back exactly); None for PNG inputs."""
    if not degraded:
        return None
    from sr_studio.degradation import benchmark_recipe

    recipe, _ = benchmark_recipe(hr.shape[0], hr.shape[1], scale, path.name)
    return next(int(step.params["quality"]) for step in recipe if step.kind == "jpeg")


def measure_table(
    datasets: Path, scale: int, table: Path, names: tuple[str, ...] = BENCHMARK_SETS
) -> None:
    from sr_studio.model_loading import load_model
    from sr_studio.weights.library import resolve_choice

    photo_id = f"bundled-span-x{scale}-photo"
    runs = {
        strength: model_upscaler(load_model(*resolve_choice(f"{photo_id}@{strength}")))
        for strength in STRENGTHS
    }
    sets = [(name, False) for name in names] + [(name, True) for name in names]
    sets += [(name, False) for name, (_, s) in REAL_PAIR_SETS.items() if s == scale]
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["set", "image", "jpeg_quality", "noise", "blockiness"]
            + [f"psnr_{s}" for s in STRENGTHS]
        )
        for name, degraded in sets:
            label = f"{name} degraded" if degraded else name
            for path, hr, lr in evaluation_inputs(datasets, name, scale, degraded):
                quality = jpeg_quality_of(name, degraded, path, hr, scale)
                condition = assess(lr, quality)
                scores = [measure(runs[s](lr), hr, scale)[0] for s in STRENGTHS]
                writer.writerow(
                    [label, path.name, quality if quality is not None else ""]
                    + [f"{condition.noise:.3f}", f"{condition.blockiness:.4f}"]
                    + [f"{v:.4f}" for v in scores]
                )
                handle.flush()
            print(f"measured {label}", flush=True)


def chosen_scores(datasets: Path, scale: int, labels: set[str], rows: dict) -> dict:
    """(set label, image) -> (cleanup chosen, its PSNR): the condition measured now on the input
    (cheap, so its measures can change without running the models again), the PSNR from the table
    where the choice is one of its strengths, else measured now at the chosen strength."""
    from sr_studio.model_loading import load_model
    from sr_studio.weights.library import resolve_choice

    runs: dict[float, object] = {}
    found = {}
    for label in sorted(labels):
        name, degraded = label.removesuffix(" degraded"), label.endswith(" degraded")
        for path, hr, lr in evaluation_inputs(datasets, name, scale, degraded):
            quality = jpeg_quality_of(name, degraded, path, hr, scale)
            percent = cleanup_for(assess(lr, quality))
            row = rows[(label, path.name)]
            if percent in STRENGTHS:
                found[(label, path.name)] = (percent, float(row[f"psnr_{percent:g}"]))
                continue
            if percent not in runs:
                reference = f"bundled-span-x{scale}-photo@{percent:g}"
                runs[percent] = model_upscaler(load_model(*resolve_choice(reference)))
            found[(label, path.name)] = (percent, measure(runs[percent](lr), hr, scale)[0])
    return found


def report(table: Path, datasets: Path, scale: int) -> str:
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_image = {(r["set"], r["image"]): r for r in rows}
    chosen = chosen_scores(datasets, scale, {r["set"] for r in rows}, by_image)
    sets: dict[str, list[dict]] = {}
    for row in rows:
        sets.setdefault(row["set"], []).append(row)
    header = (
        "| set | images | "
        + " | ".join(f"cleanup {s}%" for s in STRENGTHS)
        + " | automatic | automatic - best fixed | mean cleanup chosen |"
    )
    lines = [header, "|" + " --- |" * (len(STRENGTHS) + 5)]
    for name, members in sets.items():
        fixed = [np.mean([float(r[f"psnr_{s}"]) for r in members]) for s in STRENGTHS]
        picks = [chosen[(name, r["image"])] for r in members]
        automatic = float(np.mean([score for _, score in picks]))
        lines.append(
            f"| {name} | {len(members)} | "
            + " | ".join(f"{v:.2f}" for v in fixed)
            + f" | {automatic:.2f} | {automatic - max(fixed):+.2f} | "
            + f"{np.mean([percent for percent, _ in picks]):.0f}% |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=int, choices=(2, 4), required=True)
    parser.add_argument("--table", type=Path, required=True, help="the CSV to write or read")
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--report", action="store_true", help="score the choice on the table")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--sets", nargs="+", default=list(BENCHMARK_SETS), help="benchmark sets to measure"
    )
    args = parser.parse_args(argv)
    if args.report:
        print(report(args.table, args.datasets, args.scale))
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    measure_table(args.datasets, args.scale, args.table, tuple(args.sets))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
