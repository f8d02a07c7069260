"""A one-line progress bar for terminals; when stderr is not one (a log, a pipe), a progress line
every LOG_EVERY seconds of a long item and a line per finished item, so a long run is never
silent."""

from __future__ import annotations

import sys
import time

from sr_studio.durations import format_clock

LOG_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal


class ProgressBar:
    WIDTH = 28

    def __init__(self, label: str, unit: str = "tiles", stream=None):
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.monotonic()
        self.last_drawn = 0.0
        self.shown = False

    def update(self, done: int, total: int) -> None:
        if not self.interactive:
            self._log(done, total)
            return
        now = time.monotonic()
        if done < total and now - self.last_drawn < 0.1:
            return
        self.last_drawn = now
        fraction = done / total if total else 1.0
        filled = int(self.WIDTH * fraction)
        elapsed = now - self.started
        eta = (
            f"ETA {format_clock(elapsed / done * (total - done))}"
            if 0 < done < total
            else format_clock(elapsed)
        )
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} {self.unit} {eta}  ")
        self.stream.flush()
        self.shown = True

    def _log(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - max(self.started, self.last_drawn) < LOG_EVERY:
            return
        self.last_drawn = now
        elapsed = now - self.started
        eta = f", ETA {format_clock(elapsed / done * (total - done))}" if done else ""
        percent = 100 * done / total if total else 100.0
        self.stream.write(
            f"{self.label}: {percent:.0f}% ({done}/{total} {self.unit}, "
            f"{format_clock(elapsed)}{eta})\n"
        )
        self.stream.flush()

    def finish(self, message: str) -> None:
        if self.shown:
            self.stream.write("\r\x1b[2K")
        self.stream.write(f"{message}\n")
        self.stream.flush()
