"""Write a file so that it either appears complete or not at all.

The data goes to a hidden temporary file in the destination folder (same filesystem, so the final
rename is atomic), is fsynced, then renamed over the destination. Any failure, Ctrl-C included,
removes the temporary file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sr_studio.errors import ImageWriteError, OutputExists


def _read_umask() -> int:
    """The process umask. It can only be read by setting it, so this runs once, at import."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def check_destination(dest: Path, *, overwrite: bool, protected: Path | None) -> None:
    """Refuse early, with a clear reason, what `write_atomically` would refuse late."""
    parent = dest.parent
    if protected is not None and _same_file(dest, protected):
        raise ImageWriteError("is the input photo; refusing to overwrite it", dest)
    if not parent.exists():
        raise ImageWriteError(f"folder {parent} does not exist", dest)
    if not parent.is_dir():
        raise ImageWriteError(f"{parent} is not a folder", dest)
    if dest.is_dir():
        raise ImageWriteError("is a folder", dest)
    if dest.exists() and not overwrite:
        raise OutputExists("already exists (choose another name or allow overwriting)", dest)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "disk full; nothing was written"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return "permission denied (read-only folder or disk?); nothing was written"
        text = exc.strerror or str(exc)
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(text.split())
    return f"could not be written ({text}); nothing was written"


def write_atomically(
    dest: Path,
    produce: Callable[[BinaryIO], None],
    *,
    overwrite: bool = False,
    protected: Path | None = None,
) -> Path:
    """Run `produce(file)` into a temporary file, then move it to `dest`.

    `protected` is a path that must never be replaced (the input photo). KeyboardInterrupt and
    SystemExit propagate unchanged (after clean-up) so a batch stops when the user asks it to;
    every other failure becomes ImageWriteError naming `dest`.
    """
    dest = Path(dest)
    check_destination(dest, overwrite=overwrite, protected=protected)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise ImageWriteError(_reason(exc), dest) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with open(tmp, "w+b") as handle:  # readable too: the TIFF writer patches what it wrote
            produce(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; give the photo the permissions any new file would get.
        os.chmod(tmp, 0o666 & ~_UMASK)
        # Re-check just before the rename: the input may have been chosen as output meanwhile.
        if protected is not None and _same_file(dest, protected):
            raise ImageWriteError("is the input photo; refusing to overwrite it", dest)
        if overwrite:
            os.replace(tmp, dest)
        else:
            _move_without_clobbering(tmp, dest)
        _fsync_folder(dest.parent)
    except BaseException as exc:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass  # nothing more we can do; the name starts with "." and ends with ".part"
        if isinstance(exc, (KeyboardInterrupt, SystemExit, ImageWriteError)):
            raise
        raise ImageWriteError(_reason(exc), dest) from exc
    return dest


def _move_without_clobbering(tmp: Path, dest: Path) -> None:
    """Rename that fails if `dest` appeared meanwhile (hard link is atomic and never replaces)."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise OutputExists(
            "already exists (choose another name or allow overwriting)", dest
        ) from None
    except OSError:
        # Filesystems without hard links (FAT, some network shares): check, then rename.
        if dest.exists():
            raise OutputExists(
                "already exists (choose another name or allow overwriting)", dest
            ) from None
        os.replace(tmp, dest)
        return
    tmp.unlink()


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
