"""Phone photos in HEIC and AVIF, made here, through `sr-studio upscale` as a user runs it.

SR Studio decodes HEIC with pi-heif, which cannot encode; the test files are written with
pillow-heif (a test-only dependency: its wheel carries the x265 encoder) without registering it as
Pillow's HEIF plugin, so reading still goes through pi-heif exactly as in the app. AVIF is written
by Pillow itself. Like a phone, the encoders store the picture sideways with a rotation box and EXIF
orientation 6.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms, features

from sr_studio.cli import main
from sr_studio.photo_io import read_photo

IFD = ExifTags.IFD
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
MAKER_NOTE = b"Apple iOS\x00\x00\x01MM" + bytes(
    range(64)
)  # a phone's private block: must come out unchanged
PATCHES = {  # stored (sideways) rows, columns -> colour
    "skin": ((4, 20, 24, 40), (224, 172, 140)),
    "sky": ((4, 20, 44, 60), (90, 150, 220)),
    "foliage": ((28, 44, 24, 40), (60, 140, 60)),
}


def stored_pixels() -> np.ndarray:
    """64x48 as the sensor stored it: gradients, three colour patches, a red marker in the top-left
    corner."""
    y, x = np.mgrid[0:48, 0:64]
    pixels = np.empty((48, 64, 3), np.uint8)
    pixels[..., 0] = 40 + x * 2
    pixels[..., 1] = 60 + y * 2
    pixels[..., 2] = 150
    for (top, bottom, left, right), colour in PATCHES.values():
        pixels[top:bottom, left:right] = colour
    pixels[:8, :8] = (255, 0, 0)
    return pixels


def upright(pixels: np.ndarray) -> np.ndarray:
    return np.rot90(pixels, k=-1)  # orientation 6: turn 90 degrees clockwise to show


def phone_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Model] = "iPhone 15 Pro"
    exif[ExifTags.Base.Orientation] = 6
    sub = exif.get_ifd(IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2025:07:14 18:02:33"
    sub[ExifTags.Base.LensModel] = "iPhone 15 Pro back triple camera 6.765mm f/1.78"
    sub[ExifTags.Base.MakerNote] = MAKER_NOTE
    sub[ExifTags.Base.ExifImageWidth] = 64  # as stored
    sub[ExifTags.Base.ExifImageHeight] = 48
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (43.0, 41.0, 12.5)
    return exif


def kept_metadata(exif: Image.Exif) -> dict:
    sub = exif.get_ifd(IFD.Exif)
    return {
        "make": exif.get(ExifTags.Base.Make),
        "model": exif.get(ExifTags.Base.Model),
        "taken": sub.get(ExifTags.Base.DateTimeOriginal),
        "lens": sub.get(ExifTags.Base.LensModel),
        "maker note": sub.get(ExifTags.Base.MakerNote),
        "latitude": tuple(
            float(v) for v in exif.get_ifd(IFD.GPSInfo).get(ExifTags.GPS.GPSLatitude, ())
        ),
    }


def write_heic(path, pixels):
    pillow_heif = pytest.importorskip(
        "pillow_heif", reason="the test extra (pillow-heif) writes the HEIC files"
    )
    if "x265" not in str(pillow_heif.libheif_info().get("encoders", {})):
        pytest.skip("this pillow-heif build has no HEVC encoder")
    pillow_heif.from_pillow(Image.fromarray(pixels)).save(
        path, quality=95, exif=phone_exif().tobytes(), icc_profile=SRGB_ICC
    )


def write_avif(path, pixels):
    if not features.check("avif"):
        pytest.skip("this Pillow build has no AVIF support")
    Image.fromarray(pixels).save(
        path, quality=95, exif=phone_exif().tobytes(), icc_profile=SRGB_ICC
    )


WRITERS = {"heic": (write_heic, "IMG_0042.HEIC"), "avif": (write_avif, "IMG_0042.avif")}


@pytest.fixture(params=list(WRITERS))
def phone_photo(request, tmp_path):
    write, name = WRITERS[request.param]
    path = tmp_path / name
    write(path, stored_pixels())
    return path


def test_phone_photo_is_read_upright_with_its_metadata(phone_photo):
    photo = read_photo(phone_photo)

    expected = upright(stored_pixels()).astype(int)
    assert photo.pixels.shape == (64, 48, 3)  # shown 48 wide, 64 high
    assert photo.pixels[2:6, -6:-2].mean(axis=(0, 1)) == pytest.approx(
        (255, 0, 0), abs=12
    )  # marker top right
    assert (
        np.abs(photo.pixels.astype(int) - expected).mean() < 4
    )  # lossy, but no colour shift or flip
    assert photo.icc_profile == SRGB_ICC
    exif = Image.Exif()
    exif.load(photo.exif)
    assert kept_metadata(exif) == kept_metadata(phone_exif())
    assert photo.warnings == []


@pytest.mark.parametrize("output", ["png", "jpg"])
def test_phone_photo_through_the_cli_comes_out_upright_with_metadata_and_colours(
    phone_photo, tmp_path, output
):
    """The bundled SPAN x2, as `sr-studio upscale IMG_0042.HEIC --scale 2` runs it (PNG beside it by
    default)."""
    args = ["upscale", "--quiet", str(phone_photo), "--scale", "2"]
    if output == "jpg":
        args += ["-o", str(tmp_path / "big.jpg")]
    assert main(args) == 0

    result_path = tmp_path / ("IMG_0042_x2.png" if output == "png" else "big.jpg")
    with Image.open(result_path) as result:
        assert result.size == (96, 128)
        exif = result.getexif()
        assert exif.get(ExifTags.Base.Orientation, 1) == 1, (
            "the pixels are upright: nothing may turn them again"
        )
        assert kept_metadata(exif) == kept_metadata(phone_exif())
        sub = exif.get_ifd(IFD.Exif)
        assert (sub[ExifTags.Base.ExifImageWidth], sub[ExifTags.Base.ExifImageHeight]) == (96, 128)
        assert result.info.get("icc_profile") == SRGB_ICC
        pixels = np.asarray(result.convert("RGB"), dtype=float)
    half = pixels.reshape(64, 2, 48, 2, 3).mean(axis=(1, 3))  # back to the photo's size
    expected = upright(stored_pixels()).astype(float)
    assert half[2:6, -6:-2].mean(axis=(0, 1)) == pytest.approx(
        (255, 0, 0), abs=15
    )  # the marker, top right
    assert np.abs((half - expected).mean(axis=(0, 1))).max() < 1.5, "a colour cast"
    for name, ((top, bottom, left, right), colour) in PATCHES.items():
        # A stored patch at rows top:bottom, columns left:right shows at rows left:right, columns
        # 48-bottom:48-top.
        inside = half[left + 3 : right - 3, 48 - bottom + 3 : 48 - top - 3]
        assert inside.mean(axis=(0, 1)) == pytest.approx(colour, abs=4), name
