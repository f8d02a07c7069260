"""Catalog of downloadable models (`resources/catalog.json`): what each file is and where to get it.

The catalog is data, checked strictly when read, so a typo in it is reported as one line naming the
file rather than surfacing later as a failed download. Every entry names the public record that
attests its address, size and sha256 (`source`), and a download is kept only when both match, so
what a photographer installs is the published file, never merely a loadable one.
`SR_STUDIO_CATALOG` points at another file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NoReturn

from sr_studio.archs import architecture_names
from sr_studio.errors import SRStudioError
from sr_studio.resource_paths import resource_dir

CATALOG_ENV = "SR_STUDIO_CATALOG"
# What each purpose means to a photographer: a one-word name and what to use it for. The CLI, the
# window's model list and the model manager all show these words, so a model reads the same
# everywhere.
PURPOSES = {
    "real-world": "Photo: camera JPEGs, phone photos, noise",
    "bicubic": "Clean: sharp sources, renders, downscaled images",
}


def purpose_name(purpose: str | None) -> str:
    """ "Photo" or "Clean" (the word before the colon); "" for a model with no stated purpose."""
    return PURPOSES[purpose].split(":", 1)[0] if purpose in PURPOSES else ""


MODEL_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class CatalogError(SRStudioError):
    """The catalog file is missing, not JSON, or has an entry that cannot be used."""


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    arch: str  # an architecture's registry name (sr_studio.archs.ARCHITECTURES)
    variant: str  # what a user recognises: "HAT-S", "HAT-L", "SPAN ch48"
    scale: int
    purpose: str  # a key of PURPOSES
    license: str
    urls: tuple[str, ...]  # mirrors, tried in order
    size: int  # bytes, as the source records them
    sha256: str  # the published file's digest: a download that differs is refused
    description: str
    source: str  # the public record(s) naming the address, size and digest
    # hyperparameters the loaded file must have
    expect: dict[str, object] = field(default_factory=dict)
    # the authors' PSNR-Y on the standard sets ({"Set5": 32.92, ...}); empty where none is quoted
    published_psnr: dict[str, float] = field(default_factory=dict)
    # benchmarks/bench_catalog_speed.py: seconds for a 1 MP photo on the benchmark CPU, a network
    # of this shape; None before it was measured
    cpu_seconds_per_megapixel: float | None = None
    speed_measured_on: str = ""  # that CPU in words: the catalog's `speed_measured_on`
    # the id of the bundled model that is this network (the published SPAN): nothing to download
    bundled_as: str | None = None

    @property
    def hyperparameters(self) -> dict[str, object] | None:
        """The published variant's shape at this scale (what `expect` checks, in full), or None
        for a variant SR Studio has no preset for."""
        from sr_studio.archs import ARCHITECTURES

        architecture = next((a for a in ARCHITECTURES if a.name == self.arch), None)
        return architecture.preset(self.variant, self.scale) if architecture else None

    @property
    def source_name(self) -> str:
        """The first record of `source`, short enough for a one-line error: 'OpenModelDB/open-model-
        database data/models/4x-HAT-S-SRx4.json'."""
        first = re.split(r";| \(| @", self.source, maxsplit=1)[0]
        return first.split(": ", 1)[1] if ": " in first else first


def catalog_path() -> Path:
    override = os.environ.get(CATALOG_ENV)
    if override:
        return Path(override)
    try:
        return resource_dir() / "catalog.json"
    except FileNotFoundError:
        raise CatalogError(
            "SR Studio's resources folder is missing; reinstall or set " + CATALOG_ENV
        ) from None


def valid_model_id(model_id: str) -> bool:
    """Ids become file names, so only lower-case letters, digits, '.', '_' and '-' are allowed."""
    return bool(MODEL_ID_PATTERN.match(model_id)) and ".." not in model_id


def load_catalog(path: str | os.PathLike[str] | None = None) -> list[CatalogEntry]:
    path = Path(path) if path is not None else catalog_path()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError("model catalog not found", path) from None
    except OSError as error:
        raise CatalogError(f"cannot read the model catalog ({error.strerror})", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CatalogError(f"the model catalog is not valid JSON ({error})", path) from None
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        raise CatalogError("the model catalog has no 'models' list", path)
    entries = []
    seen = set()
    for index, raw in enumerate(document["models"], start=1):
        entry = parse_entry(raw, index, path)
        measured_on = document.get("speed_measured_on")
        if isinstance(measured_on, str) and entry.cpu_seconds_per_megapixel is not None:
            entry = replace(entry, speed_measured_on=measured_on)
        if entry.id in seen:
            raise CatalogError(f"model id {entry.id!r} appears twice", path)
        seen.add(entry.id)
        entries.append(entry)
    return entries


def find_entry(model_id: str, entries: list[CatalogEntry] | None = None) -> CatalogEntry | None:
    for entry in load_catalog() if entries is None else entries:
        if entry.id == model_id:
            return entry
    return None


def parse_entry(raw: object, index: int, path: Path) -> CatalogEntry:
    label = f"entry {index}"
    if not isinstance(raw, dict):
        raise CatalogError(f"{label} is not an object", path)
    if isinstance(raw.get("id"), str):
        label = f"entry {index} ({raw['id']})"

    def fail(reason: str) -> NoReturn:
        raise CatalogError(f"{label}: {reason}", path)

    def text(key: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            fail(f"'{key}' must be a non-empty string")
        return value.strip()

    def optional_text(key: str) -> str | None:
        return None if raw.get(key) is None else text(key)

    model_id = text("id")
    if not valid_model_id(model_id):
        fail("'id' may hold only lower-case letters, digits, '.', '_' and '-'")
    arch = text("arch")
    if arch not in architecture_names():
        fail(f"'arch' must be one of {', '.join(architecture_names())}")
    scale = raw.get("scale")
    if not isinstance(scale, int) or isinstance(scale, bool) or not 1 <= scale <= 8:
        fail("'scale' must be a whole number from 1 to 8")
    purpose = text("purpose")
    if purpose not in PURPOSES:
        fail(f"'purpose' must be one of {', '.join(PURPOSES)}")
    urls = raw.get("urls")
    if (
        not isinstance(urls, list)
        or not urls
        or not all(isinstance(u, str) and u.startswith(("https://", "http://")) for u in urls)
    ):
        fail("'urls' must be a non-empty list of http(s) addresses")
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        fail("'size' must be the file's size in bytes, as its source records it")
    sha256 = raw.get("sha256")
    if not isinstance(sha256, str) or not SHA256_PATTERN.match(sha256):
        fail("'sha256' must be the file's published digest, 64 lower-case hexadecimal digits")
    expect = raw.get("expect", {})
    if not isinstance(expect, dict):
        fail("'expect' must be an object of hyperparameters")
    seconds = raw.get("cpu_seconds_per_megapixel")
    if seconds is not None and (
        not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0
    ):
        fail("'cpu_seconds_per_megapixel' must be a positive number of seconds")
    psnr = raw.get("published_psnr", {})
    if not isinstance(psnr, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
        for k, v in psnr.items()
    ):
        fail("'published_psnr' must be an object of set names and dB values")
    return CatalogEntry(
        id=model_id,
        name=text("name"),
        arch=arch,
        variant=optional_text("variant") or arch,
        scale=scale,
        purpose=purpose,
        license=text("license"),
        urls=tuple(urls),
        size=size,
        sha256=sha256,
        description=text("description"),
        source=text("source"),
        expect=dict(expect),
        published_psnr={k: float(v) for k, v in psnr.items()},
        cpu_seconds_per_megapixel=float(seconds) if seconds is not None else None,
        bundled_as=optional_text("bundled_as"),
    )
