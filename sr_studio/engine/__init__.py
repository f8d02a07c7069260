"""Tiled, bounded-memory upscaling of numpy images with a loaded model and its descriptor."""

from sr_studio.engine.devices import choose_device
from sr_studio.engine.upscaler import TileProgress, Upscaler

__all__ = ["Upscaler", "TileProgress", "choose_device"]
