"""The one line a user reads when work on a worker thread fails."""

from __future__ import annotations

import sys
import traceback

from sr_studio.errors import SRStudioError


def describe_error(error: BaseException) -> str:
    """One line for the user; unexpected errors also go to stderr with their traceback (for bug
    reports)."""
    if isinstance(error, SRStudioError):
        return str(error)
    if isinstance(error, MemoryError):
        return "not enough memory for this photo; try a smaller tile size or output scale"
    traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    return f"unexpected error: {type(error).__name__}: {error}"
