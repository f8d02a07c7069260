"""HAT: the network (network.py, imports torch) and its detector (detect.py, torch-free).

The network is imported on first use, so that the registry and the catalog stay torch-free.
"""

from __future__ import annotations

from typing import Any

from sr_studio.archs.hat.detect import detect_hat

__all__ = ["HAT", "detect_hat"]


def __getattr__(name: str) -> Any:
    if name == "HAT":
        from sr_studio.archs.hat.network import HAT

        return HAT
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
