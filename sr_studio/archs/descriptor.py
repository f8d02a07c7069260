"""What a loaded network is and what running it needs: one typed record per model, built by the
detector in the network's own folder, so the engine, the weights store, the CLI and the window read
facts (context, precisions, speed) without knowing any network by name.

Anchored on spandrel's ImageModelDescriptor; this one also says what tiling needs (context, size
multiple, cross-fade, memory per pixel) and which precisions keep the quality on each device kind.
Torch-free, so the catalog and `models list` can use it without importing PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch
    from torch import nn

Precision = Literal["fp32", "bf16", "fp16"]
DeviceKind = Literal["cpu", "cuda", "mps"]
SpeedClass = Literal["fast", "slow", "very slow"]
StateDict = Mapping[str, Any]  # name -> tensor (or anything with a `.shape`, for detection)

DEVICE_KINDS: tuple[DeviceKind, ...] = ("cpu", "cuda", "mps")


@dataclass(frozen=True)
class TileSizes:
    """Tile cores in input px: the largest on a CPU (cache-friendly) and on a GPU, and the smallest
    worth trying when memory runs out (below it, running out of memory is final)."""

    cpu: int
    gpu: int
    smallest: int


@dataclass(frozen=True)
class ModelDescriptor:
    """Everything outside the network's folder needs to know about one model."""

    arch: str  # the architecture's registry name, as the catalog and the store record it
    variant: str  # what a user recognises: "HAT-S", "HAT-L", "SPAN ch48"
    scale: int
    hyperparameters: Mapping[str, Any] = field(hash=False)
    # Per device kind, the precisions that keep this network's output faithful (and that the device
    # kind can run at all); whether this particular device has bf16 is the engine's question.
    precisions: Mapping[str, tuple[Precision, ...]] = field(hash=False)
    context: int  # input px of real image around a tile the network must see (receptive radius)
    size_multiple: int  # tile cores and interior cuts fall on multiples of this (HAT's window)
    cross_fade: int  # input px neighbouring tiles overlap and fade over; 0 where tiles are exact
    bytes_per_pixel: int  # peak memory of one forward pass per patch pixel (input resolution)
    tile_sizes: TileSizes
    speed: SpeedClass
    # Why a precision is refused for this network on every device, for the one-line error.
    precision_notes: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hyperparameters", MappingProxyType(dict(self.hyperparameters)))
        object.__setattr__(self, "precisions", MappingProxyType(dict(self.precisions)))
        object.__setattr__(self, "precision_notes", MappingProxyType(dict(self.precision_notes)))

    @property
    def display_name(self) -> str:
        """ "HAT-S x4", "SPAN ch48 x2": how the CLI and the window name the model."""
        return f"{self.variant} x{self.scale}"

    def allowed_precisions(self, device_kind: str) -> tuple[Precision, ...]:
        """The precisions this model may run in on a device of this kind (cpu, cuda, mps)."""
        return self.precisions.get(device_kind, ())

    def allows(self, precision: str, device_kind: str) -> bool:
        return precision in self.allowed_precisions(device_kind)

    def precision_refusal(self, precision: str, device_kind: str) -> str | None:
        """None when allowed; otherwise the one-line reason, saying what to use instead."""
        if self.allows(precision, device_kind):
            return None
        instead = " or ".join(self.allowed_precisions(device_kind)) or "another device"
        if any(self.allows(precision, kind) for kind in DEVICE_KINDS):
            where = "the CPU" if device_kind == "cpu" else device_kind
            return f"precision {precision} is not supported on {where}: use {instead}"
        note = self.precision_notes.get(precision)
        reason = f" ({note})" if note else ""
        return f"precision {precision} is not supported for {self.arch}{reason}: use {instead}"


@dataclass(frozen=True)
class DetectedArchitecture:
    """What a detector found in a state dict: the descriptor and how to build the empty network."""

    descriptor: ModelDescriptor
    build: Callable[[], nn.Module] = field(repr=False, compare=False)
    # State-dict entries a file may lack because the network recomputes them (derived buffers).
    optional_keys: frozenset[str] = field(default=frozenset(), repr=False, compare=False)


@dataclass(frozen=True)
class Architecture:
    """One registry entry: how to recognise the network's state dicts and how to describe a model
    from recorded hyperparameters (the store keeps those, so no file needs loading to list it)."""

    name: str
    forms: str  # for the "unknown architecture" error: "HAT (HAT-S, HAT, HAT-L)"
    network_module: str  # the torch side, imported with model_loading (see import_networks)
    detect: Callable[[StateDict], DetectedArchitecture]
    describe: Callable[[Mapping[str, Any]], ModelDescriptor]
    # A network of these hyperparameters with fresh weights: the catalog's models timed on this
    # computer before their download (same shape, same speed).
    build: Callable[[Mapping[str, Any]], nn.Module]
    # The hyperparameters of a published variant ("HAT-S", "SPAN ch48") at a scale, or None.
    preset: Callable[[str, int], dict[str, Any] | None]


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A network ready to run (eval mode, weights loaded) with its descriptor.

    Calling it runs the network: `load_model(path)(x)`.
    """

    network: nn.Module
    descriptor: ModelDescriptor

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.network(x)
        return result
