"""`sr-studio models`: list, download, import, remove and verify the models SR Studio can use.

torch is imported only by `download` and `import` (they load the file once to prove it); `list`,
`remove` and `verify` never touch it, so they answer at once.
"""

from __future__ import annotations

import sys
import time

from sr_studio.durations import format_clock


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list, download, import, remove and verify models",
        description="Manage the super-resolution models: the bundled ones, "
        "those in the catalog that can be downloaded, and your own imported files. "
        "Without an action, lists them.",
    )
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")
    parser.set_defaults(handler=list_models_command)

    listing = actions.add_parser("list", help="show bundled, installed and downloadable models")
    listing.add_argument(
        "--all",
        action="store_true",
        help="also what each downloadable model is: its size, license and the public record its "
        "download is verified against, its published accuracy and how long it takes",
    )
    listing.set_defaults(handler=list_models_command)

    download = actions.add_parser(
        "download", help="download a model from the catalog and verify it"
    )
    download.add_argument("model_id", metavar="ID", help="a model id from `sr-studio models list`")
    download.add_argument("--force", action="store_true", help="download again even if installed")
    download.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="give up on a silent server after this long (default 30)",
    )
    download.set_defaults(handler=download_command)

    importing = actions.add_parser("import", help="add your own .pth or .safetensors model")
    importing.add_argument("file", metavar="FILE", help="a HAT or SPAN weights file")
    importing.add_argument(
        "--id",
        dest="model_id",
        metavar="ID",
        help="the id to give it (default: from the file name)",
    )
    importing.add_argument("--name", help="a display name (default: the file name)")
    importing.set_defaults(handler=import_command)

    remove = actions.add_parser("remove", help="delete a downloaded or imported model")
    remove.add_argument("model_id", metavar="ID")
    remove.set_defaults(handler=remove_command)

    verify = actions.add_parser(
        "verify", help="re-check installed models against their recorded checksums"
    )
    verify.set_defaults(handler=verify_command)


def list_models_command(args) -> int:
    from sr_studio.weights import PURPOSES, human_size, list_models, models_dir, purpose_name

    rows = [("ID", "NAME", "SCALE", "FOR", "SIZE", "LICENSE", "STATUS")]
    listings = list_models()
    for item in listings:
        status = item.status
        if item.status == "installed":
            status += ", verified" if item.verified else ", unverified"
        rows.append(
            (
                item.id,
                item.name,
                f"x{item.scale}",
                purpose_name(item.purpose) or "-",
                human_size(item.size),
                item.license or "-",
                status,
            )
        )
    legend = [
        ("FOR", *PURPOSES["real-world"].split(": ", 1)),
        ("", *PURPOSES["bicubic"].split(": ", 1)),
        ("STATUS", "bundled", "comes with SR Studio; nothing to download"),
        ("", "installed", "downloaded to this computer"),
        ("", "imported", "your own file, added with `sr-studio models import FILE`"),
        ("", "available", "not on this computer yet: `sr-studio models download ID`"),
        ("", "verified", "the file matches its published checksum (SHA-256)"),
        ("", "unverified", "installed by an earlier version without a published checksum"),
    ]
    out = sys.stdout
    out.write(format_table(rows, right_aligned={2, 4}))
    out.write("\nLegend\n" + format_table(legend, indent="  "))
    blendable = [item.id for item in listings if item.cleanup_base is not None]
    if blendable:
        out.write(
            f"\nCleanup strength, 0-100 (100: as trained; less keeps more fine texture), for "
            f"{', '.join(blendable)}:\n  sr-studio upscale --model ID --cleanup 60\n"
        )
    if getattr(args, "all", False):
        out.write(catalog_facts(listings))
    out.write(f"\nModels are stored in {models_dir()}\n")
    return 0


def catalog_facts(listings) -> str:
    """For each catalog model, what a download gets: provenance, published accuracy, speed."""
    from sr_studio.model_facts import facts
    from sr_studio.weights.catalog import load_catalog

    listed = {item.id for item in listings}
    lines = ["", "What each downloadable model is (sr-studio models download ID):"]
    for entry in load_catalog():
        if entry.id not in listed:
            continue
        lines.append(f"  {entry.id}: {entry.name}")
        lines += [f"    {line}" for line in facts(entry)]
    return "\n".join(lines) + "\n"


def format_table(
    rows: list[tuple[str, ...]], right_aligned: set[int] = frozenset(), indent: str = ""
) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if index in right_aligned else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(indent + "  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def download_command(args) -> int:
    from sr_studio.weights import ModelStore, download_model

    store = ModelStore()
    existing = store.get(args.model_id)
    if existing is not None and not args.force:
        print(
            f"{existing.id} is already installed ({existing.path}); "
            "use --force to download it again"
        )
        return 0
    printer = DownloadPrinter(args.model_id, sys.stderr)
    try:
        model = download_model(
            args.model_id, store=store, progress=printer, timeout=args.timeout, force=args.force
        )
    finally:
        printer.close()
    check = (
        "verified against the published checksum"
        if model.verified
        else ("unverified: no checksum was published; it loaded correctly")
    )
    print(f"Installed {model.id}: {model.arch} x{model.scale}, {check}\n  {model.path}")
    return 0


class DownloadPrinter:
    """Progress on stderr: a redrawn bar on a terminal, else one line per 10% (or per 10 MB)."""

    WIDTH = 28

    def __init__(self, label: str, stream):
        self.label = label
        self.stream = stream
        self.interactive = hasattr(stream, "isatty") and stream.isatty()
        self.last_step = 0
        self.last_drawn = 0.0
        self.drawn = False
        self.phase = ""

    def __call__(self, progress) -> None:
        from sr_studio.weights import human_size

        if progress.phase != self.phase:
            self.phase = progress.phase
            if progress.phase == "waiting":
                self.line(
                    f"{self.label}: another SR Studio download of this model is running; "
                    "waiting for it to finish (Ctrl+C to stop waiting)"
                )
            elif progress.phase == "verifying":
                self.line(f"{self.label}: verifying (checksum, then loading the model once)")
            elif (
                progress.phase == "connecting"
            ):  # before the first byte, which may take the whole timeout
                self.line(f"{self.label}: connecting to {host(progress.url)}...")
            elif progress.phase == "downloading" and not self.interactive:
                size = human_size(progress.bytes_total) if progress.bytes_total else "size unknown"
                resumed = (
                    f", resuming at {human_size(progress.bytes_done)}"
                    if progress.bytes_done
                    else ""
                )
                self.line(f"{self.label}: downloading {size} from {host(progress.url)}{resumed}")
        if progress.phase != "downloading":
            return
        done, total = progress.bytes_done, progress.bytes_total
        if self.interactive:
            now = time.monotonic()
            if now - self.last_drawn < 0.1 and done != total:
                return
            self.last_drawn = now
            fraction = done / total if total else 0.0
            filled = int(self.WIDTH * fraction) if total else 0
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            amount = f"{human_size(done)} of {human_size(total)}" if total else human_size(done)
            speed = progress.bytes_per_second
            eta = ""
            if total and speed > 0 and done < total:
                eta = f" ETA {format_clock((total - done) / speed)}"
            percent = f"{fraction:4.0%} " if total else ""
            self.stream.write(
                f"\r{self.label} [{bar}] {percent}{amount} {human_size(int(speed))}/s{eta}  "
            )
            self.stream.flush()
            self.drawn = True
            return
        step = int(done * 10 // total) if total else done // 10_000_000
        if step > self.last_step:
            self.last_step = step
            if total:
                self.line(f"{self.label}: {step * 10}% ({human_size(done)} of {human_size(total)})")
            else:
                self.line(f"{self.label}: {human_size(done)}")

    def line(self, text: str) -> None:
        self.close()
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.drawn = False


def host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


def import_command(args) -> int:
    from sr_studio.weights import import_model

    model = import_model(args.file, model_id=args.model_id, name=args.name)
    print(f"Imported {args.file} as '{model.id}': {model.arch} x{model.scale}\n  {model.path}")
    return 0


def remove_command(args) -> int:
    from sr_studio.weights import ModelStore, StoreError, bundled_models

    if any(model.id == args.model_id for model in bundled_models()):
        raise StoreError(f"'{args.model_id}' is bundled with SR Studio and cannot be removed")
    removed = ModelStore().remove(args.model_id)
    print(
        f"Removed {args.model_id}"
        if removed
        else f"Removed the partial download of {args.model_id}"
    )
    return 0


def verify_command(args) -> int:
    from sr_studio.weights import ModelStore, bundled_models, models_dir
    from sr_studio.weights.store import sha256_of

    results = ModelStore().verify()
    problems = 0
    for result in results:
        if result.status == "ok":
            print(f"ok        {result.id}")
        else:
            problems += 1
            print(f"{result.status.upper():9} {result.id}: {result.detail}")
    for model in bundled_models():
        if model.sha256 is None:
            continue
        if sha256_of(model.path) == model.sha256:
            print(f"ok        {model.id} (bundled)")
        else:
            problems += 1
            print(f"CHANGED   {model.id} (bundled): the file differs from the one shipped")
    if not results:
        print(f"No downloaded or imported models in {models_dir()}")
    if problems:
        print(
            f"{problems} model(s) changed or damaged: "
            "remove them and download or import them again",
            file=sys.stderr,
        )
        return 1
    return 0
