"""SR Studio: photo super-resolution with HAT and SPAN.

Heavy modules (torch) are imported on first use so that `sr-studio --help` stays instant.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["load_model", "__version__"]


def __getattr__(name):
    if name == "load_model":
        from sr_studio.model_loading import load_model

        return load_model
    raise AttributeError(f"module 'sr_studio' has no attribute {name!r}")
