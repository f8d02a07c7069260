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


def duration_text(seconds: float) -> str:
    """'about 40 s', 'about 2 min', 'about 3 h 10 min': rounded as far as an estimate deserves."""
    if seconds < 10:
        return "a few seconds"
    if seconds < 55:
        return f"about {max(10, round(seconds / 5) * 5)} s"
    minutes = seconds / 60
    if minutes < 10:
        return f"about {max(1, round(minutes))} min"
    if minutes < 60:
        rounded = round(minutes / 5) * 5
        return f"about {rounded} min" if rounded < 60 else "about 1 h"
    tens = round(minutes / 10) * 10
    hours, rest = divmod(tens, 60)
    return f"about {hours} h" + (f" {rest} min" if rest else "")
