"""Photos in: a file decoded into upright numpy pixels plus its EXIF, ICC profile and DPI.

`read_photo` applies the EXIF orientation, refuses decompression bombs before decoding, and turns
every failure into an ImageReadError naming the file.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageCms, ImageFile, TiffImagePlugin, TiffTags, UnidentifiedImageError

from sr_studio.errors import ImageReadError
from sr_studio.photo_formats import HEIF_SUFFIXES
from sr_studio.photo_formats import INPUT_SUFFIXES as ALL_INPUT_SUFFIXES
from sr_studio.photo_io import exif_block, png16
from sr_studio.photo_io.jpeg_quality import quality_from_tables
from sr_studio.photo_io.photo import Photo, Pixels
from sr_studio.photo_io.pillow_array import to_array

try:  # HEIC/HEIF (iPhone photos); decode-only build without GPL parts.
    import pi_heif  # untyped: pyproject's mypy section ignores its missing stubs

    pi_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the installation
    HEIF_SUPPORTED = False

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HEIF_SUPPORTED",
    "INPUT_SUFFIXES",
    "read_photo",
    "read_photo_size",
]

# 200 MP: a 100 MP medium-format file passes with room to spare; a few-kB "bomb" declaring
# 50000x50000 pixels (2.5 GP, 7.5 GB decoded) is refused before decoding.
DEFAULT_MAX_PIXELS = 200_000_000

# Pillow plugins we accept input from (no EPS/PSD/ICO...: less attack surface, no Ghostscript).
# Camera JPEGs with a preview picture open through "JPEG" as format "MPO".
Image.init()  # register every plugin now, so a format list can name them
_INPUT_FORMATS = [
    name
    for name in ["JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "AVIF", "HEIF"]
    if name in Image.OPEN
]
INPUT_SUFFIXES = tuple(s for s in ALL_INPUT_SUFFIXES if HEIF_SUPPORTED or s not in HEIF_SUFFIXES)

_PILLOW_GLOBALS = threading.Lock()
_T = TypeVar("_T")


def read_photo(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Decode `path` into an upright Photo; any problem is an ImageReadError naming the file."""
    path = Path(path)
    return _reporting_errors(path, lambda: _read(path, max_pixels))


def read_photo_size(
    path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[int, int]:
    """(width, height) of `path` upright, from its header alone (nothing is decoded): what a run
    can be planned with. Problems are the ImageReadErrors read_photo would raise."""
    path = Path(path)
    return _reporting_errors(path, lambda: _upright_size(path, max_pixels))


def _reporting_errors(path: Path, read: Callable[[], _T]) -> _T:
    try:
        return read()
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError("not enough memory to decode this image", path) from None
    except (OSError, SyntaxError, EOFError) as exc:
        if "truncated" in str(exc) or isinstance(exc, EOFError):
            raise ImageReadError("file is truncated (incomplete copy or download?)", path) from exc
        raise ImageReadError(f"damaged or unsupported image ({_one_line(exc)})", path) from exc
    except Exception as exc:  # a damaged file can make any decoder fail in its own way
        raise ImageReadError(f"damaged or unsupported image ({_one_line(exc)})", path) from exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@contextmanager
def _pillow_open_guard(notes: list[str]) -> Iterator[None]:
    """Lift Pillow's global pixel limit (we check our own) and collect its warnings, briefly.

    Both are process-wide settings, so they are changed under a lock and only while a header is
    parsed, never during the long decode.
    """
    with _PILLOW_GLOBALS:
        saved_limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved_limit
    for item in caught:
        text = _one_line(Exception(str(item.message)))
        if text not in notes:
            notes.append(text)


def _open(path: Path, formats: list[str], notes: list[str]) -> ImageFile.ImageFile:
    with _pillow_open_guard(notes):
        return Image.open(path, formats=formats)


def _looks_like_heif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in (
        b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
    )  # fmt: skip


def _upright_size(path: Path, max_pixels: int) -> tuple[int, int]:
    image, header, _ = _open_checked(path, max_pixels)
    with image:
        width, height = image.size
    # Orientations 5 to 8 turn the picture a quarter (as _apply_orientation does); Pillow gives a
    # TIFF's size upright already.
    turned = header.orientation in (5, 6, 7, 8) and header.format != "TIFF"
    return (height, width) if turned else (width, height)


def _read(path: Path, max_pixels: int) -> Photo:
    image, header, notes = _open_checked(path, max_pixels)
    with image:
        jpeg_quality = (
            quality_from_tables(getattr(image, "quantization", None))
            if header.format == "JPEG"
            else None
        )
        pixels, bit_depth, icc, upright = _decode(image, path, header.icc, notes)
    pixels = _apply_orientation(pixels, 1 if upright else header.orientation)
    return Photo(
        pixels=pixels,
        path=path,
        format=header.format,
        exif=header.exif,
        icc_profile=icc,
        dpi=header.dpi,
        bit_depth=bit_depth,
        jpeg_quality=jpeg_quality,
        warnings=notes,
    )


def _open_checked(path: Path, max_pixels: int) -> tuple[ImageFile.ImageFile, _Header, list[str]]:
    """The file opened (not decoded) and its header checked: size within the limit, metadata."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ImageReadError("file not found", path) from None
    except OSError as exc:
        raise ImageReadError(f"cannot be opened ({_one_line(exc)})", path) from None
    if path.is_dir():
        raise ImageReadError("is a folder, not an image", path)
    if stat.st_size == 0:
        raise ImageReadError("file is empty", path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise ImageReadError(f"cannot be read ({_one_line(exc)})", path) from None

    notes: list[str] = []
    with _pillow_open_guard(notes):
        try:
            image = Image.open(path, formats=_INPUT_FORMATS)
        except UnidentifiedImageError:
            if _looks_like_heif(head) and not HEIF_SUPPORTED:
                raise ImageReadError("HEIC/HEIF photos need the pi-heif package", path) from None
            raise ImageReadError(
                "not a supported image (JPEG, PNG, WebP, TIFF, BMP, GIF, AVIF"
                + (", HEIC" if HEIF_SUPPORTED else "")
                + ") or damaged",
                path,
            ) from None
        try:
            header = _inspect(image, path, max_pixels, notes)
        except BaseException:
            image.close()
            raise
    return image, header, notes


@dataclass
class _Header:
    format: str
    exif: bytes | None
    icc: bytes | None
    dpi: tuple[float, float] | None
    orientation: int


def _inspect(image: Image.Image, path: Path, max_pixels: int, notes: list[str]) -> _Header:
    """Everything known before decoding: size (checked against the limit), frames, metadata."""
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageReadError(f"declares an empty size {width}x{height}", path)
    if width * height > max_pixels:
        raise ImageReadError(
            f"{width}x{height} pixels ({width * height / 1e6:.0f} MP) exceeds the limit of "
            f"{max_pixels / 1e6:.0f} MP (damaged file or decompression bomb?)",
            path,
        )
    source_format = image.format or "unknown"
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and source_format != "MPO":  # MPO: a camera JPEG with a preview; not a sequence
        animated = source_format in ("GIF", "PNG", "WEBP", "AVIF")
        kind = ("animated " if animated else "multi-page ") + source_format
        notes.append(f"{kind}: only the first of {frames} frames is used")
        image.seek(0)
    exif = _exif_of(image, notes)
    icc = image.info.get("icc_profile") or None
    if not isinstance(icc, bytes):
        icc = None
    if source_format == "TIFF":
        orientation = _tiff_orientation(image)
    else:
        orientation = exif_block.read_orientation(exif)
    return _Header(source_format, exif, icc, _dpi_of(image, exif), orientation)


def _exif_of(image: Image.Image, notes: list[str]) -> bytes | None:
    try:
        if image.format == "TIFF":
            return _tiff_exif(image)
        blob = exif_block.normalise(image.info.get("exif"))
        if blob is not None:
            exif_block.check(blob)
        return blob
    except Exception:  # metadata damage must not cost the user the picture
        notes.append("EXIF metadata is damaged and will not be copied")
        return None


# IFD0 tags of a TIFF that describe the photo (not its storage), carried into the EXIF block.
_TIFF_DESCRIPTIVE_TAGS = (270, 271, 272, 274, 305, 306, 315, 33432)


def _tiff_exif(image: Image.Image) -> bytes | None:
    """A TIFF keeps camera tags in its own IFD0; gather the descriptive ones as an EXIF block."""
    source = image.getexif()
    for group in TiffTags.TAGS_V2_GROUPS:  # parse now, while Pillow's warnings are collected
        if group in source:
            source.get_ifd(group)
    try:
        as_stored = _tiff_exif_as_stored(image, source)
    except Exception:  # an oddity there still leaves the re-serialised tags below
        as_stored = None
    if as_stored is not None:
        return as_stored
    # Re-serialised: every value is kept, but a maker note that addresses its values from the
    # start of the file (Canon, Sony, ...) then points at the wrong bytes.
    exif = Image.Exif()
    for tag in _TIFF_DESCRIPTIVE_TAGS:
        if tag in source:
            exif[tag] = source[tag]
    for pointer in (exif_block.TAG_EXIF_IFD, exif_block.TAG_GPS_IFD):
        sub = {tag: value for tag, value in source.get_ifd(pointer).items() if tag != 0xA005}
        if sub:  # (the Interoperability pointer is dropped: its offset would not survive)
            exif.get_ifd(pointer).update(sub)
    if not len(exif) and not exif.get_ifd(exif_block.TAG_EXIF_IFD):
        return None
    blob = exif.tobytes()
    exif_block.check(blob)
    return blob


def _tiff_exif_as_stored(image: Image.Image, source: Image.Exif) -> bytes | None:
    """The TIFF's EXIF with every offset intact (maker notes!), when in the file's first 64 kB.

    A TIFF's EXIF directories address their values, and many maker notes theirs, from the start of
    the file; so the file's beginning up to the end of that data is an EXIF block as it stands, once
    given a first directory of its own (the descriptive tags and the two pointers), appended after
    it. SR Studio writes its TIFFs that way (see tiff_writer); EXIF stored after the pixels gives
    None.
    """
    pointers = {
        tag: source[tag]
        for tag in (exif_block.TAG_EXIF_IFD, exif_block.TAG_GPS_IFD)
        if isinstance(source.get(tag), int) and source[tag] > 0
    }
    filename = getattr(image, "filename", None)
    if exif_block.TAG_EXIF_IFD not in pointers or not filename:
        return None
    with open(filename, "rb") as handle:
        head = handle.read(exif_block.JPEG_MAX_EXIF_BYTES - len(exif_block.EXIF_PREFIX))
    if head[:4] not in (b"II*\x00", b"MM\x00*"):
        return None  # BigTIFF: its offsets do not fit an EXIF block
    try:
        end = exif_block.data_end(head, pointers.values())
    except exif_block.ExifFormatError:
        return None
    directory = TiffImagePlugin.ImageFileDirectory_v2(ifh=head[:8])
    for tag in _TIFF_DESCRIPTIVE_TAGS:
        if tag in source:
            directory[tag] = source[tag]
    for tag, offset in pointers.items():
        directory.tagtype[tag] = TiffTags.LONG
        directory[tag] = offset
    start = end + end % 2
    block = bytearray(head[:end]) + bytes(start - end) + directory.tobytes(start)
    struct.pack_into("<I" if head[:2] == b"II" else ">I", block, 4, start)
    blob = exif_block.EXIF_PREFIX + bytes(block)
    if len(blob) > exif_block.JPEG_MAX_EXIF_BYTES:
        return None
    exif_block.check(blob)
    return blob


def _tiff_orientation(image: Image.Image) -> int:
    try:
        value = int(image.getexif().get(exif_block.TAG_ORIENTATION, 1))
    except Exception:
        return 1
    return value if 1 <= value <= 8 else 1


def _dpi_of(image: Image.Image, exif: bytes | None) -> tuple[float, float] | None:
    dpi = image.info.get("dpi")
    try:
        if dpi and len(dpi) == 2 and all(0 < float(v) < 1e6 for v in dpi):
            return (round(float(dpi[0]), 2), round(float(dpi[1]), 2))
    except (TypeError, ValueError):
        pass
    from_exif = exif_block.read_resolution(exif)
    if from_exif:
        return (round(from_exif[0], 2), round(from_exif[1], 2))
    return None


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _decode(
    image: ImageFile.ImageFile, path: Path, icc: bytes | None, notes: list[str]
) -> tuple[Pixels, int, bytes | None, bool]:
    """Pixels as uint8/uint16 (grey, RGB or RGBA), bit depth, ICC profile to keep, and whether
    the decoder already applied the orientation (Pillow does so for TIFF)."""
    if image.format == "PNG" and png16.is_16bit_colour(image):
        return png16.decode_16bit_colour(lambda: _open(path, ["PNG"], notes)), 16, icc, False
    if _read_with_tifffile(image):
        pixels, depth, upright = _decode_tiff_16bit(path, notes)
        return pixels, depth, icc, upright
    pixels, depth, icc = _decode_with_pillow(image, path, icc, notes)
    return pixels, depth, icc, image.format == "TIFF"


def _decode_with_pillow(
    image: Image.Image, path: Path, icc: bytes | None, notes: list[str]
) -> tuple[Pixels, int, bytes | None]:
    """Every mode Pillow can produce, brought to grey, RGB or RGBA (or refused with a reason)."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched truncation tolerance on process-wide; we would silently accept damage.
        raise ImageReadError("refusing to decode: Pillow is set to accept truncated files", path)
    image.load()
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return _array(image).astype(np.uint16, copy=False), 16, icc
    if mode == "I":
        values = _array(image)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageReadError("32-bit integer images are not supported (save as 16-bit)", path)
        return values.astype(np.uint16), 16, icc
    if mode == "F":
        raise ImageReadError(
            "32-bit floating-point images are not supported (export as 16-bit TIFF or PNG)", path
        )
    if mode == "CMYK":
        return _cmyk_to_rgb(image, icc, notes)
    if mode in ("LAB", "HSV"):
        raise ImageReadError(f"{mode} colour images are not supported (convert to RGB)", path)
    if mode in ("L", "RGB", "RGBA") and not (mode != "RGBA" and image.has_transparency_data):
        return _array(image), 8, icc
    if mode in ("LA", "La") or (mode == "L" and image.has_transparency_data):
        grey_alpha = _array(image.convert("LA"))
        out = np.empty(grey_alpha.shape[:2] + (4,), np.uint8)
        out[..., :3] = grey_alpha[..., :1]
        out[..., 3] = grey_alpha[..., 1]
        return out, 8, icc
    if mode == "1":
        return _array(image.convert("L")), 8, icc
    target = "RGBA" if (mode in ("PA", "RGBa") or image.has_transparency_data) else "RGB"
    return _array(image.convert(target)), 8, icc


def _array(image: Image.Image) -> Pixels:
    return to_array(image)


def _cmyk_to_rgb(
    image: Image.Image, icc: bytes | None, notes: list[str]
) -> tuple[Pixels, int, bytes | None]:
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(
                image,
                source,
                ImageCms.createProfile("sRGB"),
                renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                outputMode="RGB",
                flags=ImageCms.Flags.BLACKPOINTCOMPENSATION,
            )
            assert rgb is not None  # a new image unless inPlace=True
            notes.append("CMYK converted to sRGB with the embedded colour profile")
            return _array(rgb), 8, _srgb_profile()
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass
    notes.append("CMYK without a usable colour profile: converted to RGB approximately")
    return _array(image.convert("RGB")), 8, None


def _read_with_tifffile(image: Image.Image) -> bool:
    """16-bit TIFFs with more than one sample: Pillow would keep only 8 bits of each."""
    if image.format != "TIFF":
        return False
    tags = getattr(image, "tag_v2", {})
    bits = tags.get(258)
    samples = tags.get(277, 1)
    if isinstance(bits, tuple):
        bits = bits[0] if bits else None
    return bits == 16 and isinstance(samples, int) and samples > 1


def _decode_tiff_16bit(path: Path, notes: list[str]) -> tuple[Pixels, int, bool]:
    """(pixels, 16, upright) for a 16-bit multi-sample TIFF."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages.first
            pixels = page.asarray()
            axes = page.axes
            extra = tuple(page.extrasamples or ())
            photometric = int(page.photometric)
    except (ValueError, NotImplementedError, KeyError) as exc:
        if "imagecodecs" not in str(exc):
            raise
        return _decode_tiff_16bit_with_pillow(path, notes), 16, True
    return _tiff_samples(pixels, axes, extra, photometric, path, notes), 16, False


def _tiff_samples(
    pixels: Pixels,
    axes: str,
    extra: tuple[int, ...],
    photometric: int,
    path: Path,
    notes: list[str],
) -> Pixels:
    if pixels.dtype != np.uint16:
        raise ImageReadError(f"unsupported TIFF sample type {pixels.dtype}", path)
    if "S" in axes and axes.index("S") != len(axes) - 1:
        pixels = np.moveaxis(pixels, axes.index("S"), -1)
    pixels = np.ascontiguousarray(pixels.reshape(pixels.shape[-3:]))
    samples = pixels.shape[2]
    if photometric == 1 and samples == 2:  # grey + alpha
        out = np.empty(pixels.shape[:2] + (4,), np.uint16)
        out[..., :3] = pixels[..., :1]
        out[..., 3] = pixels[..., 1]
        return out
    if photometric == 2 and samples >= 3:
        if samples > 3 and extra and extra[0] in (1, 2):
            return pixels[..., :4].copy() if samples > 4 else pixels
        if samples > 3:
            notes.append("extra TIFF channels ignored")
        return pixels[..., :3].copy()
    raise ImageReadError("unsupported 16-bit TIFF colour layout", path)


def _decode_tiff_16bit_with_pillow(path: Path, notes: list[str]) -> Pixels:
    """Compressions tifffile cannot decode alone (LZW, ...): libtiff decodes twice, as for PNG."""
    low_of = {
        "RGB;16B": "RGB;16L",
        "RGB;16L": "RGB;16B",
        "RGBA;16B": "RGBA;16L",
        "RGBA;16L": "RGBA;16B",
    }
    native = "L" if sys.byteorder == "little" else "B"

    def decode(low: bool) -> Pixels:
        image = _open(path, ["TIFF"], notes)
        with image:
            tiles = []
            for tile in image.tile:
                args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
                raw = args[0].replace(";16N", ";16" + native) if isinstance(args[0], str) else None
                if tile.codec_name not in ("libtiff", "raw") or raw not in low_of:
                    raise ImageReadError("unsupported 16-bit TIFF layout", path)
                tiles.append(tile._replace(args=(low_of[raw] if low else raw, *args[1:])))
            image.tile = tiles
            image.load()
            return to_array(image)

    pixels = decode(False).astype(np.uint16)
    pixels <<= 8
    pixels |= decode(True)
    return pixels


def _apply_orientation(pixels: Pixels, orientation: int) -> Pixels:
    """Make the pixels upright (EXIF orientation 1..8); always a writable contiguous array."""
    views: dict[int, Callable[[Pixels], Pixels]] = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: a.swapaxes(0, 1)[:, ::-1],
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: a.swapaxes(0, 1)[::-1],
    }
    upright = views.get(orientation, views[1])(pixels)
    if upright is pixels and pixels.flags.writeable and pixels.flags.c_contiguous:
        return pixels
    return np.array(upright, order="C", copy=True)
