"""Durations read the same wherever they are shown: words in the window, a clock in the terminal."""

from __future__ import annotations

import pytest

from sr_studio.durations import format_clock, format_duration


@pytest.mark.parametrize(
    "seconds, words, clock",
    [
        (0.4, "0 s", "0:00"),
        (42, "42 s", "0:42"),
        (185, "3 min 05 s", "3:05"),
        (3725, "1 h 02 min", "1:02:05"),
        (59.6, "1 min 00 s", "1:00"),  # rounded once, so 59.6 s is never shown as "0:60"
    ],
)
def test_durations_in_words_and_as_a_clock(seconds, words, clock):
    assert format_duration(seconds) == words
    assert format_clock(seconds) == clock
