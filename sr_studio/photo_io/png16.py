"""16-bit PNG: decoding colour images exactly, and encoding any 16-bit image.

Pillow holds 16-bit greyscale but not 16-bit RGB(A): it decodes such PNGs keeping only the high
byte of each sample. We let Pillow's own C decoder (inflate, unfiltering, interlacing) run twice on
the same file, once unpacking the high bytes and once the low bytes, and combine them; for 16-bit
grey+alpha, whose 4-byte pixels match 8-bit RGBA, one pass that copies the raw bytes suffices.

Encoding is ours: PNG chunks around a deflate stream of "Up"-filtered rows. The stream is deflated
in independent pieces on several threads (zlib releases the GIL) and concatenated, as pigz does,
because 16-bit output of a 100 MP photo is 600 MB of samples.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import numpy as np
from PIL import ImageFile

from sr_studio.photo_io.pillow_array import to_array

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Pillow's raw modes for 16-bit colour PNG -> the raw mode that unpacks the other byte.
_HIGH_TO_LOW = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}
_GREY_ALPHA_16 = "LA;16B"

_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type
_IDAT_PIECE = 4 << 20  # bytes of filtered rows deflated per task


def raw_mode(image: ImageFile.ImageFile) -> str | None:
    if image.format != "PNG" or len(image.tile) != 1:
        return None
    args = image.tile[0].args
    return args if isinstance(args, str) else None


def is_16bit_colour(image: ImageFile.ImageFile) -> bool:
    """True for a PNG that Pillow would decode with only 8 of its 16 bits per sample."""
    return raw_mode(image) in (*_HIGH_TO_LOW, _GREY_ALPHA_16)


def _decode(open_image: Callable[[], ImageFile.ImageFile], raw: str | None) -> np.ndarray:
    """Decode with Pillow, optionally unpacking the inflated rows with another raw mode."""
    image = open_image()
    try:
        if raw is not None:
            image.tile = [image.tile[0]._replace(args=raw)]
        image.load()
        return to_array(image)
    finally:
        image.close()


def decode_16bit_colour(open_image: Callable[[], ImageFile.ImageFile]) -> np.ndarray:
    """All 16 bits of a colour PNG: (H, W, 3) or (H, W, 4) uint16; grey+alpha becomes RGBA.

    `open_image` must return a freshly opened, not yet loaded, PNG image each time it is called.
    """
    probe = open_image()
    try:
        high_raw = raw_mode(probe)
    finally:
        probe.close()
    if high_raw == _GREY_ALPHA_16:
        packed = _decode(open_image, "RGBA")  # bytes: grey hi, grey lo, alpha hi, alpha lo
        samples = packed.view(">u2")  # (H, W, 2)
        out = np.empty(samples.shape[:2] + (4,), np.uint16)
        out[..., 0] = samples[..., 0]
        out[..., 1] = samples[..., 0]
        out[..., 2] = samples[..., 0]
        out[..., 3] = samples[..., 1]
        return out
    if high_raw not in _HIGH_TO_LOW:
        raise ValueError(f"not a 16-bit colour PNG ({high_raw})")
    high = _decode(open_image, None)
    out = high.astype(np.uint16)
    del high
    out <<= 8
    low = _decode(open_image, _HIGH_TO_LOW[high_raw])
    out |= low
    return out


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _filtered_pieces(pixels: np.ndarray) -> Iterator[bytes]:
    """Rows as PNG wants them (big-endian samples, filter byte 2 = Up), a few MB at a time."""
    height = pixels.shape[0]
    row_bytes = pixels.shape[1] * (pixels.shape[2] if pixels.ndim == 3 else 1) * 2
    rows_per_piece = max(1, _IDAT_PIECE // (row_bytes + 1))
    previous = np.zeros(row_bytes, np.uint8)
    for top in range(0, height, rows_per_piece):
        band = pixels[top : top + rows_per_piece]
        raw = (
            np.ascontiguousarray(band, dtype=">u2").view(np.uint8).reshape(band.shape[0], row_bytes)
        )
        rows = np.empty((raw.shape[0], row_bytes + 1), np.uint8)
        rows[:, 0] = 2
        np.subtract(raw[1:], raw[:-1], out=rows[1:, 1:])
        np.subtract(raw[0], previous, out=rows[0, 1:])
        previous = raw[-1].copy()
        yield rows.tobytes()


def _deflate_piece(data: bytes, level: int, last: bool) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = compressor.compress(data)
    return body + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def _zlib_stream(pieces: Iterator[bytes], level: int, workers: int) -> Iterator[bytes]:
    """One zlib stream made of independently deflated pieces (each ends byte-aligned)."""
    yield b"\x78\x01" if level <= 1 else b"\x78\x5e" if level <= 5 else b"\x78\x9c"
    checksum = 1
    pending: deque[Future[bytes]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        iterator = iter(pieces)
        current = next(iterator, None)
        while current is not None:
            following = next(iterator, None)
            checksum = zlib.adler32(current, checksum)
            pending.append(pool.submit(_deflate_piece, current, level, following is None))
            current = following
            while len(pending) > workers * 2 or (current is None and pending):
                yield pending.popleft().result()
    yield struct.pack(">I", checksum)


def encode(
    handle: BinaryIO,
    pixels: np.ndarray,
    *,
    compress_level: int,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    workers: int | None = None,
) -> None:
    """Write `pixels` ((H, W) or (H, W, 1..4) uint16) as a 16-bit PNG to `handle`."""
    if pixels.dtype != np.uint16:
        raise ValueError("16-bit PNG needs uint16 pixels")
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    height, width = pixels.shape[:2]
    if height == 0 or width == 0:  # an empty stream would not be a valid PNG anyway
        raise ValueError("cannot write an empty image")
    header = struct.pack(">IIBBBBB", width, height, 16, _COLOUR_TYPES[channels], 0, 0, 0)
    handle.write(PNG_SIGNATURE + _chunk(b"IHDR", header))
    if icc_profile:
        handle.write(_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile)))
    if dpi:
        per_metre = [max(1, round(value / 0.0254)) for value in dpi]
        handle.write(_chunk(b"pHYs", struct.pack(">IIB", per_metre[0], per_metre[1], 1)))
    if exif:
        handle.write(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    workers = workers or min(8, os.cpu_count() or 1)
    buffered: list[bytes] = []
    size = 0
    for part in _zlib_stream(_filtered_pieces(pixels), compress_level, workers):
        buffered.append(part)
        size += len(part)
        if size >= (1 << 20):
            handle.write(_chunk(b"IDAT", b"".join(buffered)))
            buffered, size = [], 0
    if buffered:
        handle.write(_chunk(b"IDAT", b"".join(buffered)))
    handle.write(_chunk(b"IEND", b""))
