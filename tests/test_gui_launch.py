"""Starting the window from a terminal as a user does: no display, missing system libraries, Ctrl+C.

Each case runs `python -m sr_studio` in a child process with the environment it is about (DISPLAY,
WAYLAND_DISPLAY and QT_QPA_PLATFORM removed unless the case sets them), since what is tested is what
happens before and around the QApplication: this test process already has one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sr_studio.gui import platform_check

STARTUP_ENV = (
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "QT_QPA_PLATFORM",
    "XDG_SESSION_TYPE",
    "QT_QPA_PLATFORM_PLUGIN_PATH",
    "QT_PLUGIN_PATH",
)


def child_env(tmp_path: Path, **changes: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in STARTUP_ENV}
    env.update(
        SR_STUDIO_SETTINGS_DIR=str(tmp_path / "settings"),
        SR_STUDIO_DATA_DIR=str(tmp_path / "data"),
        SR_STUDIO_CACHE_DIR=str(tmp_path / "cache"),
        PYTHONUNBUFFERED="1",
    )
    env.update(changes)
    return env


def run_sr_studio(tmp_path: Path, *args: str, timeout: float = 60, **env: str):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "sr_studio", *args],
        env=child_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )
    return result, time.monotonic() - started


linux_only = pytest.mark.skipif(
    not platform_check.uses_a_display(), reason="X11/Wayland systems only"
)


# -- no display ------------------------------------------------------------------------------------


@linux_only
@pytest.mark.parametrize(
    "args", [(), ("gui", "photo.jpg")], ids=["sr-studio", "sr-studio gui FILE"]
)
def test_without_a_display_it_exits_at_once_with_one_line(tmp_path, args):
    result, seconds = run_sr_studio(tmp_path, *args, timeout=60)

    assert result.returncode == 1
    assert seconds < 10, "it must not wait (a bare start takes well under a second)"
    assert result.stderr.strip() == f"sr-studio: error: {platform_check.NO_DISPLAY}"
    assert "no display found" in result.stderr and "sr-studio upscale" in result.stderr
    assert result.stdout == ""


def test_the_display_rule():
    linux = "linux"
    assert platform_check.display_problem({}, linux) == platform_check.NO_DISPLAY
    assert platform_check.display_problem({"DISPLAY": ":0"}, linux) is None
    assert platform_check.display_problem({"WAYLAND_DISPLAY": "wayland-0"}, linux) is None
    assert (
        platform_check.display_problem({"QT_QPA_PLATFORM": "offscreen"}, linux) is None
    )  # tests, CI
    assert platform_check.display_problem({}, "darwin") is None
    assert platform_check.display_problem({}, "win32") is None


@linux_only
def test_the_self_test_still_runs_offscreen_without_a_display(tmp_path):
    import numpy as np
    from PIL import Image

    photo = tmp_path / "small.png"
    Image.fromarray(np.full((12, 16, 3), 120, np.uint8)).save(photo)

    result, _ = run_sr_studio(tmp_path, "gui", "--self-test", str(photo), timeout=300)

    assert result.returncode == 0, result.stderr
    assert "self-test passed" in result.stdout


# -- Qt's platform plugin cannot load --------------------------------------------------------------


LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f1)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f2)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibglib-2.0.so.0 => not found
"""


def test_ldd_output_gives_each_missing_library_once_with_its_debian_package():
    assert platform_check.parse_ldd(LDD_OUTPUT) == [
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libglib-2.0.so.0",
    ]
    packages = {
        name: platform_check.debian_package(name)
        for name in [
            "libxcb-icccm.so.4",
            "libxcb-keysyms.so.1",
            "libxcb-cursor.so.0",
            "libxkbcommon-x11.so.0",
            "libdbus-1.so.3",
            "libEGL.so.1",
            "libGL.so.1",
            "libfontconfig.so.1",
            "libX11-xcb.so.1",
            "libxcb-render-util.so.0",
            "libglib-2.0.so.0",
            "libz.so.1",
            "libwayland-cursor.so.0",
        ]
    }
    assert packages == {
        "libxcb-icccm.so.4": "libxcb-icccm4",
        "libxcb-keysyms.so.1": "libxcb-keysyms1",
        "libxcb-cursor.so.0": "libxcb-cursor0",
        "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
        "libdbus-1.so.3": "libdbus-1-3",
        "libEGL.so.1": "libegl1",
        "libGL.so.1": "libgl1",
        "libfontconfig.so.1": "libfontconfig1",
        "libX11-xcb.so.1": "libx11-xcb1",
        "libxcb-render-util.so.0": "libxcb-render-util0",
        "libglib-2.0.so.0": "libglib2.0-0",
        "libz.so.1": "zlib1g",
        "libwayland-cursor.so.0": "libwayland-cursor0",
    }


def test_the_plugins_qt_would_try_are_all_checked(tmp_path):
    folder = tmp_path / "platforms"
    folder.mkdir()
    for name in ("xcb", "wayland"):
        (folder / f"libq{name}.so").write_bytes(b"")
    gaps = {"libqxcb.so": ["libxcb-icccm.so.4"], "libqwayland.so": ["libwayland-cursor.so.0"]}

    def missing(plugin):
        return gaps.get(plugin.name, [])  # PySide6's own plugins (offscreen here) load

    env = {"DISPLAY": ":0", "QT_QPA_PLATFORM_PLUGIN_PATH": str(folder)}
    line = platform_check.plugin_problem(env, "linux", missing)
    assert line == (
        "the window cannot start: Qt's xcb platform plugin needs libxcb-icccm.so.4, "
        "missing on this system (on Debian or Ubuntu: sudo apt install libxcb-icccm4); "
        "`sr-studio upscale` works without them"
    )
    wayland = dict(env, XDG_SESSION_TYPE="wayland", WAYLAND_DISPLAY="wayland-0")
    assert (
        "plugins (wayland, xcb) need libwayland-cursor.so.0, libxcb-icccm.so.4"
        in platform_check.plugin_problem(wayland, "linux", missing)
    )
    gaps["libqwayland.so"] = []  # Wayland loads: Qt starts there, X11's gaps do not matter
    assert platform_check.plugin_problem(wayland, "linux", missing) is None
    assert (
        platform_check.plugin_problem(dict(env, QT_QPA_PLATFORM="offscreen"), "linux", missing)
        is None
    )
    assert (
        platform_check.plugin_problem(dict(env, QT_QPA_PLATFORM="nosuch"), "linux", missing) is None
    )  # Qt says
    assert platform_check.plugin_problem(env, "darwin", missing) is None


def plugin_with_a_missing_library(tmp_path: Path) -> tuple[Path, str]:
    """A copy of PySide6's xcb plugin whose need for libxcb-icccm.so.4 reads libxcb-zzzzz.so.4 (same
    length, so the ELF stays valid): a library no system has. Its run path ($ORIGIN/../../lib)
    reaches Qt's own."""
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    original = qt / "plugins" / "platforms" / "libqxcb.so"
    if not original.is_file() or shutil.which("ldd") is None:
        pytest.skip("needs PySide6's xcb plugin and ldd")
    data = original.read_bytes()
    assert data.count(b"libxcb-icccm.so.4\0") >= 1
    folder = tmp_path / "qt" / "plugins" / "platforms"
    folder.mkdir(parents=True)
    (tmp_path / "qt" / "lib").symlink_to(qt / "lib")
    (folder / "libqxcb.so").write_bytes(
        data.replace(b"libxcb-icccm.so.4\0", b"libxcb-zzzzz.so.4\0")
    )
    return folder, "libxcb-zzzzz.so.4"


@linux_only
def test_a_missing_system_library_is_named_in_one_line_before_qt_aborts(tmp_path):
    folder, library = plugin_with_a_missing_library(tmp_path)

    result, seconds = run_sr_studio(
        tmp_path, DISPLAY=":99", QT_QPA_PLATFORM_PLUGIN_PATH=str(folder)
    )

    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "sr-studio: error: the window cannot start: Qt's xcb platform plugin needs"
    )
    assert library in lines[0] and "sudo apt install" in lines[0] and "libxcb-zzzzz4" in lines[0]
    assert seconds < 10


@linux_only
def test_qt_libraries_ldd_cannot_reach_from_a_moved_plugin_do_not_count(tmp_path):
    """A bundle may lay Qt's libraries out its own way: they are loaded before the plugin, so only
    the system's gaps are reported."""
    folder, library = plugin_with_a_missing_library(tmp_path)
    (tmp_path / "qt" / "lib").unlink()  # ldd now finds none of Qt's libraries from the plugin

    missing = platform_check.missing_libraries(folder / "libqxcb.so")

    assert library in missing
    assert not [name for name in missing if name.startswith("libQt6")]


@linux_only
def test_a_platform_qt_cannot_start_is_one_line_not_an_abort(tmp_path):
    result, _ = run_sr_studio(tmp_path, QT_QPA_PLATFORM="nosuchplatform")

    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert (
        lines[0].startswith("sr-studio: error: the window cannot start: ")
        and "nosuchplatform" in lines[0]
    )


# -- Ctrl+C ----------------------------------------------------------------------------------------

SHOW_THEN_SAY_SO = """
import sys
from sr_studio.gui import main_window

show = main_window.MainWindow.show

def show_and_say(self):
    show(self)
    print("window shown", flush=True)

main_window.MainWindow.show = show_and_say
from sr_studio.cli import main
sys.exit(main([]))
"""


@pytest.mark.skipif(os.name == "nt", reason="SIGINT to a child process is a POSIX thing")
def test_ctrl_c_in_the_terminal_closes_the_window_cleanly(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-c", SHOW_THEN_SAY_SO],
        cwd=tmp_path,
        env=child_env(tmp_path, QT_QPA_PLATFORM="offscreen"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    import threading

    watchdog = threading.Timer(
        300, process.kill
    )  # a window that never comes up must not hang the suite
    watchdog.start()
    try:
        line = process.stdout.readline()  # blocks until the window is up (or the child ended)
        assert line.strip() == "window shown", process.communicate(timeout=30)
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, stderr = process.communicate(timeout=30)
        seconds = time.monotonic() - started
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert seconds < 10
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    # Closed as by its close button: the window saved its settings on the way out.
    assert list((tmp_path / "settings").iterdir())


# -- the README's set-up: system packages for the window, the truth about PyTorch ------------------

README = Path(__file__).resolve().parents[1] / "README.md"
# Debian's required packages (dpkg and apt depend on them): on every system, never worth listing.
ALWAYS_THERE = {"libc6", "libstdc++6", "libgcc-s1", "zlib1g", "libzstd1"}


def needed_libraries(library: Path) -> list[str]:
    """DT_NEEDED entries of a 64-bit little-endian ELF shared library, read from its dynamic
    section."""
    import struct

    data = library.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, (
        f"{library}: not a 64-bit little-endian ELF"
    )
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    names = []
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        strings = sections[link][4]
        for position in range(offset, offset + size, entsize):
            tag, value = struct.unpack_from("<qQ", data, position)
            if tag == 1:  # DT_NEEDED
                end = data.index(b"\0", strings + value)
                names.append(data[strings + value : end].decode())
    return names


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux packages")
def test_the_readme_lists_every_system_package_the_window_needs():
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    plugins = [qt / "plugins" / "platforms" / f"libq{name}.so" for name in ("xcb", "wayland")]
    todo, seen, system = [p for p in plugins if p.is_file()], set(), set()
    if not todo:
        pytest.skip("PySide6 without the xcb and wayland plugins")
    while todo:  # the plugins, then Qt's libraries they need, down to the system's
        library = todo.pop()
        for name in needed_libraries(library):
            if (qt / "lib" / name).is_file():
                if name not in seen:
                    seen.add(name)
                    todo.append(qt / "lib" / name)
            elif not name.startswith("ld-linux"):
                system.add(name)
    packages = {platform_check.debian_package(name) for name in system} - ALWAYS_THERE
    text = README.read_text(encoding="utf-8")
    block = text.split("sudo apt install", 1)[1].split("```", 1)[0]
    listed = set(block.replace("\\", " ").split())
    assert packages - listed == set(), f"the README's apt line lacks {sorted(packages - listed)}"
    assert {"libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"} <= packages


def test_the_readme_tells_the_truth_about_pytorch():
    text = README.read_text(encoding="utf-8")
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert (
        "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in quick_start
    )
    assert "CUDA build" in quick_start and "GB" in quick_start and "MB" in quick_start
    assert "pinned because an unpinned `torch` pulls" not in text, (
        "the pin does not avoid the CUDA build"
    )
    # What CI runs (.ci/run) is still the quick start's test command, unchanged.
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    command = (
        "python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e '.[test]' && "
        "QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest"
    )
    assert command in ci and command in quick_start


# -- a photo named without a command ---------------------------------------------------------------


def test_a_photo_named_without_a_command_opens_the_window_with_it(tmp_path, monkeypatch):
    """`sr-studio photo.jpg` is what a new user types: the window, with the photos queued."""
    import sr_studio.gui.app
    from sr_studio.cli import main

    opened = []
    monkeypatch.setattr(sr_studio.gui.app, "run_app", lambda files: opened.append(files) or 0)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"a photo")
    (tmp_path / "trip").mkdir()

    assert main([str(photo)]) == 0
    assert main([str(photo), str(tmp_path / "trip")]) == 0
    assert opened == [[str(photo)], [str(photo), str(tmp_path / "trip")]]


def test_a_first_word_that_is_neither_a_command_nor_a_file_keeps_the_usage_error(
    tmp_path, monkeypatch, capsys
):
    from sr_studio.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").write_bytes(b"a file named like a command")
    with pytest.raises(SystemExit) as exit:
        main(["upscal", "photo.jpg"])
    assert exit.value.code == 2
    assert "invalid choice: 'upscal'" in capsys.readouterr().err
    assert main(["models", "list"]) == 0  # the command, not the file


# -- shortcuts in a real X11 session ------------------------------------------------------------

CTRL_E_PROBE = """
import json
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

app = QApplication([])
from sr_studio.gui.main_window import MainWindow

window = MainWindow()
window.show()
window.activateWindow()
QTest.qWaitForWindowActive(window)
fired = []
window.export_action.triggered.connect(lambda: fired.append(1))
found = {"platform": app.platformName(), "bindings": [
    key.toString() for key in QKeySequence.keyBindings(QKeySequence.StandardKey.MoveToEndOfLine)
]}
for name in ("pattern_edit", "folder_edit"):
    field = getattr(window.export_panel, name)
    field.setFocus()
    QTest.qWait(50)
    window.export_action.setEnabled(True)  # as with a result on screen
    fired.clear()
    QTest.keyClick(field, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    found[name] = [len(fired), field.hasFocus()]
window.close()
print(json.dumps(found))
"""


@linux_only
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (xvfb-run)")
def test_ctrl_e_exports_while_the_file_name_or_folder_field_has_the_focus(tmp_path):
    """On X11 (and macOS) a line edit takes Ctrl+E for "end of line"; the offscreen platform of the
    other tests has no such binding, so this runs the window on a virtual X server."""
    import json

    result = subprocess.run(
        ["xvfb-run", "-a", sys.executable, "-c", CTRL_E_PROBE],
        env=child_env(tmp_path, QT_QPA_PLATFORM="xcb"),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["platform"] == "xcb" and "Ctrl+E" in found["bindings"], found
    assert found["pattern_edit"] == [1, True], found  # exported once, the field kept its focus
    assert found["folder_edit"] == [1, True], found
