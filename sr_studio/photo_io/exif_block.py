"""EXIF blocks patched in place, so everything we do not mean to change stays byte-identical.

Re-serialising EXIF (as Pillow's `Exif.tobytes` does) re-types tags and breaks maker notes that
hold absolute offsets. Instead we edit the few values that must change in the original bytes:
Orientation becomes 1 (pixels are stored upright), PixelXDimension/PixelYDimension become the new
size, and the thumbnail directory (IFD1) is unlinked because it shows the old, unrotated picture.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

EXIF_PREFIX = b"Exif\x00\x00"
# The most a JPEG APP1 segment holds (65535 less its length field); PNG, TIFF, WebP take more.
JPEG_MAX_EXIF_BYTES = 65_533

TAG_ORIENTATION = 0x0112
TAG_X_RESOLUTION = 0x011A
TAG_Y_RESOLUTION = 0x011B
TAG_RESOLUTION_UNIT = 0x0128
TAG_EXIF_IFD = 0x8769
TAG_GPS_IFD = 0x8825
TAG_PIXEL_X_DIMENSION = 0xA002
TAG_PIXEL_Y_DIMENSION = 0xA003
TAG_INTEROP_IFD = 0xA005

_SHORT, _LONG, _RATIONAL = 3, 4, 5
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_IFD_TYPE = 13
_MAX_ENTRIES = 1000  # real directories hold tens of entries; more means garbage


class ExifFormatError(ValueError):
    """The EXIF block is not a well-formed TIFF structure."""


def normalise(blob: bytes | None) -> bytes | None:
    """EXIF as Pillow's JPEG writer wants it: b"Exif\\0\\0" followed by the TIFF structure."""
    if not blob:
        return None
    if blob.startswith(EXIF_PREFIX):
        return bytes(blob)
    if blob[:4] in (b"II*\x00", b"MM\x00*"):
        return EXIF_PREFIX + bytes(blob)
    return None


@dataclass
class _Entry:
    position: int  # byte offset of the 12-byte entry within the TIFF structure
    tag: int
    type: int
    count: int


class _Tiff:
    def __init__(self, data: bytearray):
        if len(data) < 8:
            raise ExifFormatError("EXIF block too short")
        order = bytes(data[:2])
        if order == b"II":
            self.endian = "<"
        elif order == b"MM":
            self.endian = ">"
        else:
            raise ExifFormatError("EXIF block has no byte-order mark")
        self.data = data
        if self.u16(2) != 42:
            raise ExifFormatError("EXIF block is not a TIFF structure")

    def u16(self, pos: int) -> int:
        self._need(pos, 2)
        return int(struct.unpack_from(self.endian + "H", self.data, pos)[0])

    def u32(self, pos: int) -> int:
        self._need(pos, 4)
        return int(struct.unpack_from(self.endian + "I", self.data, pos)[0])

    def put(self, fmt: str, pos: int, *values: int) -> None:
        self._need(pos, struct.calcsize(fmt))
        struct.pack_into(self.endian + fmt, self.data, pos, *values)

    def _need(self, pos: int, size: int) -> None:
        if pos < 0 or pos + size > len(self.data):
            raise ExifFormatError("EXIF block points outside itself")

    def entries(self, ifd_offset: int) -> tuple[list[_Entry], int]:
        """Entries of the directory at `ifd_offset` and the position of its next-IFD link."""
        count = self.u16(ifd_offset)
        if count > _MAX_ENTRIES:
            raise ExifFormatError("EXIF directory is implausibly large")
        found = []
        for index in range(count):
            pos = ifd_offset + 2 + 12 * index
            found.append(_Entry(pos, self.u16(pos), self.u16(pos + 2), self.u32(pos + 4)))
        next_link = ifd_offset + 2 + 12 * count
        self._need(next_link, 4)
        return found, next_link

    def pointer(self, entries: list[_Entry], tag: int) -> int | None:
        for entry in entries:
            if entry.tag == tag and entry.type in (_LONG, _IFD_TYPE) and entry.count == 1:
                return self.u32(entry.position + 8)
        return None


def _split(blob: bytes) -> tuple[bytes, bytearray]:
    if blob.startswith(EXIF_PREFIX):
        return EXIF_PREFIX, bytearray(blob[len(EXIF_PREFIX) :])
    return b"", bytearray(blob)


def read_orientation(blob: bytes | None) -> int:
    """Orientation tag (1..8); 1 when absent or unreadable."""
    if not blob:
        return 1
    try:
        _, data = _split(blob)
        tiff = _Tiff(data)
        entries, _ = tiff.entries(tiff.u32(4))
        for entry in entries:
            if entry.tag == TAG_ORIENTATION and entry.type == _SHORT and entry.count >= 1:
                value = tiff.u16(entry.position + 8)
                return value if 1 <= value <= 8 else 1
    except ExifFormatError:
        return 1
    return 1


def read_resolution(blob: bytes | None) -> tuple[float, float] | None:
    """DPI from IFD0 XResolution/YResolution (for formats without a DPI field of their own)."""
    if not blob:
        return None
    try:
        _, data = _split(blob)
        tiff = _Tiff(data)
        entries, _ = tiff.entries(tiff.u32(4))
        values: dict[int, float] = {}
        unit = 2
        for entry in entries:
            if entry.tag in (TAG_X_RESOLUTION, TAG_Y_RESOLUTION) and entry.type == _RATIONAL:
                offset = tiff.u32(entry.position + 8)
                numerator, denominator = tiff.u32(offset), tiff.u32(offset + 4)
                if denominator:
                    values[entry.tag] = numerator / denominator
            elif entry.tag == TAG_RESOLUTION_UNIT and entry.type == _SHORT:
                unit = tiff.u16(entry.position + 8)
    except ExifFormatError:
        return None
    if TAG_X_RESOLUTION not in values or TAG_Y_RESOLUTION not in values:
        return None
    if unit == 3:  # centimetres
        scale = 2.54
    elif unit == 2:
        scale = 1.0
    else:
        return None
    x, y = values[TAG_X_RESOLUTION] * scale, values[TAG_Y_RESOLUTION] * scale
    if not (0 < x < 1e6 and 0 < y < 1e6):
        return None
    return (x, y)


def data_end(data: bytes, directories: Iterable[int]) -> int:
    """Where the directories at `directories` (offsets into the TIFF structure `data`) end, with
    every value they hold out of line and the Interoperability directory they point to: the bytes
    that must stay where they are for their offsets to stay true. ExifFormatError if any of it is
    outside `data`.
    """
    tiff = _Tiff(bytearray(data))
    end = 8
    pending, seen = list(directories), set()
    while pending:
        offset = pending.pop()
        if offset in seen:
            continue
        seen.add(offset)
        entries, next_link = tiff.entries(offset)
        end = max(end, next_link + 4)
        for entry in entries:
            size = _TYPE_SIZES.get(entry.type, 1) * entry.count
            if size > 4:
                start = tiff.u32(entry.position + 8)
                tiff._need(start, size)
                end = max(end, start + size)
        interop = tiff.pointer(entries, TAG_INTEROP_IFD)
        if interop:
            pending.append(interop)
    return end


def check(blob: bytes) -> None:
    """Raise ExifFormatError if `patch_for_output` would not be able to handle `blob`."""
    patch_for_output(blob, 1, 1)


def patch_for_output(blob: bytes, width: int, height: int) -> bytes:
    """A copy of `blob` describing an upright image of `width` x `height`, without thumbnail."""
    prefix, data = _split(blob)
    tiff = _Tiff(data)
    ifd0 = tiff.u32(4)
    entries, next_link = tiff.entries(ifd0)
    for entry in entries:
        if entry.tag == TAG_ORIENTATION and entry.type == _SHORT and entry.count == 1:
            tiff.put("H", entry.position + 8, 1)
    tiff.put("I", next_link, 0)  # drop IFD1 (the stale thumbnail)
    exif_ifd = tiff.pointer(entries, TAG_EXIF_IFD)
    if exif_ifd is not None:
        sub_entries, _ = tiff.entries(exif_ifd)
        for entry in sub_entries:
            if entry.count != 1 or entry.type not in (_SHORT, _LONG):
                continue
            if entry.tag == TAG_PIXEL_X_DIMENSION:
                _put_dimension(tiff, entry, width)
            elif entry.tag == TAG_PIXEL_Y_DIMENSION:
                _put_dimension(tiff, entry, height)
    return prefix + bytes(tiff.data)


def _put_dimension(tiff: _Tiff, entry: _Entry, value: int) -> None:
    # Both SHORT and LONG are allowed for these tags; a single LONG still fits in the entry.
    tiff.put("H", entry.position + 2, _LONG)
    tiff.put("I", entry.position + 8, value)
