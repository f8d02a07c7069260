"""The networks SR Studio runs, each in its own folder with the detector that recognises its state dicts."""

from __future__ import annotations

from sr_studio.archs.detection import DetectedArchitecture, InconsistentStateDict, NotThisArchitecture
from sr_studio.archs.hat import detect_hat
from sr_studio.archs.span import detect_span
from sr_studio.errors import CheckpointError

DETECTORS = (detect_hat, detect_span)
SUPPORTED = "HAT (HAT-S, HAT, HAT-L) or SPAN"


def detect_architecture(state_dict: dict) -> DetectedArchitecture:
    """Raises CheckpointError (without a path; the caller knows the file) when nothing matches."""
    for detector in DETECTORS:
        try:
            return detector(state_dict)
        except NotThisArchitecture:
            continue
        except InconsistentStateDict as problem:
            raise CheckpointError(str(problem)) from None
    sample = ", ".join(list(state_dict)[:3]) or "no tensors"
    raise CheckpointError(f"unknown architecture: the weights are not {SUPPORTED} (first keys: {sample})")


__all__ = ["DetectedArchitecture", "detect_architecture", "DETECTORS", "SUPPORTED"]
