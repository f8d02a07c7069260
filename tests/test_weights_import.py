"""Importing the user's own weights: proven by loading, stored as safetensors, duplicates and bad
files refused."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sr_studio.archs.span import SPAN
from sr_studio.errors import CheckpointError
from sr_studio.model_loading import load_model
from sr_studio.weights import ModelStore, StoreError, import_model, list_models


@pytest.fixture
def store(tmp_path, monkeypatch) -> ModelStore:
    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "bundled").mkdir()
    monkeypatch.setenv("SR_STUDIO_BUNDLED_DIR", str(tmp_path / "bundled"))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(
        json.dumps(
            {
                "models": [
                    {
                        "id": "span-x4-official",
                        "name": "SPAN x4",
                        "arch": "SPAN",
                        "scale": 4,
                        "purpose": "bicubic",
                        "license": "Apache-2.0",
                        "urls": ["https://example.org/span.pth"],
                        "size": 1000,
                        "sha256": "c" * 64,
                        "source": "a record for the tests",
                        "description": "SPAN",
                    }
                ]
            }
        )
    )
    monkeypatch.setenv("SR_STUDIO_CATALOG", str(catalog))
    return ModelStore()


def span_state_dict(upscale: int, seed: int, channels: int = 8) -> dict:
    torch.manual_seed(seed)
    return SPAN(feature_channels=channels, upscale=upscale).state_dict()


def stored_files(store: ModelStore) -> list[str]:
    return (
        sorted(p.name for p in store.root.rglob("*") if p.is_file()) if store.root.exists() else []
    )


def test_pth_wrapped_in_params_ema_is_stored_as_the_ema_state_dict_in_safetensors(store, tmp_path):
    ema, plain = span_state_dict(4, seed=1), span_state_dict(4, seed=2)
    source = tmp_path / "My Model 4x.pth"
    torch.save({"params": plain, "params_ema": ema}, source)

    model = import_model(source)

    assert (model.id, model.arch, model.scale, model.source, model.verified) == (
        "my-model-4x",
        "SPAN",
        4,
        "import",
        False,
    )
    assert model.path.suffix == ".safetensors" and model.path.parent == store.root
    assert model.origin == str(source.resolve())
    stored = load_file(model.path)  # a safetensors file: nothing in it is ever unpickled
    assert set(stored) == set(ema)
    assert all(torch.equal(stored[k], ema[k].float()) for k in ema)
    assert load_model(model.path).descriptor.scale == 4
    listed = [m for m in list_models() if m.id == model.id]
    assert [(m.status, m.scale, m.path) for m in listed] == [("imported", 4, model.path)]
    assert stored_files(store) == ["my-model-4x.json", "my-model-4x.safetensors"]


def test_module_prefix_and_half_precision_become_the_official_float32_layout(store, tmp_path):
    original = span_state_dict(2, seed=3)
    source = tmp_path / "half.pth"
    torch.save({"state_dict": {f"module.{k}": v.half() for k, v in original.items()}}, source)

    model = import_model(source)

    stored = load_file(model.path)
    assert set(stored) == set(original)
    assert all(v.dtype == torch.float32 for v in stored.values() if v.is_floating_point())
    with safe_open(model.path, "pt") as file:
        assert file.metadata()["arch"] == "SPAN"


def test_safetensors_file_is_imported(store, tmp_path):
    source = tmp_path / "span.safetensors"
    save_file(span_state_dict(2, seed=4), str(source))
    model = import_model(source, model_id="my-span", name="My SPAN")
    assert (model.id, model.name, model.scale) == ("my-span", "My SPAN", 2)
    assert store.get("my-span") == model


def test_the_same_file_twice_is_refused_naming_the_model_it_is(store, tmp_path):
    source = tmp_path / "twice.pth"
    torch.save({"params": span_state_dict(2, seed=5)}, source)
    first = import_model(source)
    copy = tmp_path / "renamed copy.pth"
    copy.write_bytes(source.read_bytes())

    with pytest.raises(StoreError, match=f"already installed as '{first.id}'") as raised:
        import_model(copy)

    assert str(raised.value).startswith(str(copy))
    assert stored_files(store) == ["twice.json", "twice.safetensors"]


def test_different_files_with_the_same_name_get_distinct_ids(store, tmp_path):
    ids = []
    for seed in (6, 7):
        folder = tmp_path / f"folder{seed}"
        folder.mkdir()
        torch.save({"params": span_state_dict(2, seed=seed)}, folder / "model.pth")
        ids.append(import_model(folder / "model.pth").id)
    assert ids == ["model", "model-2"]
    # A catalog id is never taken by an import, so the model can still be downloaded later.
    source = tmp_path / "span-x4-official.pth"
    torch.save({"params": span_state_dict(4, seed=8)}, source)
    assert import_model(source).id == "span-x4-official-2"
    another = tmp_path / "another.pth"
    torch.save({"params": span_state_dict(4, seed=9)}, another)
    with pytest.raises(StoreError, match="the id 'model' is already used"):
        import_model(another, model_id="model")


def test_a_pickle_that_would_run_code_is_refused_and_never_runs(store, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    source = tmp_path / "evil.pth"
    with open(source, "wb") as file:
        pickle.dump({"params": {"conv_1.sk.weight": Payload()}}, file, protocol=2)

    with pytest.raises(CheckpointError, match="refused") as raised:
        import_model(source)

    assert str(raised.value).startswith(str(source))
    assert not marker.exists()
    assert stored_files(store) == []


@pytest.mark.parametrize(
    "content, message",
    [
        (b"just some notes, not weights\n" * 20, "not a model checkpoint"),
        (b"", "the file is empty"),
    ],
)
def test_a_file_that_is_not_a_checkpoint_is_refused(store, tmp_path, content, message):
    source = tmp_path / "notes.pth"
    source.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        import_model(source)
    assert stored_files(store) == []


def test_weights_of_an_unknown_network_are_refused(store, tmp_path):
    source = tmp_path / "other.safetensors"
    save_file({"body.0.weight": torch.zeros(4, 3, 3, 3)}, str(source))
    with pytest.raises(CheckpointError, match="unknown architecture"):
        import_model(source)
    assert stored_files(store) == []


def test_a_missing_file_is_reported(store, tmp_path):
    with pytest.raises(CheckpointError, match="file not found"):
        import_model(Path(tmp_path / "absent.pth"))


def test_the_published_span_file_is_the_bundled_model_and_is_not_imported_twice(
    tmp_path, monkeypatch
):
    """The published SPAN x4 .pth holds, tensor for tensor, the weights bundled as SPAN x4 Clean:
    importing it would only add a second copy under another name."""
    from tests.test_bundled_models import MODELS

    monkeypatch.setenv("SR_STUDIO_BUNDLED_DIR", str(MODELS))
    from sr_studio.checkpoint import read_state_dict

    published = tmp_path / "4x-spanx4_ch48.pth"
    torch.save({"params": read_state_dict(MODELS / "span-x4.safetensors")}, published)
    store = ModelStore(tmp_path / "store")
    with pytest.raises(StoreError, match=r"the bundled SPAN x4 Clean \('bundled-span-x4'\)"):
        import_model(published, store=store)
    assert store.installed() == []
