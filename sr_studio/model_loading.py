"""Turn a weights file into a ready network: detected, built, strictly loaded, fused, eval mode."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from sr_studio.archs import LoadedModel, ModelDescriptor, detect_architecture, import_networks
from sr_studio.checkpoint import read_state_dict
from sr_studio.errors import CheckpointError
from sr_studio.model_blending import Cleanup, blend_models

import_networks()  # the networks come with this module, not on a worker thread at the first load


def load_model(path: str | os.PathLike[str], cleanup: Cleanup | None = None) -> LoadedModel:
    """The network on the CPU in float32, with its descriptor (architecture, scale, tiling); with
    `cleanup`, blended with the clean model it was fine-tuned from (model_blending)."""
    path = Path(path)
    if cleanup is None or cleanup.strength == 1.0:
        return model_from_state_dict(read_state_dict(path), source=path)
    return blended_model(
        read_state_dict(path), path, read_state_dict(cleanup.base), cleanup.base, cleanup.strength
    )


def blended_model(
    state_dict: dict[str, torch.Tensor],
    source: str | os.PathLike[str],
    base_state_dict: dict[str, torch.Tensor],
    base_source: str | os.PathLike[str],
    strength: float,
) -> LoadedModel:
    """The network of `state_dict` blended with that of `base_state_dict` at `strength`: the one
    place a cleanup is built from weights, so a local run, the head of a cluster run and each of its
    workers make the same network and give the same bytes."""
    model = model_from_state_dict(state_dict, source=source)
    base = model_from_state_dict(base_state_dict, source=base_source)
    try:
        return blend_models(model, base, strength)
    except CheckpointError as error:
        raise CheckpointError(error.reason, source) from None


def model_from_state_dict(
    state_dict: dict[str, torch.Tensor], source: str | os.PathLike[str] = "<weights>"
) -> LoadedModel:
    try:
        detected = detect_architecture(state_dict)
    except CheckpointError as error:
        raise CheckpointError(error.reason, source) from None
    model = detected.build()
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict and k not in detected.optional_keys]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    description = f"{detected.descriptor.arch} x{detected.descriptor.scale}"
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if mismatched:
            problems.append(f"{len(mismatched)} of the wrong shape (e.g. {mismatched[0]})")
        raise CheckpointError(
            f"weights do not fit {description}: entries " + "; ".join(problems), source
        )
    model.load_state_dict(state_dict, strict=False)
    return ready_to_run(model, detected.descriptor)


def ready_to_run(model: torch.nn.Module, descriptor: ModelDescriptor) -> LoadedModel:
    """Weights in place: folded for inference, in eval mode, without gradients."""
    fuse = getattr(model, "fuse", None)
    if callable(fuse):  # SPAN folds its training-time branches into one kernel per convolution
        fuse()
    model.eval()
    model.requires_grad_(False)
    return LoadedModel(network=model, descriptor=descriptor)


def shaped_model(arch: str, hyperparameters: Mapping[str, Any]) -> LoadedModel:
    """A network of this shape with fresh (random) weights: it runs exactly as fast as the
    published file will, so a catalog model is timed on this computer before it is downloaded.
    Its output means nothing; it is never shown or written."""
    from sr_studio.archs import ARCHITECTURES

    architecture = next(a for a in ARCHITECTURES if a.name == arch)
    return ready_to_run(architecture.build(hyperparameters), architecture.describe(hyperparameters))
