"""Recognise a HAT state dict (HAT-S, HAT, HAT-L and custom sizes) and read every hyperparameter from it."""

from __future__ import annotations

import math
import re

from sr_studio.archs.detection import DetectedArchitecture, InconsistentStateDict, NotThisArchitecture, shape_of
from sr_studio.archs.hat.network import HAT

SIGNATURE = "layers.0.residual_group.overlap_attn.relative_position_bias_table"
DEFAULTS = {"overlap_ratio": 0.5, "qkv_bias": True, "patch_norm": True, "num_feat": 64}


def square_root(value: int, what: str) -> int:
    root = math.isqrt(value)
    if root * root != value:
        raise InconsistentStateDict(f"{what} has {value} entries, which is not a square")
    return root


def detect_hat(state_dict: dict) -> DetectedArchitecture:
    if SIGNATURE not in state_dict or "conv_first.weight" not in state_dict:
        raise NotThisArchitecture
    unsupported = [k for k in ("absolute_pos_embed", "conv_up1.weight", "layers.0.conv.0.weight") if k in state_dict]
    if unsupported:
        raise InconsistentStateDict(f"HAT variant with {unsupported[0]!r} is not supported")
    embed_dim, in_channels, *_ = shape_of(state_dict, "conv_first.weight")
    if in_channels != 3:
        raise InconsistentStateDict(f"HAT with {in_channels} input channels is not supported (RGB models only)")

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
    num_heads = [
        shape_of(state_dict, f"layers.{i}.residual_group.blocks.0.attn.relative_position_bias_table")[1]
        for i in range(layers)
    ]

    table = shape_of(state_dict, "layers.0.residual_group.blocks.0.attn.relative_position_bias_table")[0]
    window_size = (square_root(table, "the window attention bias table") + 1) // 2
    overlap_table = shape_of(state_dict, SIGNATURE)[0]
    overlap_window = square_root(overlap_table, "the overlapping attention bias table") - window_size + 1
    overlap_ratio = (overlap_window - window_size) / window_size

    block = "layers.0.residual_group.blocks.0"
    compressed = shape_of(state_dict, f"{block}.conv_block.cab.0.weight")[0]
    squeezed = shape_of(state_dict, f"{block}.conv_block.cab.3.attention.1.weight")[0]
    hidden = shape_of(state_dict, f"{block}.mlp.fc1.weight")[0]
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

    hyperparameters = {
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
        "qkv_bias": f"{block}.attn.qkv.bias" in state_dict,
        "patch_norm": "patch_embed.norm.weight" in state_dict,
        "num_feat": num_feat,
    }
    hyperparameters.update({k: v for k, v in found.items() if v != DEFAULTS[k]})
    options = {**DEFAULTS, **hyperparameters}
    return DetectedArchitecture(
        arch="HAT",
        scale=scale,
        hyperparameters=hyperparameters,
        build=lambda: HAT(**options),
        optional_keys=frozenset({"relative_position_index_SA", "relative_position_index_OCA"}),
    )
