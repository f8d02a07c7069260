"""The user's model library as one list (bundled, installed, available); name-to-file resolution."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sr_studio.archs import describe_recorded
from sr_studio.automatic_choice import AutomaticPair
from sr_studio.errors import SRStudioError
from sr_studio.model_blending import Cleanup
from sr_studio.weights.bundled import bundled_models, default_model_path
from sr_studio.weights.catalog import CatalogEntry, load_catalog
from sr_studio.weights.store import InstalledModel, ModelStore


@dataclass(frozen=True)
class ModelListing:
    id: str
    name: str
    arch: str | None
    variant: str  # "HAT-S", "SPAN ch48", ...; the architecture for imports
    scale: int
    purpose: str | None  # "bicubic", "real-world", or None (imports, bundled without a card saying)
    license: str | None
    size: int | None
    status: str  # "bundled", "installed" (from the catalog), "imported" or "available"
    verified: (
        bool | None
    )  # installed: matched a published sha256; available: has one to match; else None
    description: str
    path: Path | None  # where the weights are, when they are on this computer
    speed: str | None = None  # the descriptor's speed class, where the model can be described
    # the clean model it was fine-tuned from, when on this computer: it offers a cleanup strength
    cleanup_base: Path | None = None

    @property
    def on_disk(self) -> bool:
        return self.path is not None


def list_models(
    store: ModelStore | None = None, catalog: list[CatalogEntry] | None = None
) -> list[ModelListing]:
    """Bundled models, then installed ones (catalog order, then imports), then downloadable ones."""
    store = store if store is not None else ModelStore()
    catalog = catalog if catalog is not None else load_catalog()
    installed = {model.id: model for model in store.installed()}
    listings = [
        ModelListing(
            id=m.id,
            name=m.name,
            arch=m.arch,
            variant=m.arch or "",
            scale=m.scale,
            purpose=m.purpose,
            license=m.license,
            size=m.size,
            status="bundled",
            verified=None,
            description=m.description,
            path=m.path,
            speed=m.descriptor.speed if m.descriptor else None,
            cleanup_base=m.base_path,
        )
        for m in bundled_models()
    ]
    available = []
    bundled_ids = {listing.id for listing in listings}
    for entry in catalog:
        if entry.bundled_as in bundled_ids and entry.id not in installed:
            continue  # the same network is bundled: nothing to offer
        model = installed.pop(entry.id, None)
        if model is not None:
            listings.append(from_installed(model, entry))
        else:
            available.append(
                ModelListing(
                    id=entry.id,
                    name=entry.name,
                    arch=entry.arch,
                    variant=entry.variant,
                    scale=entry.scale,
                    purpose=entry.purpose,
                    license=entry.license,
                    size=entry.size,
                    status="available",
                    verified=True,
                    description=entry.description,
                    path=None,
                )
            )
    listings.extend(from_installed(model, None) for model in installed.values())
    return listings + available


def from_installed(model: InstalledModel, entry: CatalogEntry | None) -> ModelListing:
    imported = model.source == "import"
    described = describe_recorded(model.arch, model.hyperparameters)
    return ModelListing(
        id=model.id,
        name=model.name,
        arch=model.arch,
        variant=entry.variant if entry else model.arch,
        scale=model.scale,
        purpose=entry.purpose if entry else None,
        license=model.license,
        size=model.size,
        status="imported" if imported else "installed",
        verified=None if imported else model.verified,
        description=entry.description if entry else f"imported from {model.origin}",
        path=model.path,
        speed=described.speed if described else None,
    )


def resolve_model(name_or_path: str | os.PathLike[str] | None, scale: int | None = None) -> Path:
    """The weights file for `sr-studio upscale --model`: an installed, bundled or catalog id, or a
    file path.

    None gives the bundled default for `scale` (4 when that is None too). A catalog model that is
    not installed is an error saying how to download it.
    """
    if name_or_path is None:
        return default_model_path(scale or 4)
    text = os.fspath(name_or_path)
    installed = ModelStore().get(text)
    if installed is not None:
        return installed.path
    bundled = next((m for m in bundled_models() if m.id == text), None)
    if bundled is not None:
        return bundled.path
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        raise SRStudioError(
            "is a folder; give a model id or a weights file (.pth or .safetensors)", path
        )
    entry = next((entry for entry in load_catalog() if entry.id == text), None)
    if entry is not None:
        twin = next((m for m in bundled_models() if m.id == entry.bundled_as), None)
        if twin is not None:
            return twin.path  # the published network, bundled under its own id
        raise SRStudioError(
            f"the model '{text}' is not installed; run: sr-studio models download {text}"
        )
    raise SRStudioError(
        f"no installed model or file named '{text}' (see `sr-studio models list` for model ids)"
    )


def entry_to_download(reference: str | None) -> CatalogEntry | None:
    """The catalog entry a `--model` reference names when its file must be downloaded first (what
    `resolve_model` refuses as not installed); None for a model or file on this computer, the
    published networks bundled under their own ids included, and for names that are no catalog
    id."""
    if reference is None:
        return None
    try:
        resolve_model(reference)
    except SRStudioError:
        return next((entry for entry in load_catalog() if entry.id == reference), None)
    return None


def automatic_models(scale: int | None = None) -> AutomaticPair | None:
    """The photo model and its clean base that Automatic chooses between at `scale`: the bundled
    photo model fine-tuned from the bundled default for the scale. None when no such pair is
    bundled (the default model alone is then the choice)."""
    clean = default_model_path(scale or 4)
    models = bundled_models()
    for model in models:
        if model.base_path is not None and _same_file(model.base_path, clean):
            base = next((m for m in models if _same_file(m.path, clean)), None)
            return AutomaticPair(
                model.id,
                model.name,
                model.path,
                base.id if base else clean.stem,
                base.name if base else clean.stem,
                model.base_path,
            )
    return None


def cleanup_base(model_path: str | os.PathLike[str]) -> Path | None:
    """The weights of the clean model that the model at `model_path` was fine-tuned from, when its
    card names one that is on this computer; None otherwise (no cleanup strength to set)."""
    for model in bundled_models():
        if model.base_path is not None and _same_file(model.path, model_path):
            return model.base_path
    return None


def with_cleanup(model_path: Path, percent: float | None) -> Cleanup | None:
    """The cleanup that `--cleanup PERCENT` asks of this model, or None for the model as trained;
    an error naming the models that have one when this model has no clean base to blend with."""
    if percent is None:
        return None
    base = cleanup_base(model_path)
    if base is None:
        offered = ", ".join(m.id for m in bundled_models() if m.base_path) or "none is installed"
        raise SRStudioError(
            f"--cleanup needs a photo model with a clean base to blend with ({offered}); "
            f"{describe_model(model_path)[0]} has none"
        )
    return Cleanup(base, percent / 100)


CLEANUP_SUFFIX = re.compile(r"^(?P<name>.+)@(?P<percent>\d{1,3}(?:\.\d+)?)%?$")


def split_cleanup(reference: str) -> tuple[str, float | None]:
    """`bundled-span-x4-photo@60` -> ("bundled-span-x4-photo", 60.0): a model named with the
    cleanup strength it runs at. A name without the suffix, or an existing file whose own name
    ends like one, is returned whole with None."""
    match = CLEANUP_SUFFIX.match(reference)
    if match is None or Path(reference).expanduser().is_file():
        return reference, None
    return match["name"], float(match["percent"])


def resolve_choice(
    reference: str | None, scale: int | None = None, cleanup_percent: float | None = None
) -> tuple[Path, Cleanup | None]:
    """The weights file and cleanup of a model reference as the command line takes it: a
    resolve_model name, optionally ending in `@PERCENT`; `cleanup_percent` is --cleanup's value,
    refused alongside a suffix so that the run never silently picks one of two strengths."""
    name, suffix = split_cleanup(reference) if reference is not None else (None, None)
    if suffix is not None and cleanup_percent is not None:
        raise SRStudioError(
            f"the cleanup is given twice ({reference} and --cleanup {cleanup_percent:g}); "
            "give one of them"
        )
    path = resolve_model(name, scale)
    return path, with_cleanup(path, suffix if suffix is not None else cleanup_percent)


def file_words(model_id: str) -> str:
    """The model as an output's file name says it, in words a person reads: `bundled-span-x4` ->
    `clean`, `bundled-span-x4-photo@75` -> `photo-75`, `hat-s-x4` -> `hat-s`; a file's or an
    import's own name as it is. One rule for the command line and the window's exports."""
    from sr_studio.weights.catalog import purpose_name

    plain, percent = split_cleanup(model_id)
    bundled = next((m for m in bundled_models() if m.id == plain), None)
    if bundled is not None and purpose_name(bundled.purpose):
        words = purpose_name(bundled.purpose).lower()
    else:
        words = re.sub(r"-x\d+(?=-|$)", "", Path(plain).stem if "." in plain else plain)
        words = words.removeprefix("bundled-")
    words = re.sub(r"[^A-Za-z0-9._-]+", "-", words).strip("-._") or "model"
    return f"{words}-{percent:g}" if percent is not None else words


def _same_file(one: str | os.PathLike[str] | None, other: str | os.PathLike[str]) -> bool:
    try:
        return one is not None and Path(one).resolve() == Path(other).resolve()
    except OSError:
        return False


def describe_model(path: Path, listings: list[ModelListing] | None = None) -> tuple[str, str, str]:
    """(id, name, purpose) of the bundled or installed model at `path`, in the words the model list
    uses; for a file that is neither, its file name and no purpose."""
    from sr_studio.weights.catalog import PURPOSES

    for listing in listings if listings is not None else list_models():
        if _same_file(listing.path, path):
            return listing.id, listing.name, PURPOSES.get(listing.purpose or "", "")
    return Path(path).name, Path(path).name, ""
