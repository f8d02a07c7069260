"""photo_io.atomic_file on its own: an output appears complete or not at all, an existing file or
the input photo is never replaced against the user's choice, and no hidden temporary is left."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

import pytest

from sr_studio.errors import ImageWriteError
from sr_studio.photo_io.atomic_file import write_atomically

PICTURE = b"\x89PNG" + bytes(range(256)) * 64


def writes(data: bytes):
    def produce(handle: BinaryIO) -> None:
        handle.write(data)

    return produce


def half_then(error: BaseException):
    def produce(handle: BinaryIO) -> None:
        handle.write(PICTURE[: len(PICTURE) // 2])
        handle.flush()
        raise error

    return produce


def names(folder: Path) -> list[str]:
    return sorted(child.name for child in folder.iterdir())


def test_the_file_appears_whole_with_the_permissions_of_any_new_file(tmp_path):
    dest = write_atomically(tmp_path / "out.png", writes(PICTURE))
    assert dest == tmp_path / "out.png" and dest.read_bytes() == PICTURE
    assert names(tmp_path) == ["out.png"]  # no ".out.png.*.part" left behind
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o666 & ~mask


@pytest.mark.parametrize(
    "error, reason",
    [
        (
            OSError("encoder exploded"),
            "could not be written (encoder exploded); nothing was written",
        ),
        (OSError(errno.ENOSPC, "No space left on device"), "disk full; nothing was written"),
        (ValueError("bad pixels"), "could not be written (bad pixels); nothing was written"),
        (
            OSError("multi\n  line\tfailure"),
            "could not be written (multi line failure); nothing was written",
        ),
    ],
)
def test_a_failure_mid_write_leaves_no_file_and_names_it(tmp_path, error, reason):
    dest = tmp_path / "out.png"
    with pytest.raises(ImageWriteError) as caught:
        write_atomically(dest, half_then(error))
    assert str(caught.value) == f"{dest}: {reason}"
    assert names(tmp_path) == []


def test_ctrl_c_mid_write_stops_as_ctrl_c_and_leaves_no_file(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        write_atomically(tmp_path / "out.png", half_then(KeyboardInterrupt()))
    assert names(tmp_path) == []


def test_a_failed_overwrite_keeps_the_previous_file_intact(tmp_path):
    dest = tmp_path / "out.png"
    dest.write_bytes(b"yesterday's result")
    with pytest.raises(ImageWriteError):
        write_atomically(dest, half_then(OSError("encoder exploded")), overwrite=True)
    assert dest.read_bytes() == b"yesterday's result"
    assert names(tmp_path) == ["out.png"]


def test_an_existing_file_is_refused_before_any_work_unless_overwriting_is_allowed(tmp_path):
    dest = tmp_path / "out.png"
    dest.write_bytes(b"yesterday's result")
    produced = []
    with pytest.raises(ImageWriteError, match="already exists"):
        write_atomically(dest, lambda handle: produced.append(handle))
    assert produced == [] and dest.read_bytes() == b"yesterday's result"
    write_atomically(dest, writes(PICTURE), overwrite=True)
    assert dest.read_bytes() == PICTURE and names(tmp_path) == ["out.png"]


def test_a_file_that_appears_during_the_write_is_not_clobbered(tmp_path):
    dest = tmp_path / "out.png"

    def produce_while_someone_saves(handle: BinaryIO) -> None:
        handle.write(PICTURE)
        dest.write_bytes(b"someone else's")

    with pytest.raises(ImageWriteError, match="already exists"):
        write_atomically(dest, produce_while_someone_saves)
    assert dest.read_bytes() == b"someone else's" and names(tmp_path) == ["out.png"]


def test_without_hard_links_the_file_is_still_written_and_not_clobbered(tmp_path, monkeypatch):
    """FAT and some network shares have no hard links: the move falls back to check-then-rename."""

    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    dest = write_atomically(tmp_path / "out.png", writes(PICTURE))
    assert dest.read_bytes() == PICTURE and names(tmp_path) == ["out.png"]
    taken = tmp_path / "taken.png"

    def produce_while_someone_saves(handle: BinaryIO) -> None:
        handle.write(PICTURE)
        taken.write_bytes(b"someone else's")

    with pytest.raises(ImageWriteError, match="already exists"):
        write_atomically(taken, produce_while_someone_saves)
    assert taken.read_bytes() == b"someone else's" and names(tmp_path) == ["out.png", "taken.png"]


@pytest.mark.parametrize("how", ["same path", "hard link"])
def test_the_input_photo_is_never_replaced_even_when_overwriting(tmp_path, how):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"the only copy")
    dest = photo if how == "same path" else tmp_path / "linked.png"
    if how == "hard link":
        os.link(photo, dest)
    with pytest.raises(ImageWriteError, match="is the input photo"):
        write_atomically(dest, writes(PICTURE), overwrite=True, protected=photo)
    assert photo.read_bytes() == b"the only copy"
    assert not [name for name in names(tmp_path) if name.endswith(".part")]


def test_the_input_photo_chosen_as_output_during_the_write_is_still_kept(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"the only copy")
    dest = tmp_path / "out.png"

    def produce_while_the_output_becomes_the_photo(handle: BinaryIO) -> None:
        handle.write(PICTURE)
        os.link(photo, dest)

    with pytest.raises(ImageWriteError, match="is the input photo"):
        write_atomically(
            dest, produce_while_the_output_becomes_the_photo, overwrite=True, protected=photo
        )
    assert photo.read_bytes() == b"the only copy" and names(tmp_path) == ["out.png", "photo.png"]


@pytest.mark.parametrize(
    "case, reason",
    [
        ("missing folder", "does not exist"),
        ("folder as output", "is a folder"),
        ("file as folder", "is not a folder"),
    ],
)
def test_an_impossible_destination_is_refused_in_one_line_naming_it(tmp_path, case, reason):
    (tmp_path / "a folder").mkdir()
    (tmp_path / "a file").write_bytes(b"x")
    dest = {
        "missing folder": tmp_path / "nowhere" / "out.png",
        "folder as output": tmp_path / "a folder",
        "file as folder": tmp_path / "a file" / "out.png",
    }[case]
    with pytest.raises(ImageWriteError, match=reason) as caught:
        write_atomically(dest, writes(PICTURE))
    assert str(caught.value).startswith(f"{dest}: ") and "\n" not in str(caught.value)
    assert names(tmp_path) == ["a file", "a folder"] and names(tmp_path / "a folder") == []


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="running with privileges that ignore folder permissions (root)",
)
def test_a_read_only_folder_is_reported_as_such(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ImageWriteError, match="permission denied"):
            write_atomically(folder / "out.png", writes(PICTURE))
    finally:
        folder.chmod(0o755)
    assert names(folder) == []
