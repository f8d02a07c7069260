"""The networks SR Studio runs, each in its own folder with the detector that recognises its state
dicts and describes the model. Adding one is a folder plus a line in ARCHITECTURES.

Torch-free: networks are imported only when a detected model is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from sr_studio.archs.descriptor import (
    Architecture,
    DetectedArchitecture,
    LoadedModel,
    ModelDescriptor,
    StateDict,
)
from sr_studio.archs.detection import InconsistentStateDict, NotThisArchitecture
from sr_studio.archs.hat.detect import HAT_ARCHITECTURE
from sr_studio.archs.span.detect import SPAN_ARCHITECTURE
from sr_studio.errors import CheckpointError

ARCHITECTURES: tuple[Architecture, ...] = (HAT_ARCHITECTURE, SPAN_ARCHITECTURE)


def import_networks() -> None:
    """Import every network module now. model_loading does, so that building a detected model
    imports nothing new: the window's workers must not import on their threads (gui/prewarm.py)."""
    for architecture in ARCHITECTURES:
        importlib.import_module(architecture.network_module)


def architecture_names() -> tuple[str, ...]:
    """The names the catalog and the store may use for `arch`."""
    return tuple(architecture.name for architecture in ARCHITECTURES)


def supported_forms() -> str:
    """ "HAT (HAT-S, HAT, HAT-L) or SPAN": what a weights file must be, for error messages."""
    forms = [architecture.forms for architecture in ARCHITECTURES]
    return ", ".join(forms[:-1]) + " or " + forms[-1] if len(forms) > 1 else forms[0]


def detect_architecture(state_dict: StateDict) -> DetectedArchitecture:
    """Raises CheckpointError (without a path; the caller knows the file) when nothing matches."""
    for architecture in ARCHITECTURES:
        try:
            return architecture.detect(state_dict)
        except NotThisArchitecture:
            continue
        except InconsistentStateDict as problem:
            raise CheckpointError(str(problem)) from None
    sample = ", ".join(list(state_dict)[:3]) or "no tensors"
    raise CheckpointError(
        f"unknown architecture: the weights are not {supported_forms()} (first keys: {sample})"
    )


def describe_recorded(
    arch: str | None, hyperparameters: Mapping[str, Any]
) -> ModelDescriptor | None:
    """The descriptor of a model known from a record (the store's, a bundled model's card), without
    loading it; None when the record names no known architecture or lacks what describing needs."""
    architecture = next((a for a in ARCHITECTURES if a.name == arch), None)
    if architecture is None or not hyperparameters:
        return None
    try:
        return architecture.describe(hyperparameters)
    except (KeyError, TypeError, ValueError):
        return None


__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "DetectedArchitecture",
    "LoadedModel",
    "ModelDescriptor",
    "architecture_names",
    "describe_recorded",
    "detect_architecture",
    "import_networks",
    "supported_forms",
]
