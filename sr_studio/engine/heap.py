"""Keep the memory of one tile for the next while a photo is enlarged on the CPU (Linux, glibc).

Every forward pass allocates tensors of tens to hundreds of MB. By default glibc gives blocks above
its mmap threshold (128 KB, growing to at most 32 MB) fresh pages from mmap() and unmaps them on
free, and hands the top of the heap back to the kernel once a few MB are free there, so each tile
faults all of its memory in again, 4 KB at a time, zero-filled by the kernel. SPAN x4 fp32 on a 432
px patch, one thread: 262,000 page faults and 0.7-0.9 s of system time in a 3.2-3.5 s forward pass;
with the thresholds below, no faults and 2.1-2.4 s (-30%); the CLI on a 3 MP photo x4: 16% less CPU
time.

The heap settles after a few tiles at about twice a tile's live tensors (2.7 vs 1.2 KB per patch
pixel, SPAN x4 fp32: a freed block rarely fits the next, 64-byte-aligned request of the same size),
which is still less than glibc's default keeps around (3 MP x4 CLI run: peak RSS 899 vs 1015 MB).
`release()` hands it back when the photo is done. In threads other than the main one (the window's
engine thread) glibc's per-thread heaps hold blocks of up to 64 MB only. Elsewhere (macOS, Windows,
musl) both calls do nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
# Blocks below this come from the reusable heap: SPAN's activations (192 B per patch pixel in fp32)
# up to a 1150 px patch, its bf16 concatenation (384 B/px) up to 810 px. Larger ones are still
# mapped and unmapped.
MMAP_THRESHOLD = 256 << 20
# Free memory at the top of the heap is kept up to this much between tiles.
TRIM_THRESHOLD = 1 << 30
# glibc's own ceiling for the dynamic threshold, accepted by every version.
FALLBACK_MMAP_THRESHOLD = 32 << 20


@functools.lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library the interpreter already uses
    except OSError:
        return None
    # glibc only: musl's mallopt does nothing.
    return libc if hasattr(libc, "gnu_get_libc_version") else None


_holding = False


def hold_freed_memory() -> bool:
    """Serve tile-sized blocks from a heap that is not trimmed between tiles; True where it took
    effect.

    Process-wide: it also stops glibc's dynamic adjustment, which never reaches tile sizes.
    """
    global _holding
    libc = _glibc()
    if libc is None or _holding:
        return _holding
    if not any(
        libc.mallopt(M_MMAP_THRESHOLD, value) == 1
        for value in (MMAP_THRESHOLD, FALLBACK_MMAP_THRESHOLD)
    ):
        return False
    _holding = bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    return _holding


def release() -> None:
    """Give the memory freed after a photo back to the system.

    The window then stays small between runs.
    """
    libc = _glibc()
    if _holding and libc is not None:  # holding implies glibc was found
        libc.malloc_trim(0)
