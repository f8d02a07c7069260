"""How a detector answers: its architecture is absent (try the next) or present but inconsistent."""

from __future__ import annotations

from sr_studio.archs.descriptor import StateDict


class NotThisArchitecture(Exception):
    """Raised by a detector whose signature keys are absent, so the next detector is tried."""


class InconsistentStateDict(Exception):
    """Raised by a detector that recognises its architecture but finds shapes it cannot have."""


def shape_of(state_dict: StateDict, key: str) -> tuple[int, ...]:
    try:
        return tuple(state_dict[key].shape)
    except KeyError:
        raise InconsistentStateDict(f"the entry {key!r} is missing") from None
