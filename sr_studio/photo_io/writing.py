"""Photos out: pixels written with the source photo's metadata, atomically.

`write_photo` carries EXIF (orientation reset, new pixel size), ICC profile and DPI over from the
photo given as `metadata_from`; the output appears complete or not at all, and that photo's own file
is never overwritten.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from sr_studio.errors import ImageWriteError
from sr_studio.photo_formats import (
    FORMAT_FOR_SUFFIX,
    FORMAT_LABELS,
    OUTPUT_EXTENSIONS,
    OUTPUT_FORMATS,
    size_problem,
)
from sr_studio.photo_io import exif_block, png16, tiff_writer
from sr_studio.photo_io.atomic_file import check_destination, write_atomically
from sr_studio.photo_io.photo import Photo, Pixels
from sr_studio.photo_io.pillow_array import rgb_view, rgbx_view

__all__ = ["OUTPUT_FORMATS", "output_extension", "write_photo"]

log = logging.getLogger(__name__)

_EXTENSIONS = OUTPUT_EXTENSIONS
_FORMAT_ALIASES = {"jpeg": "jpg", "tif": "tiff"}
_FORMAT_NAMES = FORMAT_LABELS

JPEG_QUALITY = 95
WEBP_QUALITY = 95
# zlib level for PNG and TIFF. On a 20 MP photo mosaic Pillow's PNG took 2.4 s CPU at level 1
# against 3.5 s at 3 and 9.9 s at 6, for files only 5 % and 12 % larger; speed wins for 100 MP
# outputs. See benchmarks/photo_io_speed.py.
PNG_COMPRESS_LEVEL = 1
TIFF_COMPRESS_LEVEL = 1


def output_extension(format: str) -> str:
    """File suffix for an output format name ("jpg" -> ".jpg", "tiff" -> ".tif")."""
    return _EXTENSIONS[_normalise_format(format)]


def _normalise_format(format: str) -> str:
    name = format.lower().lstrip(".")
    name = _FORMAT_ALIASES.get(name, name)
    if name not in _EXTENSIONS:
        raise ValueError(
            f"unknown output format {format!r}; choose one of {', '.join(OUTPUT_FORMATS)}"
        )
    return name


def write_photo(
    path: str | os.PathLike[str],
    pixels: Pixels,
    metadata_from: Photo | None = None,
    format: str | None = None,
    quality: int | None = None,
    bit_depth: int | None = None,
    overwrite: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> Path:
    """Write `pixels` to `path` atomically, carrying `metadata_from`'s EXIF, ICC profile and DPI.

    pixels: (H, W), (H, W, 1|2|3|4); uint8, uint16, or float in 0..1 (quantised with rounding).
    format: "png", "jpg", "webp" or "tiff"; None takes it from the suffix.
    bit_depth: None keeps 16 bits where the data has them and PNG/TIFF can store them.
    Notices (alpha flattened for JPEG, metadata dropped) go to `on_warning` or the log.
    Raises ImageWriteError (naming the file) for anything that prevents a complete output; the
    input file of `metadata_from` is never overwritten, an existing file only with overwrite=True.
    """
    dest = Path(path)
    warn = on_warning or (lambda message: log.warning("%s: %s", dest, message))
    fmt = _output_format(dest, format)
    protected = metadata_from.path if metadata_from is not None else None
    check_destination(dest, overwrite=overwrite, protected=protected)

    pixels = _standard_layout(np.asarray(pixels))
    height, width = pixels.shape[:2]
    depth = _output_depth(pixels, metadata_from, fmt, bit_depth, dest)
    pixels = _quantise(pixels, depth)
    channels = pixels.shape[2] if pixels.ndim == 3 else 1

    too_large = size_problem(fmt, width, height)  # the limits the CLI and the window check first
    if too_large:
        raise ImageWriteError(f"{width}x{height} px is {too_large}", dest)
    if fmt == "jpg" and channels in (2, 4):
        warn("JPEG has no transparency: transparent areas were filled with white")
        pixels = _flatten_on_white(pixels)
        channels -= 1
    if (fmt == "webp" and channels in (1, 2)) or (fmt == "tiff" and depth == 16 and channels == 2):
        # WebP has no grey; 16-bit grey+alpha TIFF is a layout many readers (Pillow) refuse.
        pixels = _grey_to_rgb(pixels)
        channels += 2

    icc = metadata_from.icc_profile if metadata_from is not None else None
    if icc and not _profile_matches(icc, channels):
        warn("the colour profile does not match the output's colours and was left out")
        icc = None
    exif = _output_exif(metadata_from, width, height, warn)
    if fmt == "jpg" and exif and len(exif) > exif_block.JPEG_MAX_EXIF_BYTES:
        warn("EXIF is too large for JPEG and was left out")
        exif = None
    dpi = metadata_from.dpi if metadata_from is not None else None

    if quality is not None and not (1 <= int(quality) <= 100):
        raise ValueError(f"quality must be 1..100, got {quality}")

    def produce(handle: BinaryIO) -> None:
        if fmt == "png" and depth == 16:
            png16.encode(
                handle,
                pixels,
                compress_level=PNG_COMPRESS_LEVEL,
                icc_profile=icc,
                exif=exif,
                dpi=dpi,
            )
        elif fmt == "tiff":
            tiff_writer.encode(
                handle,
                pixels,
                compress_level=TIFF_COMPRESS_LEVEL,
                icc_profile=icc,
                exif=exif,
                dpi=dpi,
                warn=warn,
            )
        else:
            _save_with_pillow(handle, pixels, fmt, quality, icc, exif, dpi)

    return write_atomically(dest, produce, overwrite=overwrite, protected=protected)


def _output_format(dest: Path, format: str | None) -> str:
    if format is not None:
        try:
            return _normalise_format(format)
        except ValueError as exc:
            raise ImageWriteError(str(exc), dest) from None
    fmt = FORMAT_FOR_SUFFIX.get(dest.suffix.lower())
    if fmt is None:
        raise ImageWriteError(
            f"cannot tell the format from the suffix {dest.suffix or '(none)'!r}; "
            "use .png, .jpg, .webp or .tif",
            dest,
        )
    return fmt


def _standard_layout(pixels: Pixels) -> Pixels:
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (2, 3, 4)):
        raise ValueError(f"pixels must be (H, W) or (H, W, 1..4), got shape {pixels.shape}")
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise ValueError(f"cannot write an empty image of shape {pixels.shape}")
    if pixels.dtype not in (np.uint8, np.uint16) and pixels.dtype.kind != "f":
        raise ValueError(f"pixels must be uint8, uint16 or float, got {pixels.dtype}")
    return pixels


def _output_depth(
    pixels: Pixels, metadata_from: Photo | None, fmt: str, bit_depth: int | None, dest: Path
) -> int:
    if bit_depth is not None:
        if bit_depth not in (8, 16):
            raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
        if bit_depth == 16 and fmt not in ("png", "tiff"):
            raise ImageWriteError(
                f"{_FORMAT_NAMES[fmt]} stores 8 bits per channel; use PNG or TIFF for 16-bit", dest
            )
        return bit_depth
    if fmt not in ("png", "tiff"):
        return 8
    if pixels.dtype == np.uint16:
        return 16
    if pixels.dtype.kind == "f" and metadata_from is not None and metadata_from.bit_depth == 16:
        return 16
    return 8


_BAND_ROWS = 256


def _quantise(pixels: Pixels, depth: int) -> Pixels:
    """Convert to uint8/uint16 in bands of rows, so no full-size float temporary is made."""
    target = np.uint8 if depth == 8 else np.uint16
    if pixels.dtype == target:
        return pixels
    out = np.empty(pixels.shape, target)
    top_value = 255 if depth == 8 else 65535
    for top in range(0, pixels.shape[0], _BAND_ROWS):
        band = pixels[top : top + _BAND_ROWS]
        if band.dtype == np.uint8:  # 8 -> 16 bits: 255 maps to 65535
            out[top : top + _BAND_ROWS] = band.astype(np.uint16) * 257
        elif band.dtype == np.uint16:  # 16 -> 8 bits, rounded
            out[top : top + _BAND_ROWS] = (band.astype(np.uint32) * 255 + 32767) // 65535
        else:
            scaled = np.nan_to_num(band.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
            np.clip(scaled, 0.0, 1.0, out=scaled)
            scaled *= top_value
            scaled += 0.5
            out[top : top + _BAND_ROWS] = scaled.astype(target)
    return out


def _flatten_on_white(pixels: Pixels) -> Pixels:
    out: Pixels = np.empty(pixels.shape[:2] + (pixels.shape[2] - 1,), np.uint8)
    for top in range(0, pixels.shape[0], _BAND_ROWS):
        band = pixels[top : top + _BAND_ROWS].astype(np.float32)
        alpha = band[..., -1:] / 255.0
        mixed = band[..., :-1] * alpha + 255.0 * (1.0 - alpha)
        out[top : top + _BAND_ROWS] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out[..., 0] if out.shape[2] == 1 else out


def _grey_to_rgb(pixels: Pixels) -> Pixels:
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=2)
    return np.concatenate([np.repeat(pixels[..., :1], 3, axis=2), pixels[..., 1:]], axis=2)


def _profile_matches(icc: bytes, channels: int) -> bool:
    """An RGB profile on grey pixels (or the reverse) would be misread by every viewer."""
    space = icc[16:20] if len(icc) >= 20 else b""
    if space == b"GRAY":
        return channels in (1, 2)
    if space == b"RGB ":
        return channels in (3, 4)
    return False


def _output_exif(
    metadata_from: Photo | None, width: int, height: int, warn: Callable[[str], None]
) -> bytes | None:
    if metadata_from is None or not metadata_from.exif:
        return None
    try:
        return exif_block.patch_for_output(metadata_from.exif, width, height)
    except exif_block.ExifFormatError:
        warn("the photo's EXIF could not be updated and was left out")
        return None


def _save_with_pillow(
    handle: BinaryIO,
    pixels: Pixels,
    fmt: str,
    quality: int | None,
    icc: bytes | None,
    exif: bytes | None,
    dpi: tuple[float, float] | None,
) -> None:
    # An RGB result kept inside a 4-byte-per-pixel buffer is encoded in place; a plain RGB array is
    # copied whole into Pillow's 4-byte layout first (768 MB for 16000x12000).
    image = (rgb_view(pixels) if fmt == "png" else rgbx_view(pixels)) or Image.fromarray(pixels)
    options: dict[str, Any] = {}
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    if fmt == "jpg":
        options.update(quality=quality or JPEG_QUALITY, subsampling=0)  # 4:4:4: no chroma blur
        if dpi:
            options["dpi"] = dpi
        image.save(handle, format="JPEG", **options)
    elif fmt == "webp":
        image.save(handle, format="WEBP", quality=quality or WEBP_QUALITY, method=4, **options)
    elif fmt == "png":
        if dpi:
            options["dpi"] = dpi
        image.save(handle, format="PNG", compress_level=PNG_COMPRESS_LEVEL, **options)
    else:  # pragma: no cover - TIFF is written by tiff_writer
        raise ValueError(fmt)
