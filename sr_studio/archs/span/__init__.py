"""SPAN: the network (network.py, imports torch) and its detector (detect.py, torch-free).

The network is imported on first use, so that the registry and the catalog stay torch-free.
"""

from __future__ import annotations

from typing import Any

from sr_studio.archs.span.detect import detect_span

__all__ = ["SPAN", "detect_span"]


def __getattr__(name: str) -> Any:
    if name == "SPAN":
        from sr_studio.archs.span.network import SPAN

        return SPAN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
