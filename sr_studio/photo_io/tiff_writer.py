"""TIFF output at 8 or 16 bits with the photo's EXIF, GPS, ICC profile and resolution.

tifffile writes the pixels (deflate + horizontal predictor, strips compressed on several threads)
at any bit depth, which Pillow cannot do for 16-bit RGB. It cannot write the EXIF and GPS
sub-directories (it drops tags 34665 and 34853), and re-serialising them would move the camera's
maker note, whose own directory often addresses its values (lens, focus, picture style) from the
start of the EXIF block (Canon, Sony, Panasonic...): moved, every reader finds garbage there. So the
file begins with the photo's EXIF block exactly as it came (already patched for output by
exif_block), in its byte order: every offset inside it, the maker note's included, stays true.
tifffile then writes the image after it, with private placeholder tags for the two pointers; finally
that image's directory is moved onto the block (each offset it holds shifted by the block's length),
the placeholders become the EXIF and GPS pointers into the block, and the header points at the
image's directory. The camera's own first directory and thumbnail stay inside the block,
unreferenced.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from typing import Any, BinaryIO, Literal

import numpy as np
import tifffile
from PIL import TiffImagePlugin

from sr_studio.photo_io import exif_block

# IFD0 tags of a camera's EXIF that describe the photo (not its storage): they go in a TIFF's IFD0.
_DESCRIPTIVE_TAGS = (270, 271, 272, 305, 306, 315, 33432)
_LONG = 4
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_STRIP_OFFSETS = 273
# Tags holding offsets that tifffile does not write for one uncompressed-layout page; met, they
# would be left pointing at the wrong place, so the writer refuses instead.
_UNHANDLED_OFFSET_TAGS = (324, 330, 513)
# Private tag numbers standing in for the sub-directory pointers until they are patched.
_PLACEHOLDERS = {exif_block.TAG_EXIF_IFD: 65000, exif_block.TAG_GPS_IFD: 65001}
_BLOCK_ALIGNMENT = 16


class _ExifParts:
    """An EXIF block to start the file with: its text tags for IFD0, its sub-directory offsets."""

    def __init__(self, blob: bytes):
        self.block = blob[6:] if blob.startswith(exif_block.EXIF_PREFIX) else blob
        self.byte_order: Literal["<", ">"] = "<" if self.block[:2] == b"II" else ">"
        directory = TiffImagePlugin.ImageFileDirectory_v2(self.block[:8])
        stream = io.BytesIO(self.block)
        stream.seek(struct.unpack_from(self.byte_order + "I", self.block, 4)[0])
        directory.load(stream)
        self.text_tags: list[tuple[int, bytes]] = []
        for tag in _DESCRIPTIVE_TAGS:
            value = directory.get(tag)
            if isinstance(value, str) and value.strip("\x00 "):
                self.text_tags.append((tag, value.encode("utf-8", "replace")))
        self.pointers: dict[int, int] = {}  # sub-directory tag -> its offset in the block
        for pointer in (exif_block.TAG_EXIF_IFD, exif_block.TAG_GPS_IFD):
            offset = directory.get(pointer)
            if isinstance(offset, int) and 8 <= offset <= len(self.block) - 2:
                self.pointers[pointer] = offset


def encode(
    handle: BinaryIO,
    pixels: np.ndarray,
    *,
    compress_level: int,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    workers: int | None = None,
    warn: Callable[[str], None] = lambda message: None,
) -> None:
    """Write `pixels` ((H, W) or (H, W, 3|4), uint8 or uint16) as TIFF to `handle` (read+write).

    `exif` must already be patched for output (see exif_block.patch_for_output).
    """
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    parts = None
    if exif:
        try:
            parts = _ExifParts(exif)
        except Exception:
            warn("the photo's EXIF could not be stored in TIFF form and was left out")
    extratags: list[tuple[Any, ...]] = [
        (274, "H", 1, 1, True)
    ]  # Orientation: pixels are stored upright
    if parts is not None:
        for tag, text in parts.text_tags:
            extratags.append((tag, "s", 0, text, True))
        for pointer in parts.pointers:
            extratags.append((_PLACEHOLDERS[pointer], "I", 1, 0, True))  # patched below
    options: dict[str, Any] = {}
    if channels in (2, 4):
        options["extrasamples"] = ("unassalpha",)
    if dpi:
        options["resolution"] = (float(dpi[0]), float(dpi[1]))
        options["resolutionunit"] = "INCH"
    start = handle.tell()
    block = parts if parts is not None and parts.pointers else None
    if block is not None:
        handle.write(block.block)
        handle.write(bytes(-len(block.block) % _BLOCK_ALIGNMENT))
    tifffile.imwrite(
        handle,
        pixels,
        byteorder=block.byte_order if block is not None else "<",
        photometric="rgb" if channels >= 3 else "minisblack",
        planarconfig="contig" if channels > 1 else None,
        compression="zlib",
        compressionargs={"level": compress_level},
        predictor=True,
        iccprofile=icc_profile or None,
        software=False,
        metadata=None,
        extratags=extratags,
        bigtiff=False,
        maxworkers=workers,
        **options,
    )
    if block is not None:
        _link_to_block(handle, start, block)


def _link_to_block(handle: BinaryIO, start: int, parts: _ExifParts) -> None:
    """Make the image tifffile wrote after the EXIF block the file's first directory (see top)."""
    order = parts.byte_order
    shift = len(parts.block) + -len(parts.block) % _BLOCK_ALIGNMENT
    image = start + shift  # where tifffile's own TIFF begins; its offsets count from here
    handle.seek(image)
    header = handle.read(8)
    if header[:2] != parts.block[:2]:
        raise ValueError("unexpected TIFF header written")
    directory = image + struct.unpack_from(order + "I", header, 4)[0]
    handle.seek(directory)
    (count,) = struct.unpack(order + "H", handle.read(2))
    entries = [bytearray(handle.read(12)) for _ in range(count)]
    (next_directory,) = struct.unpack(order + "I", handle.read(4))
    if next_directory:
        raise ValueError("TIFF writer wrote more than one directory")

    def moved(offset: int) -> int:
        if offset + shift > 0xFFFFFFFF:
            raise ValueError("the TIFF is too large for its EXIF block (over 4 GB)")
        return offset + shift

    by_placeholder = {_PLACEHOLDERS[tag]: tag for tag in parts.pointers}
    for entry in entries:
        tag, kind, number = struct.unpack_from(order + "HHI", entry, 0)
        if tag in _UNHANDLED_OFFSET_TAGS:
            raise ValueError(f"TIFF writer wrote tag {tag}, whose offsets cannot be moved")
        if tag in by_placeholder:
            pointer = by_placeholder.pop(tag)
            struct.pack_into(order + "HHII", entry, 0, pointer, _LONG, 1, parts.pointers[pointer])
            continue
        size = _TYPE_SIZES.get(kind, 1) * number
        if tag == _STRIP_OFFSETS:
            if kind != _LONG:
                raise ValueError("TIFF writer wrote 16-bit strip offsets")
            if size <= 4:
                struct.pack_into(
                    order + "I", entry, 8, moved(struct.unpack_from(order + "I", entry, 8)[0])
                )
                continue
            array = image + struct.unpack_from(order + "I", entry, 8)[0]
            handle.seek(array)
            offsets = struct.unpack(order + f"{number}I", handle.read(size))
            handle.seek(array)
            handle.write(struct.pack(order + f"{number}I", *map(moved, offsets)))
        if size > 4:  # the value lives elsewhere: its offset moves with the image
            struct.pack_into(
                order + "I", entry, 8, moved(struct.unpack_from(order + "I", entry, 8)[0])
            )
    if by_placeholder:
        raise ValueError("TIFF writer dropped the EXIF placeholders")
    entries.sort(key=lambda entry: struct.unpack_from(order + "H", entry, 0)[0])
    handle.seek(directory + 2)
    handle.write(b"".join(entries))
    handle.seek(start + 4)
    handle.write(struct.pack(order + "I", directory - start))
    handle.seek(0, io.SEEK_END)
