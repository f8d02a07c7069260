"""Installed models: weights files plus a small JSON record each, in the user's data folder.

Layout of `<data dir>/models/`:
    <id>.pth | <id>.safetensors   the weights (downloads keep the published file; imports become
                                  .safetensors)
    <id>.json                     the record: where it came from, sha256, arch, scale, date
    .partial/                     downloads and imports in progress (never listed)

A model is installed exactly when its record exists and names a weights file that exists. The
weights are moved into place first and the record is written last (both atomically), so an
interrupted install leaves at most an orphan file that nothing lists and the next install of that id
replaces. `SR_STUDIO_DATA_DIR` replaces the data folder (tests, portable installs).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sr_studio.errors import Cancelled, SRStudioError
from sr_studio.weights.catalog import valid_model_id

DATA_DIR_ENV = "SR_STUDIO_DATA_DIR"
APP_NAME = "SR Studio"
RECORD_FORMAT = 1
WEIGHT_SUFFIXES = (".pth", ".safetensors")
# Room kept free beyond the file itself, so finishing a download never fills the disk to the last
# byte.
DISK_MARGIN_BYTES = 32 * 1024 * 1024

store_lock = threading.RLock()


class StoreError(SRStudioError):
    """A model not installed, not removable, or whose record or disk space is a problem."""


def data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def models_dir() -> Path:
    return data_dir() / "models"


@dataclass(frozen=True)
class InstalledModel:
    id: str
    name: str
    path: Path
    arch: str
    scale: int
    sha256: str  # of the stored file, as installed; `verify` compares against it
    size: int
    verified: bool  # the download matched a published sha256 (imports: False)
    source: str  # "catalog" or "import"
    origin: str  # the URL it came from, or the imported file's path
    license: str | None
    installed_at: str  # ISO 8601, UTC
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # as ModelDescriptor's
    source_sha256: str | None = None  # imports: the digest of the user's original file


@dataclass(frozen=True)
class VerifyResult:
    id: str
    status: str  # "ok", "changed", "missing" or "damaged record"
    detail: str = ""
    model: InstalledModel | None = None


def sha256_of(path: Path, cancelled: Callable[[], bool] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1024 * 1024):
            if cancelled is not None and cancelled():
                raise Cancelled(path=path)
            digest.update(chunk)
    return digest.hexdigest()


def human_size(size: int | None) -> str:
    """Decimal units, as file browsers show them: '9.0 MB', '166 MB', '313 kB'."""
    if size is None:
        return "?"
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            value = size / factor
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{size} B"


def ensure_free_space(folder: Path, needed: int, what: str) -> None:
    """Refuse before writing when `needed` bytes (and a margin) would not fit on `folder`'s disk."""
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed + DISK_MARGIN_BYTES:
        raise StoreError(
            f"not enough disk space for {what}: it needs {human_size(needed + DISK_MARGIN_BYTES)}, "
            f"{human_size(free)} is free",
            folder,
        )


def write_json_atomically(path: Path, document: Mapping[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".record-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class ModelStore:
    """The models folder. Cheap to create; each call reads it afresh (the GUI and CLI share it)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else models_dir()

    @property
    def partial_dir(self) -> Path:
        return self.root / ".partial"

    def record_path(self, model_id: str) -> Path:
        self.check_id(model_id)
        return self.root / f"{model_id}.json"

    @staticmethod
    def check_id(model_id: str) -> None:
        if not valid_model_id(model_id):
            raise StoreError(
                f"{model_id!r} is not a valid model id "
                "(use lower-case letters, digits, '.', '_' and '-')"
            )

    def installed(self) -> list[InstalledModel]:
        scanned = self._scan()
        # "ok" always carries its model; the second test says so to the type checker
        return [r.model for r in scanned if r.status == "ok" and r.model is not None]

    def get(self, model_id: str) -> InstalledModel | None:
        if not valid_model_id(model_id):
            return None
        record_path = self.root / f"{model_id}.json"
        if not record_path.is_file():
            return None
        result = self._read(record_path)
        return result.model if result.status == "ok" else None

    def find_by_sha256(self, digest: str) -> InstalledModel | None:
        for model in self.installed():
            if digest in (model.sha256, model.source_sha256):
                return model
        return None

    def install(
        self, weights: Path, model_id: str, suffix: str, record: Mapping[str, object]
    ) -> InstalledModel:
        """Move `weights` (same disk) to `<id><suffix>` and write its record; returns the model."""
        self.check_id(model_id)
        if suffix not in WEIGHT_SUFFIXES:
            raise StoreError(f"unsupported weights format {suffix!r}")
        with store_lock:
            self.root.mkdir(parents=True, exist_ok=True)
            target = self.root / f"{model_id}{suffix}"
            old = self.get(model_id)
            os.replace(weights, target)
            document = {
                "format": RECORD_FORMAT,
                "id": model_id,
                "file": target.name,
                "installed_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                **record,
            }
            write_json_atomically(self.record_path(model_id), document)
            if old is not None and old.path != target:
                old.path.unlink(missing_ok=True)
            result = self._read(self.record_path(model_id))
        if result.model is None:
            raise StoreError(
                f"the record just written for {model_id} cannot be read ({result.detail})",
                self.root,
            )
        return result.model

    def remove(self, model_id: str) -> InstalledModel | None:
        """Delete an installed model and any partial download of it; returns what was installed.

        Refused while a download of it runs (in this process or another), whose file it would pull
        away.
        """
        from sr_studio.weights.model_lock import ModelLock

        self.check_id(model_id)
        if not self.root.is_dir():
            return self._remove(model_id)  # nothing installed, nothing downloading: says so
        lock = ModelLock(self.partial_dir, model_id)
        if not lock.try_acquire():
            raise StoreError(
                f"{model_id} is being downloaded right now; cancel that download first"
            )
        try:
            return self._remove(model_id)
        finally:
            lock.release()

    def _remove(self, model_id: str) -> InstalledModel | None:
        with store_lock:
            record_path = self.record_path(model_id)
            result = self._read(record_path) if record_path.exists() else None
            partials = [
                p
                for p in (
                    self.partial_dir / f"{model_id}.part",
                    self.partial_dir / f"{model_id}.part.json",
                )
                if p.exists()
            ]
            if result is None and not partials:
                raise StoreError(
                    f"no installed model with the id '{model_id}' (see `sr-studio models list`)"
                )
            # The record goes first: from then on the model is not listed, whatever happens next.
            record_path.unlink(missing_ok=True)
            for suffix in WEIGHT_SUFFIXES:
                (self.root / f"{model_id}{suffix}").unlink(missing_ok=True)
            for partial in partials:
                partial.unlink(missing_ok=True)
        return result.model if result is not None else None

    def verify(self, cancelled: Callable[[], bool] | None = None) -> list[VerifyResult]:
        """Re-hash every installed file and compare with the digest recorded at install time."""
        results = []
        for result in self._scan():
            if result.status != "ok":
                results.append(result)
                continue
            model = result.model
            if model is None:  # "ok" always carries its model
                continue
            actual = sha256_of(model.path, cancelled)
            if actual != model.sha256:
                results.append(
                    VerifyResult(
                        model.id,
                        "changed",
                        f"sha256 is now {actual[:12]}..., was {model.sha256[:12]}...",
                        model,
                    )
                )
            else:
                results.append(VerifyResult(model.id, "ok", "", model))
        return results

    def _scan(self) -> list[VerifyResult]:
        if not self.root.is_dir():
            return []
        return [
            self._read(path)
            for path in sorted(self.root.glob("*.json"))
            if not path.name.startswith(".")
        ]

    def _read(self, record_path: Path) -> VerifyResult:
        model_id = record_path.stem
        try:
            document = json.loads(record_path.read_text(encoding="utf-8"))
            weights = self.root / document["file"]
            if (
                Path(document["file"]).name != document["file"]
                or weights.suffix not in WEIGHT_SUFFIXES
            ):
                raise ValueError("bad file name")
            model = InstalledModel(
                id=model_id,
                name=str(document.get("name") or model_id),
                path=weights,
                arch=str(document["arch"]),
                scale=int(document["scale"]),
                sha256=str(document["sha256"]),
                size=int(document["size"]),
                verified=bool(document.get("verified", False)),
                source=str(document.get("source", "import")),
                origin=str(document.get("origin", "")),
                license=document.get("license"),
                installed_at=str(document.get("installed_at", "")),
                hyperparameters=dict(document.get("hyperparameters") or {}),
                source_sha256=document.get("source_sha256"),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            return VerifyResult(
                model_id, "damaged record", f"{record_path.name} cannot be read ({error})"
            )
        if not valid_model_id(model_id):
            return VerifyResult(
                model_id, "damaged record", f"{record_path.name} is not a valid model id"
            )
        if not weights.is_file():
            return VerifyResult(model_id, "missing", f"{weights.name} is missing", model)
        return VerifyResult(model_id, "ok", "", model)
