"""Models shipped inside the application (`resources/models/`): always listed, never downloaded.

Each `<stem>.safetensors` has a sidecar card, `<stem>.json` or `<stem>.md`, giving `id`, `name`,
`arch`, `scale`, `license` and optionally `description`, `sha256`, `purpose` (a catalog purpose:
`bicubic` for clean sources, `real-world` for camera photos), `default` (true for the model that
runs when none is chosen, where several share a scale) and `base` (the id of the bundled clean
model this one was fine-tuned from: its cleanup strength blends the two, see model_blending).
A Markdown card carries them as `key: value` lines (in a `---` front-matter block or a bullet
list such as `- **scale**: 2`); the rest of the card is free text for people. Missing fields fall
back to the file name (`span-x2` gives id `bundled-span-x2` and scale 2).
`SR_STUDIO_BUNDLED_DIR` replaces the folder (tests).
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass, replace
from pathlib import Path

from sr_studio.archs import ModelDescriptor, detect_architecture
from sr_studio.errors import CheckpointError, SRStudioError
from sr_studio.resource_paths import resource_dir
from sr_studio.weights.catalog import PURPOSES, valid_model_id

BUNDLED_DIR_ENV = "SR_STUDIO_BUNDLED_DIR"
CARD_FIELDS = (
    "id",
    "name",
    "arch",
    "scale",
    "license",
    "description",
    "sha256",
    "purpose",
    "default",
    "base",
)
CARD_LINE = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:\*\*|__)?("
    + "|".join(CARD_FIELDS)
    + r")(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(.+?)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class BundledModel:
    id: str
    name: str
    arch: str | None
    scale: int
    license: str
    description: str
    path: Path
    size: int
    sha256: str | None = None
    purpose: str | None = None
    default: bool = False
    descriptor: ModelDescriptor | None = None  # None when the file's layout is not recognised
    base: str | None = None  # the bundled clean model it was fine-tuned from (cleanup strength)
    base_path: Path | None = None  # that model's weights, when they are bundled beside it


@dataclass(frozen=True)
class TensorShape:
    """A state-dict entry known only by its shape: enough for the detectors."""

    shape: tuple[int, ...]


MAX_HEADER_BYTES = 16 * 1024**2
UNREADABLE_HEADER = (OSError, ValueError, KeyError, TypeError, AttributeError, struct.error)


def describe_safetensors(weights: Path) -> ModelDescriptor | None:
    """The descriptor from the file's safetensors header alone (names and shapes), so listing the
    bundled models reads a few kilobytes and needs no PyTorch; None when it is not a known model."""
    try:
        with open(weights, "rb") as file:
            (length,) = struct.unpack("<Q", file.read(8))
            if length > MAX_HEADER_BYTES:
                return None
            header = json.loads(file.read(length))
        shapes = {
            name: TensorShape(tuple(int(side) for side in entry["shape"]))
            for name, entry in header.items()
            if name != "__metadata__"
        }
        return detect_architecture(shapes).descriptor
    except UNREADABLE_HEADER:
        return None
    except CheckpointError:  # no known architecture has this layout
        return None


def bundled_dir() -> Path:
    override = os.environ.get(BUNDLED_DIR_ENV)
    if override:
        return Path(override)
    try:
        return resource_dir() / "models"
    except FileNotFoundError:
        return Path(__file__).resolve().parents[2] / "resources" / "models"


def bundled_models(directory: str | os.PathLike[str] | None = None) -> list[BundledModel]:
    directory = Path(directory) if directory is not None else bundled_dir()
    if not directory.is_dir():
        return []
    models = []
    for weights in sorted(directory.glob("*.safetensors")):
        model = read_bundled(weights)
        if model is not None:
            models.append(model)
    paths = {model.id: model.path for model in models}
    return [replace(model, base_path=paths.get(model.base or "")) for model in models]


def read_bundled(weights: Path) -> BundledModel | None:
    """The model a shipped file and its card describe; None when its scale cannot be known."""
    card = read_card(weights)
    model_id = str(card.get("id") or f"bundled-{weights.stem.lower()}")
    scale = card.get("scale")
    if scale is None:
        match = re.search(r"x(\d)", weights.stem.lower())
        scale = match[1] if match else None
    try:
        scale = int(str(scale).lower().lstrip("x"))
    except ValueError:
        return None
    if not valid_model_id(model_id) or scale < 1:
        return None
    return BundledModel(
        id=model_id,
        name=str(card.get("name") or weights.stem),
        arch=str(card["arch"]).upper() if card.get("arch") else None,
        scale=scale,
        license=str(card.get("license") or "see card"),
        description=str(card.get("description") or ""),
        path=weights,
        size=weights.stat().st_size,
        sha256=str(card["sha256"]).lower() if card.get("sha256") else None,
        purpose=str(card["purpose"]) if card.get("purpose") in PURPOSES else None,
        default=str(card.get("default", "")).lower() in ("true", "yes", "1"),
        descriptor=describe_safetensors(weights),
        base=str(card["base"]) if card.get("base") and valid_model_id(str(card["base"])) else None,
    )


def read_card(weights: Path) -> dict[str, object]:
    json_card = weights.with_suffix(".json")
    if json_card.is_file():
        try:
            document = json.loads(json_card.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return (
            {k: v for k, v in document.items() if k in CARD_FIELDS}
            if isinstance(document, dict)
            else {}
        )
    markdown_card = weights.with_suffix(".md")
    if not markdown_card.is_file():
        return {}
    try:
        text = markdown_card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    fields: dict[str, object] = {}
    for line in text.splitlines():
        match = CARD_LINE.match(line)
        if match and match[1].lower() not in fields:
            fields[match[1].lower()] = match[2].strip("`*_ ")
    return fields


def default_model_path(scale: int, directory: str | os.PathLike[str] | None = None) -> Path:
    """The bundled model for `scale`: the same scale, else the next larger one, else the largest;
    among models of one scale, the one whose card says `default`.

    A larger model is preferred to a smaller one because the engine reaches the asked-for size by
    downsampling, which keeps detail, whereas a smaller model would need a second, blurring upscale.
    """
    models = bundled_models(directory)
    if not models:
        where = Path(directory) if directory is not None else bundled_dir()
        raise SRStudioError(
            "no model is bundled with this installation; "
            "download one with `sr-studio models download ID` "
            "(ids in `sr-studio models list`) and choose it by its id",
            where,
        )
    larger = sorted(
        (m for m in models if m.scale >= scale), key=lambda m: (m.scale, not m.default, m.id)
    )
    if larger:
        return larger[0].path
    return min(models, key=lambda m: (-m.scale, not m.default, m.id)).path


def find_bundled(
    model_id: str, directory: str | os.PathLike[str] | None = None
) -> BundledModel | None:
    return next((m for m in bundled_models(directory) if m.id == model_id), None)
