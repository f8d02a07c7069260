"""Finished results parked on disk for the session, so that a batch of large photos never piles up
in memory.

Only the result on screen stays in memory; the others are written here and read back when they are
shown or exported. The format is NumPy's own `.npy`: lossless, any dtype and layout (16-bit stays
16-bit), and read back at disk speed with no decoding. Each window gets its own session folder under
the user's cache folder (on disk: /tmp is often RAM-backed on Linux, which would defeat the
purpose), removed when the window closes or the interpreter exits; a folder left by a crashed
session is removed by the next one. Free of Qt: the file worker calls it on its own thread.
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

from sr_studio.errors import SRStudioError

CACHE_DIR_ENV = "SR_STUDIO_CACHE_DIR"  # replaces the user's cache folder (tests, portable installs)
APP_NAME = "SR Studio"
SESSION_PREFIX = "session-"
# Free space kept beyond the file itself, so that parking a result never fills the disk to the last
# byte.
DISK_MARGIN_BYTES = 256 * 1024 * 1024


class SpillError(SRStudioError):
    """A result that could not be parked on disk or read back from it."""


def cache_dir() -> Path:
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


class SpillStore:
    """One session's folder of parked arrays: `put` on the worker thread, `load` back, `close` at
    the end."""

    def __init__(self, root: Path | None = None):
        root = Path(root) if root is not None else cache_dir()
        try:
            root.mkdir(parents=True, exist_ok=True)
            remove_abandoned_sessions(root)
            self.folder = Path(tempfile.mkdtemp(prefix=f"{SESSION_PREFIX}{os.getpid()}-", dir=root))
        except OSError as error:
            raise SpillError(
                f"cannot create the session cache ({error.strerror or error})", root
            ) from None
        self._numbers = itertools.count(1)
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)

    def put(self, pixels: np.ndarray, stem: str) -> Path:
        """Write `pixels` to a new file; it appears under its final name only once complete."""
        if not self._finalizer.alive:
            raise SpillError("the session cache is closed", self.folder)
        path = self.folder / f"{stem}-{next(self._numbers)}.npy"
        partial = path.with_name(path.name + ".part")
        try:
            free = shutil.disk_usage(self.folder).free
            if free < pixels.nbytes + DISK_MARGIN_BYTES:
                raise OSError(errno.ENOSPC, "not enough free disk space")
            with open(partial, "wb") as handle:
                np.save(handle, pixels, allow_pickle=False)
            os.replace(partial, path)
        except BaseException as error:
            partial.unlink(missing_ok=True)
            if not isinstance(error, OSError):
                raise
            reason = "disk full" if error.errno == errno.ENOSPC else (error.strerror or str(error))
            raise SpillError(f"cannot park the result on disk ({reason})", self.folder) from None
        return path

    def load(self, path: Path) -> np.ndarray:
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            reason = "it was deleted" if isinstance(error, FileNotFoundError) else str(error)
            raise SpillError(f"the parked result cannot be read back ({reason})", path) from None

    @staticmethod
    def discard(path: Path) -> None:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError:
            pass  # the whole folder goes at the end of the session anyway

    def close(self) -> None:
        """Remove the session folder and everything parked in it."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive


def open_spill_store() -> tuple[SpillStore | None, str]:
    """The session store in the user's cache folder, else in the system's temporary folder; (None,
    the reason) when neither can be written (results then stay in memory: the app still works)."""
    try:
        return SpillStore(), ""
    except SpillError as error:
        try:
            return SpillStore(Path(tempfile.gettempdir()) / "sr-studio-cache"), ""
        except SpillError:
            return None, str(error)


def remove_abandoned_sessions(root: Path) -> list[Path]:
    """Delete the session folders of processes that no longer run (a crash leaves its folder
    behind)."""
    removed = []
    for child in root.glob(f"{SESSION_PREFIX}*"):
        pid_text = child.name[len(SESSION_PREFIX) :].split("-", 1)[0]
        if not child.is_dir() or not pid_text.isdigit():
            continue
        if process_alive(int(pid_text)):
            continue
        shutil.rmtree(child, ignore_errors=True)
        removed.append(child)
    return removed


def process_alive(pid: int) -> bool:
    """True when `pid` runs (or cannot be checked: a folder that may be in use is never deleted)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, under another user
        return True
    return True
