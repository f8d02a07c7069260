"""The shipped catalog: every known official HAT/SPAN checkpoint and real-world model, exactly as
published."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sr_studio.weights import CatalogError, catalog_path, load_catalog
from sr_studio.weights.catalog import PURPOSES
from tests.conftest import SHARED

KNOWN_WEIGHTS = SHARED / "catalog" / "known-weights.md"
SHIPPED = Path(__file__).resolve().parents[1] / "resources" / "catalog.json"

OFFICIAL = {
    "span-x2-official": ("SPAN", 2),
    "span-x4-official": ("SPAN", 4),
    "hat-s-x2": ("HAT", 2),
    "hat-s-x3": ("HAT", 3),
    "hat-s-x4": ("HAT", 4),
    "hat-x3": ("HAT", 3),
    "hat-x4": ("HAT", 4),
    "hat-l-x4": ("HAT", 4),
}
REAL_WORLD = {
    "hat-gan-x4-real-sharper": ("HAT", 4),
    "span-x4-nomosuni-jpg": ("SPAN", 4),
    "hat-s-x4-nomos8k-sc": ("HAT", 4),
    "hat-x4-lexica": ("HAT", 4),
}


def test_shipped_catalog_is_the_default_and_lists_every_known_model(monkeypatch):
    monkeypatch.delenv("SR_STUDIO_CATALOG", raising=False)
    assert catalog_path().resolve() == SHIPPED.resolve()
    entries = {e.id: e for e in load_catalog()}
    assert set(entries) == set(OFFICIAL) | set(REAL_WORLD)
    for model_id, (arch, scale) in OFFICIAL.items():
        assert (entries[model_id].arch, entries[model_id].scale, entries[model_id].purpose) == (
            arch,
            scale,
            "bicubic",
        )
    for model_id, (arch, scale) in REAL_WORLD.items():
        assert (entries[model_id].arch, entries[model_id].scale, entries[model_id].purpose) == (
            arch,
            scale,
            "real-world",
        )
    for entry in entries.values():
        assert entry.name and entry.description and "\n" not in entry.description
        assert all(url.startswith("https://") for url in entry.urls)
        assert entry.license in ("Apache-2.0", "CC-BY-4.0")


def known_weights_rows() -> list[dict]:
    """The table rows of known-weights.md as {id, scale, size, sha256, urls, license}."""
    rows = []
    for line in KNOWN_WEIGHTS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if (
            len(cells) != 8
            or not re.fullmatch(r"[a-z][a-z0-9-]+", cells[0])
            or cells[0] == "catalog"
        ):
            continue
        model_id, _file, _arch, scale, size, sha256, urls, license_ = cells
        rows.append(
            {
                "id": model_id,
                "scale": int(scale),
                "size": None if size == "unknown" else int(size.replace(",", "")),
                "sha256": sha256 if re.fullmatch(r"[0-9a-f]{64}", sha256) else None,
                "prefix": (re.search(r"starts ([0-9a-f]+)", sha256) or [None, None])[1],
                "urls": [u.strip() for u in urls.split(";")],
                "license": license_,
            }
        )
    return rows


@pytest.mark.skipif(
    not KNOWN_WEIGHTS.exists(), reason=f"{KNOWN_WEIGHTS} is not beside the checkout"
)
def test_catalog_matches_the_published_facts_exactly():
    rows = known_weights_rows()
    assert len(rows) == 12
    entries = {e.id: e for e in load_catalog(SHIPPED)}
    for row in rows:
        entry = entries[row["id"]]
        assert entry.scale == row["scale"], row["id"]
        assert entry.size == row["size"], row["id"]
        assert entry.sha256 == row["sha256"], row["id"]
        assert entry.sha256_prefix == row["prefix"], row["id"]
        assert list(entry.urls) == row["urls"], row["id"]
        assert entry.license == row["license"], row["id"]


def test_environment_variable_points_at_another_catalog(tmp_path, monkeypatch):
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            {
                "models": [
                    {
                        "id": "mine",
                        "name": "Mine",
                        "arch": "SPAN",
                        "scale": 2,
                        "purpose": "real-world",
                        "license": "MIT",
                        "urls": ["https://example.org/mine.pth"],
                        "size": None,
                        "sha256": None,
                        "description": "mine",
                    }
                ]
            }
        )
    )
    monkeypatch.setenv("SR_STUDIO_CATALOG", str(path))
    [entry] = load_catalog()
    assert (entry.id, entry.variant, entry.verifiable, entry.expect) == ("mine", "SPAN", False, {})


GOOD = {
    "id": "ok",
    "name": "Ok",
    "arch": "HAT",
    "scale": 4,
    "purpose": "bicubic",
    "license": "MIT",
    "urls": ["https://example.org/ok.pth"],
    "size": 10,
    "sha256": "a" * 64,
    "description": "ok",
}


@pytest.mark.parametrize(
    "document, message",
    [
        ("{not json", "not valid JSON"),
        ({"nothing": []}, "no 'models' list"),
        ({"models": [GOOD, GOOD]}, "'ok' appears twice"),
        ({"models": [{**GOOD, "id": "../../evil"}]}, "'id' may hold only"),
        ({"models": [{**GOOD, "sha256": "ABC"}]}, "'sha256' must be 64"),
        ({"models": [{**GOOD, "urls": []}]}, "'urls' must be"),
        ({"models": [{**GOOD, "urls": ["file:///etc/passwd"]}]}, "'urls' must be"),
        ({"models": [{**GOOD, "arch": "ESRGAN"}]}, "'arch' must be one of HAT, SPAN"),
        ({"models": [{**GOOD, "scale": "4"}]}, "'scale' must be"),
        (
            {"models": [{**GOOD, "purpose": "anime"}]},
            "'purpose' must be one of " + ", ".join(PURPOSES),
        ),
        ({"models": [{**GOOD, "size": -1}]}, "'size' must be"),
        (
            {"models": [{k: v for k, v in GOOD.items() if k != "description"}]},
            "entry 1 \\(ok\\): 'description'",
        ),
    ],
)
def test_a_broken_catalog_is_one_line_naming_the_file(tmp_path, document, message):
    path = tmp_path / "catalog.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(CatalogError, match=message) as raised:
        load_catalog(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_a_missing_catalog_is_reported(tmp_path):
    with pytest.raises(CatalogError, match="model catalog not found"):
        load_catalog(tmp_path / "absent.json")
