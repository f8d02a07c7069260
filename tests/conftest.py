import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The whole session, and every process it starts, keeps out of the user's folders from its very
# start: the user data folder (speed records, models), settings, caches and Ray's session files go
# to a private folder that is removed at the end. Set here, at import, because module-scoped
# fixtures and values computed at a test module's import (environments handed to subprocesses) come
# before any function-scoped fixture. A data folder named by SR_STUDIO_DATA_DIR before the session
# is the user's choice and is kept.
# Test modules import this file again as `tests.conftest` (pytest loads it as `conftest`): the
# second import takes the first one's folder instead of making another.
_FIRST = next(
    (
        module
        for module in (sys.modules.get("conftest"), sys.modules.get("tests.conftest"))
        if module is not None and hasattr(module, "SESSION_ROOT")
    ),
    None,
)
if _FIRST is not None:
    REAL_HOME, USER_DATA_DIR, SESSION_ROOT = (
        _FIRST.REAL_HOME,
        _FIRST.USER_DATA_DIR,
        _FIRST.SESSION_ROOT,
    )
else:
    REAL_HOME = Path.home()
    USER_DATA_DIR = os.environ.get("SR_STUDIO_DATA_DIR")
    # Short, under the system's temporary folder: Ray's socket paths must stay under 108 bytes.
    SESSION_ROOT = Path(tempfile.mkdtemp(prefix="sr-studio-tests-"))
    for _folder in ("home", "ray"):
        (SESSION_ROOT / _folder).mkdir()
    atexit.register(shutil.rmtree, SESSION_ROOT, ignore_errors=True)
PRIVATE_ENVIRONMENT = {
    "HOME": str(SESSION_ROOT / "home"),
    "XDG_DATA_HOME": str(SESSION_ROOT / "home" / ".local" / "share"),
    "XDG_CONFIG_HOME": str(SESSION_ROOT / "home" / ".config"),
    "XDG_CACHE_HOME": str(SESSION_ROOT / "home" / ".cache"),
    "XDG_STATE_HOME": str(SESSION_ROOT / "home" / ".local" / "state"),
    "SR_STUDIO_DATA_DIR": USER_DATA_DIR or str(SESSION_ROOT / "data"),
    "RAY_TMPDIR": str(SESSION_ROOT / "ray"),
}
if _FIRST is None:
    os.environ.update(PRIVATE_ENVIRONMENT)

# ../shared beside the checkout; SR_STUDIO_SHARED points elsewhere (a copy carried to a GPU
# machine).
SHARED = Path(
    os.environ.get("SR_STUDIO_SHARED") or Path(__file__).resolve().parents[1].parent / "shared"
)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(
            f"{SHARED} is absent: the shared fixtures and datasets live beside the checkout"
        )
    return SHARED


@pytest.fixture(scope="session")
def parity_dir(shared_dir) -> Path:
    folder = shared_dir / "fixtures" / "parity"
    if not (folder / "cases.json").is_file():
        pytest.skip(f"{folder} has no cases.json")
    return folder


@pytest.fixture(scope="session")
def qapp_cls():
    """The GUI tests run in SR Studio's own QApplication (it receives the system's file-open
    requests)."""
    from sr_studio.gui.application import Application

    return Application


@pytest.fixture(autouse=True)
def cpu_without_native_bf16(request, monkeypatch):
    """The automatic precision depends on the CPU (bf16 where it has bfloat16 instructions), and
    CI's CPU varies between sessions: in-process tests see a CPU without them, so "auto" means fp32
    and outputs compare exactly everywhere. Tests of the detection itself are marked
    `real_cpu_features`; tests of bf16 say so with their own monkeypatch."""
    if request.node.get_closest_marker("real_cpu_features") is None:
        from sr_studio.engine import devices

        monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: False)


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path_factory, monkeypatch):
    """Runs record their speed in the user data folder: each test starts with an empty one of its
    own (the session's private one, above, serves what runs before function-scoped fixtures)."""
    if not USER_DATA_DIR:
        monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(tmp_path_factory.mktemp("data")))


def heavy_imports(code: str, watched: set[str]) -> list[str]:
    """Which of the `watched` top-level packages a fresh interpreter has imported after running
    `code`: what keeps `--help`, `models list` and the window's start instant."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"loaded = {{m.split('.')[0] for m in sys.modules}}\n"
        f"print(json.dumps(sorted(loaded & set({sorted(watched)!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_in_terminal(
    command: list[str], env: dict[str, str], timeout: float = 300
) -> tuple[int, str]:
    """Run `command` with a pseudo-terminal as its stdin, stdout and stderr, as a user's terminal
    is: the live status lines and ETAs that a pipe never shows are drawn.
    Returns (exit code, all output)."""
    import os
    import pty
    import select
    import time

    master, slave = pty.openpty()
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        else:
            process.kill()
        code = process.wait(timeout=30)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def another_run_writes_meanwhile(monkeypatch, destination) -> None:
    """Another run over the same photos writes `destination` while this one enlarges it: the
    engine's upscale, then that run's file appears."""
    from sr_studio.engine.upscaler import Upscaler

    upscale = Upscaler.upscale

    def the_other_run_finishes_first(self, *args, **kwargs):
        result = upscale(self, *args, **kwargs)
        destination.write_bytes(b"the other run's result")
        return result

    monkeypatch.setattr(Upscaler, "upscale", the_other_run_finishes_first)
