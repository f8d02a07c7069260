"""`python -m sr_studio.gui.screenshot PHOTO... OUT.png`: the real window with the first PHOTO
enlarged (the others queued, or all enlarged with --enlarge-all), saved as a PNG. With --compare
A,B,...: the Compare Models grid of those models on the region in view (at --zoom), instead of the
window.

Used to make the README's screenshots (run it under `xvfb-run` on a machine without a display). The
photos are enlarged with the bundled model for the chosen scale, as a user would see them.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", metavar="PHOTO")
    parser.add_argument("output")
    parser.add_argument(
        "--enlarge-all", action="store_true", help="enlarge every photo, not only the first"
    )
    parser.add_argument("--size", default="1440x860", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--appearance", choices=("light", "dark", "system"), default="dark")
    parser.add_argument("--zoom", type=float, default=0.0, help="zoom after the run (0: fit)")
    parser.add_argument("--mode", choices=("side_by_side", "before_after"), default="side_by_side")
    parser.add_argument(
        "--model",
        default="",
        help="a model id from the window's list (default: the first-run choice)",
    )
    parser.add_argument(
        "--cleanup",
        type=int,
        default=None,
        metavar="PERCENT",
        help="the Cleanup slider, for a photo model (default: as the settings left it)",
    )
    parser.add_argument(
        "--compare",
        default="",
        metavar="A,B,...",
        help="model ids: save the comparison grid of the region in view instead",
    )
    parser.add_argument(
        "--grid-zoom", type=float, default=0.0, help="zoom of the comparison grid (0: fit)"
    )
    args = parser.parse_args(argv)

    import os
    import tempfile

    from sr_studio.gui.app_settings import SETTINGS_DIR_ENV

    os.environ.setdefault(SETTINGS_DIR_ENV, tempfile.mkdtemp(prefix="sr-studio-screenshot-"))
    from PySide6.QtCore import QEventLoop

    from sr_studio.gui.app import create_application
    from sr_studio.gui.app_settings import AppSettings
    from sr_studio.gui.appearance import apply_appearance
    from sr_studio.gui.main_window import MainWindow

    app = create_application()
    apply_appearance(app, args.appearance)
    window = MainWindow(AppSettings())
    window.ask_unsaved = lambda items: "discard"  # a picture is all it makes
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    window.show()
    if args.model:
        index = window.run_panel.model_combo.findData(args.model)
        if index < 0:
            print(f"screenshot: no model '{args.model}' in the window's list", file=sys.stderr)
            return 1
        window.run_panel.model_combo.setCurrentIndex(index)
    if args.cleanup is not None:
        window.run_panel.set_cleanup_percent(args.cleanup)

    def settle(condition, seconds: float = 600) -> None:
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)

    item = window.add_paths(args.photos)[0]
    settle(lambda: item.photo is not None or item.status == "failed")
    if item.photo is None:
        print(f"screenshot: {item.message}", file=sys.stderr)
        return 1
    if args.compare:
        return compare_grid(window, args, settle)
    ended = []
    window.run_ended.connect(ended.append)
    window.run_all() if args.enlarge_all else window.run_current()
    settle(lambda: bool(ended))
    window.queue.select(item)
    settle(lambda: item.result_view is not None and window.images.result is item.result_view, 60)
    if item.result is None:
        print(f"screenshot: the run failed: {item.message}", file=sys.stderr)
        return 1
    window.viewer_model.set_mode(args.mode)
    settle(lambda: False, 0.3)
    window.viewer.fit()
    settle(lambda: False, 0.3)
    if args.zoom:
        window.viewer_model.set_zoom(args.zoom)
    settle(lambda: False, 0.3)
    window.grab().save(args.output)
    window.close()
    print(f"screenshot: saved {args.output}")
    return 0


def compare_grid(window, args: argparse.Namespace, settle) -> int:
    """The Compare Models dialog, its models ticked, compared on the region in view, saved when
    done."""
    from sr_studio.gui import session as events

    settle(lambda: False, 0.3)
    window.viewer.fit()
    settle(lambda: False, 0.3)
    if args.zoom:
        window.viewer_model.set_zoom(args.zoom)
    settle(lambda: False, 0.3)
    window.open_comparison()
    dialog = window._comparison
    wanted = [name.strip() for name in args.compare.split(",") if name.strip()]
    dialog.set_checked(wanted)
    if len(dialog.checked_models()) != len(wanted):
        print(f"screenshot: not all of {wanted} are in the window's list", file=sys.stderr)
        return 1
    width, height = (int(v) for v in args.size.lower().split("x"))
    dialog.resize(width, height)
    ended = []
    window.session.subscribe(
        lambda event: ended.append(event) if isinstance(event, events.CompareEnded) else None
    )
    dialog.start()
    settle(lambda: bool(ended))
    if not ended or ended[0].outcome != "done":
        print("screenshot: the comparison did not finish", file=sys.stderr)
        return 1
    settle(lambda: False, 0.3)
    dialog.viewer_model.fit(*dialog.cells[0].canvas.viewport_size())
    if args.grid_zoom:
        dialog.viewer_model.set_zoom(args.grid_zoom)
    settle(lambda: False, 0.5)
    dialog.grab().save(args.output)
    dialog.close()
    window.close()
    print(f"screenshot: saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
