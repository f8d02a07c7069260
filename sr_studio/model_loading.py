"""Turn a weights file into a ready network: detected, built, strictly loaded, fused, in eval mode."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from sr_studio.archs import detect_architecture
from sr_studio.checkpoint import read_state_dict
from sr_studio.errors import CheckpointError


def load_model(path: str | os.PathLike) -> nn.Module:
    """The model on the CPU in float32, with `arch`, `scale` and `hyperparameters` attributes."""
    path = Path(path)
    return model_from_state_dict(read_state_dict(path), source=path)


def model_from_state_dict(state_dict: dict[str, torch.Tensor], source: str | os.PathLike = "<weights>") -> nn.Module:
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
    description = f"{detected.arch} x{detected.scale}"
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if mismatched:
            problems.append(f"{len(mismatched)} of the wrong shape (e.g. {mismatched[0]})")
        raise CheckpointError(f"weights do not fit {description}: entries " + "; ".join(problems), source)
    model.load_state_dict(state_dict, strict=False)
    if hasattr(model, "fuse"):
        model.fuse()
    model.eval()
    model.requires_grad_(False)
    model.arch = detected.arch
    model.scale = detected.scale
    model.hyperparameters = detected.hyperparameters
    return model
