"""Camera maker notes (where the lens, focus and picture-style data live) survive into every output.

Many makers' notes (Canon, Sony, Panasonic, ...) are a directory whose values sit at offsets counted
from the start of the EXIF block, not of the note: moving the note by a single byte without
rewriting them makes every reader find garbage. The test note here is such a directory, written the
way a Canon body does, and the check is the one a photo tool makes: follow the offsets to the lens
name.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import ExifTags, Image

from sr_studio.photo_io import OUTPUT_FORMATS, output_extension, read_photo, write_photo

IFD = ExifTags.IFD
LENS = b"RF24-70mm F2.8 L IS USM\x00"
SETTINGS = (
    0x00CA,
    0x0002,
    0x0000,
    0x0004,
)  # a few SHORT values, too many to fit in the entry itself
NOTE_SIZE = 128
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}


def canon_style_exif(byte_order: str) -> tuple[bytes, bytes]:
    """An EXIF block (b"Exif\\0\\0" + TIFF) in `byte_order` ("<" or ">") and its maker note.

    The note is a directory of a settings array (tag 0x0001) and the lens name (tag 0x0095), both
    stored after the directory and addressed from the start of the EXIF block's TIFF header.
    """
    placeholder = bytes(range(1, NOTE_SIZE + 1))
    exif = Image.Exif()
    exif.endian = byte_order
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "Canon EOS R5"
    exif[ExifTags.Base.Orientation] = 6
    sub = exif.get_ifd(IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2024:09:21 07:45:10"
    sub[ExifTags.Base.MakerNote] = placeholder
    sub[ExifTags.Base.ExifImageWidth] = 40
    sub[ExifTags.Base.ExifImageHeight] = 24
    exif.get_ifd(IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    blob = exif.tobytes()
    tiff = blob[6:]
    assert tiff[:2] == (b"II" if byte_order == "<" else b"MM")
    at = tiff.index(placeholder)  # where the note sits, from the TIFF header
    entries = 2
    settings_at = 2 + 12 * entries + 4
    lens_at = settings_at + 2 * len(SETTINGS)
    note = struct.pack(byte_order + "H", entries)
    note += struct.pack(byte_order + "HHII", 0x0001, 3, len(SETTINGS), at + settings_at)
    note += struct.pack(byte_order + "HHII", 0x0095, 2, len(LENS), at + lens_at)
    note += bytes(4)
    note += struct.pack(byte_order + f"{len(SETTINGS)}H", *SETTINGS) + LENS
    note = note.ljust(NOTE_SIZE, b"\x00")
    return blob.replace(placeholder, note), note


def read_lens(tiff: bytes) -> tuple[bytes, bytes, tuple]:
    """(maker note bytes, lens name, settings), found as a photo tool finds them: by following
    offsets."""
    order = "<" if tiff[:2] == b"II" else ">"

    def directory(offset: int) -> dict[int, tuple[int, int, bytes]]:
        (count,) = struct.unpack_from(order + "H", tiff, offset)
        found = {}
        for index in range(count):
            tag, kind, number = struct.unpack_from(order + "HHI", tiff, offset + 2 + 12 * index)
            found[tag] = (kind, number, tiff[offset + 10 + 12 * index : offset + 14 + 12 * index])
        return found

    def value(entry: tuple[int, int, bytes]) -> bytes:
        kind, number, field = entry
        size = TYPE_SIZES[kind] * number
        if size <= 4:
            return field[:size]
        (offset,) = struct.unpack(order + "I", field)
        return tiff[offset : offset + size]

    ifd0 = directory(struct.unpack_from(order + "I", tiff, 4)[0])
    exif_ifd = directory(struct.unpack(order + "I", ifd0[0x8769][2])[0])
    note_kind, note_size, note_field = exif_ifd[0x927C]
    note = value(exif_ifd[0x927C])
    note_at = struct.unpack(order + "I", note_field)[0]
    inside = directory(note_at)
    settings = struct.unpack(order + f"{len(SETTINGS)}H", value(inside[0x0001]))
    return note, value(inside[0x0095]), settings


def output_tiff_structure(path) -> bytes:
    """The TIFF structure holding the EXIF: the whole file for TIFF, the EXIF block for the
    others."""
    if path.suffix == ".tif":
        return path.read_bytes()
    with Image.open(path) as written:
        blob = written.info["exif"]
    return blob[6:] if blob.startswith(b"Exif\x00\x00") else blob


@pytest.mark.parametrize("byte_order", ["<", ">"], ids=["little-endian", "big-endian"])
@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
def test_maker_note_survives_byte_for_byte_and_its_offsets_still_lead_to_the_lens(
    tmp_path, fmt, byte_order
):
    blob, note = canon_style_exif(byte_order)
    assert read_lens(blob[6:]) == (
        note,
        LENS,
        SETTINGS,
    )  # the note reads right in the camera's file
    source = tmp_path / "IMG_0001.JPG"
    Image.fromarray(np.full((24, 40, 3), 90, np.uint8)).save(source, quality=95, exif=blob)
    photo = read_photo(source)

    out = write_photo(
        tmp_path / f"out{output_extension(fmt)}",
        np.repeat(np.repeat(photo.pixels, 2, 0), 2, 1),
        metadata_from=photo,
    )

    assert read_lens(output_tiff_structure(out)) == (note, LENS, SETTINGS)
    with Image.open(out) as written:
        exif = written.getexif()
        assert exif[ExifTags.Base.Make] == "Canon" and exif.get(ExifTags.Base.Orientation, 1) == 1
        sub = exif.get_ifd(IFD.Exif)
        assert sub[ExifTags.Base.DateTimeOriginal] == "2024:09:21 07:45:10"
        assert (sub[ExifTags.Base.ExifImageWidth], sub[ExifTags.Base.ExifImageHeight]) == (48, 80)
        assert exif.get_ifd(IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
        np.testing.assert_array_equal(np.asarray(written.convert("RGB"))[::2, ::2], photo.pixels)


@pytest.mark.parametrize("depth", [8, 16])
def test_maker_note_survives_a_tiff_and_back_to_jpeg(tmp_path, depth):
    """Reading SR Studio's TIFF takes its EXIF block as stored, not re-serialised (which moves the
    note)."""
    blob, note = canon_style_exif("<")
    source = tmp_path / "IMG_0002.JPG"
    Image.fromarray(np.full((24, 40, 3), 90, np.uint8)).save(source, quality=95, exif=blob)
    tiff = write_photo(
        tmp_path / "step.tif",
        read_photo(source).pixels,
        metadata_from=read_photo(source),
        bit_depth=depth,
    )
    assert read_lens(tiff.read_bytes()) == (note, LENS, SETTINGS)
    again = read_photo(tiff)
    assert again.bit_depth == depth

    out = write_photo(tmp_path / "final.jpg", again.pixels, metadata_from=again)

    assert read_lens(output_tiff_structure(out)) == (note, LENS, SETTINGS)
