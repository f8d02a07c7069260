"""Reading photos and writing results: pixels exact where lossless, metadata carried, errors clear.

Every file is made here, in tmp_path; images are tiny so the suite stays fast.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms, ImageOps

from sr_studio.errors import ImageReadError
from sr_studio.photo_io import (
    DEFAULT_MAX_PIXELS,
    OUTPUT_FORMATS,
    Photo,
    output_extension,
    read_photo,
    write_photo,
)

IFD = ExifTags.IFD
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
MAKER_NOTE = b"CAMERA-PRIVATE\x00\x01\x02\x03" * 4


def pattern(height: int, width: int, channels: int = 3, dtype=np.uint8) -> np.ndarray:
    """Distinct values everywhere, so any flip, rotation or lost bit shows."""
    top = 255 if dtype == np.uint8 else 65535
    y, x = np.mgrid[0:height, 0:width]
    planes = [
        (x * 37 + y * 101 + c * 53) * (7 if dtype == np.uint16 else 1) % (top + 1)
        for c in range(channels)
    ]
    out = np.stack(planes, axis=-1).astype(dtype)
    return out[..., 0] if channels == 1 else out


def camera_exif(orientation: int = 6, width: int = 40, height: int = 24) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "EOS R5"
    exif[ExifTags.Base.DateTime] = "2024:05:17 10:11:12"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.XResolution] = 300.0
    exif[ExifTags.Base.YResolution] = 300.0
    exif[ExifTags.Base.ResolutionUnit] = 2
    sub = exif.get_ifd(IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2024:05:17 10:11:12"
    sub[ExifTags.Base.ExposureTime] = 0.004
    sub[ExifTags.Base.FNumber] = 2.8
    sub[ExifTags.Base.MakerNote] = MAKER_NOTE
    sub[ExifTags.Base.ExifImageWidth] = width
    sub[ExifTags.Base.ExifImageHeight] = height
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.25)
    return exif


def exif_summary(exif: Image.Exif) -> dict:
    sub = exif.get_ifd(IFD.Exif)
    gps = exif.get_ifd(IFD.GPSInfo)
    return {
        "make": exif.get(ExifTags.Base.Make),
        "model": exif.get(ExifTags.Base.Model),
        "datetime": exif.get(ExifTags.Base.DateTime),
        "original": sub.get(ExifTags.Base.DateTimeOriginal),
        "exposure": float(sub.get(ExifTags.Base.ExposureTime, 0)),
        "fnumber": float(sub.get(ExifTags.Base.FNumber, 0)),
        "makernote": sub.get(ExifTags.Base.MakerNote),
        "gps": {key: value for key, value in gps.items()},
    }


@pytest.fixture
def camera_jpeg(tmp_path):
    """A 40x24 JPEG stored sideways (orientation 6) with camera EXIF, GPS, ICC and 300 dpi."""
    path = tmp_path / "IMG_0001.JPG"
    Image.fromarray(pattern(24, 40)).save(
        path, quality=100, subsampling=0, exif=camera_exif(), icc_profile=SRGB_ICC, dpi=(300, 300)
    )
    return path


# --------------------------------------------------------------------------- metadata round trip


def test_camera_jpeg_is_read_upright_with_its_metadata(camera_jpeg):
    photo = read_photo(camera_jpeg)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(camera_jpeg)))
    assert photo.pixels.shape == (40, 24, 3)  # orientation 6: stored 40 wide, shown 24 wide
    np.testing.assert_array_equal(photo.pixels, expected)
    assert photo.format == "JPEG"
    assert photo.icc_profile == SRGB_ICC
    assert photo.dpi == (300, 300)
    assert photo.bit_depth == 8
    assert photo.warnings == []
    assert photo.pixels.flags.writeable and photo.pixels.flags.c_contiguous


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
def test_output_carries_exif_gps_icc_dpi_with_new_size_and_upright(camera_jpeg, tmp_path, fmt):
    photo = read_photo(camera_jpeg)
    upscaled = np.repeat(np.repeat(photo.pixels, 2, axis=0), 2, axis=1)  # 48 wide, 80 high
    out = write_photo(tmp_path / f"out{output_extension(fmt)}", upscaled, metadata_from=photo)

    with Image.open(out) as written:
        assert written.size == (48, 80)
        exif = written.getexif()
        assert exif_summary(exif) == exif_summary(camera_exif())
        assert exif.get(ExifTags.Base.Orientation, 1) == 1
        sub = exif.get_ifd(IFD.Exif)
        assert sub[ExifTags.Base.ExifImageWidth] == 48
        assert sub[ExifTags.Base.ExifImageHeight] == 80
        assert written.info.get("icc_profile") == SRGB_ICC
    again = read_photo(out)
    assert again.pixels.shape == (80, 48, 3)  # nothing rotates it a second time
    assert again.icc_profile == SRGB_ICC
    # WebP has no resolution field of its own: the DPI read back comes from EXIF.
    assert again.dpi == pytest.approx((300, 300), abs=0.01)


@pytest.mark.parametrize("fmt", ["png", "tiff"])
def test_16bit_output_carries_the_metadata_too(camera_jpeg, tmp_path, fmt):
    photo = read_photo(camera_jpeg)
    deep = photo.pixels.astype(np.uint16) * 257 + 3
    out = write_photo(tmp_path / f"deep{output_extension(fmt)}", deep, metadata_from=photo)
    again = read_photo(out)
    assert again.bit_depth == 16
    np.testing.assert_array_equal(again.pixels, deep)
    assert again.icc_profile == SRGB_ICC
    assert again.dpi == pytest.approx((300, 300), abs=0.01)
    with Image.open(out) as written:
        exif = written.getexif()
        assert exif_summary(exif) == exif_summary(camera_exif())
        assert exif.get(ExifTags.Base.Orientation, 1) == 1
        assert exif.get_ifd(IFD.Exif)[ExifTags.Base.ExifImageWidth] == 24


def test_stale_thumbnail_directory_is_dropped():
    from sr_studio.photo_io import exif_block

    blob = bytearray(camera_exif().tobytes()[6:])  # big-endian TIFF structure from Pillow
    ifd0 = struct.unpack_from(">I", blob, 4)[0]
    count = struct.unpack_from(">H", blob, ifd0)[0]
    next_link = ifd0 + 2 + 12 * count
    thumbnail_ifd = len(blob)
    blob += struct.pack(">H", 1) + struct.pack(">HHII", 0x0103, 3, 1, 6 << 16) + bytes(4)
    struct.pack_into(">I", blob, next_link, thumbnail_ifd)
    with_thumbnail = b"Exif\x00\x00" + bytes(blob)
    exif = Image.Exif()
    exif.load(with_thumbnail)
    assert exif.get_ifd(IFD.IFD1)  # the test block really has a thumbnail directory
    patched = Image.Exif()
    patched.load(exif_block.patch_for_output(with_thumbnail, 10, 20))
    assert not patched.get_ifd(IFD.IFD1)
    assert patched[ExifTags.Base.Orientation] == 1
    assert patched.get_ifd(IFD.Exif)[ExifTags.Base.ExifImageHeight] == 20


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_eight_orientations_match_pillows_transpose(tmp_path, orientation):
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(pattern(5, 7)).save(path, exif=camera_exif(orientation))
    photo = read_photo(path)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    np.testing.assert_array_equal(photo.pixels, expected)


def test_lossless_output_keeps_pixels_exactly(camera_jpeg, tmp_path):
    photo = read_photo(camera_jpeg)
    for fmt in ("png", "tiff"):
        out = write_photo(
            tmp_path / f"same{output_extension(fmt)}", photo.pixels, metadata_from=photo
        )
        np.testing.assert_array_equal(read_photo(out).pixels, photo.pixels)


def test_tiff_input_orientation_and_tags_reach_a_jpeg(tmp_path):
    source = tmp_path / "scan.tif"
    Image.fromarray(pattern(6, 9)).save(
        source, exif=camera_exif(3), dpi=(240, 240), icc_profile=SRGB_ICC
    )
    photo = read_photo(source)
    np.testing.assert_array_equal(photo.pixels, pattern(6, 9)[::-1, ::-1])  # orientation 3
    out = write_photo(tmp_path / "scan.jpg", photo.pixels, metadata_from=photo)
    with Image.open(out) as written:
        exif = written.getexif()
        assert (exif[ExifTags.Base.Make], exif[ExifTags.Base.Model]) == ("Canon", "EOS R5")
        assert exif.get(ExifTags.Base.Orientation) == 1
        assert written.info["icc_profile"] == SRGB_ICC
        assert written.info["dpi"] == (240, 240)


def test_exif_survives_jpeg_to_tiff_to_jpeg(camera_jpeg, tmp_path):
    tiff = write_photo(
        tmp_path / "step.tif", read_photo(camera_jpeg).pixels, metadata_from=read_photo(camera_jpeg)
    )
    photo = read_photo(tiff)
    out = write_photo(tmp_path / "final.jpg", photo.pixels, metadata_from=photo)
    with Image.open(out) as written:
        assert exif_summary(written.getexif()) == exif_summary(camera_exif())
        assert written.info["icc_profile"] == SRGB_ICC


# --------------------------------------------------------------------------------- bit depths


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def independent_png16(pixels: np.ndarray, interlaced: bool = False) -> bytes:
    """A 16-bit PNG written by the simplest possible encoder (filter None), Adam7 if asked."""
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    height, width = pixels.shape[:2]
    passes = (
        [
            (0, 0, 8, 8),
            (0, 4, 8, 8),
            (4, 0, 8, 4),
            (0, 2, 4, 4),
            (2, 0, 4, 2),
            (0, 1, 2, 2),
            (1, 0, 2, 1),
        ]
        if interlaced
        else [(0, 0, 1, 1)]
    )
    raw = b""
    for y0, x0, dy, dx in passes:
        sub = pixels[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        rows = sub.astype(">u2").reshape(sub.shape[0], -1).view(np.uint8)
        raw += np.concatenate([np.zeros((rows.shape[0], 1), np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, int(interlaced))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("interlaced", [False, True])
def test_16bit_png_from_another_encoder_is_read_exactly(tmp_path, channels, interlaced):
    pixels = pattern(11, 13, channels, np.uint16)
    assert pixels.max() > 255
    path = tmp_path / "deep.png"
    path.write_bytes(independent_png16(pixels, interlaced))
    photo = read_photo(path)
    assert photo.bit_depth == 16 and photo.pixels.dtype == np.uint16
    if channels == 2:  # grey + alpha comes back as RGBA with the grey replicated
        expected = np.stack([pixels[..., 0]] * 3 + [pixels[..., 1]], axis=-1)
    else:
        expected = pixels
    np.testing.assert_array_equal(photo.pixels, expected)


@pytest.mark.parametrize("fmt", ["png", "tiff"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_round_trip_is_exact(tmp_path, fmt, channels):
    pixels = pattern(9, 14, channels, np.uint16)
    out = write_photo(tmp_path / f"deep{output_extension(fmt)}", pixels)
    photo = read_photo(out)
    assert photo.bit_depth == 16
    np.testing.assert_array_equal(photo.pixels, pixels)


def test_16bit_png_we_write_is_valid_for_other_readers(tmp_path, monkeypatch):
    from sr_studio.photo_io import png16

    monkeypatch.setattr(png16, "_IDAT_PIECE", 997)  # many pieces deflated on several threads
    pixels = pattern(300, 40, 3, np.uint16)
    out = write_photo(tmp_path / "deep.png", pixels)
    np.testing.assert_array_equal(read_photo(out).pixels, pixels)
    with Image.open(out) as image:  # Pillow keeps the high byte of 16-bit RGB
        np.testing.assert_array_equal(np.asarray(image), (pixels >> 8).astype(np.uint8))


def test_16bit_tiff_we_write_is_valid_for_tifffile(tmp_path):
    import tifffile

    pixels = pattern(20, 30, 4, np.uint16)
    out = write_photo(tmp_path / "deep.tif", pixels)
    np.testing.assert_array_equal(tifffile.imread(out), pixels)


def test_16bit_tiff_compressions_tifffile_cannot_decode_fall_back_to_libtiff(tmp_path, monkeypatch):
    import tifffile

    pixels = pattern(7, 10, 3, np.uint16)
    path = tmp_path / "lzw-like.tif"
    tifffile.imwrite(path, pixels, photometric="rgb", compression="zlib")

    class NoCodec:
        def __init__(self, *args, **kwargs):
            raise ValueError("<COMPRESSION.LZW: 5> requires the 'imagecodecs' package")

    monkeypatch.setattr(tifffile, "TiffFile", NoCodec)
    np.testing.assert_array_equal(read_photo(path).pixels, pixels)


@pytest.mark.parametrize("tifffile_can_decode", [True, False])
def test_16bit_tiff_orientation_is_applied_once(tmp_path, monkeypatch, tifffile_can_decode):
    import tifffile

    stored = pattern(5, 8, 3, np.uint16)
    path = tmp_path / "turned.tif"
    tifffile.imwrite(path, stored, photometric="rgb", extratags=[(274, "H", 1, 6, True)])
    if not tifffile_can_decode:

        class NoCodec:
            def __init__(self, *args, **kwargs):
                raise ValueError("<COMPRESSION.LZW: 5> requires the 'imagecodecs' package")

        monkeypatch.setattr(tifffile, "TiffFile", NoCodec)
    photo = read_photo(path)
    np.testing.assert_array_equal(photo.pixels, np.rot90(stored, -1))  # 6: turn clockwise


def test_16bit_goes_to_8bit_for_jpeg_and_when_asked(tmp_path):
    pixels = np.array([[[0, 257 * 100, 65535]]], np.uint16)
    jpeg = read_photo(write_photo(tmp_path / "a.jpg", np.repeat(np.repeat(pixels, 8, 0), 8, 1)))
    assert jpeg.bit_depth == 8
    assert np.abs(jpeg.pixels[4, 4].astype(int) - [0, 100, 255]).max() <= 2
    png = read_photo(write_photo(tmp_path / "a.png", pixels, bit_depth=8))
    np.testing.assert_array_equal(png.pixels, [[[0, 100, 255]]])


def test_float_pixels_are_rounded_and_clipped(tmp_path):
    pixels = np.array([[[-0.5, 0.5, 2.0], [np.nan, 1 / 255, 254.6 / 255]]], np.float32)
    photo = read_photo(write_photo(tmp_path / "f.png", pixels))
    np.testing.assert_array_equal(photo.pixels, [[[0, 128, 255], [0, 1, 255]]])


# ---------------------------------------------------------------------------------- colour modes


def test_rgba_png_keeps_alpha(tmp_path):
    pixels = pattern(6, 5, 4)
    path = tmp_path / "alpha.png"
    Image.fromarray(pixels, "RGBA").save(path)
    photo = read_photo(path)
    np.testing.assert_array_equal(photo.pixels, pixels)
    out = write_photo(tmp_path / "alpha-out.webp", photo.pixels, metadata_from=photo, quality=100)
    assert read_photo(out).pixels.shape == (6, 5, 4)


def test_greyscale_stays_greyscale(tmp_path):
    pixels = pattern(6, 5, 1)
    path = tmp_path / "grey.png"
    Image.fromarray(pixels, "L").save(path)
    photo = read_photo(path)
    assert photo.pixels.shape == (6, 5)
    np.testing.assert_array_equal(photo.pixels, pixels)


def test_grey_alpha_becomes_rgba_with_grey_replicated(tmp_path):
    path = tmp_path / "la.png"
    grey_alpha = pattern(4, 3, 2)
    Image.fromarray(grey_alpha, "LA").save(path)
    photo = read_photo(path)
    assert photo.pixels.shape == (4, 3, 4)
    for channel in range(3):
        np.testing.assert_array_equal(photo.pixels[..., channel], grey_alpha[..., 0])
    np.testing.assert_array_equal(photo.pixels[..., 3], grey_alpha[..., 1])


def test_palette_images_become_rgb_or_rgba(tmp_path):
    rgb = pattern(8, 8)
    palette_image = Image.fromarray(rgb).quantize(16)
    plain = tmp_path / "palette.png"
    palette_image.save(plain)
    photo = read_photo(plain)
    np.testing.assert_array_equal(photo.pixels, np.asarray(palette_image.convert("RGB")))

    transparent = tmp_path / "palette-transparent.png"
    palette_image.save(transparent, transparency=0)
    photo = read_photo(transparent)
    assert photo.pixels.shape == (8, 8, 4)
    index = np.asarray(palette_image)
    assert (photo.pixels[..., 3][index == 0] == 0).all() and (
        photo.pixels[..., 3][index != 0] == 255
    ).all()


def test_animated_gif_uses_first_frame_with_a_warning(tmp_path):
    frames = [Image.fromarray(np.full((4, 4, 3), value, np.uint8)) for value in (10, 200)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    photo = read_photo(path)
    assert photo.pixels.shape == (4, 4, 3)
    assert abs(int(photo.pixels[0, 0, 0]) - 10) <= 2
    assert any("first" in note and "GIF" in note for note in photo.warnings)


def test_camera_mpo_jpeg_reads_its_main_picture_without_a_warning(tmp_path):
    main = Image.fromarray(np.full((16, 16, 3), 200, np.uint8))
    preview = Image.fromarray(np.full((8, 8, 3), 20, np.uint8))
    path = tmp_path / "DSCF0001.JPG"
    main.save(path, format="MPO", save_all=True, append_images=[preview], exif=camera_exif(1))
    photo = read_photo(path)
    assert photo.format == "MPO"
    assert photo.pixels.shape == (16, 16, 3) and abs(int(photo.pixels[8, 8, 0]) - 200) <= 2
    assert photo.warnings == []
    with Image.open(
        write_photo(tmp_path / "out.jpg", photo.pixels, metadata_from=photo)
    ) as written:
        assert written.getexif()[ExifTags.Base.Model] == "EOS R5"


def test_bmp_and_webp_inputs(tmp_path):
    pixels = pattern(5, 6)
    Image.fromarray(pixels).save(tmp_path / "a.bmp")
    Image.fromarray(pixels).save(tmp_path / "a.webp", lossless=True)
    np.testing.assert_array_equal(read_photo(tmp_path / "a.bmp").pixels, pixels)
    np.testing.assert_array_equal(read_photo(tmp_path / "a.webp").pixels, pixels)


def test_avif_input_when_pillow_has_it(tmp_path):
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow build has no AVIF support")
    path = tmp_path / "a.avif"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(path, quality=90)
    photo = read_photo(path)
    assert photo.pixels.shape == (16, 16, 3)
    assert abs(int(photo.pixels[8, 8, 1]) - 128) <= 3


def cmyk_profile() -> bytes:
    """A tiny CMYK printer profile whose cyan is a strong blue (naive conversion gives cyan)."""
    corners = []
    for cyan in (0, 1):
        for magenta in (0, 1):
            for yellow in (0, 1):
                for black in (0, 1):
                    rgb = np.ones(3)
                    rgb *= (0.0, 0.3, 1.0) if cyan else 1
                    rgb *= (1.0, 0.0, 0.6) if magenta else 1
                    rgb *= (1.0, 1.0, 0.0) if yellow else 1
                    rgb *= 0.0 if black else 1
                    corners.append(np.round(rgb * 255))
    grid = Image.fromarray(np.array(corners, np.uint8)[None])
    lab = ImageCms.profileToProfile(
        grid, ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), outputMode="LAB"
    )
    lab = np.asarray(lab)[0].astype(np.int16)
    lab[:, 1:] = (lab[:, 1:] + 128) % 256  # Pillow's signed a*, b* -> ICC's offset encoding
    identity = bytes(range(256))
    lut = b"mft1" + bytes(4) + bytes([4, 3, 2, 0])
    lut += b"".join(struct.pack(">i", 0x10000 if i % 4 == 0 else 0) for i in range(9))
    lut += identity * 4 + lab.astype(np.uint8).tobytes() + identity * 3
    d50 = struct.pack(">iii", 0xF6D6, 0x10000, 0xD32D)
    tags = [(b"wtpt", b"XYZ " + bytes(4) + d50), (b"A2B0", lut)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for signature, body in tags:
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body + bytes(-len(body) % 4)
    header = struct.pack(">I", offset + len(data)) + bytes(4) + struct.pack(">I", 0x02100000)
    header += b"prtrCMYKLab " + bytes(12) + b"acsp"
    header = header.ljust(68, b"\0") + d50
    return header.ljust(128, b"\0") + table + data


def test_cmyk_with_profile_is_converted_through_it_and_tagged_srgb(tmp_path):
    path = tmp_path / "print.tif"
    cmyk = np.array([[[0, 0, 0, 0], [255, 0, 0, 0], [0, 0, 0, 255]]], np.uint8)
    Image.fromarray(cmyk, "CMYK").save(path, icc_profile=cmyk_profile())
    photo = read_photo(path)
    assert photo.pixels.shape == (1, 3, 3)
    white, cyan, black = photo.pixels[0].astype(int)
    assert (white >= 250).all() and (black <= 5).all()
    assert cyan[2] > 200 and cyan[1] < 120  # the profile's blue, not naive (0, 255, 255)
    assert photo.icc_profile is not None and photo.icc_profile[16:20] == b"RGB "
    assert any("CMYK" in note and "profile" in note for note in photo.warnings)


def test_cmyk_without_profile_is_converted_with_a_warning(tmp_path):
    path = tmp_path / "print.jpg"
    Image.fromarray(np.zeros((8, 8, 4), np.uint8), "CMYK").save(path, quality=100)
    photo = read_photo(path)
    assert photo.pixels.shape == (8, 8, 3)
    assert (photo.pixels >= 250).all()  # no ink is white
    assert photo.icc_profile is None
    assert any("CMYK" in note for note in photo.warnings)


def test_float_tiff_is_refused_clearly(tmp_path):
    path = tmp_path / "hdr.tif"
    Image.fromarray(np.zeros((3, 3), np.float32), "F").save(path)
    with pytest.raises(ImageReadError, match="hdr.tif: .*floating-point"):
        read_photo(path)


def test_one_pixel_image_works(tmp_path):
    path = tmp_path / "dot.png"
    Image.fromarray(np.array([[[1, 2, 3]]], np.uint8)).save(path)
    photo = read_photo(path)
    np.testing.assert_array_equal(photo.pixels, [[[1, 2, 3]]])
    out = write_photo(tmp_path / "dot-out.jpg", photo.pixels, metadata_from=photo)
    assert read_photo(out).pixels.shape == (1, 1, 3)


# ---------------------------------------------------------------------------------- bad input


def _png_header_only(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
    )


def _bad_files(tmp_path):
    good_jpeg = io.BytesIO()
    Image.fromarray(pattern(64, 64)).save(good_jpeg, format="JPEG")
    good_png = io.BytesIO()
    Image.fromarray(pattern(64, 64)).save(good_png, format="PNG")
    icon = io.BytesIO()
    Image.fromarray(pattern(16, 16)).save(icon, format="ICO")  # Pillow reads it; we do not
    files = {
        "icon.png": (icon.getvalue(), "not a supported image"),
        "empty.jpg": (b"", "empty"),
        "notes.jpg": (b"Shopping list:\n- milk\n- film\n" * 20, "not a supported image"),
        "cut.jpg": (good_jpeg.getvalue()[: len(good_jpeg.getvalue()) // 2], "truncated|damaged"),
        "cut.png": (good_png.getvalue()[: len(good_png.getvalue()) // 2], "truncated|damaged"),
        "bomb.png": (_png_header_only(50_000, 50_000), "exceeds the limit"),
    }
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
    return {name: reason for name, (_, reason) in files.items()}


def test_bad_inputs_give_one_line_errors_naming_the_file(tmp_path):
    cases = _bad_files(tmp_path)
    cases["missing.jpg"] = "not found"
    before = sorted(p.name for p in tmp_path.iterdir())
    for name, reason in cases.items():
        with pytest.raises(ImageReadError) as caught:
            read_photo(tmp_path / name)
        message = str(caught.value)
        assert message.startswith(str(tmp_path / name) + ": "), message
        assert "\n" not in message
        assert __import__("re").search(reason, message), message
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_pixel_limit_is_checked_on_the_header_and_leaves_pillow_global_alone(tmp_path):
    limit_before = Image.MAX_IMAGE_PIXELS
    path = tmp_path / "ten.png"
    Image.fromarray(pattern(10, 10)).save(path)
    assert read_photo(path, max_pixels=100).pixels.shape == (10, 10, 3)
    with pytest.raises(ImageReadError, match="exceeds the limit"):
        read_photo(path, max_pixels=99)
    assert Image.MAX_IMAGE_PIXELS == limit_before
    assert DEFAULT_MAX_PIXELS >= 100_000_000


def test_image_above_pillows_own_bomb_limit_but_within_ours_gets_past_the_header(tmp_path):
    # 15000x15000 = 225 MP is above 2x Pillow's default limit (179 MP), which would raise at open.
    path = tmp_path / "big.png"
    path.write_bytes(_png_header_only(15_000, 15_000))
    with pytest.raises(ImageReadError) as caught:
        read_photo(path, max_pixels=300_000_000)
    assert "exceeds" not in str(caught.value) and "bomb" not in str(caught.value).lower()


def test_a_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageReadError, match="folder"):
        read_photo(tmp_path)


def test_photo_is_a_plain_dataclass(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(pattern(2, 3)).save(path)
    photo = read_photo(path)
    assert isinstance(photo, Photo)
    assert (photo.width, photo.height, photo.has_alpha) == (3, 2, False)
    assert photo.path == path and photo.exif is None and photo.dpi is None


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_the_size_from_the_header_is_the_upright_size_read_photo_gives(
    tmp_path, suffix, orientation
):
    """What a run is planned with (the result's size against its format's limits)."""
    from sr_studio.photo_io import read_photo_size

    path = tmp_path / f"turned{suffix}"
    image = Image.fromarray(pattern(20, 30))
    if suffix == ".tif":
        image.save(path, tiffinfo={ExifTags.Base.Orientation: orientation})
    else:
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        image.save(path, exif=exif)
    height, width = read_photo(path).pixels.shape[:2]
    assert read_photo_size(path) == (width, height)
    with pytest.raises(ImageReadError, match="exceeds the limit"):
        read_photo_size(path, max_pixels=599)
