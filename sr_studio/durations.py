"""Durations as people read them, in one place for the window and the terminal (no Qt here)."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """In words, coarser as it grows: "42 s", "3 min 05 s", "1 h 02 min" (time left, run times)."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, whole = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {whole:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_clock(seconds: float) -> str:
    """As a clock, for a terminal progress bar whose width should not jump: "0:03", "1:02:05"."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, whole = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{whole:02d}" if hours else f"{minutes}:{whole:02d}"
