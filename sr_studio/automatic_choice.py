"""The model chosen for each photo: "Automatic", the default of the window and the command line.

A clean source (a render, a scan saved as PNG, a photo already downscaled well) wants the clean
SPAN: the photo model softens its fine texture. A phone or camera JPEG wants the photo model, whose
cleanup removes the noise and JPEG blocks the clean model would sharpen into crosshatch. Between
them the cleanup strength (sr_studio.model_blending) moves smoothly, so the choice is one number:
the strength, from the photo's condition (sr_studio.photo_condition), 0 meaning the clean model
itself.

The rule and its constants are fitted on measured PSNR (tools/measure_choice.py; the tables and
the fit are in benchmarks/RESULTS.md, "Automatic model choice").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is only needed once a photo is measured
    from sr_studio.photo_condition import PhotoCondition

AUTOMATIC = "auto"  # what --model and the window's model list call it


# (measure, at the strength 0, at the strength 100%): each a straight ramp between the two, fitted
# on the x4 table (benchmarks/RESULTS.md, "Automatic model choice"); the strength is the largest.
QUALITY_RAMP = (98.0, 90.0)  # a JPEG saved at 98 or better is as good as clean; 90 or worse, worn
DETAIL_RAMP = (1.12, 1.05)  # fine detail of a sharp downscale (1.16-1.9) vs a camera's own (< 1.05)
NOISE_RAMP = (4.0, 8.0)  # luma noise in levels of 255 that survived to the file
BLOCK_RAMP = (1.3, 1.6)  # JPEG blocks left in a file that is no longer a JPEG


def _ramp(value: float, zero: float, full: float) -> float:
    return min(1.0, max(0.0, (value - zero) / (full - zero)))


def cleanup_for(condition: PhotoCondition) -> float:
    """The cleanup strength (0..100, steps of 5) for a photo in this condition: 0 is the clean
    model, for a clean source; any one sign of wear is enough for its share of the cleanup."""
    terms = [
        _ramp(condition.detail, *DETAIL_RAMP),
        _ramp(condition.noise, *NOISE_RAMP),
        _ramp(condition.blockiness, *BLOCK_RAMP),
    ]
    if condition.jpeg_quality is not None:
        terms.append(_ramp(condition.jpeg_quality, *QUALITY_RAMP))
    return float(round(max(terms) * 20) * 5)


@dataclass(frozen=True)
class AutomaticPair:
    """The two bundled models Automatic chooses between at one scale, as the window names them."""

    photo_id: str
    photo_name: str
    photo_path: Path
    clean_id: str
    clean_name: str
    clean_path: Path

    def chosen_name(self, choice: Choice) -> str:
        """The model Automatic picked, as the window and the CLI name it: 'SPAN x4 Clean' or
        'SPAN x4 Photo, cleanup 90%'."""
        if choice.cleanup_percent == 0:
            return self.clean_name
        from sr_studio.model_blending import Cleanup

        strength = choice.cleanup_percent / 100
        return Cleanup(self.clean_path, strength).model_name(self.photo_name)

    def said(self, choice: Choice) -> str:
        """What was chosen and why, in one line: 'JPEG quality about 70, visible noise: SPAN x4
        Photo, cleanup 90%'."""
        return f"{choice.reason}: {self.chosen_name(choice)}"


@dataclass(frozen=True)
class Choice:
    """What Automatic picked for one photo, and why in a photographer's words."""

    cleanup_percent: float  # 0: the clean model
    reason: str


def describe(condition: PhotoCondition) -> str:
    """The photo's condition in a photographer's words: 'JPEG quality about 70, visible noise'."""
    parts = []
    if condition.jpeg_quality is not None:
        parts.append(f"JPEG quality about {condition.jpeg_quality}")
    if condition.noise >= NOISE_RAMP[0]:
        parts.append("visible noise")
    if condition.blockiness >= BLOCK_RAMP[0]:
        parts.append("JPEG blocks")
    if condition.detail < DETAIL_RAMP[0]:
        parts.append("soft detail")
    return ", ".join(parts) if parts else "clean"


def choose(condition: PhotoCondition) -> Choice:
    percent = cleanup_for(condition)
    return Choice(percent, describe(condition))


class ModelsByCleanup:
    """One photo model's upscalers at the strengths Automatic picks, each built once.

    `build(strength)` (0..1) makes the upscaler of the photo model blended at that strength; a batch
    of photos needs a few of them at most (the strengths come in steps of 5%), and a SPAN is 2 MB.
    Used alike by the command line, each cluster worker and the window's runs.
    """

    def __init__(self, build: Callable[[float], Any]) -> None:
        self._build = build
        self._made: dict[float, Any] = {}

    def for_condition(self, condition: PhotoCondition) -> tuple[Any, Choice]:
        choice = choose(condition)
        upscaler = self._made.get(choice.cleanup_percent)
        if upscaler is None:
            upscaler = self._made[choice.cleanup_percent] = self._build(
                choice.cleanup_percent / 100
            )
        return upscaler, choice

    def for_photo(self, pixels: Any, jpeg_quality: int | None) -> tuple[Any, Choice]:
        from sr_studio.photo_condition import assess

        return self.for_condition(assess(pixels, jpeg_quality))
