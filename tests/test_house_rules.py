"""House rules a linter cannot state: the window and the CLI use the engine's public names only.

(No Qt below the GUI, and no reaching up from the engine, are import-linter contracts in
pyproject.toml; `.ci/run` checks them with ruff and mypy.)
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sr_studio"
SHELLS = ("gui", "cli")  # the thin layers over the engine


def private_engine_names(source: str) -> list[str]:
    """`from sr_studio.engine.x import _y`, and `_y` read off an engine module the file imported."""
    tree = ast.parse(source)
    found: list[str] = []
    modules: set[str] = set()  # local names bound to engine-side modules

    def engine_side(module: str) -> bool:
        parts = module.split(".")
        return parts[0] == "sr_studio" and (len(parts) == 1 or parts[1] not in SHELLS)

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and engine_side(node.module):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                elif alias.name[
                    :1
                ].islower():  # maybe a module (`from sr_studio.engine import devices`)
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if engine_side(alias.name) and alias.asname:
                    modules.add(alias.asname)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_window_and_the_cli_use_only_public_engine_names():
    offences = {
        str(path.relative_to(PACKAGE.parent)): hits
        for shell in SHELLS
        for path in sorted((PACKAGE / shell).rglob("*.py"))
        if (hits := private_engine_names(path.read_text(encoding="utf-8")))
    }
    assert offences == {}


def test_the_private_name_check_sees_both_forms():
    source = (
        "from sr_studio.engine.devices import _mps_available, choose_device\n"
        "from sr_studio.engine import devices\n"
        "import sr_studio.engine.tiling as tiling\n"
        "from sr_studio.gui.jobs import _internal\n"  # the GUI's own names are its business
        "devices._bf16_supported(None); tiling._cuts; devices.choose_device(); window._own\n"
    )
    assert sorted(private_engine_names(source)) == [
        "line 1: from sr_studio.engine.devices import _mps_available",
        "line 5: devices._bf16_supported",
        "line 5: tiling._cuts",
    ]
