"""Many runs in a row, each cancelled mid-way, leak neither memory nor threads (issue:
stability)."""

from __future__ import annotations

import gc
import os
import threading

from test_gui_support import gradient_photo, gui_env, make_window, wait_loaded, window, write_png  # noqa: F401
from test_gui_window import queue_photo

RUNS = 50
# After warm-up, the process may grow by allocator noise only: far less than one cancelled result (a
# 512x512x3 result is 0.75 MB; 50 leaked results, or leaked models, would exceed this many times).
RSS_GROWTH_BOUND_MB = 24


def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_fifty_cancelled_runs_leak_no_memory_and_no_threads(qtbot, window, gui_env):
    photo = write_png(gui_env.photos / "long.png", gradient_photo(256, 256))
    item = queue_photo(qtbot, window, photo)
    window.run_panel.set_tile(
        16
    )  # 196 tiles of the bundled tiny SPAN: a run lasts far longer than a cancel

    def cancelled_run():
        started = []
        connection = window.upscale_worker.progress.connect(lambda *args: started.append(args))
        window.run_current()
        qtbot.waitUntil(lambda: bool(started), timeout=60000)
        with qtbot.waitSignal(window.run_ended, timeout=20000) as ended:
            window.cancel_action.trigger()
        window.upscale_worker.progress.disconnect(connection)
        assert ended.args == ["cancelled"]
        assert window.upscale_thread.isRunning()  # the worker lives on, idle, for the next run

    for _ in range(5):  # warm-up: model loaded, caches and pools filled
        cancelled_run()
    gc.collect()
    baseline_rss, baseline_threads = resident_mb(), (os_threads(), threading.active_count())
    for _ in range(RUNS):
        cancelled_run()
    qtbot.wait(100)
    gc.collect()
    assert item.status == "cancelled"
    assert (os_threads(), threading.active_count()) == baseline_threads
    growth = resident_mb() - baseline_rss
    print(
        f"RSS growth over {RUNS} cancelled runs: {growth:.1f} MB (baseline {baseline_rss:.0f} MB)"
    )
    assert growth < RSS_GROWTH_BOUND_MB, f"resident memory grew by {growth:.1f} MB over {RUNS} runs"
