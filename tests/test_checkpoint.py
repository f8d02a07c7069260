"""Weights files in every shape a user may bring: wrapped, prefixed, half precision, damaged or
hostile."""

import json
import os
import pickle
import struct
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from sr_studio import load_model
from sr_studio.archs.span import SPAN
from sr_studio.checkpoint import read_state_dict
from sr_studio.errors import CheckpointError


@pytest.fixture(scope="module")
def span_weights():
    torch.manual_seed(3)
    return SPAN(feature_channels=8, upscale=2).state_dict()


def assert_clear_error(error: CheckpointError, path, *words):
    message = str(error)
    assert "\n" not in message
    assert str(path) in message
    for word in words:
        assert word in message.lower()


def test_prefers_ema_weights_and_strips_module_prefix(tmp_path, span_weights):
    ema = {f"module.{k}": v for k, v in span_weights.items()}
    noisy = {k: v + 1 for k, v in span_weights.items()}
    path = tmp_path / "model.pth"
    torch.save({"params": noisy, "params_ema": ema, "iter": 5}, path)
    loaded = read_state_dict(path)
    assert set(loaded) == set(span_weights)
    torch.testing.assert_close(loaded["conv_cat.weight"], span_weights["conv_cat.weight"])


@pytest.mark.parametrize("wrapper", ["params", "state_dict", "model", None])
def test_every_wrapper_unwraps(tmp_path, span_weights, wrapper):
    path = tmp_path / "model.ckpt"
    torch.save({wrapper: span_weights} if wrapper else span_weights, path)
    model = load_model(path)
    assert (model.descriptor.arch, model.descriptor.scale) == ("SPAN", 2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_files_become_float32(tmp_path, span_weights, dtype):
    path = tmp_path / "half.safetensors"
    save_file({k: v.to(dtype) for k, v in span_weights.items()}, path)
    model = load_model(path)
    assert all(p.dtype == torch.float32 for p in model.network.parameters())
    with torch.no_grad():
        assert model(torch.rand(1, 3, 4, 4)).dtype == torch.float32


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as file:
        pickle.dump({"params": Exploit()}, file, protocol=2)
    with pytest.raises(CheckpointError) as error:
        load_model(path)
    assert_clear_error(error.value, path, "refused")
    assert not marker.exists()


def test_malicious_torch_zip_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"params": {"w": torch.zeros(1)}, "hook": Exploit()}, path)
    with pytest.raises(CheckpointError) as error:
        read_state_dict(path)
    assert_clear_error(error.value, path, "refused")
    assert not marker.exists()


def test_truncated_file_is_reported_as_incomplete(tmp_path, span_weights):
    path = tmp_path / "cut.pth"
    torch.save(span_weights, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError) as error:
        load_model(path)
    assert_clear_error(error.value, path, "truncated")


def test_truncated_safetensors_is_refused(tmp_path, span_weights):
    path = tmp_path / "cut.safetensors"
    save_file(span_weights, path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError) as error:
        load_model(path)
    assert_clear_error(error.value, path, "safetensors")


def test_safetensors_with_lying_header_is_refused(tmp_path):
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4000000]}}
    ).encode()
    path = tmp_path / "liar.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    with pytest.raises(CheckpointError) as error:
        read_state_dict(path)
    assert_clear_error(error.value, path, "invalid")


@pytest.mark.parametrize(
    "content,words",
    [
        (b"", ["empty"]),
        (b"hello, this is a text file\n", ["not a model"]),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, ["not a model"]),
    ],
)
def test_files_that_are_not_checkpoints(tmp_path, content, words):
    path = tmp_path / "model.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as error:
        load_model(path)
    assert_clear_error(error.value, path, *words)


def test_a_pickle_of_an_unknown_protocol_is_one_line_and_no_warning(tmp_path):
    """PyTorch warns about the protocol before failing on the bytes; the user sees only our line,
    with words, not the unpickler's internal key."""
    path = tmp_path / "odd.pth"
    path.write_bytes(b"\x80\x16junkjunkjunk")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning reaching the user fails the test
        with pytest.raises(CheckpointError) as error:
            load_model(path)
    assert_clear_error(error.value, path, "damaged checkpoint (cannot be unpickled)")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match="folder"):
        load_model(tmp_path)


def test_oversized_file_is_refused_before_loading(tmp_path, span_weights, monkeypatch):
    import sr_studio.checkpoint as checkpoint

    path = tmp_path / "big.pth"
    torch.save(span_weights, path)
    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", 1000)
    monkeypatch.setattr(
        checkpoint.torch, "load", lambda *a, **k: pytest.fail("loaded an oversized file")
    )
    with pytest.raises(CheckpointError) as error:
        load_model(path)
    assert_clear_error(error.value, path, "limit")


def test_unknown_architecture(tmp_path):
    path = tmp_path / "esrgan.pth"
    torch.save(
        {
            "params": {
                "conv_first.weight": torch.zeros(64, 3, 3, 3),
                "body.0.rdb1.conv1.weight": torch.zeros(1),
            }
        },
        path,
    )
    with pytest.raises(CheckpointError) as error:
        load_model(path)
    assert_clear_error(error.value, path, "unknown architecture")


def test_shapes_that_do_not_fit(tmp_path, span_weights):
    broken = dict(span_weights)
    broken["block_3.c2_r.conv.1.weight"] = torch.zeros(3, 3, 3, 3)
    path = tmp_path / "broken.safetensors"
    save_file(broken, path)
    with pytest.raises(CheckpointError) as error:
        load_model(path)
    assert_clear_error(error.value, path, "do not fit", "block_3.c2_r.conv.1.weight")


def test_missing_entries(tmp_path, span_weights):
    broken = {k: v for k, v in span_weights.items() if not k.startswith("block_6")}
    path = tmp_path / "partial.safetensors"
    save_file(broken, path)
    with pytest.raises(CheckpointError) as error:
        load_model(path)
    assert_clear_error(error.value, path, "missing")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2048), keep=st.integers(min_value=0, max_value=4000))
def test_fuzz_any_bytes_give_a_model_or_our_error(tmp_path_factory, data, keep):
    """Random bytes, and random prefixes/corruptions of a real file: never an unexpected
    exception."""
    folder = tmp_path_factory.mktemp("fuzz")
    pickled, safetensors = folder / "real.pth", folder / "real.safetensors"
    torch.save({"params": {"conv_1.sk.weight": torch.zeros(2, 3, 1, 1)}}, pickled)
    save_file({"conv_1.sk.weight": torch.zeros(2, 3, 1, 1)}, safetensors)
    candidates = [data]
    for blob in (pickled.read_bytes(), safetensors.read_bytes()):
        candidates += [blob[:keep] + data, blob[:keep] + data + blob[keep + len(data) :]]
    for index, content in enumerate(candidates):
        path = folder / f"candidate{index}.pth"
        path.write_bytes(content)
        try:
            load_model(path)
        except CheckpointError as error:
            assert "\n" not in str(error)
