"""Errors that reach the user as one line: the file concerned and what is wrong with it."""

from __future__ import annotations

import os


class SRStudioError(Exception):
    """Base for every error we expect and can explain; anything else is a bug."""

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = os.fspath(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class CheckpointError(SRStudioError):
    """A weights file that cannot become a model (unreadable, unsafe, unknown or inconsistent)."""


class ImageReadError(SRStudioError):
    """An input image that cannot be decoded or is not allowed (bomb, too large, damaged)."""


class ImageWriteError(SRStudioError):
    """An output that could not be written completely; nothing partial is left behind."""


class OutputExists(ImageWriteError):
    """The output file exists and may not be replaced: found before writing, or appeared while
    this one was made (another run writing the same file)."""


class EngineError(SRStudioError):
    """A run that cannot proceed (device missing, precision unsupported, out of memory at the
    smallest tile)."""


class Cancelled(SRStudioError):
    """The user asked to stop; raised between tiles."""

    def __init__(self, message: str = "cancelled", path=None):
        super().__init__(message, path)
