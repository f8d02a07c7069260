"""The ordinary mishaps of a first use (issue 15): each one a user ran into, each checked in the real window."""

from __future__ import annotations

from test_gui_support import (  # noqa: F401 - fixtures
    drop_paths,
    gradient_photo,
    gui_env,
    make_window,
    use_stand_in,
    wait_loaded,
    window,
    write_png,
)

RUN_TIMEOUT_MS = 60000


def test_a_batch_goes_on_past_a_photo_that_cannot_be_opened(qtbot, window, gui_env):
    good = write_png(gui_env.photos / "a-good.png", gradient_photo(12, 16))
    truncated = gui_env.photos / "b-truncated.jpg"
    truncated.write_bytes(write_png(gui_env.photos / "source.png", gradient_photo(40, 40)).read_bytes()[:60])
    text = gui_env.photos / "c-text.jpg"
    text.write_text("not a photo at all")
    good2 = write_png(gui_env.photos / "d-good.png", gradient_photo(14, 16))
    window.add_paths([good, truncated, text, good2])
    items = list(window.queue.items)
    use_stand_in(window)
    with qtbot.waitSignal(window.run_ended, timeout=20000) as ended:
        window.run_all_action.trigger()
    assert ended.args == ["failed"]
    assert [item.status for item in items] == ["done", "failed", "failed", "done"]
    for item in items[1:3]:
        assert item.message and "\n" not in item.message  # one line saying why
    assert not window.cancel_action.isEnabled() and window.run_all_action.isEnabled()
