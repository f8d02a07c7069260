"""Cleanup strength: a photo model's weights blended with those of the clean model it was fine-tuned
from.

A photo model removes JPEG blocks and noise but also softens fine detail that a clean source has.
Its weights lie close to its parent's (about 3% apart for SR Studio's SPAN photo models), so the
straight line between the two is a family of working networks: 100% is the photo model, 0% the
clean one, and the PSNR on both kinds of input moves smoothly between them (measured in
benchmarks/RESULTS.md). The blend costs nothing at run time: it is one network, built once.
Torch-free until a blend is made, so that the weights store and `models list` can name a cleanup
without importing PyTorch.

Blending happens after SPAN's training branches are folded into their 3x3 kernels, so it is linear
in the convolutions that actually run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sr_studio.errors import CheckpointError, SRStudioError

if TYPE_CHECKING:
    from sr_studio.archs import LoadedModel


@dataclass(frozen=True)
class Cleanup:
    """How much of a photo model's cleanup to keep: `strength` 1.0 is the model as trained, 0.0
    its clean `base`. Plain data, so that it travels with a request to a worker or a cluster node.
    """

    base: Path
    strength: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise SRStudioError(f"cleanup must be from 0 to 100%, not {self.strength * 100:g}%")

    @property
    def percent(self) -> float:
        return round(self.strength * 100, 2)

    def model_id(self, plain_id: str) -> str:
        """The id of the model at this strength, as `--model` takes it back (library.split_cleanup
        reads it): `bundled-span-x4-photo@60`."""
        return f"{plain_id}@{self.percent:g}"

    def model_name(self, plain_name: str) -> str:
        """What the window, the comparison grid and contact sheets call it."""
        return f"{plain_name}, cleanup {self.percent:g}%"


def blend_models(tuned: LoadedModel, base: LoadedModel, strength: float) -> LoadedModel:
    """`tuned` with every weight moved to base + strength * (tuned - base), in place.

    Both must be the same network of the same size; anything else is refused with the difference,
    since a blend of unrelated weights is noise, not a photo.
    """
    if (
        tuned.descriptor.arch != base.descriptor.arch
        or tuned.descriptor.scale != base.descriptor.scale
    ):
        raise CheckpointError(
            f"cannot blend {tuned.descriptor.display_name} with "
            f"{base.descriptor.display_name}: the two must be the same architecture and scale"
        )
    own = tuned.network.state_dict()
    other = base.network.state_dict()
    different = sorted(
        set(own) ^ set(other)
        | {k for k in own.keys() & other.keys() if own[k].shape != other[k].shape}
    )
    if different:
        raise CheckpointError(
            f"cannot blend {tuned.descriptor.display_name} with its base: {len(different)} "
            f"weights differ in name or shape (e.g. {different[0]})"
        )
    import torch

    with torch.no_grad():
        for name, value in own.items():
            if value.is_floating_point():
                value.lerp_(other[name].to(value.dtype), 1.0 - strength)
    return tuned
