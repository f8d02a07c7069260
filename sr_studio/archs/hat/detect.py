"""Recognise a HAT state dict (HAT-S, HAT, HAT-L, custom sizes), read every hyperparameter from it,
and describe the model."""

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
    SpeedClass,
    StateDict,
    TileSizes,
)
from sr_studio.archs.detection import InconsistentStateDict, NotThisArchitecture, shape_of

if TYPE_CHECKING:
    from torch import nn

NAME = "HAT"
BIAS_TABLE = "residual_group.blocks.0.attn.relative_position_bias_table"
SIGNATURE = "layers.0.residual_group.overlap_attn.relative_position_bias_table"
DEFAULTS = {"overlap_ratio": 0.5, "qkv_bias": True, "patch_norm": True, "num_feat": 64}
# The official sizes, by (embed_dim, residual groups): what a user recognises.
VARIANTS = {(144, 6): "HAT-S", (180, 6): "HAT", (180, 12): "HAT-L"}
# Cost of a pixel grows with width squared times blocks; up to HAT-S's it is "slow", beyond it
# (HAT, HAT-L: 1.6x and 3.1x HAT-S's) "very slow".
HAT_S_COST = 144 * 144 * 36

# Peak memory per patch pixel (input resolution), measured as engine/tiling.py describes: HAT-S x4
# 11.6-11.7 KB/px at 256-384 px; HAT (and HAT-L: same width) x4: 15.0 KB/px at 256 px, 17.6 at
# 128 px
# (43-50 KB/px before the shifted windows stopped building a (windows, heads, n, n) mask and the
# overlapping cross-attention stopped going through im2col). With the heap kept between tiles
# (engine/heap.py) it settles higher: HAT x4 at 256 px, patch shapes alternating as at the image's
# edges, 29.5 KB/px from the third tile on (2 threads). Rounded up; bf16 peaks measured the same.
BYTES_PER_PIXEL = 32_000
# CPU tiles of 320 (384 px patches) where memory allows: the context is then 44% extra pixels
# instead of 78% at 192, and a patch pixel costs about the same (HAT-S x4, 2 threads, AVX2, held
# heap: 445 / 461 / 468 us at 224 / 256 / 384 px), so a written pixel costs 18% less
# (819 -> 675 us).
CPU_TILE, GPU_TILE = 320, 512
# float16 overflows in the attention; bfloat16 (float32's range) runs the body, float32 the rest.
PRECISIONS: dict[str, tuple[Precision, ...]] = {
    "cpu": ("fp32", "bf16"),
    "cuda": ("fp32", "bf16"),
    "mps": ("fp32", "bf16"),
}


def square_root(value: int, what: str) -> int:
    root = math.isqrt(value)
    if root * root != value:
        raise InconsistentStateDict(f"{what} has {value} entries, which is not a square")
    return root


def detect_hat(state_dict: StateDict) -> DetectedArchitecture:
    if SIGNATURE not in state_dict or "conv_first.weight" not in state_dict:
        raise NotThisArchitecture
    unsupported = [
        k
        for k in ("absolute_pos_embed", "conv_up1.weight", "layers.0.conv.0.weight")
        if k in state_dict
    ]
    if unsupported:
        raise InconsistentStateDict(f"HAT variant with {unsupported[0]!r} is not supported")
    embed_dim, in_channels, *_ = shape_of(state_dict, "conv_first.weight")
    if in_channels != 3:
        raise InconsistentStateDict(
            f"HAT with {in_channels} input channels is not supported (RGB models only)"
        )

    block_pattern = re.compile(r"^layers\.(\d+)\.residual_group\.blocks\.(\d+)\.norm1\.weight$")
    blocks_per_layer: dict[int, int] = {}
    for key in state_dict:
        match = block_pattern.match(key)
        if match:
            layer, block = int(match[1]), int(match[2])
            blocks_per_layer[layer] = max(blocks_per_layer.get(layer, 0), block + 1)
    layers = len(blocks_per_layer)
    if layers == 0 or sorted(blocks_per_layer) != list(range(layers)):
        raise InconsistentStateDict("HAT residual groups are not numbered 0..n-1")
    depths = [blocks_per_layer[i] for i in range(layers)]
    num_heads = [shape_of(state_dict, f"layers.{i}.{BIAS_TABLE}")[1] for i in range(layers)]

    table = shape_of(state_dict, f"layers.0.{BIAS_TABLE}")[0]
    window_size = (square_root(table, "the window attention bias table") + 1) // 2
    overlap_table = shape_of(state_dict, SIGNATURE)[0]
    overlap_window = (
        square_root(overlap_table, "the overlapping attention bias table") - window_size + 1
    )
    overlap_ratio = (overlap_window - window_size) / window_size

    first_block = "layers.0.residual_group.blocks.0"
    compressed = shape_of(state_dict, f"{first_block}.conv_block.cab.0.weight")[0]
    squeezed = shape_of(state_dict, f"{first_block}.conv_block.cab.3.attention.1.weight")[0]
    hidden = shape_of(state_dict, f"{first_block}.mlp.fc1.weight")[0]
    num_feat = shape_of(state_dict, "conv_before_upsample.0.weight")[0]

    upsample_convs = sorted(
        int(m[1]) for key in state_dict if (m := re.match(r"^upsample\.(\d+)\.weight$", key))
    )
    out_channels = [shape_of(state_dict, f"upsample.{i}.weight")[0] for i in upsample_convs]
    if out_channels == [9 * num_feat]:
        scale = 3
    elif out_channels and all(c == 4 * num_feat for c in out_channels):
        scale = 2 ** len(out_channels)
    elif not out_channels:
        scale = 1
    else:
        raise InconsistentStateDict(f"HAT upsampler layout {out_channels} matches no scale")

    hyperparameters: dict[str, Any] = {
        "embed_dim": embed_dim,
        "depths": depths,
        "num_heads": num_heads,
        "window_size": window_size,
        "compress_ratio": embed_dim // compressed,
        "squeeze_factor": embed_dim // squeezed,
        "mlp_ratio": hidden / embed_dim,
        "upscale": scale,
    }
    # Values that the official checkpoints share are listed only when a file departs from them.
    found = {
        "overlap_ratio": overlap_ratio,
        "qkv_bias": f"{first_block}.attn.qkv.bias" in state_dict,
        "patch_norm": "patch_embed.norm.weight" in state_dict,
        "num_feat": num_feat,
    }
    hyperparameters.update({k: v for k, v in found.items() if v != DEFAULTS[k]})
    options = {**DEFAULTS, **hyperparameters}

    def build() -> nn.Module:
        return build_hat(options)

    return DetectedArchitecture(
        descriptor=describe_hat(hyperparameters),
        build=build,
        optional_keys=frozenset({"relative_position_index_SA", "relative_position_index_OCA"}),
    )


def describe_hat(hyperparameters: Mapping[str, Any]) -> ModelDescriptor:
    """The descriptor of a HAT with these (detected or recorded) hyperparameters."""
    window = int(hyperparameters["window_size"])
    embed_dim = int(hyperparameters["embed_dim"])
    depths = [int(depth) for depth in hyperparameters["depths"]]
    variant = VARIANTS.get((embed_dim, len(depths)), f"HAT {embed_dim}x{len(depths)}")
    speed: SpeedClass = "slow" if embed_dim * embed_dim * sum(depths) <= HAT_S_COST else "very slow"
    return ModelDescriptor(
        arch=NAME,
        variant=variant,
        scale=int(hyperparameters["upscale"]),
        hyperparameters=hyperparameters,
        precisions=PRECISIONS,
        precision_notes={"fp16": "its attention overflows"},
        # Two windows of context cover a shifted window plus the overlapping cross-attention's
        # reach; the channel attention's global average pooling is what remains, so tiles also
        # cross-fade over half a window, and cuts fall on the window grid.
        context=2 * window,
        size_multiple=window,
        cross_fade=window // 2,
        bytes_per_pixel=BYTES_PER_PIXEL,
        tile_sizes=TileSizes(cpu=CPU_TILE, gpu=GPU_TILE, smallest=window),
        speed=speed,
    )


def build_hat(hyperparameters: Mapping[str, Any]) -> nn.Module:
    from sr_studio.archs.hat.network import HAT

    return HAT(**{**DEFAULTS, **hyperparameters})


# The published variants' hyperparameters (as detected from the official files; the parity
# fixtures' official_state_dict_layouts.json holds their key layouts).
_PRESETS: dict[str, dict[str, Any]] = {
    "HAT-S": {"embed_dim": 144, "blocks": 6, "compress_ratio": 24, "squeeze_factor": 24},
    "HAT": {"embed_dim": 180, "blocks": 6, "compress_ratio": 3, "squeeze_factor": 30},
    "HAT-L": {"embed_dim": 180, "blocks": 12, "compress_ratio": 3, "squeeze_factor": 30},
}


def hat_preset(variant: str, scale: int) -> dict[str, Any] | None:
    preset = _PRESETS.get(variant)
    if preset is None:
        return None
    blocks = int(preset["blocks"])
    return {
        "embed_dim": preset["embed_dim"],
        "depths": [6] * blocks,
        "num_heads": [6] * blocks,
        "window_size": 16,
        "compress_ratio": preset["compress_ratio"],
        "squeeze_factor": preset["squeeze_factor"],
        "mlp_ratio": 2.0,
        "upscale": scale,
    }


HAT_ARCHITECTURE = Architecture(
    name=NAME,
    forms="HAT (HAT-S, HAT, HAT-L)",
    network_module="sr_studio.archs.hat.network",
    detect=detect_hat,
    describe=describe_hat,
    build=build_hat,
    preset=hat_preset,
)
