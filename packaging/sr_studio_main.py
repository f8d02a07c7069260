"""Entry point of the frozen bundle: the same `sr-studio` command as the installed wheel's script."""

import multiprocessing
import sys

if __name__ == "__main__":
    # A no-op unless the bundle is started as a multiprocessing child (spawn), which would otherwise
    # re-run the whole application instead of the child's task.
    multiprocessing.freeze_support()
    from sr_studio.cli import main

    sys.exit(main())
