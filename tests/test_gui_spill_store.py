"""The session cache that finished results are parked in (Qt-free): lossless, atomic, cleaned up."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections import namedtuple

import numpy as np
import pytest

from sr_studio.gui import spill_store
from sr_studio.gui.spill_store import SpillError, SpillStore, open_spill_store


@pytest.mark.parametrize(
    "pixels",
    [
        np.arange(5 * 7 * 3, dtype=np.uint16).reshape(5, 7, 3) * 1000,  # 16-bit keeps every bit
        np.arange(6 * 4 * 4, dtype=np.uint8).reshape(6, 4, 4),  # RGBA
        np.arange(3 * 9, dtype=np.uint8).reshape(3, 9),  # grey
        (np.arange(8 * 8 * 3, dtype=np.uint16).reshape(8, 8, 3) * 7)[
            ::2, 1::2
        ],  # a non-contiguous view
    ],
    ids=["rgb16", "rgba8", "grey8", "view16"],
)
def test_a_parked_result_reads_back_identical(tmp_path, pixels):
    store = SpillStore(tmp_path)
    path = store.put(pixels, "result-1")
    assert path.parent == store.folder and path.parent.parent == tmp_path
    back = store.load(path)
    assert back.dtype == pixels.dtype and back.shape == pixels.shape
    assert np.array_equal(back, pixels)
    assert [p.name for p in store.folder.iterdir()] == [path.name]  # no partial file left
    store.close()


def test_each_put_gets_its_own_file(tmp_path):
    store = SpillStore(tmp_path)
    first = store.put(np.zeros((2, 2), np.uint8), "result-3")
    second = store.put(np.ones((2, 2), np.uint8), "result-3")
    assert first != second and store.load(first).sum() == 0 and store.load(second).sum() == 4
    store.discard(first)
    assert not first.exists() and second.exists()
    store.discard(first)  # twice is harmless


def test_a_full_disk_is_one_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    store = SpillStore(tmp_path)
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(
        spill_store.shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 1000, 1000)
    )
    with pytest.raises(SpillError) as raised:
        store.put(np.zeros((100, 100, 3), np.uint8), "result-1")
    assert str(raised.value) == f"{store.folder}: cannot park the result on disk (disk full)"
    assert list(store.folder.iterdir()) == []


def test_a_write_that_fails_half_way_leaves_no_partial_file(tmp_path, monkeypatch):
    store = SpillStore(tmp_path)

    def failing_save(handle, array, allow_pickle):
        handle.write(b"\x93NUMPY half")
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(spill_store.np, "save", failing_save)
    with pytest.raises(SpillError, match="Input/output error"):
        store.put(np.zeros((4, 4), np.uint8), "result-1")
    assert list(store.folder.iterdir()) == []


def test_a_deleted_file_is_a_clear_error(tmp_path):
    store = SpillStore(tmp_path)
    path = store.put(np.zeros((2, 2), np.uint8), "result-1")
    path.unlink()
    with pytest.raises(SpillError) as raised:
        store.load(path)
    assert str(raised.value) == f"{path}: the parked result cannot be read back (it was deleted)"


def test_the_session_folder_goes_on_close_and_when_the_store_is_dropped(tmp_path):
    store = SpillStore(tmp_path)
    store.put(np.zeros((2, 2), np.uint8), "result-1")
    folder = store.folder
    store.close()
    assert not folder.exists() and store.closed
    with pytest.raises(SpillError, match="closed"):
        store.put(np.zeros((2, 2), np.uint8), "result-1")

    dropped = SpillStore(tmp_path)
    folder = dropped.folder
    del dropped
    gc.collect()
    assert not folder.exists()


def test_folders_of_crashed_sessions_are_removed_and_live_ones_kept(tmp_path):
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(finished.stdout)
    crashed = tmp_path / f"session-{dead_pid}-abc"
    crashed.mkdir()
    (crashed / "result-1-1.npy").write_bytes(b"left behind")
    live = (
        tmp_path / f"session-{spill_store.os.getppid()}-def"
    )  # the process that started these tests
    live.mkdir()
    (live / "result-1-1.npy").write_bytes(b"in use")
    unrelated = tmp_path / "thumbnails"
    unrelated.mkdir()

    store = SpillStore(tmp_path)
    assert not crashed.exists()
    assert (live / "result-1-1.npy").exists() and unrelated.exists() and store.folder.exists()


def test_the_cache_folder_can_be_moved_and_a_read_only_one_falls_back(tmp_path, monkeypatch):
    monkeypatch.setenv(spill_store.CACHE_DIR_ENV, str(tmp_path / "cache"))
    store, problem = open_spill_store()
    assert problem == "" and store.folder.parent == tmp_path / "cache"
    store.close()

    blocked = tmp_path / "not-a-folder"
    blocked.write_bytes(b"")
    monkeypatch.setenv(spill_store.CACHE_DIR_ENV, str(blocked))
    monkeypatch.setattr(spill_store.tempfile, "gettempdir", lambda: str(tmp_path / "system-temp"))
    store, problem = open_spill_store()
    assert problem == "" and store.folder.parent == tmp_path / "system-temp" / "sr-studio-cache"
    store.close()

    monkeypatch.setattr(spill_store.tempfile, "gettempdir", lambda: str(blocked))
    store, problem = open_spill_store()
    assert store is None and problem.startswith(f"{blocked}: cannot create the session cache")
