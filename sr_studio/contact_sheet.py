"""One PNG that puts the same crop from several models side by side, each labelled: what
photographers share to say which model suits a photo.

The layout is written into the PNG too (a text chunk, `sr-studio:compare`, JSON): every cell's box,
model, purpose and time, so the sheet can be read back by a program, not only by eye.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from sr_studio.photo_io.atomic_file import write_atomically

MARGIN = 16
GAP = 12
LABEL_LINES = 3
BACKGROUND = (32, 32, 32)
TITLE_COLOUR = (235, 235, 235)
NAME_COLOUR = (255, 255, 255)
DETAIL_COLOUR = (190, 190, 190)
METADATA_KEY = "sr-studio:compare"
MAX_COLUMNS = 4
# A small crop (a 50 px region at x4 is 200 px) still gets labels this wide, its picture centred
# over them: "SPAN x4 Photo, cleanup 30%" cut to "SPAN x4 Photo, cleanup 3…" says the wrong thing.
MIN_SLOT_WIDTH = 280


@dataclass(frozen=True)
class SheetCell:
    """One crop and its label: the model's name, its purpose, and the line under them (its time)."""

    pixels: np.ndarray  # (H, W, 3) uint8, every cell the same size
    name: str
    purpose: str
    detail: str
    seconds: float | None = None


def sheet_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's own font (no font file to ship); its bitmap version where Pillow lacks FreeType."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def fitted_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    width: int,
) -> str:
    """`text`, shortened with an ellipsis until it fits `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def columns_for(count: int) -> int:
    """One row up to four crops, then rows as even as they can be."""
    if count <= MAX_COLUMNS:
        return count
    rows = math.ceil(count / MAX_COLUMNS)
    return math.ceil(count / rows)


def compose(
    title: str, cells: Sequence[SheetCell], font_size: int = 14
) -> tuple[Image.Image, dict[str, object]]:
    """The sheet and its layout: a title line, then a grid of crops, each over a band of three
    labels.
    """
    if not cells:
        raise ValueError("a contact sheet needs at least one crop")
    cell_h, cell_w = cells[0].pixels.shape[:2]
    name_font, detail_font, title_font = (
        sheet_font(font_size + 2),
        sheet_font(font_size),
        sheet_font(font_size + 2),
    )
    line = font_size + 6
    band = LABEL_LINES * line + 6
    title_h = line + 10
    columns = columns_for(len(cells))
    rows = math.ceil(len(cells) / columns)
    slot_w = max(cell_w, MIN_SLOT_WIDTH)
    width = 2 * MARGIN + columns * slot_w + (columns - 1) * GAP
    height = 2 * MARGIN + title_h + rows * (cell_h + band) + (rows - 1) * GAP
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text(
        (MARGIN, MARGIN),
        fitted_text(draw, title, title_font, width - 2 * MARGIN),
        fill=TITLE_COLOUR,
        font=title_font,
    )
    layout: list[dict[str, object]] = []
    for index, cell in enumerate(cells):
        if cell.pixels.shape[:2] != (cell_h, cell_w):
            raise ValueError("every crop of a contact sheet must have the same size")
        row, column = divmod(index, columns)
        slot_left = MARGIN + column * (slot_w + GAP)
        left = slot_left + (slot_w - cell_w) // 2
        top = MARGIN + title_h + row * (cell_h + band + GAP)
        sheet.paste(Image.fromarray(np.ascontiguousarray(cell.pixels[..., :3])), (left, top))
        texts = [
            (cell.name, name_font, NAME_COLOUR),
            (cell.purpose, detail_font, DETAIL_COLOUR),
            (cell.detail, detail_font, DETAIL_COLOUR),
        ]
        for number, (text, font, colour) in enumerate(texts):
            if text:
                draw.text(
                    (slot_left, top + cell_h + 4 + number * line),
                    fitted_text(draw, text, font, slot_w),
                    fill=colour,
                    font=font,
                )
        layout.append(
            {
                "box": [left, top, cell_w, cell_h],
                "label_box": [slot_left, top + cell_h, slot_w, band],
                "name": cell.name,
                "purpose": cell.purpose,
                "detail": cell.detail,
                "seconds": cell.seconds,
            }
        )
    return sheet, {"title": title, "cells": layout}


def write_sheet(
    destination: Path,
    sheet: Image.Image,
    layout: dict[str, object],
    overwrite: bool = False,
    protected: Path | None = None,
) -> Path:
    """The PNG, whole or not at all, with its layout in a text chunk."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "SR Studio")
    info.add_text(METADATA_KEY, json.dumps(layout))

    def produce(stream: BinaryIO) -> None:
        sheet.save(stream, format="PNG", pnginfo=info, optimize=False)

    return write_atomically(destination, produce, overwrite=overwrite, protected=protected)


def read_layout(path: Path) -> dict[str, object]:
    """The layout a sheet was written with."""
    with Image.open(path) as image:
        return dict(json.loads(image.info[METADATA_KEY]))
