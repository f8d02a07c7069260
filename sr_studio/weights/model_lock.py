"""A per-model lock shared by every SR Studio process on this computer (app and `sr-studio models`).

Two processes downloading the same model would write into the same partial file; a removal while a
download runs would pull that file from under it. So both hold `<models>/.partial/<id>.lock` while
they work. The lock is the operating system's (flock on POSIX, msvcrt.locking on Windows): it
belongs to the open file, so the system drops it when the process ends, however it ends. A crash
therefore never leaves a lock that blocks anyone; at most it leaves the small, unlocked file behind,
which the next holder reuses and deletes. Nothing here imports torch or Qt.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from sr_studio.weights.store import StoreError

if sys.platform == "win32":  # the same test as os.name == "nt", one mypy understands
    import msvcrt

    def _try_lock(descriptor: int) -> bool:
        os.lseek(descriptor, 0, os.SEEK_SET)  # always the same byte: the first
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EDEADLK):
                return False
            raise
        return True

    def _unlock(descriptor: int) -> None:
        os.lseek(descriptor, 0, os.SEEK_SET)
        msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(descriptor: int) -> bool:
        # flock, not lockf: its lock belongs to this open file, so a second open in the same
        # process (a removal while a download thread runs) is refused too.
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


class ModelLock:
    """`try_acquire()` without waiting (False: another process holds it); `release()` when done.

    Where the file system offers no locks at all (some network and FUSE mounts), `try_acquire`
    succeeds without one: downloads then behave as before this lock existed rather than not at all.
    """

    def __init__(self, folder: Path, model_id: str):
        self.path = Path(folder) / f"{model_id}.lock"
        self.descriptor: int | None = None
        self.held = False

    def try_acquire(self) -> bool:
        if self.held:
            raise RuntimeError("the model lock is already held")
        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise StoreError(
                    f"cannot write to the models folder ({error.strerror})", self.path.parent
                ) from None
            try:
                locked = _try_lock(descriptor)
            except OSError:  # no locking on this file system
                os.close(descriptor)
                self.held = True
                return True
            if not locked:
                os.close(descriptor)
                return False
            # The previous holder deletes the file as it lets go; if that happened between our open
            # and our lock, we hold a file nobody else can find: let it go and lock the current one.
            if self._still_the_file(descriptor):
                self.descriptor = descriptor
                self.held = True
                return True
            _unlock(descriptor)
            os.close(descriptor)

    def _still_the_file(self, descriptor: int) -> bool:
        try:
            return os.path.samestat(os.fstat(descriptor), os.stat(self.path))
        except OSError:
            return False

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        descriptor, self.descriptor = self.descriptor, None
        if descriptor is None:  # held without a lock (file system without locks)
            self.path.unlink(missing_ok=True)
            return
        if sys.platform == "win32":  # the same test as os.name == "nt", one mypy understands
            # Windows cannot delete an open file: let go first; the delete then fails harmlessly
            # while another process has the file open (and is about to lock it).
            _unlock(descriptor)
            os.close(descriptor)
            try:
                self.path.unlink()
            except OSError:
                pass
        else:
            # Delete while still holding it, so that nobody can lock this file once it is gone
            # (a waiter that opened it before sees it vanished and opens the new one).
            self.path.unlink(missing_ok=True)
            _unlock(descriptor)
            os.close(descriptor)
