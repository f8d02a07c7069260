"""The quality a JPEG was saved at, read from its quantization tables: exact and free.

Every encoder built on libjpeg (cameras' firmware mostly too, and every editor's "quality" slider)
scales the two standard tables of the JPEG specification (Annex K) by one factor that the quality
sets. Reading the file's luminance table back and finding the quality whose scaled table lies
nearest gives the quality itself for libjpeg files and the equivalent quality for a camera's own
tables. No pixel is decoded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Annex K.1 luminance table, natural (row-major) order, as Pillow reports `Image.quantization`.
STANDARD_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


def scaled_table(quality: int) -> list[int]:
    """The luminance table libjpeg writes at `quality` (1..100), baseline-clamped to 1..255."""
    factor = 5000 / quality if quality < 50 else 200 - 2 * quality
    return [min(255, max(1, int((value * factor + 50) // 100))) for value in STANDARD_LUMINANCE]


_TABLES = {quality: scaled_table(quality) for quality in range(1, 101)}


def quality_from_tables(tables: Mapping[int, Sequence[int]] | None) -> int | None:
    """The libjpeg quality (1..100) whose luminance table is nearest the file's table 0, or None
    when the file has no 64-entry table 0 (not a JPEG, or a lossless one)."""
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    own = [int(v) for v in tables[0]]

    def distance(quality: int) -> float:
        # Relative, so the fine steps of high qualities weigh as much as the coarse ones.
        return sum(abs(a - b) / b for a, b in zip(own, _TABLES[quality], strict=True))

    return min(_TABLES, key=distance)
