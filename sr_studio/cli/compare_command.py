"""`sr-studio compare`: the same crop of a photo from several models, on one labelled PNG sheet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sr_studio.cli.run_options import add_run_options
from sr_studio.errors import SRStudioError

DEFAULT_SIDE = 256  # a HAT-S crop of this size takes under a minute on a 2-core CPU
MAX_MODELS = 8


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="enlarge one crop with several models onto one labelled PNG",
        description="Enlarge the same crop of a photo with each model and write one PNG contact "
        "sheet: the original (nearest neighbour) and each model's crop, labelled with its name, "
        "purpose and the time it took. The crop's pixels are those the full run gives there.",
    )
    parser.add_argument("photo", metavar="PHOTO", help="the photo to crop")
    parser.add_argument(
        "--models",
        required=True,
        metavar="A,B,C",
        help="model ids or weights files, separated by commas (see `sr-studio models list`); a "
        "photo model may end in @PERCENT for its cleanup strength, so one model can be compared "
        "at several: bundled-span-x4,bundled-span-x4-photo@50,bundled-span-x4-photo",
    )
    parser.add_argument(
        "--crop",
        metavar="X,Y,W,H",
        help=f"the rectangle of the photo, in its pixels (default: {DEFAULT_SIDE}x{DEFAULT_SIDE} "
        "in the middle)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="SHEET.png",
        help="where to write the sheet (default: beside the photo, NAME_compare.png)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        metavar="S",
        help="enlargement for every model (default: the largest model scale)",
    )
    add_run_options(parser, what_overwrite_replaces="an existing sheet")
    parser.add_argument("-q", "--quiet", action="store_true", help="no line per model")
    parser.set_defaults(handler=run)


def model_references(text: str) -> list[str]:
    references = [part.strip() for part in text.split(",") if part.strip()]
    if not references:
        raise SRStudioError("--models needs at least one model id or file")
    if len(references) > MAX_MODELS:
        raise SRStudioError(f"--models takes at most {MAX_MODELS} models, not {len(references)}")
    repeated = sorted({name for name in references if references.count(name) > 1})
    if repeated:
        raise SRStudioError(f"--models names {', '.join(repeated)} more than once")
    return references


def default_output(photo: Path) -> Path:
    return photo.with_name(f"{photo.stem}_compare.png")


def run(args: argparse.Namespace) -> int:
    from sr_studio.cli.upscale_command import MAX_SCALE, MIN_SCALE

    references = model_references(args.models)
    if args.scale is not None and not (MIN_SCALE <= args.scale <= MAX_SCALE):
        raise SRStudioError(
            f"--scale must be from {MIN_SCALE:g} to {MAX_SCALE:g}, not {args.scale:g}"
        )
    if args.tile is not None and args.tile < 8:
        raise SRStudioError(f"--tile must be at least 8 pixels, not {args.tile}")
    photo_path = Path(args.photo).expanduser()
    if not photo_path.is_file():
        raise SRStudioError(
            "no such file" if not photo_path.exists() else "is not a file", photo_path
        )
    destination = Path(args.output).expanduser() if args.output else default_output(photo_path)
    if destination.suffix.lower() != ".png":
        raise SRStudioError("a contact sheet is a PNG: name it .png", destination)

    from sr_studio.contact_sheet import SheetCell, compose, write_sheet
    from sr_studio.engine import Upscaler
    from sr_studio.engine.crop_preview import CropBox, upscale_crop
    from sr_studio.engine.throughput import ThroughputStore, speed_key
    from sr_studio.model_loading import load_model
    from sr_studio.photo_io import read_photo
    from sr_studio.photo_io.atomic_file import check_destination
    from sr_studio.weights import list_models
    from sr_studio.weights.library import describe_model, resolve_choice

    crop = CropBox.parse(args.crop) if args.crop else None
    check_destination(destination, overwrite=args.overwrite, protected=photo_path)
    choices = [resolve_choice(reference) for reference in references]  # all checked before any work
    paths = [path for path, _ in choices]
    photo = read_photo(photo_path, max_pixels=int(args.max_megapixels * 1_000_000))
    box = (crop or CropBox.centred(photo.width, photo.height, DEFAULT_SIDE)).clipped(
        photo.width, photo.height
    )
    listings = list_models()
    store = ThroughputStore.default()
    scale = args.scale or float(max(_scale_of(path, listings) for path in paths))
    cells: list[SheetCell] = []
    device_text = ""
    for index, (path, cleanup) in enumerate(choices):
        model = load_model(path, cleanup)
        upscaler = Upscaler(model, device=args.device, precision=args.precision, tile=args.tile)
        if upscaler.notice and index == 0:
            print(f"sr-studio: note: {upscaler.notice}", file=sys.stderr)
        model_id, name, purpose = describe_model(path, listings)
        if cleanup is not None:
            model_id, name = cleanup.model_id(model_id), cleanup.model_name(name)
        result = upscale_crop(upscaler, photo.pixels, box, scale)
        store.record(
            speed_key(upscaler.descriptor, upscaler.device, upscaler.precision),
            result.patch_pixels,
            result.seconds,
            "preview",
        )
        device_text = f"{upscaler.device.type.upper()} {upscaler.precision}"
        seconds = round(result.seconds, 3)  # the label and the layout say the same
        cells.append(
            SheetCell(
                _as_rgb8(result.pixels),
                name,
                purpose,
                f"{seconds:.1f} s for this crop ({device_text})",
                seconds,
            )
        )
        if not args.quiet:
            print(f"[{index + 1}/{len(paths)}] {model_id}: {result.seconds:.1f} s", file=sys.stderr)
        del model, upscaler  # one model in memory at a time
    original = _nearest(
        _as_rgb8(photo.pixels[box.y : box.y + box.height, box.x : box.x + box.width]),
        cells[0].pixels.shape[:2],
    )
    cells.insert(
        0,
        SheetCell(
            original,
            "Original",
            "nearest neighbour, for reference",
            f"{box.width}x{box.height} px at {box.x},{box.y}",
        ),
    )
    title = (
        f"{photo_path.name}: crop {box.x},{box.y} {box.width}x{box.height}, x{scale:g}, "
        f"{device_text}"
    )
    sheet, layout = compose(title, cells)
    layout.update(photo=str(photo_path), crop=[box.x, box.y, box.width, box.height], scale=scale)
    written = write_sheet(
        destination, sheet, layout, overwrite=args.overwrite, protected=photo_path
    )
    if not args.quiet:
        print(f"-> {written} ({sheet.width}x{sheet.height})", file=sys.stderr)
    return 0


def _scale_of(path: Path, listings: list[Any]) -> int:
    """A model's scale from the model list (no need to load it to know it), else from the file."""
    for listing in listings:
        if listing.path is not None and Path(listing.path) == path:
            return int(listing.scale)
    from sr_studio.model_loading import load_model

    return int(load_model(path).descriptor.scale)


def _as_rgb8(pixels: Any) -> Any:
    """What a PNG sheet shows: 8-bit RGB (16-bit rounded, grey repeated, alpha left out)."""
    import numpy as np

    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.dtype == np.uint16:
        pixels = np.rint(pixels.astype(np.float32) / 257.0).astype(np.uint8)
    pixels = pixels[..., :3]
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels)


def _nearest(pixels: Any, size: tuple[int, int]) -> Any:
    """The original crop blown up pixel for pixel to the enlarged crops' size, for reference."""
    import numpy as np

    height, width = size
    rows = np.minimum(np.arange(height) * pixels.shape[0] // height, pixels.shape[0] - 1)
    cols = np.minimum(np.arange(width) * pixels.shape[1] // width, pixels.shape[1] - 1)
    return np.ascontiguousarray(pixels[rows][:, cols])
