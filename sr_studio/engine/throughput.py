"""How fast this machine runs a network, measured, kept, and turned into "about 2 min".

Speed is counted in *patch pixels per second*: input pixels the network ran on, the tiles' context
included, so that a 256 px preview and a 24 MP run are measured in the same unit and the tiling
overhead of the run being estimated is counted (`crop_preview.patch_pixels`). Measurements come from
previews, full runs and, when there is none yet, a short calibration; they are kept per machine
(name, CPU or GPU, threads) and per network shape, device and precision in one JSON file in the user
data folder. Two models of one architecture and size run at one speed, so a downloaded HAT-S needs
no calibration of its own once any HAT-S x4 was measured.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sr_studio.archs.descriptor import ModelDescriptor
from sr_studio.durations import duration_text
from sr_studio.engine.upscaler import Upscaler

FILE_NAME = "throughput.json"
FORMAT = 1
KEPT = 6  # measurements kept per key: recent enough to follow the machine, enough to smooth it
# Writing the result (encode, fsync) and reading the photo, per output pixel, before any was
# measured: JPEG at quality 95 on the 2-core benchmark machine, 12 MP x4 (about 6 s for 192 MP).
DEFAULT_IO_SECONDS_PER_PIXEL = 3.2e-8
IO_KEY = "io:read-and-write"
CALIBRATION_SIDE_ATTENTION = 160  # HAT: about 10 s on a 2-core CPU; its cost per pixel hardly
# depends on the patch size (445-468 us at 224-384 px, engine/tiling.py)
_lock = threading.Lock()


def machine_key() -> str:
    """This computer as far as speed goes: its name, its processor and the threads torch uses."""
    return f"{platform.node()}|{_cpu_name()}|{torch.get_num_threads()} threads"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def speed_key(descriptor: ModelDescriptor, device: torch.device, precision: str) -> str:
    """The network's shape (architecture and hyperparameters, not its weights), device and
    precision.
    """
    shape = json.dumps(dict(descriptor.hyperparameters), sort_keys=True, default=str)
    where = device.type
    if device.type == "cuda":
        where = f"cuda:{torch.cuda.get_device_name(device)}"
    return f"{descriptor.arch} {shape} on {where} {precision}"


@dataclass(frozen=True)
class Measurement:
    pixels: int
    seconds: float
    source: str  # "preview", "run", "calibration"


class ThroughputStore:
    """The JSON file of measurements; a damaged or unreadable file counts as empty, never as an
    error (an estimate is advice: losing it must not stop a run)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def default(cls) -> ThroughputStore:
        from sr_studio.weights.store import data_dir

        return cls(data_dir() / FILE_NAME)

    def measurements(self, key: str) -> list[Measurement]:
        entries = self._read().get("machines", {}).get(machine_key(), {}).get(key, [])
        found = []
        for entry in entries if isinstance(entries, list) else []:
            try:
                found.append(
                    Measurement(int(entry["pixels"]), float(entry["seconds"]), str(entry["source"]))
                )
            except (KeyError, TypeError, ValueError):
                continue
        return [m for m in found if m.pixels > 0 and m.seconds > 0]

    def rate(self, key: str) -> float | None:
        """Pixels per second over the kept measurements, or None before the first."""
        kept = self.measurements(key)
        if not kept:
            return None
        return sum(m.pixels for m in kept) / sum(m.seconds for m in kept)

    def record(self, key: str, pixels: int, seconds: float, source: str) -> None:
        if pixels <= 0 or not seconds > 0:
            return
        with _lock:
            document = self._read()
            machines = document.setdefault("machines", {})
            entries = machines.setdefault(machine_key(), {}).setdefault(key, [])
            entries.append(
                {
                    "pixels": int(pixels),
                    "seconds": round(float(seconds), 4),
                    "source": source,
                    "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                }
            )
            del entries[:-KEPT]
            document["format"] = FORMAT
            self._write(document)

    def _read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return document if isinstance(document, dict) and document.get("format") == FORMAT else {}

    def _write(self, document: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".throughput-", dir=self.path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(document, stream, indent=1)
            os.replace(temporary, self.path)
        except OSError:
            pass  # a read-only data folder: the next estimate calibrates again


def calibrate(upscaler: Upscaler) -> Measurement:
    """Time one patch of the shape the run would use (HAT: a smaller one), after a warm-up."""
    policy = upscaler.policy
    if policy.align == 1 and not policy.feather:
        side = (upscaler.tile or 384) + 2 * policy.context
    else:
        side = max(2 * policy.align, CALIBRATION_SIDE_ATTENTION // policy.align * policy.align)
    generator = np.random.default_rng(0)
    # Smooth noise: what a photo's pixels look like to the network's cost, which does not depend on
    # them.
    coarse = generator.integers(0, 256, size=(side // 8 + 2, side // 8 + 2, 3), dtype=np.uint8)
    pixels = np.ascontiguousarray(np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)[:side, :side])
    saved_tile: int | None = upscaler.tile
    # One patch, whatever the automatic tile would be.
    upscaler.tile = max(side, saved_tile or 0)
    try:
        if upscaler.descriptor.speed == "fast":
            # A fast network's first patch of a shape mostly pays oneDNN's set-up for that shape
            # (the measurement alone read 25% slow for a 12 MP SPAN run): warm up on the same one.
            upscaler.upscale(pixels)
        else:
            warm = max(policy.align, 32 // policy.align * policy.align)
            upscaler.upscale(pixels[:warm, :warm])
        started = time.perf_counter()
        upscaler.upscale(pixels)
        seconds = time.perf_counter() - started
    finally:
        upscaler.tile = saved_tile
    return Measurement(side * side, seconds, "calibration")


MUCH_FASTER = 4.0  # an alternative is named when it takes at most a quarter of the time
WORTH_NAMING = 120.0  # and the run itself takes more than two minutes


def estimate_text(seconds: float, faster: list[tuple[str, float]] | None = None) -> str:
    """The estimate, naming the options that would take at most a quarter of the time on a long run:
    'about 3 h 10 min: SPAN or a GPU would take about 4 min'."""
    text = duration_text(seconds)
    named = [
        (name, other)
        for name, other in (faster or [])
        if seconds >= WORTH_NAMING and other * MUCH_FASTER <= seconds
    ]
    if not named:
        return text
    texts = [duration_text(other) for _, other in named]
    if len(set(texts)) == 1:
        return f"{text}: {' or '.join(name for name, _ in named)} would take {texts[0]}"
    parts = [
        f"{name} would take {texts[0]}" if index == 0 else f"{name} {texts[index]}"
        for index, (name, _) in enumerate(named)
    ]
    return f"{text}: {', '.join(parts)}"


@dataclass(frozen=True)
class RunEstimate:
    """Seconds for a whole photo: the network's share from a measured rate, plus reading and
    writing.
    """

    seconds: float
    network_seconds: float
    rate: float  # patch pixels per second
    measured_from: str  # "preview", "run", "calibration"


def estimate_run(
    upscaler: Upscaler,
    height: int,
    width: int,
    scale: float | None,
    store: ThroughputStore,
    calibrate_if_unknown: bool = True,
) -> RunEstimate | None:
    """The whole photo on this machine; None when nothing was measured and calibration is not
    allowed.
    """
    from sr_studio.engine.crop_preview import patch_pixels

    key = speed_key(upscaler.descriptor, upscaler.device, upscaler.precision)
    rate = store.rate(key)
    if rate is None:
        if not calibrate_if_unknown:
            return None
        measured = calibrate(upscaler)
        store.record(key, measured.pixels, measured.seconds, measured.source)
        rate = measured.pixels / measured.seconds
    source = store.measurements(key)[-1].source if store.measurements(key) else "calibration"
    network = patch_pixels(upscaler, height, width, scale) / rate
    out_h, out_w = upscaler.output_size(height, width, scale)
    io_rate = store.rate(IO_KEY)
    io = out_h * out_w / io_rate if io_rate else out_h * out_w * DEFAULT_IO_SECONDS_PER_PIXEL
    return RunEstimate(network + io, network, rate, source)
