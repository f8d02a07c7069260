"""`sr-studio gui [FILES...]`: open the window (also what `sr-studio` alone does); `--self-test IMAGE` checks it."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "gui",
        help="open the SR Studio window (the default)",
        description="Open the SR Studio window, optionally with photos (or folders) queued.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="photos or folders to queue")
    parser.add_argument(
        "--self-test",
        metavar="IMAGE",
        help="open the real window (offscreen without a display), enlarge IMAGE x2 with the bundled model, "
        "export it to a temporary folder, check the file and exit 0; non-zero with the reason on failure",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from sr_studio.gui.app import run_app

    return run_app(args.files, self_test=args.self_test)
