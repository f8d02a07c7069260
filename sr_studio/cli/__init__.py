"""`sr-studio` command line: one sub-command per module, each importing torch only when it runs.

Every command module exposes `register(subparsers)`, which adds its parser and sets
`handler=<callable(args) -> int>` as the parser default. Expected failures (`SRStudioError`)
become one line on stderr and exit code 1; nothing prints a traceback to a user.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterable

from sr_studio import __version__
from sr_studio.errors import SRStudioError

COMMAND_MODULES = ("upscale_command", "compare_command", "models_command", "gui_command")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sr-studio",
        description="Enlarge photographs with HAT and SPAN super-resolution networks. "
        "Run without arguments, or with photos or folders (sr-studio photo.jpg), to open the "
        "window.",
    )
    parser.add_argument("--version", action="version", version=f"sr-studio {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"sr_studio.cli.{module_name}")
        except ModuleNotFoundError as error:
            if error.name != f"sr_studio.cli.{module_name}":
                raise
            continue
        module.register(subparsers)
    return parser


def opens_in_the_window(first: str, commands: Iterable[str]) -> bool:
    """Whether the first argument is a photo or folder to open rather than a command: an existing
    path that is not a command's name (a file named `upscale` in the current folder stays the
    command). Anything else is left to argparse, which names the commands."""
    return first not in commands and not first.startswith("-") and os.path.exists(first)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    if not argv:
        argv = ["gui"] if "gui" in commands else ["--help"]
    elif "gui" in commands and opens_in_the_window(argv[0], commands):
        argv = ["gui", *argv]  # `sr-studio photo.jpg`: what a new user types
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        code = int(handler(args) or 0)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
        return code
    except SRStudioError as error:
        print(f"sr-studio: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sr-studio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`sr-studio models list | head`): nothing left to say, and Python
        # must not complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
