"""A decoded photo: the pixels and the metadata a photographer expects to keep in the output.

Shared by reading (which fills it) and writing (which copies its metadata into a new file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

# Pixel arrays of any dtype and shape: uint8/uint16 photos, float results on their way out.
Pixels = NDArray[Any]


@dataclass
class Photo:
    """A decoded photo: upright pixels plus the metadata to carry into the output."""

    pixels: Pixels  # (H, W), (H, W, 3) or (H, W, 4); uint8 or uint16
    path: Path
    format: str  # Pillow's name: "JPEG", "PNG", "TIFF", ...
    exif: bytes | None = None  # as stored (b"Exif\0\0" + TIFF structure); orientation not reset
    icc_profile: bytes | None = None
    dpi: tuple[float, float] | None = None
    bit_depth: int = 8
    # The quality a JPEG was saved at (photo_io.jpeg_quality), None for other formats: what the
    # automatic model choice reads first.
    jpeg_quality: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def has_alpha(self) -> bool:
        return self.pixels.ndim == 3 and self.pixels.shape[2] == 4
