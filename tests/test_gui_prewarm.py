"""Workers never import a module for the first time on their own thread (PySide6's import hook on a
worker thread corrupted memory at start-up): everything they import is imported beforehand, on the
GUI thread, by gui.prewarm. The check runs every worker path for real, in a fresh interpreter, and
lists the modules that appeared after the prewarm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "resources" / "models" / "span-x2.safetensors"

# Runs each worker path on a plain thread and prints what it did and which modules it imported.
WORKER_PATHS = r"""
import json, sys, threading
from pathlib import Path

import numpy as np
from PIL import Image

from sr_studio.gui.worker_bridge import WorkerBridge  # what the window imports before the threads
from sr_studio.gui.file_worker import FileWorker
from sr_studio.gui.jobs import ExportRequest, RunRequest
from sr_studio.gui.model_manager import ModelTasks
from sr_studio.gui.prewarm import prewarm_imports
from sr_studio.gui.spill_store import SpillStore
from sr_studio.gui.upscale_worker import UpscaleWorker

work, model, prewarm = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "prewarm"
rng = np.random.default_rng(0)
photo8 = rng.integers(0, 256, (18, 22, 3), dtype=np.uint8)
photo16 = rng.integers(0, 65536, (18, 22, 3), dtype=np.uint16)
Image.fromarray(photo8).save(work / "in.jpg", quality=95)
# 16-bit colour TIFF and PNG, written with the libraries the test runs with (not the app's writer)
import tifffile
tifffile.imwrite(work / "in16.tif", photo16, photometric="rgb")
if prewarm:
    prewarm_imports()
before = set(sys.modules)
seen = []

def record(*args):
    seen.append([type(a).__name__ if not isinstance(a, (int, str)) else a for a in args])

def paths():
    upscale = UpscaleWorker()
    for signal in (upscale.finished, upscale.failed, upscale.devices_found, upscale.tile_ready):
        signal.connect(record)
    upscale.probe_devices()
    upscale.run(RunRequest(1, photo8, model, None, result_size=(36, 44)))
    upscale.run(RunRequest(2, photo16, model, 3.0, result_size=(54, 66)))  # two passes, resized
    files = FileWorker(SpillStore(work / "cache"))
    for signal in (files.loaded, files.load_failed, files.exported, files.export_failed,
                   files.parked, files.park_failed, files.restored, files.restore_failed):
        signal.connect(record)
    loaded = []
    files.loaded.connect(lambda answer: loaded.append(answer.photo))
    files.load(3, str(work / "in.jpg"))
    files.load(4, str(work / "in16.tif"))
    files.park(5, 1, photo16)
    parked = next(Path(p) for p in (work / "cache").rglob("*") if p.is_file())
    files.restore(5, 1, parked)
    for job, fmt in enumerate(("png", "jpg", "webp", "tiff"), start=6):
        for depth, source in ((8, loaded[0]), (16, loaded[1])):
            if depth == 16 and fmt in ("jpg", "webp"):
                continue
            files.export(ExportRequest(job, work / f"out{depth}.{fmt}", source.pixels, source, fmt,
                                       None, depth, False))
    tasks = ModelTasks()
    for signal in (tasks.imported, tasks.failed):
        signal.connect(record)
    tasks._run_import(str(model))
    tasks._run_download("no-such-model")

thread = threading.Thread(target=paths)
thread.start()
thread.join()
print(json.dumps({"new": sorted(set(sys.modules) - before), "seen": seen}))
"""


def own_copy(tmp_path: Path) -> Path:
    """The bundled x2 with one weight nudged: a file the import takes (the bundled weights
    themselves are refused as already there)."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(MODEL))
    name = next(iter(tensors))
    tensors[name] = tensors[name] + 1e-3
    path = tmp_path / "mine-span-x2.safetensors"
    save_file(tensors, str(path))
    return path


def run_worker_paths(tmp_path: Path, mode: str) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SR_STUDIO_DATA_DIR=str(tmp_path / "data"))
    model = own_copy(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", WORKER_PATHS, str(tmp_path), str(model), mode],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


NO_MODEL = "the bundled SPAN x2 model is not in resources/models"


@pytest.mark.skipif(not MODEL.is_file(), reason=NO_MODEL)
def test_no_worker_path_imports_a_module_the_prewarm_did_not(tmp_path):
    outcome = run_worker_paths(tmp_path, "prewarm")
    kinds = [entry[0] for entry in outcome["seen"]]
    # Every path really ran to its answer (a path that failed early would prove nothing).
    assert kinds.count("RunResult") == 2 and kinds.count("LoadedPhoto") == 2, outcome["seen"]
    assert kinds.count("RestoredResult") == 1 and kinds.count(6) + kinds.count(7) >= 2
    failures = [entry[0] for entry in outcome["seen"] if entry[0] in ("import", "download")]
    assert failures == ["download"]  # the import worked; the unknown model's download did not
    assert outcome["new"] == [], f"imported on a worker thread, not prewarmed: {outcome['new']}"


@pytest.mark.skipif(not MODEL.is_file(), reason=NO_MODEL)
def test_without_the_prewarm_the_worker_paths_do_import_new_modules(tmp_path):
    """The check above can fail: the same paths, not prewarmed, import the model loader and more."""
    outcome = run_worker_paths(tmp_path, "none")
    assert "sr_studio.model_loading" in outcome["new"]
    assert "sr_studio.weights.importing" in outcome["new"]
