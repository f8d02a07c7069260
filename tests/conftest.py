import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

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
    """Runs record their speed in the user data folder: tests keep theirs out of the real one."""
    if not os.environ.get("SR_STUDIO_DATA_DIR"):
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
