"""Recognise a SPAN state dict and read its width, scale and normalisation variant from the shapes."""

from __future__ import annotations

import math

from sr_studio.archs.detection import DetectedArchitecture, InconsistentStateDict, NotThisArchitecture, shape_of
from sr_studio.archs.span.network import SPAN


def detect_span(state_dict: dict) -> DetectedArchitecture:
    if "conv_1.sk.weight" not in state_dict or "block_1.c1_r.sk.weight" not in state_dict:
        raise NotThisArchitecture
    channels, in_channels, *_ = shape_of(state_dict, "conv_1.sk.weight")
    if in_channels != 3:
        raise InconsistentStateDict(f"SPAN with {in_channels} input channels is not supported (RGB models only)")
    out_channels, upsampler_in, *_ = shape_of(state_dict, "upsampler.0.weight")
    scale = math.isqrt(out_channels // 3)
    if upsampler_in != channels or 3 * scale * scale != out_channels or scale < 1:
        raise InconsistentStateDict(
            f"SPAN upsampler has {out_channels} output channels, which is not 3 x scale^2 for an RGB model"
        )
    hyperparameters = {"feature_channels": channels, "upscale": scale}
    norm = "no_norm" not in state_dict
    if not norm:
        hyperparameters["norm"] = False
    return DetectedArchitecture(
        arch="SPAN",
        scale=scale,
        hyperparameters=hyperparameters,
        build=lambda: SPAN(feature_channels=channels, upscale=scale, norm=norm),
    )
