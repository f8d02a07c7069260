"""`sr-studio upscale`: enlarge files or whole folders with one model, loaded once for the batch."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sr_studio.errors import SRStudioError
from sr_studio.photo_formats import DEVICES, FORMAT_FOR_SUFFIX, INPUT_SUFFIXES, PRECISIONS, photos_in_folder  # noqa: F401
from sr_studio.photo_formats import OUTPUT_FORMATS as FORMATS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "upscale",
        help="enlarge photos (files or folders)",
        description="Enlarge photos with a super-resolution model. Outputs keep the photo's metadata and "
        "appear only once complete; existing files are never overwritten unless --overwrite is given.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    parser.add_argument("-o", "--output", metavar="OUTPUT_FILE_OR_DIR",
                        help="output file (one input) or folder; default: beside each input as NAME_x<scale>")
    parser.add_argument("--model", metavar="NAME_OR_PATH",
                        help="installed or bundled model id, or a .pth/.safetensors file "
                        "(default: the bundled model for the scale; see `sr-studio models list`)")
    parser.add_argument("--scale", type=float, metavar="S", help="enlargement factor (default: the model's)")
    parser.add_argument("--tile", type=int, metavar="N", help="tile size in input pixels (default: automatic)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--format", choices=FORMATS, help="output format (default: the input's, PNG for others)")
    parser.add_argument("--quality", type=int, metavar="Q", help="JPEG/WebP quality 1-100 (default 95)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--max-megapixels", type=float, default=200.0, metavar="MP",
                        help="refuse inputs larger than this, checked before decoding (default 200)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def collect_inputs(inputs: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = photos_in_folder(path)  # without the results of an earlier run into the same folder
            if not found:
                raise SRStudioError("no images in this folder", path)
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise SRStudioError("no such file or folder", path)
    return files


def scale_label(scale: float) -> str:
    return f"x{scale:g}"


def output_format_for(source: Path, requested: str | None, output: Path | None) -> str:
    if requested:
        return requested
    if output is not None and output.suffix.lower() in FORMAT_FOR_SUFFIX:
        return FORMAT_FOR_SUFFIX[output.suffix.lower()]
    return FORMAT_FOR_SUFFIX.get(source.suffix.lower(), "png")


def plan_outputs(files: list[Path], output: str | None, requested_format: str | None, scale: float) -> list[tuple[Path, Path, str]]:
    """(input, output, format) for each file; decided before any work so mistakes surface at once."""
    from sr_studio.photo_files import output_extension

    target = Path(output) if output else None
    single_file = (
        target is not None and len(files) == 1 and not target.is_dir()
        and not output.endswith(("/", "\\")) and target.suffix != ""
    )
    if target is not None and not single_file and target.suffix.lower() in FORMAT_FOR_SUFFIX and len(files) > 1:
        raise SRStudioError("several inputs need an output folder, not a file name", target)
    plan = []
    for source in files:
        if single_file:
            fmt = output_format_for(source, requested_format, target)
            plan.append((source, target, fmt))
            continue
        fmt = output_format_for(source, requested_format, None)
        folder = target if target is not None else source.parent
        plan.append((source, folder / f"{source.stem}_{scale_label(scale)}{output_extension(fmt)}", fmt))
    seen: dict[Path, Path] = {}
    for source, destination, _ in plan:
        key = destination.resolve()
        if key in seen:
            raise SRStudioError(f"{seen[key]} and {source} would both be written to {destination}")
        seen[key] = source
    return plan


def resolve_model_path(reference: str | None, scale: float | None) -> Path:
    from sr_studio.weights import resolve_model

    wanted = None if scale is None else max(1, round(scale))
    return resolve_model(reference, wanted)


def result_canvas(upscaler, pixels, scale: float, fmt: str):
    """For a JPEG, PNG or WebP of an 8-bit RGB photo, the result goes into the RGB part of a 4-byte-per-pixel
    buffer, which the encoder reads in place: a plain RGB result is copied whole into Pillow to be encoded (768 MB
    more at the peak for a 12 MP photo x4). None: the engine allocates the result."""
    import numpy as np

    if fmt not in ("jpg", "png", "webp") or pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        return None
    height, width = upscaler.output_size(pixels.shape[0], pixels.shape[1], scale)
    return np.empty((height, width, 4), np.uint8)[..., :3]


def run(args: argparse.Namespace) -> int:
    if args.scale is not None and not (0 < args.scale <= 16):
        raise SRStudioError(f"--scale must be between 0 and 16, not {args.scale:g}")
    if args.tile is not None and args.tile < 8:
        raise SRStudioError(f"--tile must be at least 8 pixels, not {args.tile}")
    if args.quality is not None and not (1 <= args.quality <= 100):
        raise SRStudioError(f"--quality must be between 1 and 100, not {args.quality}")
    if not args.max_megapixels > 0:
        raise SRStudioError(f"--max-megapixels must be positive, not {args.max_megapixels:g}")
    files = collect_inputs(args.inputs)

    from sr_studio.cli.terminal_progress import ProgressBar
    from sr_studio.engine import Upscaler
    from sr_studio.model_loading import load_model
    from sr_studio.photo_files import read_photo, write_photo

    model_path = resolve_model_path(args.model, args.scale)
    model = load_model(model_path)
    scale = args.scale if args.scale is not None else float(model.scale)
    plan = plan_outputs(files, args.output, args.format, scale)
    upscaler = Upscaler(model, device=args.device, precision=args.precision, tile=args.tile)
    if upscaler.notice:  # shown even with --quiet: the run is not the one asked for
        print(f"sr-studio: note: {upscaler.notice}", file=sys.stderr)
    if not args.quiet:
        print(f"model: {model_path.name} ({model.arch} x{model.scale}) on {upscaler.device}, "
              f"{upscaler.precision}; {len(plan)} image(s) to {scale_label(scale)}", file=sys.stderr)

    failures = 0
    for index, (source, destination, fmt) in enumerate(plan, start=1):
        started = time.monotonic()
        label = f"[{index}/{len(plan)}] {source.name}"
        try:
            if destination.exists() and not args.overwrite:
                raise SRStudioError("already exists (use --overwrite to replace it)", destination)
            photo = read_photo(source, max_pixels=int(args.max_megapixels * 1_000_000))
            for warning in photo.warnings:
                print(f"sr-studio: warning: {source}: {warning}", file=sys.stderr)
            bar = ProgressBar(label, stream=sys.stderr if not args.quiet else _Silent())
            result = upscaler.upscale(photo.pixels, scale=scale, on_progress=lambda p: bar.update(p.done, p.total),
                                      out=result_canvas(upscaler, photo.pixels, scale, fmt))
            written = write_photo(destination, result, like=photo, format=fmt, quality=args.quality,
                                  overwrite=args.overwrite)
        except SRStudioError as error:
            failures += 1
            print(f"sr-studio: error: {error}", file=sys.stderr)
            continue
        height, width = result.shape[:2]
        message = f"{label} -> {written} ({width}x{height}, {time.monotonic() - started:.1f} s)"
        if args.quiet:
            continue
        bar.finish(message)
    if failures:
        print(f"sr-studio: {failures} of {len(plan)} image(s) failed", file=sys.stderr)
        return 1
    return 0


class _Silent:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
