"""Before the window is created: is there a display, and can Qt's platform plugin load?

Qt answers both itself with an abort: on a machine without a display it used to be given the
offscreen platform, which left an invisible window running forever; with a system library missing it
names one that is not the culprit (the xcb plugin blames xcb-cursor whatever is missing) and dumps
core. These checks turn each case into one line that says what is wrong and what to do. No Qt is
imported here, so they run before anything can abort.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

NO_DISPLAY = (
    "no display found: the window needs a desktop session (X11 or Wayland); "
    "`sr-studio upscale` works without one"
)

# Debian/Ubuntu packages whose names do not follow from the library's (libfoo.so.1 -> libfoo1).
_DEBIAN_PACKAGE_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgcc_s.so.1": "libgcc-s1",
    "libz.so.1": "zlib1g",
    "libc.so.6": "libc6",
    "libm.so.6": "libc6",
    "libdl.so.2": "libc6",
    "libpthread.so.0": "libc6",
    "librt.so.1": "libc6",
}


def uses_a_display(platform: str = sys.platform) -> bool:
    """Systems whose windows go to an X11 or Wayland server named in the environment (not macOS,
    Windows)."""
    return platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))


def display_problem(environ=os.environ, platform: str = sys.platform) -> str | None:
    """The line to print when the window has nowhere to appear; None when it has (or Qt was told
    where)."""
    if environ.get("QT_QPA_PLATFORM") or not uses_a_display(platform):
        return None
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY


def platform_names(environ=os.environ) -> list[str]:
    """The platform plugins Qt will try, in order: QT_QPA_PLATFORM's list, else Wayland then X11 in
    a Wayland session, else X11 (as Qt decides it; options after ':' do not change the plugin)."""
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return [
            name.split(":", 1)[0].strip()
            for name in chosen.split(";")
            if name.split(":", 1)[0].strip()
        ]
    if environ.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        return ["wayland", "xcb"]
    return ["xcb"]


def plugin_folders(environ=os.environ) -> list[Path]:
    """Where Qt looks for platform plugins: the folders the environment names, then PySide6's
    own."""
    folders = [
        Path(p) for p in environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep) if p
    ]
    folders += [
        Path(p) / "platforms" for p in environ.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p
    ]
    spec = importlib.util.find_spec("PySide6")
    if spec is not None and spec.origin:
        folders.append(Path(spec.origin).parent / "Qt" / "plugins" / "platforms")
    return folders


def find_plugin(name: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        candidate = folder / f"libq{name}.so"
        if candidate.is_file():
            return candidate
    return None


def shipped_libraries(library: Path) -> set[str]:
    """Library files that come with the app rather than the system: Qt's (beside the plugin's
    folder) and, in a frozen bundle, everything in it. ldd may not find them from the plugin alone
    (a bundle lays them out its own way), but they are loaded already when Qt loads the plugin."""
    folders = [library.parent.parent.parent / "lib"]
    if getattr(sys, "frozen", False) and getattr(sys, "_MEIPASS", None):
        folders.append(Path(sys._MEIPASS))
    names: set[str] = set()
    for folder in folders:
        try:
            names.update(child.name for child in folder.iterdir())
        except OSError:
            pass
    return names


def missing_libraries(library: Path) -> list[str] | None:
    """The shared libraries `library` needs, directly or through its dependencies, that the system
    lacks, as `ldd` finds them; Qt's own and those the app ships do not count.
    None when this cannot be told (no ldd: not glibc, or the file is not a shared library)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    try:
        result = subprocess.run([ldd, str(library)], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0 and "not found" not in result.stdout:
        return None
    shipped = shipped_libraries(library)
    return [
        name
        for name in parse_ldd(result.stdout)
        if name not in shipped and not name.startswith("libQt6")
    ]


def parse_ldd(output: str) -> list[str]:
    """`libxcb-icccm.so.4 => not found` lines, each library once, in the order ldd lists them."""
    missing: list[str] = []
    for line in output.splitlines():
        match = re.match(r"\s*(\S+)\s+=>\s+not found", line)
        if match and match[1] not in missing:
            missing.append(match[1])
    return missing


def debian_package(library: str) -> str | None:
    """The Debian/Ubuntu package that holds a library, by the naming rule (libfoo.so.1 -> libfoo1,
    libfoo-2.so.0 -> libfoo-2-0) and the few exceptions; None for a name that is not
    libNAME.so.N."""
    if library in _DEBIAN_PACKAGE_EXCEPTIONS:
        return _DEBIAN_PACKAGE_EXCEPTIONS[library]
    match = re.fullmatch(r"(lib[^/]+?)\.so\.(\d+)(?:\.\d+)*", library)
    if match is None:
        return None
    name, version = match[1].lower(), match[2]
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def plugin_problem(
    environ=os.environ, platform: str = sys.platform, missing=missing_libraries
) -> str | None:
    """The line to print when no platform plugin Qt would try can load for want of system libraries.

    Only Linux-like systems are checked (with ldd). A plugin that cannot be found or checked counts
    as loadable: Qt then speaks for itself, and the fatal-message handler keeps that to one line
    too.
    """
    if not uses_a_display(platform):
        return None
    folders = plugin_folders(environ)
    names = platform_names(environ)
    gaps: dict[str, list[str]] = {}
    for name in names:
        plugin = find_plugin(name, folders)
        lacking = missing(plugin) if plugin is not None else None
        if not lacking:
            return None  # this one loads (or might): Qt takes it
        gaps[name] = lacking
    libraries = list(dict.fromkeys(library for lacking in gaps.values() for library in lacking))
    packages = list(dict.fromkeys(p for p in map(debian_package, libraries) if p))
    which = (
        f"Qt's {names[0]} platform plugin needs"
        if len(names) == 1
        else f"Qt's platform plugins ({', '.join(names)}) need"
    )
    hint = f" (on Debian or Ubuntu: sudo apt install {' '.join(packages)})" if packages else ""
    return (
        f"the window cannot start: {which} {', '.join(libraries)}, missing on this system{hint}; "
        "`sr-studio upscale` works without them"
    )
