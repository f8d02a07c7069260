r"""How long each catalog model takes for a 1 MP photo on this CPU, before any download.

  python benchmarks/bench_catalog_speed.py            # print the table
  python benchmarks/bench_catalog_speed.py --write    # and store it in resources/catalog.json
  python benchmarks/bench_catalog_speed.py --table    # the README's table of downloadable models

Each model is timed as `sr-studio upscale --estimate` times one that is not downloaded: a network
of its shape with fresh weights (`model_loading.shaped_model`), calibrated by the engine's own
`estimate_run` (one patch of the run's shape, tiling overhead counted) for a 1000 x 1000 photo at
the model's scale, automatic precision, on the CPU. Networks of one shape are timed once. Run it on
an idle machine: `--write` records the CPU's name beside the figures (`speed_measured_on`), and the
Model Manager and `models list --all` show them as that machine's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CATALOG = REPO / "resources" / "catalog.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="store the figures in the catalog")
    parser.add_argument("--only", nargs="*", default=None, metavar="ID", help="these ids only")
    parser.add_argument(
        "--table", action="store_true", help="print the README's table from the catalog and exit"
    )
    args = parser.parse_args(argv)
    if args.table:
        print(readme_table())
        return 0

    import torch

    from sr_studio.engine import Upscaler
    from sr_studio.engine.throughput import ThroughputStore, _cpu_name, estimate_run
    from sr_studio.model_loading import shaped_model
    from sr_studio.weights.catalog import load_catalog

    entries = [e for e in load_catalog(CATALOG) if args.only is None or e.id in args.only]
    timed: dict[str, float] = {}
    results: dict[str, float] = {}
    precision = ""
    with tempfile.TemporaryDirectory() as folder:
        store = ThroughputStore(Path(folder) / "throughput.json")
        for entry in entries:
            shape = entry.hyperparameters
            if shape is None:
                print(f"{entry.id}: no preset for {entry.variant}; skipped", file=sys.stderr)
                continue
            key = json.dumps(shape, sort_keys=True)
            if key not in timed:
                upscaler = Upscaler(shaped_model(entry.arch, shape), device="cpu", precision="auto")
                precision = upscaler.precision
                estimate = estimate_run(upscaler, 1000, 1000, None, store)
                assert estimate is not None
                timed[key] = estimate.seconds
            results[entry.id] = timed[key]
            print(
                f"| {entry.id} | {entry.variant} x{entry.scale} | {timed[key]:.0f} s |", flush=True
            )
    machine = f"{_cpu_name()}, {torch.get_num_threads()} threads, {precision}"
    print(f"\n1000 x 1000 px photo, automatic precision, on: {machine}")
    if args.write:
        document = json.loads(CATALOG.read_text(encoding="utf-8"))
        document["speed_measured_on"] = machine
        for model in document["models"]:
            if model["id"] in results:
                model["cpu_seconds_per_megapixel"] = round(results[model["id"]], 1)
        text = json.dumps(document, indent=2, ensure_ascii=False)
        CATALOG.write_text(compact_short_lists(text) + "\n", encoding="utf-8")
        print(f"written to {CATALOG}")
    return 0


def readme_table() -> str:
    """Every downloadable model: what it is, where its download is verified from, its license and
    size, its authors' PSNR and the benchmark CPU's time for a 1 MP photo."""
    from sr_studio.durations import duration_text
    from sr_studio.weights.catalog import load_catalog, purpose_name
    from sr_studio.weights.store import human_size

    lines = [
        "| id | model | for | size | license | verified against (size and SHA-256) | "
        "published PSNR Set5 / Set14 / Urban100 | 1 MP photo, benchmark CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in load_catalog(CATALOG):
        if entry.bundled_as:
            continue  # the bundled SPAN Clean: not offered
        psnr = entry.published_psnr
        published = (
            " / ".join(f"{psnr[name]:.2f}" if name in psnr else "-" for name in BENCHMARK_SETS)
            if psnr
            else "not published"
        )
        speed = (
            duration_text(entry.cpu_seconds_per_megapixel)
            if entry.cpu_seconds_per_megapixel
            else "-"
        )
        lines.append(
            f"| `{entry.id}` | {entry.name} | {purpose_name(entry.purpose)} | "
            f"{human_size(entry.size)} | {entry.license} | {entry.source_name} | {published} | "
            f"{speed} |"
        )
    return "\n".join(lines)


BENCHMARK_SETS = ("Set5", "Set14", "Urban100")


def compact_short_lists(text: str) -> str:
    """The catalog's own layout: number lists and small objects on one line."""
    import re

    text = re.sub(
        r"\[\s+((?:\d+,\s+)*\d+)\s+\]", lambda m: "[" + re.sub(r"\s+", " ", m[1]) + "]", text
    )
    return re.sub(
        r"\{\s+(\"(?:embed_dim|feature_channels|Set5)\"[^{}]*?)\s+\}",
        lambda m: "{" + re.sub(r"\s*\n\s*", " ", m[1]) + "}",
        text,
    )


if __name__ == "__main__":
    raise SystemExit(main())
