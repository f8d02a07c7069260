"""What SR Studio reads and writes, and on what it runs: one list for the CLI, the window, its
dialogs and the folder scan, so they can no longer drift apart (the window once hid the HEIC photos
the CLI took).

Plain Python on purpose (no torch, no Qt, no Pillow): the CLI's argument parser and the window's
file dialog import it before anything heavy is loaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

HEIF_SUFFIXES = (".heic", ".heif", ".hif")
# Every suffix a photo may have; photo_io drops the HEIF ones where no HEIF decoder is installed.
INPUT_SUFFIXES = (
    ".jpg",
    ".jpeg",
    ".jpe",
    ".png",
    ".webp",
    ".tif",
    ".tiff",
    ".bmp",
    ".gif",
    ".avif",
) + HEIF_SUFFIXES
INPUT_FORMAT_NAMES = "JPEG, PNG, WebP, TIFF, BMP, GIF, AVIF, HEIC"

OUTPUT_FORMATS = ("png", "jpg", "webp", "tiff")
FORMAT_LABELS = {"png": "PNG", "jpg": "JPEG", "webp": "WebP", "tiff": "TIFF"}
OUTPUT_EXTENSIONS = {"png": ".png", "jpg": ".jpg", "webp": ".webp", "tiff": ".tif"}
LOSSY_FORMATS = frozenset({"jpg", "webp"})
SIXTEEN_BIT_FORMATS = frozenset({"png", "tiff"})
# "As the original": the output format a photo keeps; others (GIF, HEIC, ...) become PNG.
FORMAT_FOR_SUFFIX = {
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".jpe": "jpg",
    ".png": "png",
    ".webp": "webp",
    ".tif": "tiff",
    ".tiff": "tiff",
}
FALLBACK_FORMAT = "png"

# The longest side each output format can hold; the others have no limit a photo reaches (PNG:
# 2**31 - 1 px). WebP stores sides in 14 bits; libjpeg refuses sides over JPEG_MAX_DIMENSION. TIFF:
# sides up to 2**32 - 1 px; the classic TIFF SR Studio writes holds at most 4 GB of compressed
# pixels, which depends on the picture and cannot be told before it is encoded.
MAX_SIDE = {"webp": 16_383, "jpg": 65_500}


def result_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """(width, height) of a photo's result, as the engine rounds it: round(scale * side)."""
    return max(1, round(scale * width)), max(1, round(scale * height))


def size_problem(format: str, width: int, height: int) -> str | None:
    """Why an image of this size cannot be stored in `format`, with the formats that can hold it
    ("larger than WebP allows (16383 px a side); choose PNG, TIFF or JPEG"), or None."""
    limit = MAX_SIDE.get(format)
    if limit is None or max(width, height) <= limit:
        return None
    unlimited = [name for name in ("png", "tiff") if name not in MAX_SIDE]
    limited = sorted(
        (name for name, side in MAX_SIDE.items() if side >= max(width, height)),
        key=MAX_SIDE.__getitem__,
        reverse=True,
    )
    choose = join_or([FORMAT_LABELS[name] for name in unlimited + limited])
    return f"larger than {FORMAT_LABELS[format]} allows ({limit} px a side); choose {choose}"


# Pillow refuses to open images above twice its warning limit (a "decompression bomb"), and other
# programs have limits of their own in that range: a larger result is one many users cannot open.
WIDELY_OPENED_PIXELS = 178_956_970


def opens_widely(width: int, height: int) -> bool:
    """Whether an image this size opens in most programs (Pillow's limit and below)."""
    return width * height <= WIDELY_OPENED_PIXELS


def scales_opening_widely(width: int, height: int, candidates: Iterable[float]) -> list[float]:
    """Those of `candidates` whose result of a (width x height) photo opens widely."""
    return [scale for scale in candidates if opens_widely(*result_size(width, height, scale))]


def largest_scale_opening_widely(width: int, height: int) -> float:
    """The largest scale, to one decimal, whose result opens widely (1 or less: none enlarges)."""
    largest = int((WIDELY_OPENED_PIXELS / max(1, width * height)) ** 0.5 * 10) / 10
    while largest > 1 and not opens_widely(*result_size(width, height, largest)):
        largest = round(largest - 0.1, 1)
    return largest


def join_or(names: list[str]) -> str:
    """'2', '2 or 3', '1.5, 2 or 3'."""
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # the choices of --precision, without torch


def is_photo_path(path: str | os.PathLike) -> bool:
    """A name a photo may have (its content is checked when it is read)."""
    return Path(path).suffix.lower() in INPUT_SUFFIXES


def format_for(source: str | os.PathLike) -> str:
    """The output format that keeps a photo's own ("as the original")."""
    return FORMAT_FOR_SUFFIX.get(Path(source).suffix.lower(), FALLBACK_FORMAT)


def open_dialog_filter() -> str:
    """A file dialog's filter in both cases: GTK's dialog matches IMG_0001.HEIC case-sensitively."""
    patterns = " ".join(f"*{suffix} *{suffix.upper()}" for suffix in INPUT_SUFFIXES)
    return f"Photos ({patterns});;All files (*)"


# The names SR Studio gives its results, after the photo's own name: NAME_x4.jpg (CLI),
# NAME_x4_MODEL.png (window), with " (2)" or "-2" added when the name was taken.
_RESULT_TAIL = re.compile(r"_x\d+(?:\.\d+)?(?:_.*)?(?: \(\d+\)|-\d+)?$")


def is_own_result(path: str | os.PathLike, names_in_folder: set[str] | None = None) -> bool:
    """Whether a file looks like a result SR Studio wrote from a photo beside it: NAME_x<scale>[...]
    where a photo NAME.<suffix> is in the same folder. Adding the folder again must not queue its
    own results.

    `names_in_folder` (lower-case file names) saves listing the folder again per file of a scan."""
    path = Path(path)
    if not is_photo_path(path):
        return False
    if names_in_folder is None:
        try:
            names_in_folder = {child.name.lower() for child in path.parent.iterdir()}
        except OSError:
            return False
    stem = path.stem
    for source in _candidate_sources(stem):
        if any(f"{source}{suffix}".lower() in names_in_folder for suffix in INPUT_SUFFIXES):
            return True
    return False


def _candidate_sources(stem: str) -> list[str]:
    """Every NAME `stem` could have been made from (a photo's own name may contain "_x2" too)."""
    return [
        stem[: match.start()]
        for match in re.finditer(r"_x\d", stem)
        if match.start() > 0 and _RESULT_TAIL.match(stem, match.start())
    ]


def scan_folder(folder: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """(photos, SR Studio's own results) directly in a folder, each sorted by name; one listing."""
    entries = list(Path(folder).iterdir())
    names = {entry.name.lower() for entry in entries}
    children = sorted(
        (entry for entry in entries if is_photo_path(entry) and entry.is_file()),
        key=lambda child: child.name.lower(),
    )
    photos, results = [], []
    for child in children:
        (results if is_own_result(child, names) else photos).append(child)
    return photos, results


def photos_in_folder(folder: str | os.PathLike, own_results: bool = False) -> list[Path]:
    """The photos directly in a folder, by name, without SR Studio's own results unless asked."""
    photos, results = scan_folder(folder)
    return sorted(photos + results, key=lambda child: child.name.lower()) if own_results else photos
