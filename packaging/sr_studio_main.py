"""Entry point of the frozen bundle: the same `sr-studio` command as the installed wheel's script.

On Windows the bundle also has a windowed twin, `SR Studio.exe` (no console; what shortcuts and
"Open with" start): it always opens the window, with any arguments taken as photos to queue, and
has nowhere to print, so its missing standard streams are pointed at the null device.
"""

import multiprocessing
import os
import sys

WINDOWED_EXECUTABLE = "SR Studio"


def arguments(executable: str, argv: list) -> list:
    name = os.path.splitext(executable.replace("\\", "/").rsplit("/", 1)[-1])[0]
    if name == WINDOWED_EXECUTABLE and argv[:1] != ["gui"]:
        return ["gui", *argv]
    return argv


if __name__ == "__main__":
    # A no-op unless the bundle is started as a multiprocessing child (spawn), which would otherwise
    # re-run the whole application instead of the child's task.
    multiprocessing.freeze_support()
    for stream in ("stdout", "stderr"):
        if getattr(sys, stream) is None:
            setattr(sys, stream, open(os.devnull, "w", encoding="utf-8"))
    from sr_studio.cli import main

    sys.exit(main(arguments(sys.executable, sys.argv[1:])))
