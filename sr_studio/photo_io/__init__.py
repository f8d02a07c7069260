"""Internals of photo reading and writing; the public API is `sr_studio.photo_files`.

Split by concern: `atomic_file` (never a half-written output), `exif_block` (patching EXIF without
re-encoding it), `png16` (16-bit colour PNG, which Pillow cannot hold in memory), `tiff_writer`
(TIFF with EXIF sub-directories, any bit depth).
"""
