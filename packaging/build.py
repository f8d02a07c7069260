"""Build the SR Studio bundle with PyInstaller: dist/sr-studio/ (and dist/SR Studio.app on macOS).

    .venv/bin/pip install -c constraints.txt -e '.[package]'
    .venv/bin/python packaging/build.py [--dist DIR] [--work DIR] [--clean]

Runs PyInstaller on packaging/sr-studio.spec with the Python running this script (so the venv's
torch, Qt and SR Studio are what gets bundled), then prints the bundle's size and how long the build
took.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "sr-studio.spec"


def folder_size(folder: Path) -> int:
    """Bytes on disk of every regular file below `folder` (links are not followed, not counted
    twice)."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dist", type=Path, default=ROOT / "dist", help="where the bundle goes (default: dist/)"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / "build" / "pyinstaller",
        help="PyInstaller's work folder, reused by later builds (default: build/pyinstaller/)",
    )
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's caches first")
    args = parser.parse_args(argv)

    cuda = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.version.cuda or '')"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if cuda:
        print(
            f"build.py: this venv has a CUDA build of torch (CUDA {cuda}); the bundle is made for "
            "the CPU build, which is a tenth of the size. Install it first: "
            ".venv/bin/pip install torch==<version> "
            "--index-url https://download.pytorch.org/whl/cpu",
            file=sys.stderr,
        )
        return 2
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(args.dist),
        "--workpath",
        str(args.work),
    ]
    if args.clean:
        command.append("--clean")
    command.append(str(SPEC))
    started = time.monotonic()
    print("+ " + " ".join(command), flush=True)
    result = subprocess.run(command, cwd=ROOT)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        print(
            f"build.py: PyInstaller failed (exit code {result.returncode}) after {elapsed:.0f} s",
            file=sys.stderr,
        )
        return result.returncode
    bundle = args.dist / "sr-studio"
    executable = bundle / ("sr-studio.exe" if sys.platform == "win32" else "sr-studio")
    print(
        f"Built {executable} in {elapsed:.0f} s; "
        f"the folder holds {folder_size(bundle) / 1e6:.0f} MB"
    )
    if sys.platform == "darwin":
        print(f"macOS app: {args.dist / 'SR Studio.app'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
