"""Recognise a SPAN state dict and read its width, scale and normalisation variant from the shapes.

Two forms load: the official training layout (every 3x3 conv as a `sk` + `conv.0/1/2` chain plus its
`eval_conv`), and the re-fused form that many exports keep (the `eval_conv` kernels only). The form
is told by the first convolution: `conv_1.sk.weight` exists only with the chains.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sr_studio.archs.descriptor import (
    Architecture,
    DetectedArchitecture,
    ModelDescriptor,
    Precision,
    StateDict,
    TileSizes,
)
from sr_studio.archs.detection import InconsistentStateDict, NotThisArchitecture, shape_of

if TYPE_CHECKING:
    from torch import nn

NAME = "SPAN"
# 21 stacked 3x3 convolutions (conv_1, 6 blocks x 3, conv_2, the upsampler's): receptive radius 21
# LR px, everything else is pointwise. Tiles computed with exactly that much context equal the
# whole-image result, so no cross-fade is needed. (The influence of the patch border fades long
# before: float-rounding level from 6-8 px on for the bundled and randomly initialised models.)
RECEPTIVE_RADIUS = 21
# Peak memory per patch pixel (input resolution), measured as engine/tiling.py describes: ch48 x2/x4
# 2.0-3.3 KB/px (bf16: 2.0 KB/px); rounded up.
BYTES_PER_PIXEL = 3_500
# Convolutions only: float16 is safe on GPUs; the CPU has no fast float16 path.
PRECISIONS: dict[str, tuple[Precision, ...]] = {
    "cpu": ("fp32", "bf16"),
    "cuda": ("fp32", "bf16", "fp16"),
    "mps": ("fp32", "bf16", "fp16"),
}


def detect_span(state_dict: StateDict) -> DetectedArchitecture:
    if "conv_1.sk.weight" in state_dict and "block_1.c1_r.sk.weight" in state_dict:
        fused_only = False
        channels = span_channels(state_dict, "conv_1.sk.weight", kernel=(1, 1))
    elif "conv_1.eval_conv.weight" in state_dict and "conv_1.sk.weight" not in state_dict:
        # No chain to rebuild the kernels from: they are the trained weights, kept as stored.
        fused_only = True
        channels = span_channels(state_dict, "conv_1.eval_conv.weight", kernel=(3, 3))
    else:
        raise NotThisArchitecture
    scale = span_scale(state_dict, channels)
    hyperparameters: dict[str, Any] = {"feature_channels": channels, "upscale": scale}
    norm = "no_norm" not in state_dict
    if not norm:
        hyperparameters["norm"] = False
    if fused_only:
        hyperparameters["fused_only"] = True

    def build() -> nn.Module:
        return build_span(hyperparameters)

    return DetectedArchitecture(descriptor=describe_span(hyperparameters), build=build)


def build_span(hyperparameters: Mapping[str, Any]) -> nn.Module:
    from sr_studio.archs.span.network import SPAN

    return SPAN(
        feature_channels=int(hyperparameters["feature_channels"]),
        upscale=int(hyperparameters["upscale"]),
        norm=bool(hyperparameters.get("norm", True)),
        fused_only=bool(hyperparameters.get("fused_only", False)),
    )


def span_preset(variant: str, scale: int) -> dict[str, Any] | None:
    """ "SPAN ch48" at a scale: the published SPAN's shape."""
    match = re.fullmatch(r"SPAN ch(\d+)", variant)
    return {"feature_channels": int(match[1]), "upscale": scale} if match else None


def describe_span(hyperparameters: Mapping[str, Any]) -> ModelDescriptor:
    """The descriptor of a SPAN with these (detected or recorded) hyperparameters."""
    return ModelDescriptor(
        arch=NAME,
        variant=f"SPAN ch{int(hyperparameters['feature_channels'])}",
        scale=int(hyperparameters["upscale"]),
        hyperparameters=hyperparameters,
        precisions=PRECISIONS,
        context=RECEPTIVE_RADIUS,
        size_multiple=1,
        cross_fade=0,
        bytes_per_pixel=BYTES_PER_PIXEL,
        tile_sizes=TileSizes(cpu=384, gpu=1024, smallest=16),
        speed="fast",
    )


SPAN_ARCHITECTURE = Architecture(
    name=NAME,
    forms="SPAN",
    network_module="sr_studio.archs.span.network",
    detect=detect_span,
    describe=describe_span,
    build=build_span,
    preset=span_preset,
)


def span_channels(state_dict: StateDict, first_conv_key: str, kernel: tuple[int, int]) -> int:
    """The feature width, from the first convolution: (channels, 3, *kernel) for an RGB model."""
    shape = shape_of(state_dict, first_conv_key)
    if len(shape) != 4 or shape[2:] != kernel or shape[0] < 1:
        expected = f"(channels, 3, {kernel[0]}, {kernel[1]})"
        raise InconsistentStateDict(
            f"SPAN entry {first_conv_key!r} has the shape {shape}, not {expected}"
        )
    if shape[1] != 3:
        raise InconsistentStateDict(
            f"SPAN with {shape[1]} input channels is not supported (RGB models only)"
        )
    return shape[0]


def span_scale(state_dict: StateDict, channels: int) -> int:
    """The scale, from the upsampler's 3x3 conv: (3 * scale^2, channels, 3, 3), then a shuffle."""
    shape = shape_of(state_dict, "upsampler.0.weight")
    if len(shape) != 4 or shape[2:] != (3, 3):
        raise InconsistentStateDict(
            f"SPAN entry 'upsampler.0.weight' has the shape {shape}, "
            f"not (3 x scale^2, {channels}, 3, 3)"
        )
    out_channels, upsampler_in = shape[:2]
    scale = math.isqrt(out_channels // 3)
    if scale < 1 or 3 * scale * scale != out_channels:
        raise InconsistentStateDict(
            f"SPAN upsampler has {out_channels} output channels, "
            "which is not 3 x scale^2 for an RGB model"
        )
    if upsampler_in != channels:
        raise InconsistentStateDict(
            f"SPAN upsampler reads {upsampler_in} channels "
            f"but the first convolution makes {channels}"
        )
    return scale
