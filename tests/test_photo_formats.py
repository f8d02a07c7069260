"""One list of what SR Studio reads and writes, shared by the CLI, the window and the folder
scan."""

from __future__ import annotations

from pathlib import Path

from sr_studio import photo_formats
from sr_studio.photo_formats import (
    INPUT_SUFFIXES,
    is_own_result,
    open_dialog_filter,
    photos_in_folder,
)
from tests.conftest import heavy_imports


def test_phone_and_web_formats_are_photos_everywhere():
    for suffix in (".heic", ".heif", ".avif", ".gif", ".jpg", ".png", ".tif", ".webp", ".bmp"):
        assert suffix in INPUT_SUFFIXES
        assert f"*{suffix}" in open_dialog_filter() and f"*{suffix.upper()}" in open_dialog_filter()


def test_the_cli_the_window_and_the_files_use_the_one_list():
    from sr_studio import photo_io
    from sr_studio.cli import upscale_command

    assert upscale_command.INPUT_SUFFIXES is INPUT_SUFFIXES
    assert (
        set(upscale_command.FORMATS)
        == set(photo_io.OUTPUT_FORMATS)
        == set(photo_formats.OUTPUT_FORMATS)
    )
    assert set(photo_io.INPUT_SUFFIXES) <= set(INPUT_SUFFIXES)
    parser = __import__("sr_studio.cli", fromlist=["build_parser"]).build_parser()
    args = parser.parse_args(["upscale", "x.jpg", "--device", "mps", "--precision", "fp16"])
    assert (args.device, args.precision) == ("mps", "fp16")


def test_the_module_imports_neither_torch_nor_qt():
    assert (
        heavy_imports("import sr_studio.photo_formats", {"torch", "PySide6", "PIL", "numpy"}) == []
    )


def test_own_results_are_told_apart_from_photos(tmp_path: Path):
    for name in (
        "IMG_0001.HEIC",
        "IMG_0001_x4.jpg",
        "IMG_0001_x4_bundled-span-x4.png",
        "IMG_0001_x4_bundled-span-x4 (2).png",
        "IMG_0001_x2-2.jpg",
        "IMG_0001_x1.5.png",
        "lonely_x2.png",
        "trip_x2 mountains.jpg",
        "trip.jpg",
        "notes.txt",
        "beach_x4.txt",
    ):
        (tmp_path / name).write_bytes(b"")
    own = {name for name in (p.name for p in tmp_path.iterdir()) if is_own_result(tmp_path / name)}
    assert own == {
        "IMG_0001_x4.jpg",
        "IMG_0001_x4_bundled-span-x4.png",
        "IMG_0001_x4_bundled-span-x4 (2).png",
        "IMG_0001_x2-2.jpg",
        "IMG_0001_x1.5.png",
    }
    # A photo whose own name looks like a result is a photo when nothing it could come from is
    # beside it.
    assert [p.name for p in photos_in_folder(tmp_path)] == [
        "IMG_0001.HEIC",
        "lonely_x2.png",
        "trip.jpg",
        "trip_x2 mountains.jpg",
    ]
    assert len(photos_in_folder(tmp_path, own_results=True)) == 9
