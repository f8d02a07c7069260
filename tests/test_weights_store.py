"""Where models live, what counts as installed, the bundled defaults, and `--model` resolution."""

from __future__ import annotations

import json
from pathlib import Path

import platformdirs
import pytest
from safetensors.torch import save_file

from sr_studio.archs.span import SPAN
from sr_studio.errors import SRStudioError
from sr_studio.weights import (
    ModelStore,
    StoreError,
    bundled_models,
    data_dir,
    default_model_path,
    import_model,
    list_models,
    models_dir,
    resolve_model,
)
from sr_studio.weights.store import human_size


def write_span(path: Path, upscale: int, channels: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(SPAN(feature_channels=channels, upscale=upscale).state_dict(), str(path))
    return path


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(tmp_path / "data"))
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    monkeypatch.setenv("SR_STUDIO_BUNDLED_DIR", str(bundled))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(
        json.dumps(
            {
                "models": [
                    {
                        "id": "hat-x4",
                        "name": "HAT x4",
                        "arch": "HAT",
                        "scale": 4,
                        "purpose": "bicubic",
                        "license": "Apache-2.0",
                        "urls": ["https://example.org/hat.pth"],
                        "size": 85128960,
                        "sha256": "c" * 64,
                        "source": "a record for the tests",
                        "description": "HAT",
                    }
                ]
            }
        )
    )
    monkeypatch.setenv("SR_STUDIO_CATALOG", str(catalog))
    return tmp_path


def test_data_folder_is_the_platform_user_data_folder_unless_overridden(tmp_path, monkeypatch):
    monkeypatch.delenv("SR_STUDIO_DATA_DIR", raising=False)
    assert data_dir() == Path(platformdirs.user_data_dir("SR Studio", appauthor=False))
    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(tmp_path / "portable"))
    assert models_dir() == tmp_path / "portable" / "models"
    assert ModelStore().root == tmp_path / "portable" / "models"


def test_human_sizes_read_like_a_file_browser():
    assert [human_size(n) for n in (None, 512, 313_275, 8_942_586, 165_774_123, 2_500_000_000)] == [
        "?",
        "512 B",
        "313 kB",
        "8.9 MB",
        "166 MB",
        "2.5 GB",
    ]


def test_bundled_models_are_listed_from_their_cards(home):
    write_span(home / "bundled" / "span-x2.safetensors", 2)
    (home / "bundled" / "span-x2.md").write_text(
        "---\nid: bundled-span-x2\nname: SR Studio SPAN x2\narch: SPAN\nscale: 2\n"
        "license: Apache-2.0\n---\n"
        "# SPAN x2\nTrained for SR Studio on photos.\n"
    )
    write_span(home / "bundled" / "span-x4.safetensors", 4)
    (home / "bundled" / "span-x4.json").write_text(
        json.dumps(
            {
                "id": "bundled-span-x4",
                "name": "SR Studio SPAN x4",
                "arch": "SPAN",
                "scale": 4,
                "license": "CC0-1.0",
            }
        )
    )
    write_span(home / "bundled" / "extra-x2.safetensors", 2)  # no card: named after the file
    (home / "bundled" / "notes.md").write_text("not a model")

    found = {m.id: m for m in bundled_models()}
    assert set(found) == {"bundled-span-x2", "bundled-span-x4", "bundled-extra-x2"}
    assert (
        found["bundled-span-x2"].name,
        found["bundled-span-x2"].scale,
        found["bundled-span-x2"].license,
    ) == ("SR Studio SPAN x2", 2, "Apache-2.0")
    assert (found["bundled-span-x4"].scale, found["bundled-span-x4"].license) == (4, "CC0-1.0")
    assert found["bundled-extra-x2"].scale == 2
    listed = [m for m in list_models() if m.status == "bundled"]
    assert {m.id for m in listed} == set(found) and all(m.path.is_file() for m in listed)


def test_markdown_card_as_a_bullet_list(home):
    write_span(home / "bundled" / "span-x4.safetensors", 4)
    (home / "bundled" / "span-x4.md").write_text(
        "# SR Studio SPAN x4\n\n- **id**: bundled-span-x4\n- **Scale**: x4\n"
        "- **License**: Apache-2.0\n"
    )
    [model] = bundled_models()
    assert (model.id, model.scale, model.license) == ("bundled-span-x4", 4, "Apache-2.0")


@pytest.mark.parametrize(
    "scale, expected", [(1, "x2"), (2, "x2"), (3, "x4"), (4, "x4"), (6, "x4"), (8, "x4")]
)
def test_default_model_for_each_scale(home, scale, expected):
    write_span(home / "bundled" / "span-x2.safetensors", 2)
    write_span(home / "bundled" / "span-x4.safetensors", 4)
    assert default_model_path(scale).name == f"span-{expected}.safetensors"
    assert resolve_model(None, scale).name == f"span-{expected}.safetensors"


def test_the_card_marked_default_wins_among_models_of_one_scale(home):
    """Two x4 models bundled (clean and photo): no --model runs the one whose card says default, and
    each keeps its purpose, so the clean one stays reachable by its own id."""
    write_span(home / "bundled" / "span-x4.safetensors", 4)
    (home / "bundled" / "span-x4.json").write_text(
        json.dumps({"id": "bundled-span-x4", "scale": 4, "purpose": "bicubic"})
    )
    write_span(home / "bundled" / "span-x4-photo.safetensors", 4)
    (home / "bundled" / "span-x4-photo.json").write_text(
        json.dumps(
            {"id": "bundled-span-x4-photo", "scale": 4, "purpose": "real-world", "default": True}
        )
    )
    assert default_model_path(4).name == "span-x4-photo.safetensors"
    assert default_model_path(3).name == "span-x4-photo.safetensors"
    assert resolve_model("bundled-span-x4").name == "span-x4.safetensors"
    purposes = {m.id: m.purpose for m in list_models() if m.status == "bundled"}
    assert purposes == {"bundled-span-x4": "bicubic", "bundled-span-x4-photo": "real-world"}


def test_default_model_with_only_x2_bundled_falls_back_to_it(home):
    write_span(home / "bundled" / "span-x2.safetensors", 2)
    assert default_model_path(4).name == "span-x2.safetensors"
    assert resolve_model(None, None).name == "span-x2.safetensors"


def test_no_bundled_model_is_a_clear_error(home):
    with pytest.raises(SRStudioError, match="no model is bundled .*`sr-studio models download ID`"):
        default_model_path(4)


def test_resolve_model_accepts_ids_and_files_and_explains_the_rest(home):
    bundled = write_span(home / "bundled" / "span-x2.safetensors", 2)
    imported = import_model(write_span(home / "mine" / "my-span.safetensors", 4, channels=4))
    loose = write_span(home / "loose" / "other.safetensors", 4, channels=6)

    assert resolve_model("bundled-span-x2", None) == bundled
    assert resolve_model(imported.id, 2) == imported.path
    assert resolve_model(str(loose), None) == loose
    with pytest.raises(
        SRStudioError, match="'hat-x4' is not installed; run: sr-studio models download hat-x4"
    ):
        resolve_model("hat-x4", 4)
    with pytest.raises(
        SRStudioError, match="no installed model or file named 'nope'.*sr-studio models list"
    ):
        resolve_model("nope", 4)
    with pytest.raises(SRStudioError, match="is a folder"):
        resolve_model(str(home / "loose"), 4)


def test_remove_deletes_the_model_and_refuses_unknown_ids(home):
    model = import_model(write_span(home / "mine" / "model.safetensors", 2))
    store = ModelStore()
    assert store.remove(model.id).id == model.id
    assert not model.path.exists() and store.get(model.id) is None and store.installed() == []
    with pytest.raises(StoreError, match="no installed model with the id 'model'"):
        store.remove(model.id)
    with pytest.raises(StoreError, match="not a valid model id"):
        store.remove("../../etc")


def test_verify_reports_changed_missing_and_damaged_models(home):
    store = ModelStore()
    kept = import_model(write_span(home / "mine" / "kept.safetensors", 2))
    changed = import_model(write_span(home / "mine" / "changed.safetensors", 2, channels=4))
    missing = import_model(write_span(home / "mine" / "missing.safetensors", 2, channels=6))
    assert {r.id: r.status for r in store.verify()} == {
        kept.id: "ok",
        changed.id: "ok",
        missing.id: "ok",
    }

    with open(changed.path, "r+b") as file:
        file.seek(-4, 2)
        file.write(b"\x00\x01\x02\x03")
    missing.path.unlink()
    (store.root / "broken.json").write_text("{ not json")

    results = {r.id: r for r in store.verify()}
    assert {i: r.status for i, r in results.items()} == {
        kept.id: "ok",
        changed.id: "changed",
        missing.id: "missing",
        "broken": "damaged record",
    }
    assert "sha256 is now" in results[changed.id].detail
    # Only intact models are listed as installed.
    assert [m.id for m in store.installed()] == [changed.id, kept.id]


def test_weights_without_a_record_are_not_installed(home):
    """An install interrupted between moving the file and writing its record lists nothing."""
    store = ModelStore()
    write_span(store.root / "half-done.safetensors", 2)
    (store.root / ".partial").mkdir()
    write_span(store.root / ".partial" / "hat-x4.part", 2)
    assert store.installed() == []
    assert [m.status for m in list_models()] == ["available"]


def test_remove_also_discards_a_partial_download_of_that_model_only(home):
    store = ModelStore()
    partial = store.root / ".partial"
    partial.mkdir(parents=True)
    for name in ("hat-x4.part", "hat-x4.part.json", "hat-x4.v2.part"):
        (partial / name).write_bytes(b"x")
    assert store.remove("hat-x4") is None
    assert sorted(p.name for p in partial.iterdir()) == ["hat-x4.v2.part"]
