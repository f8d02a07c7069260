"""`sr-studio gui [FILES...]`: open the window (also what `sr-studio` alone does);
`--self-test PHOTO...` checks it."""

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
        metavar="PHOTO",
        nargs="+",
        help="open the real window (offscreen without a display), "
        "Enlarge All of the photos x2 with the bundled model, "
        "Export All to a temporary folder and read the files back; "
        "one line per photo, exit 1 if any failed",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.self_test:
        from sr_studio.gui.self_test import self_test_main

        return self_test_main(args.self_test)
    from sr_studio.gui.app import run_app

    return run_app(args.files)
