"""`sr-studio gui --self-test PHOTO...`: the real window's batch, one line per photo, never a
hang."""

from __future__ import annotations

import time

from test_gui_support import gradient_photo, gui_env, write_png  # noqa: F401 - fixtures


def test_a_broken_photo_among_good_ones_is_named_and_the_others_exported(qtbot, gui_env, capsys):
    from PIL import Image

    from sr_studio.cli import build_parser

    good = write_png(gui_env.photos / "good.png", gradient_photo(24, 40))
    whole = gui_env.photos / "whole.jpg"
    Image.fromarray(gradient_photo(200, 300)).save(whole, quality=95)
    broken = gui_env.photos / "broken.jpg"
    broken.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # a download cut short
    good2 = gui_env.photos / "good2.jpg"
    Image.fromarray(gradient_photo(20, 30)).save(good2)
    args = build_parser().parse_args(["gui", "--self-test", str(good), str(broken), str(good2)])
    assert args.handler(args) == 1
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("sr-studio: self-test: ")]
    assert len(lines) == 3, out
    assert lines[0].startswith(
        "sr-studio: self-test: good.png: ok: 40x24 -> 80x48, exported as good_x2_"
    )
    assert (
        lines[1].startswith("sr-studio: self-test: broken.jpg: FAILED: ")
        and "truncated" in lines[1]
    )
    assert lines[2].startswith(
        "sr-studio: self-test: good2.jpg: ok: 30x20 -> 60x40, exported as good2_x2_"
    )
    assert lines[2].rstrip().endswith(".jpg and read back")  # exported as the original: a JPEG
    assert "1 of 3 photo(s): broken.jpg" in err


def test_every_wait_is_bounded(qtbot, gui_env, capsys):
    from sr_studio.gui.self_test import run_self_test

    photo = write_png(gui_env.photos / "slow.png", gradient_photo(24, 40))
    started = time.monotonic()
    assert run_self_test([photo], timeout=0.05) == 1
    assert time.monotonic() - started < 30
    assert "timed out" in capsys.readouterr().err
