"""The options every command that runs a model shares: one declaration, so they cannot drift.

`upscale` and `compare` once declared these separately, and compare's precision stayed fp32 after
upscale's moved to automatic.
"""

from __future__ import annotations

import argparse

from sr_studio.photo_formats import DEVICES, PRECISIONS

DEFAULT_MAX_MEGAPIXELS = 200.0


def add_run_options(parser: argparse.ArgumentParser, *, what_overwrite_replaces: str) -> None:
    """--tile, --device, --precision, --overwrite and --max-megapixels, with the same defaults and
    help everywhere; `what_overwrite_replaces` names the command's output ("existing output
    files")."""
    parser.add_argument(
        "--tile", type=int, metavar="N", help="tile size in input pixels (default: automatic)"
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help="where the model runs: a CUDA or Apple GPU when there is one, else the CPU (default "
        "auto)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto (default): the fastest that keeps the model's quality here (bf16 on CPUs "
        "with bf16 instructions, fp16 or bf16 on GPUs, else fp32; the run says which and "
        "why); fp32: exact; bf16: runs as fp32 on CPUs without bf16 instructions, saying so; "
        "fp16: GPUs only, SPAN models only",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help=f"replace {what_overwrite_replaces}"
    )
    parser.add_argument(
        "--max-megapixels",
        type=float,
        default=DEFAULT_MAX_MEGAPIXELS,
        metavar="MP",
        help=f"refuse photos larger than this, checked before decoding "
        f"(default {DEFAULT_MAX_MEGAPIXELS:g})",
    )
