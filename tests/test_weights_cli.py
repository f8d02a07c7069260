"""`sr-studio models ...` as a photographer uses it: readable listing, clear one-line errors, exit
codes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from sr_studio.archs.span import SPAN
from sr_studio.cli import main
from sr_studio.cli.models_command import DownloadPrinter
from sr_studio.weights import DownloadProgress, human_size

ROOT = Path(__file__).resolve().parents[1]
CATALOG = [
    {
        "id": "span-x4-official",
        "name": "SPAN x4 (official)",
        "arch": "SPAN",
        "variant": "SPAN ch48",
        "scale": 4,
        "purpose": "bicubic",
        "license": "Apache-2.0",
        "urls": ["https://example.org/span.pth"],
        "size": 9004922,
        "sha256": "c" * 64,
        "source": "a record for the tests",
        "description": "fast",
    },
    {
        "id": "hat-s-x2",
        "name": "HAT-S x2 (official)",
        "arch": "HAT",
        "variant": "HAT-S",
        "scale": 2,
        "purpose": "bicubic",
        "license": "Apache-2.0",
        "urls": ["https://example.org/hat.pth"],
        "size": 1000,
        "sha256": "c" * 64,
        "source": "a record for the tests",
        "description": "slow",
    },
    {
        "id": "span-x4-nomosuni-jpg",
        "name": "4xNomosUni SPAN",
        "arch": "SPAN",
        "scale": 4,
        "purpose": "real-world",
        "license": "CC-BY-4.0",
        "urls": ["https://example.org/nomos.pth"],
        "size": 4546346,
        "sha256": "d" * 64,
        "source": "a record for the tests",
        "description": "photos",
    },
]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(tmp_path / "data"))
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    monkeypatch.setenv("SR_STUDIO_BUNDLED_DIR", str(bundled))
    (tmp_path / "catalog.json").write_text(json.dumps({"models": CATALOG}))
    monkeypatch.setenv("SR_STUDIO_CATALOG", str(tmp_path / "catalog.json"))
    return tmp_path


def span_file(path: Path, upscale: int, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    save_file(SPAN(feature_channels=8, upscale=upscale).state_dict(), str(path))
    return path


def table_rows(output: str) -> list[str]:
    return output.split("\n\n", 1)[0].splitlines()


def test_list_is_an_aligned_table_with_human_sizes_and_a_legend(home, capsys):
    span_file(home / "bundled" / "span-x2.safetensors", 2)
    (home / "bundled" / "span-x2.md").write_text(
        "id: bundled-span-x2\nname: SR Studio SPAN x2\nscale: 2\nlicense: Apache-2.0\n"
    )
    assert main(["models", "import", str(span_file(home / "mine.safetensors", 4))]) == 0
    capsys.readouterr()

    assert main(["models", "list"]) == 0

    output = capsys.readouterr().out
    rows = table_rows(output)
    assert rows[0].split() == ["ID", "NAME", "SCALE", "FOR", "SIZE", "LICENSE", "STATUS"]
    assert [row.split()[0] for row in rows[1:]] == [
        "bundled-span-x2",
        "mine",
        "span-x4-official",
        "hat-s-x2",
        "span-x4-nomosuni-jpg",
    ]
    # Every column starts at the same place on every row.
    for header in ("NAME", "FOR", "LICENSE", "STATUS"):
        column = rows[0].index(header)
        assert all(row[column - 2 : column] == "  " and row[column] != " " for row in rows[1:]), (
            header
        )
    by_id = {row.split()[0]: row for row in rows[1:]}
    assert by_id["span-x4-official"].endswith("Apache-2.0  available")
    assert "9.0 MB" in by_id["span-x4-official"] and " Clean " in by_id["span-x4-official"]
    assert by_id["hat-s-x2"].endswith("available") and "1.0 kB" in by_id["hat-s-x2"]
    assert " Photo " in by_id["span-x4-nomosuni-jpg"] and "4.5 MB" in by_id["span-x4-nomosuni-jpg"]
    assert (
        by_id["bundled-span-x2"].endswith("bundled")
        and "SR Studio SPAN x2" in by_id["bundled-span-x2"]
    )
    assert by_id["mine"].endswith("imported") and " kB " in by_id["mine"]
    assert "Legend" in output and "verified    the file matches its published checksum" in output
    assert re.search(
        r"\n  FOR +Photo +camera JPEGs, phone photos, noise\n"
        r" +Clean +sharp sources, renders, downscaled images\n",
        output,
    )
    assert f"Models are stored in {home / 'data' / 'models'}" in output


def test_models_without_an_action_lists(home, capsys):
    assert main(["models"]) == 0
    assert capsys.readouterr().out.startswith("ID ")


def test_import_remove_and_their_errors(home, capsys):
    source = span_file(home / "portrait model.safetensors", 2)

    assert main(["models", "import", str(source)]) == 0
    assert "as 'portrait-model': SPAN x2" in capsys.readouterr().out

    assert main(["models", "import", str(source)]) == 1
    error = capsys.readouterr().err
    assert (
        error == f"sr-studio: error: {source}: this file is already installed as 'portrait-model'\n"
    )

    assert main(["models", "remove", "portrait-model"]) == 0
    assert "Removed portrait-model" in capsys.readouterr().out
    assert main(["models", "remove", "portrait-model"]) == 1
    assert "no installed model with the id 'portrait-model'" in capsys.readouterr().err

    notes = home / "notes.pth"
    notes.write_text("hello")
    assert main(["models", "import", str(notes)]) == 1
    error = capsys.readouterr().err
    assert (
        error.startswith(f"sr-studio: error: {notes}: not a model checkpoint")
        and error.count("\n") == 1
    )


def test_bundled_models_cannot_be_removed(home, capsys):
    span_file(home / "bundled" / "span-x2.safetensors", 2)
    assert main(["models", "remove", "bundled-span-x2"]) == 1
    assert "is bundled with SR Studio and cannot be removed" in capsys.readouterr().err
    assert (home / "bundled" / "span-x2.safetensors").exists()


def test_verify_reports_a_changed_file(home, capsys):
    assert main(["models", "verify"]) == 0
    assert "No downloaded or imported models" in capsys.readouterr().out
    assert main(["models", "import", str(span_file(home / "a.safetensors", 2))]) == 0
    assert main(["models", "verify"]) == 0
    assert "ok        a" in capsys.readouterr().out

    stored = home / "data" / "models" / "a.safetensors"
    stored.write_bytes(stored.read_bytes()[:-8] + b"\xff" * 8)

    assert main(["models", "verify"]) == 1
    captured = capsys.readouterr()
    assert "CHANGED   a: sha256 is now" in captured.out
    assert "1 model(s) changed or damaged" in captured.err


def progress(done: int, total: int | None, phase: str = "downloading") -> DownloadProgress:
    return DownloadProgress(
        "span-x4-official", phase, done, total, 1_500_000.0, "https://example.org/span.pth"
    )


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_a_redrawn_bar_on_a_terminal():
    stream = Terminal()
    printer = DownloadPrinter("span-x4-official", stream)
    for done in (0, 4_500_000, 9_000_000):
        printer(progress(done, 9_000_000))
        printer.last_drawn = 0.0  # as if 0.1 s had passed
    printer(progress(9_000_000, 9_000_000, "verifying"))
    text = stream.getvalue()
    assert text.count("\r") >= 3 and "\n" not in text.split("verifying")[0].replace("\r\x1b[2K", "")
    assert "[##############--------------]  50% 4.5 MB of 9.0 MB 1.5 MB/s ETA 0:03" in text
    assert text.endswith("span-x4-official: verifying (checksum, then loading the model once)\n")


def test_progress_is_a_line_per_ten_percent_in_a_log():
    stream = io.StringIO()
    printer = DownloadPrinter("span-x4-official", stream)
    for done in range(0, 9_000_001, 90_000):  # every 1 %
        printer(progress(done, 9_000_000))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "span-x4-official: downloading 9.0 MB from example.org"
    assert lines[1:] == [
        f"span-x4-official: {p}% ({human_size(p * 90_000)} of 9.0 MB)" for p in range(10, 101, 10)
    ]
    assert lines[1] == "span-x4-official: 10% (900 kB of 9.0 MB)"


def test_list_does_not_import_torch(home):
    """`sr-studio --help` and `models list` must stay instant: torch loads only for download and
    import."""
    code = (
        "import argparse, sys\n"
        "from sr_studio.cli import models_command\n"
        "parser = argparse.ArgumentParser(); models_command.register(parser.add_subparsers())\n"
        "args = parser.parse_args(['models', 'list']); assert args.handler(args) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "span-x4-official" in result.stdout


def test_a_listing_piped_into_head_ends_quietly(home):
    """`sr-studio models list | head -1`: the reader is gone before the listing is written (here:
    its end of the pipe is closed from the start); no traceback, exit 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "sr_studio", "models", "list"],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
