"""Writing results: complete or absent, never over the input, clear errors, sensible defaults."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageCms

import sr_studio.photo_io.writing as writing
from sr_studio.errors import ImageWriteError
from sr_studio.photo_io import (
    OUTPUT_FORMATS,
    Photo,
    output_extension,
    png16,
    read_photo,
    tiff_writer,
    write_photo,
)


def pixels(height=12, width=16, channels=3, dtype=np.uint8):
    rng = np.random.default_rng(height * 1000 + width + channels)
    top = 255 if dtype == np.uint8 else 65535
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rng.integers(0, top + 1, shape).astype(dtype)


def names(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def photo(tmp_path):
    source = tmp_path / "input.png"
    Image.fromarray(pixels()).save(source)
    return read_photo(source)


# ------------------------------------------------------------------------------ formats & names


def test_output_formats_and_extensions():
    assert OUTPUT_FORMATS == ("png", "jpg", "webp", "tiff")
    assert [output_extension(f) for f in OUTPUT_FORMATS] == [".png", ".jpg", ".webp", ".tif"]
    assert output_extension("JPEG") == ".jpg" and output_extension("tif") == ".tif"
    with pytest.raises(ValueError):
        output_extension("gif")


@pytest.mark.parametrize(
    "suffix, pillow_format",
    [
        (".png", "PNG"),
        (".jpg", "JPEG"),
        (".JPEG", "JPEG"),
        (".webp", "WEBP"),
        (".tif", "TIFF"),
        (".tiff", "TIFF"),
    ],
)
def test_format_follows_the_suffix(tmp_path, suffix, pillow_format):
    out = write_photo(tmp_path / f"out{suffix}", pixels())
    with Image.open(out) as image:
        assert image.format == pillow_format


def test_explicit_format_wins_and_unknown_suffix_is_refused(tmp_path):
    out = write_photo(tmp_path / "result.data", pixels(), format="png")
    with Image.open(out) as image:
        assert image.format == "PNG"
    with pytest.raises(ImageWriteError, match="result.bmp: .*suffix"):
        write_photo(tmp_path / "result.bmp", pixels())
    assert names(tmp_path) == ["result.data"]


def test_jpeg_defaults_are_quality_95_with_444(tmp_path):
    from PIL import JpegImagePlugin

    out = write_photo(tmp_path / "q.jpg", pixels(32, 32))
    Image.fromarray(pixels(32, 32)).save(tmp_path / "ref.jpg", quality=95)
    with Image.open(out) as image, Image.open(tmp_path / "ref.jpg") as reference:
        assert JpegImagePlugin.get_sampling(image) == 0  # 4:4:4: no halved colour detail
        assert image.quantization == reference.quantization


def test_quality_is_used(tmp_path):
    smooth = np.repeat(np.repeat(pixels(8, 8), 8, 0), 8, 1)
    high = write_photo(tmp_path / "high.jpg", smooth, quality=98).stat().st_size
    low = write_photo(tmp_path / "low.jpg", smooth, quality=30).stat().st_size
    assert low < high


def test_jpeg_flattens_alpha_onto_white_and_says_so(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 4:, 3] = 255  # left half fully transparent
    notes = []
    out = write_photo(tmp_path / "flat.jpg", rgba, on_warning=notes.append)
    result = read_photo(out).pixels.astype(int)
    assert result.shape == (8, 8, 3)
    assert (result[:, :3] >= 245).all()  # transparent -> white
    assert abs(result[4, 6, 0] - 200) <= 6 and result[4, 6, 1] <= 12
    assert any("white" in note for note in notes)


def test_16bit_request_for_jpeg_is_refused(tmp_path):
    with pytest.raises(ImageWriteError, match="8 bits"):
        write_photo(tmp_path / "deep.jpg", pixels(dtype=np.uint16), bit_depth=16)
    assert names(tmp_path) == []


def test_8bit_input_upgraded_to_16bit_on_request(tmp_path):
    data = pixels()
    photo = read_photo(write_photo(tmp_path / "up.png", data, bit_depth=16))
    assert photo.bit_depth == 16
    np.testing.assert_array_equal(photo.pixels, data.astype(np.uint16) * 257)


def test_webp_too_large_is_refused_before_writing(tmp_path):
    wide = np.zeros((1, 16_384, 3), np.uint8)
    with pytest.raises(ImageWriteError, match="larger than WebP allows"):
        write_photo(tmp_path / "wide.webp", wide)
    assert names(tmp_path) == []


def test_greyscale_output(tmp_path):
    grey = pixels(channels=1)
    for fmt in ("png", "tiff", "jpg"):
        result = read_photo(write_photo(tmp_path / f"g{output_extension(fmt)}", grey)).pixels
        assert result.shape == grey.shape
    webp = read_photo(write_photo(tmp_path / "g.webp", grey, quality=100)).pixels
    assert webp.shape == grey.shape + (3,)


def test_profile_of_the_wrong_colour_space_is_left_out(tmp_path):
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = tmp_path / "rgb.png"
    Image.fromarray(pixels()).save(source, icc_profile=srgb)
    photo = read_photo(source)
    notes = []
    out = write_photo(
        tmp_path / "grey.png", pixels(channels=1), metadata_from=photo, on_warning=notes.append
    )
    with Image.open(out) as image:
        assert "icc_profile" not in image.info
    assert notes and "profile" in notes[0]


def test_output_file_gets_normal_permissions(tmp_path):
    out = write_photo(tmp_path / "perm.png", pixels())
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


# ------------------------------------------------------------------------------ never overwrite


def test_never_overwrites_the_input_even_when_allowed(photo, tmp_path):
    before = photo.path.read_bytes()
    for target in (photo.path, tmp_path / "." / "input.png"):
        with pytest.raises(ImageWriteError, match="input"):
            write_photo(target, pixels(24, 32), metadata_from=photo, overwrite=True)
    os.link(photo.path, tmp_path / "hardlink.png")
    with pytest.raises(ImageWriteError, match="input"):
        write_photo(tmp_path / "hardlink.png", pixels(24, 32), metadata_from=photo, overwrite=True)
    assert photo.path.read_bytes() == before
    assert names(tmp_path) == ["hardlink.png", "input.png"]


def test_existing_file_needs_overwrite(tmp_path):
    existing = tmp_path / "out.png"
    existing.write_bytes(b"keep me")
    with pytest.raises(ImageWriteError, match="out.png: already exists"):
        write_photo(existing, pixels())
    assert existing.read_bytes() == b"keep me"
    write_photo(existing, pixels(), overwrite=True)
    assert read_photo(existing).pixels.shape == (12, 16, 3)
    assert names(tmp_path) == ["out.png"]


def test_file_appearing_during_the_write_is_not_clobbered(tmp_path, monkeypatch):
    target = tmp_path / "race.png"
    original_save = writing._save_with_pillow

    def save_and_race(handle, *args, **kwargs):
        original_save(handle, *args, **kwargs)
        target.write_bytes(b"someone else's")

    monkeypatch.setattr(writing, "_save_with_pillow", save_and_race)
    with pytest.raises(ImageWriteError, match="already exists"):
        write_photo(target, pixels())
    assert target.read_bytes() == b"someone else's"
    assert names(tmp_path) == ["race.png"]


# --------------------------------------------------------------------------- failures leave nothing


def _failing_encoder(exception):
    def encode(handle, *args, **kwargs):
        handle.write(b"\x89PNG half of a picture")
        raise exception

    return encode


@pytest.mark.parametrize(
    "target, depth",
    [("_save_with_pillow", 8), ("png16", 16), ("tiff_writer", 8)],
)
def test_encoder_failure_mid_write_leaves_no_file(tmp_path, monkeypatch, target, depth):
    suffix = ".tif" if target == "tiff_writer" else ".png"
    broken = _failing_encoder(OSError("encoder exploded"))
    if target == "_save_with_pillow":
        monkeypatch.setattr(writing, target, broken)
    else:
        monkeypatch.setattr({"png16": png16, "tiff_writer": tiff_writer}[target], "encode", broken)
    dest = tmp_path / f"out{suffix}"
    with pytest.raises(ImageWriteError) as caught:
        write_photo(dest, pixels(dtype=np.uint16 if depth == 16 else np.uint8))
    assert str(caught.value).startswith(str(dest) + ": ")
    assert "encoder exploded" in str(caught.value)
    assert names(tmp_path) == []


def test_ctrl_c_mid_write_leaves_no_file_and_still_stops(tmp_path, monkeypatch):
    monkeypatch.setattr(writing, "_save_with_pillow", _failing_encoder(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_photo(tmp_path / "out.png", pixels())
    assert names(tmp_path) == []


def test_disk_full_is_reported_and_leaves_no_file(tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(ImageWriteError, match="out.jpg: disk full"):
        write_photo(tmp_path / "out.jpg", pixels())
    assert names(tmp_path) == []


def test_existing_output_survives_a_failed_overwrite(tmp_path, monkeypatch):
    existing = tmp_path / "out.png"
    existing.write_bytes(b"previous result")
    monkeypatch.setattr(writing, "_save_with_pillow", _failing_encoder(ValueError("bad")))
    with pytest.raises(ImageWriteError):
        write_photo(existing, pixels(), overwrite=True)
    assert existing.read_bytes() == b"previous result"
    assert names(tmp_path) == ["out.png"]


def test_missing_folder_and_file_as_folder(tmp_path):
    with pytest.raises(ImageWriteError, match="does not exist"):
        write_photo(tmp_path / "no-such-folder" / "out.png", pixels())
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"x")
    with pytest.raises(ImageWriteError, match="is not a folder"):
        write_photo(blocker / "out.png", pixels())
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageWriteError, match="is a folder"):
        write_photo(tmp_path / "dir.png", pixels(), overwrite=True)
    assert names(tmp_path) == ["a-file", "dir.png"]


def test_read_only_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running with privileges that ignore folder permissions (root)")
        with pytest.raises(ImageWriteError, match="out.png: permission denied"):
            write_photo(folder / "out.png", pixels())
        assert names(folder) == []
    finally:
        folder.chmod(0o755)


def test_folder_refusing_new_files_is_reported(tmp_path, monkeypatch):
    """What a read-only folder does to us, simulated so that it also runs as root."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ImageWriteError, match="out.png: permission denied"):
        write_photo(tmp_path / "out.png", pixels())
    assert names(tmp_path) == []


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
def test_every_format_writes_through_the_atomic_path(tmp_path, monkeypatch, fmt):
    """A failure at the very end (fsync) must leave nothing, whatever the encoder."""
    monkeypatch.setattr(
        os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error"))
    )
    with pytest.raises(ImageWriteError, match="I/O error"):
        write_photo(tmp_path / f"out{output_extension(fmt)}", pixels())
    assert names(tmp_path) == []


def test_damaged_exif_is_dropped_with_a_notice_not_a_failed_write(tmp_path):
    from sr_studio.photo_io import Photo

    source = Photo(
        pixels=pixels(), path=tmp_path / "elsewhere.jpg", format="JPEG",
        exif=b"Exif\x00\x00II*\x00\xff\xff\x00\x00",  # IFD0 offset points outside the block
    )  # fmt: skip
    for fmt in OUTPUT_FORMATS:
        notes = []
        out = write_photo(
            tmp_path / f"out{output_extension(fmt)}",
            pixels(),
            metadata_from=source,
            on_warning=notes.append,
        )
        assert read_photo(out).pixels.shape == (12, 16, 3)
        assert any("EXIF" in note for note in notes), fmt


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_whatever_we_write_we_can_read_back(tmp_path, fmt, channels, dtype):
    data = pixels(6, 7, channels, dtype)
    out = write_photo(tmp_path / f"any{output_extension(fmt)}", data, on_warning=lambda m: None)
    photo = read_photo(out)
    assert photo.pixels.shape[:2] == (6, 7)
    lossless = fmt in ("png", "tiff")
    if lossless:
        assert photo.pixels.dtype == dtype
    if lossless and channels != 2:
        np.testing.assert_array_equal(photo.pixels, data)
    if lossless and channels == 2:  # grey + alpha is read as RGBA with the grey replicated
        np.testing.assert_array_equal(photo.pixels[..., 0], data[..., 0])
        np.testing.assert_array_equal(photo.pixels[..., 3], data[..., 1])


# ------------------------------------------------------------------------------ memory


def peak_growth_mb(work) -> float:
    """Growth of this process's peak resident memory during `work` (Linux: VmHWM reset first)."""

    def status(key):
        with open("/proc/self/status", encoding="ascii") as lines:
            return next(int(line.split()[1]) for line in lines if line.startswith(key)) / 1024

    with open("/proc/self/clear_refs", "w", encoding="ascii") as reset:
        reset.write("5")
    before = status("VmRSS")
    work()
    return status("VmHWM") - before


_WRITE_IN_A_FRESH_PROCESS = """
import sys
import numpy as np
from sr_studio.photo_io import write_photo
sys.path.insert(0, sys.argv[3])
from test_photo_io_write import peak_growth_mb, rgb_in_4_byte_buffer

result = rgb_in_4_byte_buffer()
if sys.argv[2] == "plain":
    result = np.ascontiguousarray(result)
print(peak_growth_mb(lambda: write_photo(sys.argv[1], result, quality=90)))
"""


def rgb_in_4_byte_buffer() -> np.ndarray:
    """A 2400x4000 RGB result kept in the first three channels of a 4-byte-per-pixel buffer (as the
    CLI's)."""
    height, width = 2400, 4000  # Pillow's copy: 38 MB
    buffer = np.empty((height, width, 4), np.uint8)
    buffer[..., 3] = 7  # never to be read
    result = buffer[..., :3]
    result[...] = np.linspace(0, 255, width, dtype=np.float32).astype(np.uint8)[None, :, None]
    result[::7] = 40
    result[:, ::5, 1] = 200
    return result


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_rgb_result_kept_in_a_4_byte_buffer_is_encoded_without_a_full_copy(
    tmp_path, monkeypatch, suffix
):
    """How the CLI writes large JPEG/PNG/WebP results: Pillow would otherwise copy the whole result
    first (4 bytes a pixel). The file must be the very same as from a plain array, metadata
    included."""
    result = rgb_in_4_byte_buffer()
    exif = Image.Exif()
    exif[271], exif[272] = "Canon", "EOS R5"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = Photo(
        np.zeros((8, 8, 3), np.uint8),
        tmp_path / "in.jpg",
        "JPEG",
        exif.tobytes(),
        srgb,
        (300.0, 300.0),
    )
    with monkeypatch.context() as patch:  # no whole-result copy into Pillow
        patch.setattr(
            Image,
            "fromarray",
            lambda *args, **kwargs: pytest.fail("the result was copied into Pillow"),
        )
        write_photo(tmp_path / f"padded{suffix}", result, metadata_from=source, quality=90)
    plain = np.ascontiguousarray(result)
    write_photo(tmp_path / f"plain{suffix}", plain, metadata_from=source, quality=90)
    assert (tmp_path / f"padded{suffix}").read_bytes() == (tmp_path / f"plain{suffix}").read_bytes()
    back = read_photo(tmp_path / f"padded{suffix}")
    assert back.icc_profile == srgb and back.exif and b"EOS R5" in back.exif
    if suffix == ".png":
        assert np.array_equal(back.pixels, plain) and back.dpi == pytest.approx((300, 300), abs=0.1)
    if suffix == ".webp" or not os.path.exists("/proc/self/clear_refs"):
        # libwebp's own picture buffers make its peak vary by more than the copy; peaks come from
        # Linux's /proc
        return

    def growth(layout):  # in a fresh process: memory this one freed earlier would hide the copy
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _WRITE_IN_A_FRESH_PROCESS,
                str(tmp_path / f"{layout}-m{suffix}"),
                layout,
                os.path.dirname(__file__),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        return float(done.stdout.split()[-1])

    padded_growth, plain_growth = growth("padded"), growth("plain")
    assert plain_growth - padded_growth > 30, (plain_growth, padded_growth)


@pytest.mark.parametrize("mode", ["RGBX", "RGB"])
def test_only_the_rgb_part_of_a_4_byte_buffer_is_mapped(mode):
    from sr_studio.photo_io.pillow_array import rgb_view, rgbx_view

    view = rgbx_view if mode == "RGBX" else rgb_view
    buffer = np.zeros((5, 6, 4), np.uint8)
    image = view(buffer[..., :3])
    buffer[2, 3] = (10, 20, 30, 40)  # the image reads the buffer itself
    assert (
        image.mode == mode and image.size == (6, 5) and image.getpixel((3, 2))[:3] == (10, 20, 30)
    )
    for other in (
        np.zeros((5, 6, 3), np.uint8),
        buffer[..., 1:],
        buffer[1:, :, :3],
        buffer[..., :3].copy(),
        np.zeros((5, 6, 4), np.uint16)[..., :3],
    ):
        assert view(other) is None
