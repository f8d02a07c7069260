"""Import the user's own weights file: proven by loading it, then kept as `.safetensors`.

The stored copy holds the state dict exactly as `read_state_dict` returns it (wrappers and `module.`
prefixes removed, float32), in the official key layout, so it loads like any other model and is
never unpickled again. Importing the same file twice is refused, naming the model it already is.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sr_studio.weights.bundled import BundledModel, bundled_models
from sr_studio.weights.catalog import CatalogError, load_catalog, valid_model_id
from sr_studio.weights.store import (
    InstalledModel,
    ModelStore,
    StoreError,
    ensure_free_space,
    sha256_of,
    store_lock,
)


def import_model(
    path: str | os.PathLike[str],
    *,
    store: ModelStore | None = None,
    model_id: str | None = None,
    name: str | None = None,
) -> InstalledModel:
    """Validate `path` (architecture and scale detected by loading it) and install a safe copy.

    The id is `model_id` when given (refused if taken), else made from the file name, with `-2`,
    `-3`, ... added when that id is already used by an installed, catalog or bundled model.
    """
    from safetensors.torch import save_file

    from sr_studio.checkpoint import read_state_dict
    from sr_studio.model_loading import model_from_state_dict

    path = Path(path)
    store = store if store is not None else ModelStore()
    state_dict = read_state_dict(path)  # refuses what is not a checkpoint, or not plain weights
    source_sha256 = sha256_of(path)
    model = model_from_state_dict(state_dict, source=path)
    described = model.descriptor
    arch, scale = described.arch, described.scale
    hyperparameters = dict(described.hyperparameters)
    del model
    bundled = bundled_copy_of(state_dict, arch, scale)
    if bundled is not None:
        raise StoreError(
            f"these are the weights of the bundled {bundled.name} ('{bundled.id}'), which is "
            "always there: nothing to import",
            path,
        )
    tensors = {key: value.detach().contiguous().clone() for key, value in state_dict.items()}
    del state_dict

    # Held from the duplicate check to the install, so that two imports cannot take the same id.
    with store_lock:
        duplicate = store.find_by_sha256(source_sha256)
        if duplicate is not None:
            raise StoreError(f"this file is already installed as '{duplicate.id}'", path)
        taken = taken_ids(store)
        if model_id is not None:
            store.check_id(model_id)
            if model_id in taken:
                raise StoreError(f"the id '{model_id}' is already used; choose another", path)
        else:
            model_id = unique_id(id_from_file_name(path), taken)
        ensure_free_space(
            store.root, sum(t.numel() * t.element_size() for t in tensors.values()), path.name
        )
        store.partial_dir.mkdir(parents=True, exist_ok=True)
        descriptor, temporary_name = tempfile.mkstemp(
            dir=store.partial_dir, prefix=f"{model_id}.", suffix=".import"
        )
        os.close(descriptor)
        temporary = Path(temporary_name)
        try:
            try:
                save_file(
                    tensors,
                    str(temporary),
                    metadata={"format": "pt", "arch": arch, "scale": str(scale)},
                )
            except OSError as error:
                raise StoreError(
                    f"cannot write the imported model ({error.strerror})", temporary
                ) from None
            record = {
                "name": name or path.stem,
                "arch": arch,
                "scale": scale,
                "sha256": sha256_of(temporary),
                "size": temporary.stat().st_size,
                "verified": False,
                "source": "import",
                "origin": str(path.resolve()),
                "source_sha256": source_sha256,
                "license": None,
                "hyperparameters": hyperparameters,
            }
            return store.install(temporary, model_id, ".safetensors", record)
        finally:
            temporary.unlink(missing_ok=True)


def bundled_copy_of(state_dict: Mapping[str, Any], arch: str, scale: int) -> BundledModel | None:
    """The bundled model whose weights these are, tensor for tensor (the published SPAN .pth is
    the bundled Clean model in another container), or None."""
    import torch

    from sr_studio.checkpoint import read_state_dict

    for model in bundled_models():
        if model.arch != arch or model.scale != scale:
            continue
        theirs = read_state_dict(model.path)
        if theirs.keys() == state_dict.keys() and all(
            torch.equal(theirs[key].float(), state_dict[key].float()) for key in theirs
        ):
            return model
    return None


def id_from_file_name(path: Path) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._")[:56]
    return slug if slug and valid_model_id(slug) else "imported"


def unique_id(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def taken_ids(store: ModelStore) -> set[str]:
    taken = {model.id for model in store.installed()}
    taken |= {model.id for model in bundled_models()}
    try:
        taken |= {entry.id for entry in load_catalog()}
    except CatalogError:
        pass  # a broken catalog must not stop an import; its ids simply cannot be reserved
    # Ids of damaged or missing records are kept free too, so that `remove` can still reach them.
    if store.root.is_dir():
        taken |= {p.stem for p in store.root.glob("*.json")}
    return taken
