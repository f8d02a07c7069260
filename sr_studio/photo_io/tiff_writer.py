"""TIFF output at 8 or 16 bits with the photo's EXIF, GPS, ICC profile and resolution.

tifffile writes the pixels (deflate + horizontal predictor, strips compressed on several threads)
at any bit depth, which Pillow cannot do for 16-bit RGB. It cannot write the EXIF and GPS
sub-directories (it drops tags 34665 and 34853), so it writes pointers under private placeholder
tag numbers; we then append those directories, serialised by Pillow with their original tag
types, point the placeholders at them and renumber the placeholders (re-sorting IFD0's entries).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
import tifffile
from PIL import TiffImagePlugin

from sr_studio.photo_io import exif_block

# IFD0 tags of a camera's EXIF that describe the photo (not its storage) and belong in a TIFF's IFD0.
_DESCRIPTIVE_TAGS = (270, 271, 272, 305, 306, 315, 33432)
_INTEROP_IFD = 0xA005
_LONG = 4
_LITTLE_ENDIAN_HEADER = b"II*\x00\x08\x00\x00\x00"
# Private tag numbers standing in for the sub-directory pointers until they are patched.
_PLACEHOLDERS = {exif_block.TAG_EXIF_IFD: 65000, exif_block.TAG_GPS_IFD: 65001}


def _load_ifd(tiff: bytes, offset: int, group: int | None) -> TiffImagePlugin.ImageFileDirectory_v2:
    directory = TiffImagePlugin.ImageFileDirectory_v2(tiff[:8], group=group)
    stream = io.BytesIO(tiff)
    stream.seek(offset)
    directory.load(stream)
    return directory


def _retarget(
    source: TiffImagePlugin.ImageFileDirectory_v2, group: int
) -> TiffImagePlugin.ImageFileDirectory_v2:
    """The same tags, same types, in a little-endian directory ready to serialise."""
    target = TiffImagePlugin.ImageFileDirectory_v2(_LITTLE_ENDIAN_HEADER, group=group)
    for tag in source:
        target.tagtype[tag] = source.tagtype[tag]
        target[tag] = source[tag]
    return target


class _ExifParts:
    """What of an EXIF block goes where in a TIFF: IFD0 text tags and the two sub-directories."""

    def __init__(self, blob: bytes):
        tiff = blob[6:] if blob.startswith(exif_block.EXIF_PREFIX) else blob
        ifd0 = _load_ifd(
            tiff, struct.unpack_from("<I" if tiff[:2] == b"II" else ">I", tiff, 4)[0], None
        )
        self.text_tags: list[tuple[int, bytes]] = []
        for tag in _DESCRIPTIVE_TAGS:
            value = ifd0.get(tag)
            if isinstance(value, str) and value.strip("\x00 "):
                self.text_tags.append((tag, value.encode("utf-8", "replace")))
        self.sub_directories: dict[int, TiffImagePlugin.ImageFileDirectory_v2] = {}
        for pointer in (exif_block.TAG_EXIF_IFD, exif_block.TAG_GPS_IFD):
            offset = ifd0.get(pointer)
            if isinstance(offset, int) and offset > 0:
                source = _load_ifd(tiff, offset, pointer)
                target = _retarget(source, pointer)
                interop = source.get(_INTEROP_IFD)
                if pointer == exif_block.TAG_EXIF_IFD and _INTEROP_IFD in source:
                    del target[_INTEROP_IFD]
                    try:
                        if isinstance(interop, int) and interop > 0:
                            interop_tags = dict(_load_ifd(tiff, interop, _INTEROP_IFD))
                            target.tagtype[_INTEROP_IFD] = _LONG
                            target[_INTEROP_IFD] = interop_tags
                    except Exception:
                        pass  # a damaged interoperability note is not worth losing the rest
                self.sub_directories[pointer] = target


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
    extratags: list[tuple] = [(274, "H", 1, 1, True)]  # Orientation: pixels are stored upright
    if parts is not None:
        for tag, text in parts.text_tags:
            extratags.append((tag, "s", 0, text, True))
        for pointer in parts.sub_directories:
            extratags.append((_PLACEHOLDERS[pointer], "I", 1, 0, True))  # patched below
    options: dict = {}
    if channels in (2, 4):
        options["extrasamples"] = ("unassalpha",)
    if dpi:
        options["resolution"] = (float(dpi[0]), float(dpi[1]))
        options["resolutionunit"] = "INCH"
    start = handle.tell()
    tifffile.imwrite(
        handle,
        pixels,
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
    if parts is not None and parts.sub_directories:
        _append_sub_directories(handle, start, parts.sub_directories)


def _append_sub_directories(
    handle: BinaryIO, start: int, directories: dict[int, TiffImagePlugin.ImageFileDirectory_v2]
) -> None:
    handle.seek(start)
    header = handle.read(8)
    if header[:4] != b"II*\x00":
        raise ValueError("unexpected TIFF header written")
    ifd0 = start + struct.unpack_from("<I", header, 4)[0]
    handle.seek(ifd0)
    (count,) = struct.unpack("<H", handle.read(2))
    entries = [bytearray(handle.read(12)) for _ in range(count)]
    by_placeholder = {_PLACEHOLDERS[tag]: tag for tag in directories}
    for entry in entries:
        placeholder = struct.unpack_from("<H", entry, 0)[0]
        tag = by_placeholder.pop(placeholder, None)
        if tag is None:
            continue
        end = handle.seek(0, io.SEEK_END)
        if end % 2:
            handle.write(b"\x00")
            end += 1
        handle.write(directories[tag].tobytes(end - start))
        struct.pack_into("<HHI", entry, 0, tag, _LONG, 1)
        struct.pack_into("<I", entry, 8, end - start)
    if by_placeholder:
        raise ValueError("TIFF writer dropped the EXIF placeholders")
    entries.sort(key=lambda entry: struct.unpack_from("<H", entry, 0)[0])
    handle.seek(ifd0 + 2)
    handle.write(b"".join(entries))
    handle.seek(0, io.SEEK_END)
