"""Photos in and out: numpy pixels plus the metadata a photographer expects to keep.

The public surface is below. Inside, one module per concern: `reading` (decode, orientation,
limits), `writing` (encode with the source's metadata), `photo` (the record both share),
`atomic_file` (never a half-written output), `exif_block` (patching EXIF without re-encoding it),
`png16` (16-bit colour PNG, which Pillow cannot hold in memory), `tiff_writer` (TIFF with EXIF
sub-directories, any bit depth), `pillow_array` (numpy <-> Pillow without extra copies).
"""

from sr_studio.photo_io.photo import Photo
from sr_studio.photo_io.reading import (
    DEFAULT_MAX_PIXELS,
    HEIF_SUPPORTED,
    INPUT_SUFFIXES,
    read_photo,
    read_photo_size,
)
from sr_studio.photo_io.writing import OUTPUT_FORMATS, output_extension, write_photo

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HEIF_SUPPORTED",
    "INPUT_SUFFIXES",
    "OUTPUT_FORMATS",
    "Photo",
    "output_extension",
    "read_photo",
    "read_photo_size",
    "write_photo",
]
