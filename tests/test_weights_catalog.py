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
    "hat-s-x4": ("HAT", 4),
    "hat-x2-df2k": ("HAT", 2),
    "hat-x3": ("HAT", 3),
    "hat-x4-df2k": ("HAT", 4),
    "hat-x4": ("HAT", 4),
    "hat-l-x4": ("HAT", 4),
}
REAL_WORLD = {
    "hat-gan-x4-real": ("HAT", 4),
    "hat-gan-x4-real-sharper": ("HAT", 4),
    "span-x4-nomosuni-jpg": ("SPAN", 4),
    "hat-s-x4-nomos8k-sc": ("HAT", 4),
    "hat-x4-lexica": ("HAT", 4),
}
# Addresses no public record names (known-weights.md, "Corrections"): never in the catalog.
UNATTESTED = "https://github.com/OpenModelDB/model-hub/releases/download/hat/"


def test_shipped_catalog_is_the_default_and_lists_every_attested_model(monkeypatch):
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
        assert not any(url.startswith(UNATTESTED) for url in entry.urls), entry.id
        assert entry.license in ("Apache-2.0", "CC-BY-4.0")


def test_every_shipped_entry_carries_its_size_digest_and_the_record_that_attests_them():
    """What makes a download verifiable: the loader refuses an entry without them (below), and
    every shipped one names where its address, size and sha256 are published."""
    raw = json.loads(SHIPPED.read_text(encoding="utf-8"))["models"]
    for model in raw:
        assert isinstance(model.get("size"), int) and model["size"] > 0, model["id"]
        assert re.fullmatch(r"[0-9a-f]{64}", model.get("sha256") or ""), model["id"]
        assert len(model.get("source", "")) > 20, model["id"]
    entries = {e.id: e for e in load_catalog(SHIPPED)}
    assert entries["hat-s-x4"].source_name.startswith("OpenModelDB/open-model-database")
    # HAT's own README figures, where quoted (x4 only).
    assert entries["hat-s-x4"].published_psnr == {"Set5": 32.92, "Set14": 29.15, "Urban100": 27.87}
    assert entries["hat-l-x4"].published_psnr["Urban100"] == 28.60


def known_weights_digests() -> dict[str, str]:
    """catalog id -> full sha256 of the rows of known-weights.md that give one."""
    digests = {}
    for line in KNOWN_WEIGHTS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and re.fullmatch(r"[0-9a-f]{64}", cells[5]):
            digests[cells[0]] = cells[5]
    return digests


@pytest.mark.skipif(
    not KNOWN_WEIGHTS.exists(), reason=f"{KNOWN_WEIGHTS} is not beside the checkout"
)
def test_the_catalog_holds_the_same_files_as_the_published_facts():
    """Addresses and sizes were corrected from attested records; the files (digests) are the
    same."""
    entries = {e.id: e for e in load_catalog(SHIPPED)}
    digests = known_weights_digests()
    assert len(digests) >= 7
    for model_id, digest in digests.items():
        assert entries[model_id].sha256 == digest, model_id


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
                        "size": 12,
                        "sha256": "b" * 64,
                        "description": "mine",
                        "source": "my own records",
                    }
                ]
            }
        )
    )
    monkeypatch.setenv("SR_STUDIO_CATALOG", str(path))
    [entry] = load_catalog()
    assert (entry.id, entry.variant, entry.expect) == ("mine", "SPAN", {})


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
    "source": "a record that names the file",
}


@pytest.mark.parametrize(
    "document, message",
    [
        ("{not json", "not valid JSON"),
        ({"nothing": []}, "no 'models' list"),
        ({"models": [GOOD, GOOD]}, "'ok' appears twice"),
        ({"models": [{**GOOD, "id": "../../evil"}]}, "'id' may hold only"),
        ({"models": [{**GOOD, "sha256": "ABC"}]}, "'sha256' must be the file's published digest"),
        ({"models": [{**GOOD, "urls": []}]}, "'urls' must be"),
        ({"models": [{**GOOD, "urls": ["file:///etc/passwd"]}]}, "'urls' must be"),
        ({"models": [{**GOOD, "arch": "ESRGAN"}]}, "'arch' must be one of HAT, SPAN"),
        ({"models": [{**GOOD, "scale": "4"}]}, "'scale' must be"),
        (
            {"models": [{**GOOD, "purpose": "anime"}]},
            "'purpose' must be one of " + ", ".join(PURPOSES),
        ),
        ({"models": [{**GOOD, "size": -1}]}, "'size' must be"),
        ({"models": [{**GOOD, "size": None}]}, "'size' must be the file's size in bytes"),
        ({"models": [{**GOOD, "sha256": None}]}, "'sha256' must be the file's published digest"),
        (
            {"models": [{k: v for k, v in GOOD.items() if k != "source"}]},
            "entry 1 \\(ok\\): 'source' must be",
        ),
        ({"models": [{**GOOD, "published_psnr": {"Set5": "high"}}]}, "'published_psnr' must"),
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


def test_models_list_all_says_what_each_download_is_before_it_is_made(monkeypatch, capsys):
    from sr_studio.cli import main

    monkeypatch.delenv("SR_STUDIO_CATALOG", raising=False)
    assert main(["models", "list", "--all"]) == 0
    out = capsys.readouterr().out
    facts = out.split("What each downloadable model is", 1)[1]
    assert "  hat-s-x4: HAT-S x4 (official)\n" in facts
    assert (
        "    81.1 MB · Apache-2.0 · verified against OpenModelDB/open-model-database "
        "data/models/4x-HAT-S-SRx4.json (size and SHA-256)\n"
    ) in facts
    assert "    Urban100 27.87 dB published: +1.74 dB over SPAN x4\n" in facts
    # The published SPAN is the bundled SPAN Clean: not offered a second time.
    assert "span-x4-official" not in out and "span-x2-official" not in out


LAYOUTS = SHARED / "fixtures" / "parity" / "official_state_dict_layouts.json"


@pytest.mark.skipif(not LAYOUTS.exists(), reason=f"{LAYOUTS} is not beside the checkout")
@pytest.mark.parametrize(
    "official, arch, variant, scale",
    [
        ("HAT-S_SRx4", "HAT", "HAT-S", 4),
        ("HAT_SRx3", "HAT", "HAT", 3),
        ("HAT-L_SRx4", "HAT", "HAT-L", 4),
        ("spanx2_ch48", "SPAN", "SPAN ch48", 2),
    ],
)
def test_a_catalog_model_is_timed_with_a_network_of_the_published_files_shape(
    official, arch, variant, scale
):
    """What --estimate runs before a download: every tensor of the official file, in shape."""
    from sr_studio.archs import ARCHITECTURES

    layout = json.loads(LAYOUTS.read_text(encoding="utf-8"))[official]
    architecture = next(a for a in ARCHITECTURES if a.name == arch)
    preset = architecture.preset(variant, scale)
    assert preset == layout["hyperparameters"]
    network = architecture.build(preset)
    shapes = {k: tuple(v) for k, v in layout["keys"].items()}
    own = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    assert {k: own.get(k) for k in shapes} == shapes


def test_the_readme_lists_every_downloadable_model():
    readme = (SHIPPED.parents[1] / "README.md").read_text(encoding="utf-8")
    for entry in load_catalog(SHIPPED):
        if entry.bundled_as is None:
            assert f"| `{entry.id}` | {entry.name} |" in readme, entry.id
