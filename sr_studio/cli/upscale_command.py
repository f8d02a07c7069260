"""`sr-studio upscale`: enlarge files or whole folders with one model, loaded once for the batch."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sr_studio.automatic_choice import AUTOMATIC
from sr_studio.cli.cluster_run import add_cluster_arguments
from sr_studio.cli.run_options import add_run_options
from sr_studio.errors import OutputExists, SRStudioError
from sr_studio.photo_formats import (
    FORMAT_FOR_SUFFIX,
    INPUT_SUFFIXES,
    format_for,
    scan_folder,
)
from sr_studio.photo_formats import OUTPUT_FORMATS as FORMATS
from sr_studio.weights.library import file_words

if TYPE_CHECKING:
    from sr_studio.automatic_choice import AutomaticPair
    from sr_studio.model_blending import Cleanup


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "upscale",
        help="enlarge photos (files or folders)",
        description="Enlarge photos with a super-resolution model. "
        "Outputs keep the photo's metadata and appear only once complete; "
        "existing files are never overwritten unless --overwrite is given.",
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image files or folders of images"
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT_FILE_OR_DIR",
        help="output file (one input file, named .png, .jpg, .webp or .tif) or folder (created "
        "if missing); default: beside each input as NAME_x<scale>",
    )
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="auto (default): for each photo, the bundled Photo model at the cleanup its JPEG "
        "quality, noise and softness call for, 0 (the Clean model) for a clean source; or an "
        "installed or bundled model id, or a .pth/.safetensors file (see `sr-studio models "
        "list`); a photo model may end in @PERCENT for its cleanup strength "
        "(bundled-span-x4-photo@60)",
    )
    parser.add_argument(
        "--cleanup",
        type=float,
        metavar="PERCENT",
        help="for a photo model (bundled-span-x4-photo, bundled-span-x2-photo): how much of its "
        "JPEG and noise removal to use, 0-100 (default 100); lower keeps more fine detail, 0 is "
        "the clean model it was trained from. Costs no time. Without --model: the photo model "
        "of the scale at this strength for every photo, instead of the automatic choice",
    )
    parser.add_argument(
        "--scale",
        type=float,
        metavar="S",
        help=f"enlargement factor, {MIN_SCALE:g} to {MAX_SCALE:g} (default: the model's)",
    )
    add_run_options(parser, what_overwrite_replaces="existing output files")
    parser.add_argument(
        "--format", choices=FORMATS, help="output format (default: the input's, PNG for others)"
    )
    parser.add_argument(
        "--quality", type=int, metavar="Q", help="JPEG/WebP quality 1-100 (default 95)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="print how long each photo would take on this machine and write "
        "nothing (from earlier runs and previews, or a short calibration)",
    )
    add_cluster_arguments(parser)
    parser.set_defaults(handler=run)


MIN_SCALE, MAX_SCALE = 1.0, 16.0


def collect_inputs(inputs: list[str], notes: list[str] | None = None) -> list[Path]:
    """The photos to enlarge: files as given, folders' photos without SR Studio's own results in
    them (a second run must not enlarge the first run's output). `notes` collects a line per folder
    where some were left out."""
    files: list[Path] = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found, earlier = scan_folder(path)
            if not found:
                raise SRStudioError("no images in this folder", path)
            if earlier and notes is not None:
                notes.append(
                    f"{path}: {len(earlier)} earlier SR Studio result(s) left out "
                    "(NAME_x<scale>...)"
                )
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
    return format_for(source)


def output_is_a_file(output: str | None, files: list[Path], folder_given: bool) -> bool:
    """Whether `-o` names the output file (one input file, and a name with a suffix SR Studio
    writes) rather than a folder; checked before the model is loaded, so a mistake costs no time.

    A folder input or several inputs need a folder. `-o big.png` for one photo is a file, even where
    it does not exist yet; `-o trip-x4` or `-o trip.2024/` is a folder, created when missing.
    """
    if not output:
        return False
    target = Path(output).expanduser()
    suffix = target.suffix.lower()
    names_a_file = (
        (suffix in FORMAT_FOR_SUFFIX or suffix in INPUT_SUFFIXES)
        and not target.is_dir()
        and not output.endswith(("/", os.sep))
    )
    if not names_a_file:
        if target.exists() and not target.is_dir():
            raise SRStudioError("is a file; the output must be a folder here", target)
        return False
    if len(files) > 1 or folder_given:
        raise SRStudioError("several inputs need an output folder, not a file name", target)
    if suffix not in FORMAT_FOR_SUFFIX:
        raise SRStudioError(
            f"SR Studio cannot write {suffix} files; name the output .png, .jpg, .webp or .tif",
            target,
        )
    return True


def check_format_matches(output: str | None, as_file: bool, requested_format: str | None) -> None:
    """`-o out.png --format webp` would put WebP bytes in a .png: refused, whichever the slip."""
    if not (as_file and requested_format):
        return
    target = Path(output).expanduser()
    named = FORMAT_FOR_SUFFIX[target.suffix.lower()]
    if named != requested_format:
        from sr_studio.photo_io import output_extension

        raise SRStudioError(
            f"--format {requested_format} contradicts the name's {target.suffix}; name it "
            f"{target.stem}{output_extension(requested_format)} or leave out --format",
            target,
        )


def prepare_folder(folder: Path) -> None:
    """Create the output folder (and its parents) the user named, as expected of `-o NEW_FOLDER`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise SRStudioError("is a file, not a folder", folder) from None
    except OSError as error:
        raise SRStudioError(
            f"cannot create this folder ({error.strerror or error})", folder
        ) from None


def plan_outputs(
    files: list[Path],
    output: str | None,
    requested_format: str | None,
    scale: float,
    as_file: bool | None = None,
    model_words: str = "",
) -> list[tuple[Path, Path, str]]:
    """(input, output, format) for each file; decided before any work, so mistakes show at once.
    Beside the input or in a folder, NAME_x4.ext, or NAME_x4_WORDS.ext for a model chosen by hand
    (`library.file_words`: the window's exports are named by the same rule)."""
    from sr_studio.photo_io import output_extension

    if as_file is None:
        as_file = output_is_a_file(output, files, folder_given=False)
    target = Path(output).expanduser() if output else None
    plan = []
    for source in files:
        if as_file:
            fmt = output_format_for(source, requested_format, target)
            plan.append((source, target, fmt))
            continue
        fmt = output_format_for(source, requested_format, None)
        folder = target if target is not None else source.parent
        words = f"_{model_words}" if model_words else ""
        name = f"{source.stem}_{scale_label(scale)}{words}{output_extension(fmt)}"
        plan.append((source, folder / name, fmt))
    seen: dict[Path, Path] = {}
    for source, destination, _ in plan:
        key = destination.resolve()
        if key == source.resolve():
            raise SRStudioError(
                "is the input itself; name another output (inputs are never overwritten)",
                destination,
            )
        if key in seen:
            raise SRStudioError(f"{seen[key]} and {source} would both be written to {destination}")
        seen[key] = source
    return plan


def resolve_model_choice(args: argparse.Namespace) -> tuple[Path, Cleanup | None]:
    """The weights file of --model (or the bundled default for --scale) and its cleanup; with no
    --model but a --cleanup, the scale's photo model at that strength."""
    from sr_studio.model_blending import Cleanup
    from sr_studio.weights.library import automatic_models, resolve_choice

    wanted = None if args.scale is None else max(1, round(args.scale))
    if args.model in (None, AUTOMATIC) and args.cleanup is not None:
        pair = automatic_models(wanted)
        if pair is not None:
            return pair.photo_path, Cleanup(pair.clean_path, args.cleanup / 100)
    model = None if args.model == AUTOMATIC else args.model
    return resolve_choice(model, wanted, args.cleanup)


def automatic_pair(args: argparse.Namespace) -> AutomaticPair | None:
    """(photo model, clean base) when this run chooses per photo: no --model (or `auto`) and no
    --cleanup, and a photo model bundled for the scale."""
    from sr_studio.weights.library import automatic_models

    if args.model not in (None, AUTOMATIC) or args.cleanup is not None:
        return None
    return automatic_models(None if args.scale is None else max(1, round(args.scale)))


def scale_from_header(path: Path) -> float | None:
    """The model's own scale read from a .safetensors file's header (a few kilobytes), so a run's
    results can be sized before its model is loaded; None for other files (they are loaded)."""
    if path.suffix.lower() != ".safetensors":
        return None
    from sr_studio.weights.bundled import describe_safetensors

    descriptor = describe_safetensors(path)
    return float(descriptor.scale) if descriptor is not None else None


def model_label(path: Path, cleanup: Cleanup | None = None) -> str:
    """The id `sr-studio models list` shows for a bundled or installed model, else a file's name;
    with the cleanup strength, as `--model` takes it back (`bundled-span-x4-photo@60`)."""
    if cleanup is not None:
        return cleanup.model_id(model_label(path))
    from sr_studio.weights import ModelStore, bundled_models

    def same(other) -> bool:
        try:
            return Path(other).resolve() == path.resolve()
        except OSError:
            return False

    for model in [*bundled_models(), *ModelStore().installed()]:
        if same(model.path):
            return model.id
    return path.name


def result_canvas(upscaler, pixels, scale: float, fmt: str):
    """For a JPEG, PNG or WebP of an 8-bit RGB photo, the result goes into the RGB part of a
    4-byte-per-pixel buffer, which the encoder reads in place: a plain RGB result is copied whole
    into Pillow to be encoded (768 MB more at the peak for a 12 MP photo x4). None: the engine
    allocates the result."""
    import numpy as np

    if (
        fmt not in ("jpg", "png", "webp")
        or pixels.dtype != np.uint8
        or pixels.ndim != 3
        or pixels.shape[2] != 3
    ):
        return None
    height, width = upscaler.output_size(pixels.shape[0], pixels.shape[1], scale)
    return np.empty((height, width, 4), np.uint8)[..., :3]


def check_result_sizes(
    plan: list[tuple[Path, Path, str]], scale: float, overwrite: bool, max_megapixels: float
) -> tuple[dict[Path, str], list[str]]:
    """What each photo's result size means, from the photos' headers before any model runs:
    the photos whose format cannot hold their result (source -> the line saying so, which format to
    choose instead) and notes on results too large for many programs to open. A photo whose header
    cannot be read is left to the run, which reports it."""
    from sr_studio.photo_formats import opens_widely, result_size, size_problem
    from sr_studio.photo_io import read_photo_size

    refused: dict[Path, str] = {}
    notes: list[str] = []
    for source, destination, fmt in plan:
        if output_is_done(destination, overwrite):
            continue
        try:
            width, height = read_photo_size(source, max_pixels=int(max_megapixels * 1_000_000))
        except SRStudioError:
            continue
        out_w, out_h = result_size(width, height, scale)
        result = f"the {scale_label(scale)} result is {out_w}x{out_h} px"
        problem = size_problem(fmt, out_w, out_h)
        if problem:
            refused[source] = str(SRStudioError(f"{result}, {problem}", source))
        elif not opens_widely(out_w, out_h):
            hint = smaller_scale_hint(width, height, scale)
            notes.append(
                f"{source}: {result} ({out_w * out_h / 1e6:.0f} MP), more than many programs "
                f"open (Pillow refuses images over 179 MP){hint}"
            )
    return refused, notes


def smaller_scale_hint(width: int, height: int, scale: float) -> str:
    """'; --scale 2 or 3 makes one they open' (whole scales first, else the largest that fits)."""
    from sr_studio.photo_formats import join_or, largest_scale_opening_widely, scales_opening_widely

    whole = scales_opening_widely(width, height, [s for s in range(2, int(scale) + 1) if s < scale])
    if whole:
        return f"; --scale {join_or([f'{s:g}' for s in whole])} makes one they open"
    largest = largest_scale_opening_widely(width, height)
    return f"; --scale {largest:g} or less makes one they open" if largest > 1 else ""


def output_is_done(destination: Path, overwrite: bool) -> bool:
    """Done before (a second run over the same photos, or an interrupted one): outputs appear only
    once complete, so an existing one is finished: skipped, not a failure, and left untouched."""
    return destination.exists() and not overwrite


def enlarge_photo(
    upscaler_for: Callable[[Any], Any],
    source: Path,
    destination: Path,
    fmt: str,
    scale: float,
    quality: int | None,
    overwrite: bool,
    max_megapixels: float,
    on_progress: Callable[[Any], None],
    on_warning: Callable[[Path, str], None],
    on_timing: Callable[[tuple[int, int], float], None] | None = None,
) -> tuple[Path, tuple[int, int]]:
    """One photo from its file to its complete output: the path written and (width, height).

    The one place a photo is enlarged from the command line, by a local run and by each cluster
    worker alike, so both give the same bytes. `upscaler_for(photo)` gives the upscaler for the
    decoded photo: one for the batch, or Automatic's pick for this photo. Raises SRStudioError
    (naming the file) on failure."""
    from sr_studio.photo_io import read_photo, write_photo

    photo = read_photo(source, max_pixels=int(max_megapixels * 1_000_000))
    for warning in photo.warnings:
        on_warning(source, warning)
    upscaler = upscaler_for(photo)
    network_started = time.monotonic()
    result = upscaler.upscale(
        photo.pixels,
        scale=scale,
        on_progress=on_progress,
        out=result_canvas(upscaler, photo.pixels, scale, fmt),
    )
    if on_timing is not None:  # the network's share, for the next estimate (input (height, width))
        on_timing(photo.pixels.shape[:2], time.monotonic() - network_started)
    written = write_photo(
        destination,
        result,
        metadata_from=photo,
        format=fmt,
        quality=quality,
        overwrite=overwrite,
        on_warning=lambda text: on_warning(destination, text),
    )
    height, width = result.shape[:2]
    return written, (width, height)


def run(args: argparse.Namespace) -> int:
    if args.scale is not None and not (MIN_SCALE <= args.scale <= MAX_SCALE):
        raise SRStudioError(
            f"--scale must be from {MIN_SCALE:g} to {MAX_SCALE:g}, not {args.scale:g}"
        )
    if args.tile is not None and args.tile < 8:
        raise SRStudioError(f"--tile must be at least 8 pixels, not {args.tile}")
    if args.quality is not None and not (1 <= args.quality <= 100):
        raise SRStudioError(f"--quality must be between 1 and 100, not {args.quality}")
    if not args.max_megapixels > 0:
        raise SRStudioError(f"--max-megapixels must be positive, not {args.max_megapixels:g}")
    notes: list[str] = []
    files = collect_inputs(args.inputs, notes)
    as_file = output_is_a_file(
        args.output, files, folder_given=any(Path(name).is_dir() for name in args.inputs)
    )
    check_format_matches(args.output, as_file, args.format)

    from sr_studio.cli.terminal_progress import ProgressBar
    from sr_studio.engine import Upscaler
    from sr_studio.model_loading import load_model

    if args.cluster:
        from sr_studio.cli.cluster_run import run_on_cluster

        return run_on_cluster(args, files, as_file, notes)
    automatic = automatic_pair(args)
    if args.estimate and automatic is None:
        from sr_studio.weights.library import entry_to_download

        undownloaded = entry_to_download(args.model)
        if undownloaded is not None:
            return estimate_before_download(undownloaded, files, as_file, args)
    if automatic is not None:
        model_path, cleanup = automatic.clean_path, None  # sizes, estimates, devices
    else:
        model_path, cleanup = resolve_model_choice(args)
    scale = args.scale if args.scale is not None else scale_from_header(model_path)
    model = None
    if scale is None or args.estimate:
        model = load_model(model_path, cleanup)
        scale = args.scale if args.scale is not None else float(model.descriptor.scale)
    words = output_words(automatic, model_path, cleanup)
    plan = plan_outputs(files, args.output, args.format, scale, as_file, words)
    if args.estimate:  # before the output folder is created: an estimate writes nothing
        from sr_studio.cli.run_estimates import print_estimates

        upscaler = Upscaler(model, device=args.device, precision=args.precision, tile=args.tile)
        if upscaler.notice:
            print(f"sr-studio: note: {upscaler.notice}", file=sys.stderr)
        return print_estimates(upscaler, [source for source, _, _ in plan], scale, args)
    # Before the model is loaded or run: a result its format cannot hold fails in seconds, not
    # after the run; a result too large for many programs to open is said (and made).
    refused, size_notes = check_result_sizes(plan, scale, args.overwrite, args.max_megapixels)
    for reason in refused.values():
        print(f"sr-studio: error: {reason}", file=sys.stderr)
    for note in size_notes:
        print(f"sr-studio: note: {note}", file=sys.stderr)
    if refused and len(refused) == len(plan):
        print(f"sr-studio: {len(refused)} of {len(plan)} image(s) failed", file=sys.stderr)
        return 1
    if model is None:
        model = load_model(model_path, cleanup)
    if args.output:
        prepare_folder(
            Path(args.output).expanduser().parent if as_file else Path(args.output).expanduser()
        )
    upscaler = Upscaler(model, device=args.device, precision=args.precision, tile=args.tile)
    if upscaler.notice:  # shown even with --quiet: the run is not the one asked for
        print(f"sr-studio: note: {upscaler.notice}", file=sys.stderr)
    label = run_label(automatic, model_path, cleanup, model)
    if not args.quiet:
        for note in notes:
            print(f"sr-studio: note: {note}", file=sys.stderr)
        why = f" ({upscaler.precision_reason})" if upscaler.precision_reason else ""
        print(
            f"model: {label} on {upscaler.device}, {upscaler.precision}{why}; "
            f"{len(plan)} image(s) to {scale_label(scale)}",
            file=sys.stderr,
        )

    from sr_studio.engine.throughput import ThroughputStore

    speed = RunTimer(ThroughputStore.default(), upscaler, scale)
    upscaler_for = per_photo_upscalers(automatic, upscaler, args, quiet=args.quiet)
    failures, skipped = len(refused), 0
    for index, (source, destination, fmt) in enumerate(plan, start=1):
        if source in refused:
            continue  # said above
        started = time.monotonic()
        label = f"[{index}/{len(plan)}] {source.name}"
        skipped_line = f"{label} skipped: {destination} already exists (--overwrite replaces it)"
        if output_is_done(destination, args.overwrite):
            skipped += 1
            if not args.quiet:
                print(skipped_line, file=sys.stderr)
            continue
        bar = ProgressBar(label, stream=sys.stderr if not args.quiet else _Silent())
        timing: dict[str, Any] = {}
        try:
            written, (width, height) = enlarge_photo(
                upscaler_for,
                source,
                destination,
                fmt,
                scale,
                args.quality,
                args.overwrite,
                args.max_megapixels,
                on_progress=lambda p, bar=bar: bar.update(p.done, p.total),
                on_warning=lambda path, warning: print(
                    f"sr-studio: warning: {path}: {warning}", file=sys.stderr
                ),
                on_timing=lambda size, seconds, timing=timing: timing.update(
                    size=size, seconds=seconds
                ),
            )
            speed.record(
                timing["size"], timing["seconds"], time.monotonic() - started - timing["seconds"]
            )
        except OutputExists:
            # Written meanwhile by another run over the same photos: done, as a later run would
            # find it (never replaced without --overwrite).
            bar.finish(skipped_line)  # silent with --quiet
            skipped += 1
            continue
        except SRStudioError as error:
            failures += 1
            print(f"sr-studio: error: {error}", file=sys.stderr)
            continue
        message = f"{label} -> {written} ({width}x{height}, {time.monotonic() - started:.1f} s)"
        if args.quiet:
            continue
        bar.finish(message)
    if skipped:
        print(
            f"sr-studio: {skipped} of {len(plan)} image(s) skipped: the output already exists "
            "(--overwrite replaces it)",
            file=sys.stderr,
        )
    if failures:
        print(f"sr-studio: {failures} of {len(plan)} image(s) failed", file=sys.stderr)
        return 1
    return 0


def estimate_before_download(
    entry: Any, files: list[Path], as_file: bool, args: argparse.Namespace
) -> int:
    """`--estimate` of a catalog model not downloaded yet: timed on this computer with a network of
    its shape (fresh weights run exactly as fast), so a user knows before paying for the download
    whether it is worth it."""
    from sr_studio.cli.run_estimates import print_estimates
    from sr_studio.engine import Upscaler
    from sr_studio.model_loading import shaped_model
    from sr_studio.weights import human_size

    shape = entry.hyperparameters
    if shape is None:
        raise SRStudioError(
            f"the model '{entry.id}' ({entry.variant}) is not installed and has no known shape to "
            f"time; run: sr-studio models download {entry.id}"
        )
    model = shaped_model(entry.arch, shape)
    scale = args.scale if args.scale is not None else float(entry.scale)
    plan = plan_outputs(files, args.output, args.format, scale, as_file)
    upscaler = Upscaler(model, device=args.device, precision=args.precision, tile=args.tile)
    if not args.quiet:
        print(
            f"sr-studio: note: {entry.id} is not downloaded yet ({human_size(entry.size)}): "
            "timed with a network of its shape on this computer",
            file=sys.stderr,
        )
    return print_estimates(upscaler, [source for source, _, _ in plan], scale, args)


def run_label(
    automatic: AutomaticPair | None, model_path: Path, cleanup: Cleanup | None, model: Any
) -> str:
    """The run's model as its first line names it, locally and on a cluster: 'automatic (per
    photo: bundled-span-x4-photo at the cleanup each photo needs, 0% = bundled-span-x4)' or
    'bundled-span-x4-photo@60 (SPAN ch48 x4)'."""
    if automatic is not None:
        return (
            f"automatic (per photo: {automatic.photo_id} at the cleanup each photo needs, "
            f"0% = {automatic.clean_id})"
        )
    return f"{model_label(model_path, cleanup)} ({model.descriptor.display_name})"


def output_words(automatic: AutomaticPair | None, model_path: Path, cleanup: Cleanup | None) -> str:
    """The model's words in the output names: none when Automatic chose (NAME_x4), else
    `library.file_words` of its id (NAME_x4_photo-75)."""
    return "" if automatic is not None else file_words(model_label(model_path, cleanup))


def per_photo_upscalers(
    automatic: AutomaticPair | None, upscaler: Any, args: argparse.Namespace, quiet: bool
) -> Callable[[Any], Any]:
    """The `upscaler_for` of a local run: the batch's one upscaler, or Automatic's pick for each
    photo (said on stderr), built on the same device, precision and tile as `upscaler`."""
    if automatic is None:
        return lambda photo: upscaler
    from sr_studio.automatic_choice import ModelsByCleanup
    from sr_studio.engine import Upscaler
    from sr_studio.model_blending import Cleanup
    from sr_studio.model_loading import load_model

    photo_path, base_path = automatic.photo_path, automatic.clean_path

    def build(strength: float) -> Any:
        if strength == 0:
            return upscaler  # the clean base itself, already built
        model = load_model(photo_path, Cleanup(base_path, strength))
        return Upscaler(model, device=args.device, precision=args.precision, tile=args.tile)

    models = ModelsByCleanup(build)

    def upscaler_for(photo: Any) -> Any:
        chosen, choice = models.for_photo(photo.pixels, photo.jpeg_quality)
        if not quiet:
            print(f"{photo.path.name}: {automatic.said(choice)}", file=sys.stderr)
        return chosen

    return upscaler_for


class RunTimer:
    """Records each photo's measured speed: the next estimate on this machine is from real runs."""

    def __init__(self, store, upscaler, scale: float) -> None:
        from sr_studio.engine.throughput import speed_key

        self.store, self.upscaler, self.scale = store, upscaler, scale
        self.key = speed_key(upscaler.descriptor, upscaler.device, upscaler.precision)

    def record(self, size: tuple[int, int], network_seconds: float, io_seconds: float) -> None:
        from sr_studio.engine.crop_preview import patch_pixels
        from sr_studio.engine.throughput import IO_KEY

        height, width = size
        work = patch_pixels(self.upscaler, height, width, self.scale)
        self.store.record(self.key, work, network_seconds, "run")
        out_h, out_w = self.upscaler.output_size(height, width, self.scale)
        self.store.record(IO_KEY, out_h * out_w, io_seconds, "run")


class _Silent:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
