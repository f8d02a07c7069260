"""What the frozen bundle leaves out must be what SR Studio never uses; its desktop entry, icons and
certificate hook must work. (Building the bundle itself is too slow for the suite: CI runs
packaging/build.py and packaging/smoke_test.py as a separate step.)"""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bundle_contents = load(PACKAGING / "bundle_contents.py")
ssl_hook = load(PACKAGING / "runtime_hooks" / "ssl_certificates.py")
entry_point = load(PACKAGING / "sr_studio_main.py")

# Imported by the workflows below but harmless to leave out of the bundle.
OPTIONAL_IMPORTS = {
    "PySide6.QtOpenGL": "qtpy imports it inside try/except ImportError",
    "PySide6.QtOpenGLWidgets": "qtpy imports it inside try/except ImportError",
    "_distutils_hack": "setuptools' .pth file in the venv, not an import by SR Studio",
}


def test_resources_and_runtime_libraries_are_never_left_out():
    documentation = ROOT / "resources" / "screenshots"  # README images: left out on purpose
    resources = [
        p for p in (ROOT / "resources").rglob("*") if p.is_file() and documentation not in p.parents
    ]
    assert any(p.name == "catalog.json" for p in resources)
    for path in resources:
        destination = (
            bundle_contents.RESOURCES_DESTINATION
            + "/"
            + path.relative_to(ROOT / "resources").as_posix()
        )
        assert not bundle_contents.is_excluded_file(destination), destination
    for needed in (
        "torch/lib/libtorch_cpu.so",
        "torch/lib/libc10.so",
        "torch/lib/libtorch_python.so",
        "torch/lib/libgomp.so.1",
        "torch/bin/torch_shm_manager",
        "torch/lib/torch_cpu.dll",
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/plugins/platforms/libqwayland.so",
        "PySide6/Qt/plugins/platforms/libqoffscreen.so",
        "PySide6/Qt/plugins/imageformats/libqsvg.so",
        "PySide6/Qt/translations/qtbase_de.qm",
        "numpy.libs/libscipy_openblas64_.so",
    ):
        assert not bundle_contents.is_excluded_file(needed), needed
    for unwanted in (
        "torch/include/ATen/ATen.h",
        "torch/test/Dict_test",
        "torch/bin/test_api",
        "torch/lib/libtorchbind_test.so",
        "torch/lib/libdnnl.a",
        "torch/lib/libtorch_cuda.so",
        "nvidia/cudnn/lib/libcudnn.so.9",
        "PySide6/Qt/plugins/platforms/libqvnc.so",
        "torch\\include\\c10\\core\\Device.h",
    ):
        assert bundle_contents.is_excluded_file(unwanted), unwanted


def test_stripped_libraries_are_only_torch_libraries_kept_in_the_bundle():
    for name in bundle_contents.STRIPPED_FILES:
        assert name.startswith("torch/lib/") and not bundle_contents.is_excluded_file(name)


WORKFLOWS = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path

    import torch
    from safetensors.torch import save_file

    from sr_studio.archs.hat.network import HAT
    from sr_studio.archs.span.network import SPAN
    from sr_studio.cli import main

    work = Path(sys.argv[1])
    torch.manual_seed(0)
    bundled = work / "bundled"
    bundled.mkdir()
    save_file(
        SPAN(feature_channels=8, upscale=2).state_dict(), str(bundled / "span-x2.safetensors")
    )
    hat = work / "hat.pth"
    torch.save({"params_ema": HAT(embed_dim=16, depths=(1,), num_heads=(2,), window_size=8,
                                  compress_ratio=2, squeeze_factor=4, upscale=2).state_dict()},
               hat)
    os.environ.update(SR_STUDIO_BUNDLED_DIR=str(bundled), SR_STUDIO_DATA_DIR=str(work / "data"),
                      SR_STUDIO_SETTINGS_DIR=str(work / "settings"), QT_QPA_PLATFORM="offscreen")
    from PIL import Image
    Image.new("RGB", (20, 12), (120, 80, 40)).save(work / "photo.png")
    codes = [
        main(["upscale", str(work / "photo.png"), "-o", str(work / "a.png"), "-q"]),
        main(["upscale", str(work / "photo.png"), "--model", str(hat), "--precision", "bf16",
              "--scale", "3", "-o", str(work / "b.png"), "-q"]),
        main(["models", "import", str(hat), "--id", "my-hat"]),
        main(["models", "list"]),
        main(["models", "verify"]),
    ]
    try:
        import sr_studio.gui.self_test  # noqa: F401
    except ModuleNotFoundError:
        gui = None
    else:
        gui = main(["gui", "--self-test", str(work / "photo.png")])
    print(json.dumps({"codes": codes, "gui": gui, "modules": sorted(sys.modules)}))
    """
)


def test_real_workflows_import_nothing_the_bundle_leaves_out(tmp_path):
    """Upscaling (SPAN safetensors, HAT .pth, bf16), model import/list/verify and the GUI self-test,
    run unfrozen: any module they import that the spec excludes would crash the bundle."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SR_STUDIO_")}
    result = subprocess.run(
        [sys.executable, "-c", WORKFLOWS, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0, 0, 0, 0, 0], result.stderr[-4000:]
    assert report["gui"] in (0, None), result.stderr[-4000:]
    imported = {m for m in report["modules"] if bundle_contents.is_excluded_module(m)} - set(
        OPTIONAL_IMPORTS
    )
    assert not imported, (
        f"imported but excluded from the bundle (packaging/bundle_contents.py): {sorted(imported)}"
    )


MIME_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".bmp": "image/bmp",
    ".gif": "image/gif",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".avif": "image/avif",
    ".jpe": "image/jpeg",
    ".hif": "image/heif",
}


def test_desktop_entry_opens_every_format_the_app_reads():
    from sr_studio.cli.upscale_command import INPUT_SUFFIXES
    from sr_studio.gui.app import APP_ID

    desktop_file = (
        PACKAGING / "linux" / f"{APP_ID}.desktop"
    )  # Qt's desktopFileName must name this file
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(desktop_file, encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    command, *arguments = section["Exec"].split()
    assert command in scripts, "the menu must start the same command the wheel installs"
    from sr_studio.cli import build_parser

    opened = build_parser().parse_args(
        [a for a in arguments if a != "%F"] + ["/photos/a.jpg", "/photos/b.tif"]
    )
    assert opened.command == "gui" and opened.files == ["/photos/a.jpg", "/photos/b.tif"], (
        "files opened with SR Studio from the file manager must be queued in the window"
    )
    assert (
        section["Icon"] == APP_ID
        and (ROOT / "resources" / "icons" / "app" / f"{APP_ID}-256.png").is_file()
    )
    offered = set(filter(None, section["MimeType"].split(";")))
    for suffix in INPUT_SUFFIXES:
        mime = MIME_TYPES.get(suffix)
        assert mime is not None, (
            f"add the MIME type of {suffix} to MIME_TYPES and to {desktop_file.name}"
        )
        assert mime in offered, (
            f"{suffix} ({mime}) is read by SR Studio but not offered in {desktop_file.name}"
        )


def test_app_icons_exist_for_each_platform_at_the_sizes_they_use():
    from PIL import Image

    icons = ROOT / "resources" / "icons" / "app"
    for size in (16, 32, 48, 256, 512):
        with Image.open(icons / f"sr-studio-{size}.png") as png:
            assert png.size == (size, size) and png.mode == "RGBA"
    with Image.open(icons / "sr-studio.ico") as ico:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(icons / "sr-studio.icns") as icns:
        assert icns.size[0] >= 512


def paths(cafile="/bundle/ssl/cert.pem", capath="/bundle/ssl/certs"):
    return SimpleNamespace(
        openssl_cafile_env="SSL_CERT_FILE",
        openssl_capath_env="SSL_CERT_DIR",
        openssl_cafile=cafile,
        openssl_capath=capath,
    )


def test_https_certificates_are_found_on_a_distribution_other_than_the_build_machine():
    fedora = {"/etc/pki/tls/certs/ca-bundle.crt"}
    assert (
        ssl_hook.certificate_file_to_use(paths(), {}, fedora.__contains__)
        == "/etc/pki/tls/certs/ca-bundle.crt"
    )
    macos = {"/etc/ssl/cert.pem"}
    assert ssl_hook.certificate_file_to_use(paths(), {}, macos.__contains__) == "/etc/ssl/cert.pem"


def test_certificate_hook_leaves_working_or_chosen_settings_alone():
    build_machine = {"/bundle/ssl/certs", "/etc/ssl/cert.pem"}
    assert ssl_hook.certificate_file_to_use(paths(), {}, build_machine.__contains__) is None
    chosen = {"SSL_CERT_FILE": "/home/me/corporate-ca.pem"}
    assert (
        ssl_hook.certificate_file_to_use(paths(), chosen, {"/etc/ssl/cert.pem"}.__contains__)
        is None
    )
    assert ssl_hook.certificate_file_to_use(paths(), {}, set().__contains__) is None


def test_windowed_windows_executable_opens_photos_in_the_window_and_console_one_is_the_cli():
    windowed = r"C:\Program Files\SR Studio\SR Studio.exe"
    assert entry_point.arguments(windowed, []) == ["gui"]
    assert entry_point.arguments(windowed, [r"D:\trip\a.jpg"]) == ["gui", r"D:\trip\a.jpg"]
    assert entry_point.arguments(windowed, ["gui", "a.jpg"]) == ["gui", "a.jpg"]
    console = r"C:\Program Files\SR Studio\sr-studio.exe"
    assert entry_point.arguments(console, ["upscale", "a.jpg"]) == ["upscale", "a.jpg"]
    assert entry_point.arguments("/opt/sr-studio/sr-studio", []) == []
