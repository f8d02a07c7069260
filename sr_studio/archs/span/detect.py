"""Recognise a SPAN state dict and read its width, scale and normalisation variant from the shapes.

Two forms load: the official training layout (every 3x3 conv as a `sk` + `conv.0/1/2` chain plus its
`eval_conv`), and the re-fused form that many exports keep (the `eval_conv` kernels only). The form is
told by the first convolution: `conv_1.sk.weight` exists only with the chains.
"""

from __future__ import annotations

import math

from sr_studio.archs.detection import DetectedArchitecture, InconsistentStateDict, NotThisArchitecture, shape_of
from sr_studio.archs.span.network import SPAN


def detect_span(state_dict: dict) -> DetectedArchitecture:
    if "conv_1.sk.weight" in state_dict and "block_1.c1_r.sk.weight" in state_dict:
        fused_only = False
        channels = span_channels(state_dict, "conv_1.sk.weight", kernel=(1, 1))
    elif "conv_1.eval_conv.weight" in state_dict and "conv_1.sk.weight" not in state_dict:
        # No chain to rebuild the kernels from: they are the trained weights and must be kept as stored.
        fused_only = True
        channels = span_channels(state_dict, "conv_1.eval_conv.weight", kernel=(3, 3))
    else:
        raise NotThisArchitecture
    scale = span_scale(state_dict, channels)
    hyperparameters = {"feature_channels": channels, "upscale": scale}
    norm = "no_norm" not in state_dict
    if not norm:
        hyperparameters["norm"] = False
    if fused_only:
        hyperparameters["fused_only"] = True
    return DetectedArchitecture(
        arch="SPAN",
        scale=scale,
        hyperparameters=hyperparameters,
        build=lambda: SPAN(feature_channels=channels, upscale=scale, norm=norm, fused_only=fused_only),
    )


def span_channels(state_dict: dict, first_conv_key: str, kernel: tuple[int, int]) -> int:
    """The feature width, from the first convolution: (channels, 3, *kernel) for an RGB model."""
    shape = shape_of(state_dict, first_conv_key)
    if len(shape) != 4 or shape[2:] != kernel or shape[0] < 1:
        expected = f"(channels, 3, {kernel[0]}, {kernel[1]})"
        raise InconsistentStateDict(f"SPAN entry {first_conv_key!r} has the shape {shape}, not {expected}")
    if shape[1] != 3:
        raise InconsistentStateDict(f"SPAN with {shape[1]} input channels is not supported (RGB models only)")
    return shape[0]


def span_scale(state_dict: dict, channels: int) -> int:
    """The scale, from the upsampler's 3x3 conv: (3 * scale^2, channels, 3, 3) before the pixel shuffle."""
    shape = shape_of(state_dict, "upsampler.0.weight")
    if len(shape) != 4 or shape[2:] != (3, 3):
        raise InconsistentStateDict(
            f"SPAN entry 'upsampler.0.weight' has the shape {shape}, not (3 x scale^2, {channels}, 3, 3)"
        )
    out_channels, upsampler_in = shape[:2]
    scale = math.isqrt(out_channels // 3)
    if scale < 1 or 3 * scale * scale != out_channels:
        raise InconsistentStateDict(
            f"SPAN upsampler has {out_channels} output channels, which is not 3 x scale^2 for an RGB model"
        )
    if upsampler_in != channels:
        raise InconsistentStateDict(
            f"SPAN upsampler reads {upsampler_in} channels but the first convolution makes {channels}"
        )
    return scale
