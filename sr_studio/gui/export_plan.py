"""Export options and output file names, free of Qt (the export dialog edits an `ExportOptions`)."""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from sr_studio.photo_formats import FORMAT_LABELS, LOSSY_FORMATS, SIXTEEN_BIT_FORMATS, format_for  # noqa: F401 - for the panels
from sr_studio.photo_formats import OUTPUT_EXTENSIONS as EXTENSIONS
from sr_studio.photo_formats import OUTPUT_FORMATS as FORMATS

# Each photo keeps its own format (PNG for those SR Studio cannot write), like the CLI.
AS_ORIGINAL = "original"
CHOICES = (AS_ORIGINAL,) + FORMATS
CHOICE_LABELS = {AS_ORIGINAL: "As the original", **FORMAT_LABELS}
PATTERN_FIELDS = ("name", "scale", "model", "ext", "index")
DEFAULT_PATTERN = "{name}_x{scale}_{model}"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


@dataclass
class ExportOptions:
    """What "Export" writes; bit_depth 0 means "as the source photo" (16 only where the format holds
    it)."""

    format: str = AS_ORIGINAL
    quality: int = 95
    bit_depth: int = 0
    pattern: str = DEFAULT_PATTERN
    folder: str = ""  # empty: beside the source photo
    keep_metadata: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ExportOptions:
        """Tolerant of stale or hand-edited settings: unknown keys dropped, bad values reset."""
        defaults = cls()
        known = {f.name for f in fields(cls)}
        options = cls(**{key: value for key, value in (values or {}).items() if key in known})
        if options.format not in CHOICES:
            options.format = defaults.format
        try:
            options.quality = max(1, min(100, int(options.quality)))
        except (TypeError, ValueError):
            options.quality = defaults.quality
        try:
            options.bit_depth = int(options.bit_depth)
        except (TypeError, ValueError):
            options.bit_depth = 0
        if options.bit_depth not in (0, 8, 16):
            options.bit_depth = 0
        if isinstance(options.keep_metadata, str):
            options.keep_metadata = options.keep_metadata.lower() in ("1", "true", "yes")
        if pattern_problem(str(options.pattern)):
            options.pattern = defaults.pattern
        options.folder = str(options.folder or "")
        return options

    def resolved(self, source: Path) -> ExportOptions:
        """The options for one photo, with "as the original" replaced by its format."""
        return replace(self, format=format_for(source)) if self.format == AS_ORIGINAL else self

    def write_bit_depth(self) -> int | None:
        """The bit_depth argument for write_photo: None keeps the source depth where the format
        allows."""
        if self.format not in SIXTEEN_BIT_FORMATS:
            return 8
        return None if self.bit_depth == 0 else self.bit_depth

    def write_quality(self) -> int | None:
        return self.quality if self.format in LOSSY_FORMATS else None


def pattern_problem(pattern: str) -> str | None:
    """Why a file-name pattern cannot be used, or None when it is fine."""
    if not pattern.strip():
        return "the file name pattern is empty"
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as error:
        return f"the file name pattern is malformed ({error})"
    for _literal, field_name, _spec, _conversion in parsed:
        if field_name is None:
            continue
        if field_name not in PATTERN_FIELDS:
            allowed = ", ".join("{" + name + "}" for name in PATTERN_FIELDS)
            return f"unknown field {{{field_name}}} in the file name pattern (use {allowed})"
    if "/" in pattern or "\\" in pattern:
        return (
            "the file name pattern may not contain folders (choose the destination folder instead)"
        )
    return None


def scale_text(scale: float) -> str:
    return f"{scale:g}"


_MODEL_FIELD = re.compile(r"^\{model\}[_\- ]*|[_\- ]*\{model\}")


def output_name(
    pattern: str, source: Path, scale: float, model: str, format: str, index: int = 1
) -> str:
    """The file name for one output, e.g. `{name}_x{scale}_{model}` -> `beach_x4_photo-75.png`.
    An empty `model` (Automatic chose it) leaves no dangling separator: `beach_x4.png`, as the
    command line names it."""
    problem = pattern_problem(pattern)
    if problem:
        raise ValueError(problem)
    if not model:  # the field goes with the separator before it (or after it, when it leads)
        pattern = _MODEL_FIELD.sub("", pattern)
    stem = pattern.format(
        name=source.stem,
        scale=scale_text(scale),
        model=model,
        ext=source.suffix.lstrip(".").lower(),
        index=index,
    )
    stem = _UNSAFE.sub("_", stem).strip().rstrip(".") or "photo"
    return stem + EXTENSIONS[format]


def output_path(
    options: ExportOptions, source: Path, scale: float, model: str, index: int = 1
) -> Path:
    folder = Path(options.folder).expanduser() if options.folder else source.parent
    return folder / output_name(
        options.pattern, source, scale, model, options.resolved(source).format, index
    )


def unused_path(path: Path) -> Path:
    """`name (2).png`, `name (3).png`, … : the first name not yet taken (for "keep both")."""
    if not path.exists():
        return path
    counter = 2
    while True:
        candidate = path.with_name(f"{path.stem} ({counter}){path.suffix}")
        if not candidate.exists():
            return candidate
        counter += 1


class ExportLog:
    """The files this app exported, kept between sessions (`exports.json` in the data folder, the
    newest KEPT), so that adding their folder again never queues them, whatever name pattern
    made them. Without a path it lives in memory only (tests, a session that cannot write)."""

    KEPT = 5000

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._paths: list[Path] = self._read()

    def _read(self) -> list[Path]:
        if self.path is None:
            return []
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []  # a lost or damaged log costs a re-queued export, never the window
        if not isinstance(document, list):
            return []
        return [Path(p) for p in document if isinstance(p, str)]

    def __iter__(self) -> Iterator[Path]:
        return iter(list(self._paths))

    def add(self, path: Path) -> None:
        path = Path(path)
        if path in self._paths:
            self._paths.remove(path)
        self._paths = [*self._paths, path][-self.KEPT :]
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps([str(p) for p in self._paths]), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            pass  # kept for this session at least
