"""What a state dict is: the architecture, its scale and the hyperparameters needed to rebuild it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import nn


@dataclass(frozen=True)
class DetectedArchitecture:
    arch: str
    scale: int
    hyperparameters: dict
    build: Callable[[], nn.Module] = field(repr=False, compare=False)
    # State-dict entries a file may lack because the network recomputes them (derived buffers).
    optional_keys: frozenset = field(default=frozenset(), repr=False, compare=False)


class NotThisArchitecture(Exception):
    """Raised by a detector whose signature keys are absent, so the next detector is tried."""


class InconsistentStateDict(Exception):
    """Raised by a detector that recognises its architecture but finds shapes that cannot belong to it."""


def shape_of(state_dict: dict, key: str) -> tuple[int, ...]:
    try:
        return tuple(state_dict[key].shape)
    except KeyError:
        raise InconsistentStateDict(f"the entry {key!r} is missing") from None
