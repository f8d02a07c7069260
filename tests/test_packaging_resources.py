"""resources/ (catalog, bundled models, icons) is found the same way from a source checkout, an
installed wheel and the frozen bundle, and the wheel really carries it."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sr_studio.resource_paths import resource_dir, resource_path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "bundle_contents", ROOT / "packaging" / "bundle_contents.py"
)
bundle_contents = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bundle_contents)

# Run in a fresh interpreter inside the layout under test; prints where resources were found and
# what the catalog and the bundled-model lookup made of them.
PROBE = """
import json, sys
{setup}
import sr_studio.resource_paths as paths
from sr_studio.weights.bundled import bundled_dir
from sr_studio.weights.catalog import load_catalog
print(json.dumps({{"package": paths.__file__, "resources": str(paths.resource_dir()),
                  "catalog": len(load_catalog()), "bundled": str(bundled_dir())}}))
"""


def probe(site: Path, cwd: Path, setup: str = "") -> dict:
    """resource_dir() as seen by a Python whose sr_studio comes from `site` (not from the
    checkout)."""
    env = {"PYTHONPATH": str(site), "PATH": "", "HOME": str(cwd)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def catalog_entries() -> int:
    return len(
        json.loads((ROOT / "resources" / "catalog.json").read_text(encoding="utf-8"))["models"]
    )


def copy_package(destination: Path) -> None:
    shutil.copytree(
        ROOT / "sr_studio", destination / "sr_studio", ignore=shutil.ignore_patterns("__pycache__")
    )


def test_source_checkout_uses_the_resources_folder_beside_the_package():
    if Path(sys.modules["sr_studio"].__file__).resolve().parents[1] != ROOT:
        pytest.skip("sr_studio is not imported from this checkout")
    assert resource_dir() == ROOT / "resources"
    assert resource_path("catalog.json").is_file()


def test_wheel_carries_resources_and_finds_them_inside_the_package(tmp_path):
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            str(tmp_path / "wheel"),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = (tmp_path / "wheel").glob("sr_studio-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    assert "sr_studio/resources/catalog.json" in names
    assert "sr_studio/resources/icons/app/sr-studio.svg" in names
    shipped = {p.name for p in (ROOT / "resources" / "models").glob("*.safetensors")}
    assert {n for n in names if n.startswith("sr_studio/resources/models/")} >= {
        f"sr_studio/resources/models/{name}" for name in shipped
    }
    found = probe(tmp_path / "site", tmp_path)
    assert Path(found["package"]).parent == tmp_path / "site" / "sr_studio"
    assert Path(found["resources"]) == tmp_path / "site" / "sr_studio" / "resources"
    assert Path(found["bundled"]) == tmp_path / "site" / "sr_studio" / "resources" / "models"
    assert found["catalog"] == catalog_entries()


def test_frozen_bundle_layout_finds_resources_where_the_spec_puts_them(tmp_path):
    """The bundle's layout: _internal/ holds the package and the spec's RESOURCES_DESTINATION."""
    internal = tmp_path / "sr-studio" / "_internal"
    copy_package(internal)
    shutil.copytree(
        ROOT / "resources",
        internal.joinpath(*bundle_contents.RESOURCES_DESTINATION.split("/")),
        dirs_exist_ok=True,
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    found = probe(internal, elsewhere, setup=f"sys.frozen = True; sys._MEIPASS = {str(internal)!r}")
    assert Path(found["resources"]) == internal / "sr_studio" / "resources"
    assert Path(found["bundled"]) == internal / "sr_studio" / "resources" / "models"
    assert found["catalog"] == catalog_entries()


def test_missing_resources_is_a_clear_error_not_a_wrong_folder(tmp_path):
    site = tmp_path / "site"
    copy_package(site)
    shutil.rmtree(site / "sr_studio" / "resources", ignore_errors=True)
    script = (
        "from sr_studio.resource_paths import resource_dir\n"
        "try:\n    resource_dir()\nexcept FileNotFoundError as e:\n    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "resources" in result.stdout
