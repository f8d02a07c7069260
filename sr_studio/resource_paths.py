"""Where `resources/` is: in the package (wheel, frozen bundle) or beside it (source checkout)."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_dir() -> Path:
    package_dir = Path(__file__).resolve().parent
    candidates = [package_dir / "resources", package_dir.parent / "resources"]
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        candidates.insert(0, Path(frozen_root) / "sr_studio" / "resources")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("SR Studio's resources folder is missing from this installation")


def resource_path(*parts: str) -> Path:
    return resource_dir().joinpath(*parts)
