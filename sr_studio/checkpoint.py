"""Read a weights file into a flat float32 state dict, safely.

Pickled files (.pth/.pt/.ckpt) are only ever opened with `torch.load(weights_only=True)`, which
refuses anything but tensors and plain containers, so a crafted file cannot run code. The format is
recognised from the file's first bytes, not its name.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import warnings
import zipfile
from pathlib import Path

import torch

from sr_studio.errors import CheckpointError

MAX_CHECKPOINT_BYTES = 2 * 1024**3  # HAT-L, the largest known model, is 166 MB
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CheckpointError("file not found", path) from None
    except OSError as error:
        raise CheckpointError(f"cannot read the file ({error.strerror})", path) from None
    if path.is_dir():
        raise CheckpointError("is a folder, not a weights file", path)
    if size == 0:
        raise CheckpointError("the file is empty", path)
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            f"the file is {size / 1024**3:.1f} GB, "
            f"over the {MAX_CHECKPOINT_BYTES // 1024**3} GB limit for a model",
            path,
        )
    with open(path, "rb") as file:
        head = file.read(16)
    if looks_like_safetensors(head, size):
        raw = read_safetensors(path)
    elif head.startswith(b"PK") or head[:1] == b"\x80":
        raw = read_pickled(path)
    else:
        raise CheckpointError(
            "not a model checkpoint (expected a .pth, .pt, .ckpt or .safetensors weights file)",
            path,
        )
    return clean_state_dict(unwrap(raw, path), path)


def looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 9:
        return False
    header_length = struct.unpack("<Q", head[:8])[0]
    return 0 < header_length <= size - 8 and head[8:9] == b"{"


def read_safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except (SafetensorError, ValueError, RuntimeError, OSError, json.JSONDecodeError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"damaged or invalid .safetensors file ({detail})", path) from None


def read_pickled(path: Path) -> object:
    try:
        with warnings.catch_warnings():
            # A damaged or foreign file makes the unpickler warn (an unknown pickle protocol)
            # before it fails: the user gets our one line, not PyTorch's advice to file an issue.
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        message = str(error)
        if "Unsupported global" in message or "Weights only load failed" in message:
            culprit = message.split("Unsupported global:", 1)[-1].split("\n", 1)[0].strip(" .")
            detail = f" ({culprit})" if "Unsupported global" in message and culprit else ""
            raise CheckpointError(
                f"refused: the file contains code to run when loaded{detail}; "
                "only plain weights are accepted",
                path,
            ) from None
        raise CheckpointError("damaged checkpoint (cannot be unpickled)", path) from None
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        OSError,
        KeyError,
        IndexError,
        struct.error,
        UnicodeDecodeError,
        TypeError,
        AttributeError,
        MemoryError,
        OverflowError,
    ) as error:
        text = str(error)
        if (
            "central directory" in text
            or "failed reading" in text
            or isinstance(error, (EOFError, zipfile.BadZipFile))
        ):
            reason = "the file is truncated or damaged (incomplete download?)"
        elif isinstance(error, (RuntimeError, ValueError, OSError)) and text:
            reason = f"damaged checkpoint ({text.splitlines()[0]})"
        else:  # the unpickler's own failure (a missing memo key, a bad opcode): nothing to show
            reason = "damaged checkpoint (cannot be unpickled)"
        raise CheckpointError(reason, path) from None


def unwrap(raw: object, path: Path) -> dict:
    """Find the state dict in the wrappers training frameworks add (preferring the EMA weights)."""
    for _ in range(4):
        if not isinstance(raw, dict):
            break
        if any(isinstance(value, torch.Tensor) for value in raw.values()):
            return raw
        inner = next((raw[key] for key in WRAPPER_KEYS if isinstance(raw.get(key), dict)), None)
        if inner is None:
            break
        raw = inner
    raise CheckpointError("no weights found in the file (not a model state dict)", path)


def clean_state_dict(raw: dict, path: Path) -> dict[str, torch.Tensor]:
    state_dict = {}
    for key, value in raw.items():
        if not isinstance(value, torch.Tensor):
            continue
        if not isinstance(key, str):
            raise CheckpointError("no weights found in the file (keys are not names)", path)
        if key.startswith("module."):
            key = key[len("module.") :]
        if value.is_floating_point() and value.dtype != torch.float32:
            value = value.float()
        state_dict[key] = value
    if not state_dict:
        raise CheckpointError("no weights found in the file", path)
    return state_dict
