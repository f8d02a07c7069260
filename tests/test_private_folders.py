"""The test session writes nothing into the user's own folders, from its first line to its last:
not the speed records of the user data folder, not settings, caches or Ray's session files."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import conftest

REAL_HOME = getattr(conftest, "REAL_HOME", Path.home())  # the user's home, before the session's

# What a test module hands to its subprocesses when it captures the environment at import, as the
# cluster tests do: it must already be the private one.
ENVIRONMENT_AT_IMPORT = dict(os.environ)


@pytest.fixture(scope="module")
def folders_seen_before_any_test():
    """What a module-scoped fixture, which runs before any function-scoped one, would write to."""
    import platformdirs

    from sr_studio.weights.store import data_dir

    return {
        "data": data_dir(),
        "user data": Path(platformdirs.user_data_dir("SR Studio", appauthor=False)),
        "user config": Path(platformdirs.user_config_dir("SR Studio", appauthor=False)),
        "user cache": Path(platformdirs.user_cache_dir("SR Studio", appauthor=False)),
        "home": Path.home(),
        "temporary (Ray)": Path(os.environ.get("RAY_TMPDIR", "/tmp")),
    }


def test_module_fixtures_see_private_folders_only(folders_seen_before_any_test):
    in_home = {
        name: str(folder)
        for name, folder in folders_seen_before_any_test.items()
        if folder.resolve().is_relative_to(REAL_HOME.resolve())
    }
    assert in_home == {}


def test_a_cli_run_started_by_a_test_writes_nothing_under_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    photo = tmp_path / "small.png"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(photo)

    result = subprocess.run(
        [sys.executable, "-m", "sr_studio", "upscale", str(photo), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**ENVIRONMENT_AT_IMPORT, "HOME": str(home)},
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "small_x4.png").is_file()
    assert sorted(str(path.relative_to(home)) for path in home.rglob("*")) == []
