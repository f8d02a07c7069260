"""Whatever bytes a file holds, read_photo returns a Photo or raises ImageReadError, nothing
else."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sr_studio.errors import ImageReadError, ImageWriteError
from sr_studio.photo_io import Photo, read_photo, write_photo

# Small limit: a mutated header may declare a huge size; refusing it is the behaviour under test,
# decoding 200 MP per example is not.
FUZZ_MAX_PIXELS = 1_000_000
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _seed_files() -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (12, 10, 3)).astype(np.uint8)
    seeds = {}
    for suffix, kwargs in [
        (".png", {}),
        (".jpg", {"quality": 90}),
        (".webp", {"quality": 80}),
        (".tif", {"compression": "tiff_lzw"}),
        (".gif", {}),
        (".bmp", {}),
    ]:
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format=Image.registered_extensions()[suffix], **kwargs)
        seeds[suffix] = buffer.getvalue()
    return seeds


SEEDS = _seed_files()


@pytest.fixture(scope="module")
def deep_seeds(tmp_path_factory):
    """16-bit PNG and TIFF as our writer makes them, with EXIF, to mutate too."""
    folder = tmp_path_factory.mktemp("seeds")
    source = folder / "camera.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0xA002] = 10
    Image.fromarray(np.zeros((12, 10, 3), np.uint8)).save(source, exif=exif)
    camera = read_photo(source)
    deep = np.random.default_rng(3).integers(0, 65536, (10, 12, 3)).astype(np.uint16)
    return {
        suffix: write_photo(folder / f"deep{suffix}", deep, metadata_from=camera).read_bytes()
        for suffix in (".png", ".tif")
    } | {".jpg": source.read_bytes()}


def _check(path, write_too: bool = False) -> None:
    try:
        photo = read_photo(path, max_pixels=FUZZ_MAX_PIXELS)
    except ImageReadError as error:
        message = str(error)
        assert message.startswith(str(path) + ": ") and "\n" not in message
        return
    assert isinstance(photo, Photo)
    assert photo.pixels.dtype in (np.uint8, np.uint16)
    assert photo.pixels.ndim in (2, 3)
    if write_too:  # whatever metadata survived reading must not break writing
        for suffix in (".jpg", ".png", ".webp", ".tif"):
            out = path.with_name(f"written{suffix}")
            try:
                write_photo(
                    out,
                    photo.pixels,
                    metadata_from=photo,
                    overwrite=True,
                    on_warning=lambda m: None,
                )
            except ImageWriteError as error:
                assert str(error).startswith(str(out) + ": ")


@SETTINGS
@given(
    data=st.binary(max_size=2048),
    suffix=st.sampled_from([".jpg", ".png", ".tif", ".webp", ".gif", ".heic"]),
)
def test_arbitrary_bytes(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    _check(path)


mutation = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "cut", "insert"]),
        st.integers(0, 1 << 16),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=6,
)


def _mutate(data: bytes, edits) -> bytes:
    buffer = bytearray(data)
    for kind, position, value in edits:
        if not buffer:
            break
        index = position % len(buffer)
        if kind == "flip":
            buffer[index] ^= 1 << (value % 8)
        elif kind == "set":
            buffer[index] = value
        elif kind == "cut":
            del buffer[index:]
        else:
            buffer[index:index] = bytes([value]) * (1 + value % 16)
    return bytes(buffer)


@SETTINGS
@given(suffix=st.sampled_from(sorted(SEEDS)), edits=mutation)
def test_mutated_valid_images(tmp_path, suffix, edits):
    path = tmp_path / f"mutant{suffix}"
    path.write_bytes(_mutate(SEEDS[suffix], edits))
    _check(path)


@SETTINGS
@given(which=st.sampled_from([".png", ".tif", ".jpg"]), edits=mutation)
def test_mutated_16bit_and_exif_files(tmp_path, deep_seeds, which, edits):
    path = tmp_path / f"mutant-deep{which}"
    path.write_bytes(_mutate(deep_seeds[which], edits))
    _check(path, write_too=True)
