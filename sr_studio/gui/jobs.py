"""What the window asks of its workers and what they answer: plain records, free of Qt, so that the
session (and its tests) use them without a QApplication."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sr_studio.gui.display_pyramid import DisplayPyramid
from sr_studio.model_blending import Cleanup


@dataclass
class RunRequest:
    job_id: int
    pixels: np.ndarray
    model_path: Path
    scale: float | None  # None: the model's own
    device: str = "auto"
    precision: str = "auto"
    tile: int | None = None
    result_size: tuple[int, int] | None = (
        None  # (height, width) the viewer expects; tiles are mapped onto it
    )
    display: bool = (
        True  # build the display copy; False for a photo off screen (it goes to the cache)
    )
    cleanup: Cleanup | None = None  # a photo model blended with its clean base


@dataclass
class RunResult:
    job_id: int
    pixels: np.ndarray
    pyramid: DisplayPyramid | None  # None when the request asked for no display copy
    scale: float
    device: str
    seconds: float
    notice: str = (
        ""  # the engine's one line when the run differs from the request (bf16 run as fp32)
    )
    precision: str = ""  # the one that ran
    precision_reason: str = ""  # why, when the engine chose it ("automatic: ...")


@dataclass
class LoadedPhoto:
    job_id: int
    photo: Any
    pyramid: DisplayPyramid


@dataclass
class ExportRequest:
    job_id: int
    destination: Path
    pixels: np.ndarray | None  # the result in memory, or None: read from `pixels_file`
    metadata_from: Any  # the source Photo whose metadata the output keeps, or None
    format: str
    quality: int | None
    bit_depth: int | None
    overwrite: bool
    pixels_file: Path | None = None  # the result parked in the session cache


@dataclass
class RestoredResult:
    job_id: int
    token: int  # which result of the item (a re-run makes a new one)
    pixels: np.ndarray
    pyramid: DisplayPyramid


@dataclass
class PreviewRequest:
    """Enlarge `box` (x, y, width, height of the original) as the full run would: a preview."""

    job_id: int
    token: int  # which preview of the item (a newer one makes the older one's answers stale)
    pixels: np.ndarray
    box: tuple[int, int, int, int]
    model_path: Path
    scale: float | None
    device: str = "auto"
    precision: str = "fp32"
    tile: int | None = None
    cleanup: Cleanup | None = None


@dataclass
class PreviewResult:
    job_id: int
    token: int
    top: int  # where the enlarged crop lies in the result (y, x)
    left: int
    pixels: np.ndarray  # uint8 display pixels of the enlarged crop
    seconds: float
    estimate: str  # "about 2 min": the whole photo, from this preview's speed


@dataclass(frozen=True)
class CompareModel:
    id: str  # a photo model at a cleanup strength is `model-id@60`, as the command line names it
    name: str
    purpose: str
    path: Path
    cleanup: Cleanup | None = None


@dataclass
class CompareRequest:
    """The same crop from each model, one after another."""

    token: int
    pixels: np.ndarray
    box: tuple[int, int, int, int]
    models: list[CompareModel]
    scale: float
    device: str = "auto"
    precision: str = "fp32"
    tile: int | None = None


@dataclass
class CompareCell:
    token: int
    index: int
    model: CompareModel
    pixels: np.ndarray  # uint8 display pixels, every cell the same size
    seconds: float


@dataclass
class EstimateRequest:
    """How long the whole photo would take, from what this machine measured (nothing is run)."""

    job_id: int
    token: int
    height: int
    width: int
    model_path: Path
    scale: float | None
    device: str = "auto"
    precision: str = "fp32"
    tile: int | None = None
    cleanup: Cleanup | None = None  # the same model as the preview's, so its cached copy serves
