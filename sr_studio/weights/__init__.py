"""Model weights: the catalog, the installed models, downloads, imports and the bundled defaults.

Importing this package does not import torch (so `sr-studio --help` and `models list` stay instant);
only the trial load of a download and an import do.
"""

from __future__ import annotations

from sr_studio.weights.bundled import BundledModel, bundled_dir, bundled_models, default_model_path
from sr_studio.weights.catalog import (
    PURPOSES,
    CatalogEntry,
    CatalogError,
    catalog_path,
    find_entry,
    load_catalog,
    purpose_name,
)
from sr_studio.weights.download import DownloadError, DownloadProgress, download_model
from sr_studio.weights.importing import import_model
from sr_studio.weights.library import ModelListing, list_models, resolve_model
from sr_studio.weights.store import (
    InstalledModel,
    ModelStore,
    StoreError,
    VerifyResult,
    data_dir,
    human_size,
    models_dir,
)

__all__ = [
    "BundledModel",
    "CatalogEntry",
    "CatalogError",
    "DownloadError",
    "DownloadProgress",
    "InstalledModel",
    "ModelListing",
    "ModelStore",
    "PURPOSES",
    "purpose_name",
    "StoreError",
    "VerifyResult",
    "bundled_dir",
    "bundled_models",
    "catalog_path",
    "data_dir",
    "default_model_path",
    "download_model",
    "find_entry",
    "human_size",
    "import_model",
    "list_models",
    "load_catalog",
    "models_dir",
    "resolve_model",
]
