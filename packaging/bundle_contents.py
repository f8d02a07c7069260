"""What the frozen bundle leaves out, in one place: read by `sr-studio.spec` and by the packaging
tests.

SR Studio only runs inference with plain PyTorch modules on tensors. Everything torch imports lazily
for compilation (`torch._dynamo`, `torch._inductor`, and through them sympy, networkx, jinja2),
distributed training, ONNX export, profiling and its own tests is never reached, so it is excluded;
the tests in `tests/test_packaging_bundle.py` prove that the real workflows import none of it, and
the smoke test (`packaging/smoke_test.py`) proves the frozen executable still runs each of them.

Entries are module names (a package excludes its submodules) or glob patterns matched against the
destination path of a collected file inside the bundle (forward slashes, relative to `_internal/`).
"""

from __future__ import annotations

import fnmatch

# Where resources/ goes inside the bundle: the place sr_studio.resource_paths.resource_dir() looks
# first when frozen (sys._MEIPASS/sr_studio/resources), which is also sr_studio/resources inside a
# wheel.
RESOURCES_DESTINATION = "sr_studio/resources"

# Python modules never imported by SR Studio, with the reason they would otherwise be collected.
EXCLUDED_MODULES = (
    # Development and test tools that happen to be installed in the build venv.
    "pytest",
    "_pytest",
    "pytestqt",
    "hypothesis",
    "_hypothesis_pytestplugin",
    "_hypothesis_globals",
    "_hypothesis_ftz_detector",
    "pluggy",
    "iniconfig",
    "py",
    "pygments",
    # pillow_heif writes the HEIC test files; its wheel carries the GPL x265 encoder, never shipped.
    "pillow_heif",
    "PyInstaller",
    "_pyinstaller_hooks_contrib",
    "altgraph",
    "pip",
    "setuptools",
    "pkg_resources",
    "_distutils_hack",
    "distutils",
    "wheel",
    # GUI toolkits and notebooks other than Qt (tifffile's viewer imports tkinter/matplotlib
    # lazily).
    "tkinter",
    "_tkinter",
    "matplotlib",
    "IPython",
    "ipykernel",
    "ipywidgets",
    # torch.compile and symbolic shapes: we never compile, and these pull in sympy, networkx,
    # jinja2.
    "torch._dynamo",
    "torch._inductor",
    "torch._export.serde",
    "torch.utils._sympy",
    "sympy",
    "mpmath",
    "isympy",
    "networkx",
    "jinja2",
    "markupsafe",
    "torch.fx.experimental.symbolic_shapes",
    # torch features we do not use.
    # (torch.testing._internal, torch.package, torch.distributed.rpc and
    # torch._functorch._aot_autograd look unused but are imported by `import torch` itself: they
    # stay.)
    "torch.utils.cpp_extension",
    "torch.utils.tensorboard",
    "torch.utils.benchmark",
    "torch.utils.bottleneck",
    "torch.utils.model_dump",
    "torch.utils.hipify",
    "torch.onnx",
    "torch.distributed.checkpoint",
    "torch.distributed.fsdp",
    "torch.distributed.tensor",
    "torch.distributed.pipelining",
    "torch.distributed.elastic",
    "torch.distributed._tools",
    "torch.distributed._composable",
    "torch.ao.quantization.pt2e",
    "torch._functorch.aot_autograd",
    "torch._functorch.partitioners",
    "torch._functorch.compile_utils",
    "functorch",
    "caffe2",
    "fsspec",
    "filelock",
    "sortedcontainers",
    "tensorboard",
    "onnx",
    "onnxruntime",
    "scipy",
    "pandas",
    "triton",
    # Qt modules SR Studio does not use (qtpy and PySide6 import them optionally).
    "PySide6.QtNetwork",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtDBus",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtPrintSupport",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtUiTools",
    "PySide6.QtXml",
    "PySide6.QtConcurrent",
    "PySide6.QtSvgWidgets",
    "PIL.ImageTk",
    "PIL.ImageQt",
    # `upscale --cluster` (the `cluster` extra, installed for the tests): a pip install, never
    # bundled.
    "ray",
    "grpc",
    "yaml",  # PyYAML, which Ray brings; torch imports it only to save fake-op profiles
)

# Collected files to drop, by their path inside the bundle.
EXCLUDED_FILES = (
    # torch: C++ headers and CMake files (for building extensions), test binaries, static libraries.
    "torch/include/*",
    "torch/share/*",
    "torch/test/*",
    "torch/bin/test_*",
    "torch/bin/*Test",
    "torch/bin/protoc*",
    "torch/lib/*.a",
    "torch/lib/*.lib",
    "torch/lib/libjitbackend_test*",
    "torch/lib/libtorchbind_test*",
    "torch/lib/libbackend_with_compiler*",
    "torch/lib/libaoti_custom_ops*",
    "torch/lib/*test*.dll",
    "torch/_inductor/*",
    "torch/_dynamo/*",
    "torch/utils/benchmark/*",
    "torch/utils/model_dump/*",
    "torch/_export/serde/*",
    "**/*.h",
    "**/*.hpp",
    "**/*.cuh",
    "**/*.cpp",
    "**/*.pyi",
    "**/*.cmake",
    # CUDA runtime libraries (a CPU build of torch should not have any; a CUDA venv would add
    # ~3 GB).
    "nvidia/*",
    "torch/lib/*cuda*",
    "torch/lib/*cudnn*",
    "torch/lib/*cublas*",
    "torch/lib/*nccl*",
    "torch/lib/*cufft*",
    "torch/lib/*curand*",
    "torch/lib/*cusparse*",
    "torch/lib/*cusolver*",
    "torch/lib/*nvrtc*",
    "torch/lib/*nvToolsExt*",
    "torch/lib/*nvJitLink*",
    "triton/*",
    # Qt: plugins for embedded displays (framebuffer, EGLFS, VNC), networking and TLS.
    "PySide6/Qt/plugins/egldeviceintegrations/*",
    "PySide6/Qt/plugins/generic/*",
    "PySide6/Qt/plugins/networkinformation/*",
    "PySide6/Qt/plugins/tls/*",
    "PySide6/Qt/plugins/platforms/*eglfs*",
    "PySide6/Qt/plugins/platforms/*linuxfb*",
    "PySide6/Qt/plugins/platforms/*vnc*",
    "PySide6/Qt/plugins/platforms/*vkkhrdisplay*",
    "PySide6/Qt/plugins/platforms/*minimalegl*",
    "PySide6/Qt/plugins/sqldrivers/*",
    "PySide6/Qt/plugins/qmltooling/*",
    "PySide6/Qt/plugins/designer/*",
    "PySide6/Qt/lib/libQt6EglFS*",
    "PySide6/Qt/lib/libQt6EglFsKmsSupport*",
    "PySide6/Qt/lib/libQt6Qml*",
    "PySide6/Qt/lib/libQt6Quick*",
    "PySide6/Qt/lib/libQt6Pdf*",
    "PySide6/Qt/lib/libQt6Network*",
    # Qt's own translations of tools we do not ship (qtbase_* is kept: it translates standard
    # dialogs).
    "PySide6/Qt/translations/assistant_*",
    "PySide6/Qt/translations/designer_*",
    "PySide6/Qt/translations/linguist_*",
    "PySide6/Qt/translations/qt_help_*",
    "PySide6/Qt/translations/qtdeclarative_*",
    "PySide6/Qt/translations/qtwebengine_*",
    "PySide6/Qt/translations/qtmultimedia_*",
    "PySide6/Qt/translations/qtconnectivity_*",
    "PySide6/Qt/translations/qtlocation_*",
    "PySide6/Qt/translations/qtserialport_*",
    "PySide6/Qt/translations/qtwebsockets_*",
    # The README's screenshots live in resources/ but the app never shows them.
    RESOURCES_DESTINATION + "/screenshots/*",
    # Python's test suites and idle, if a hook collects them.
    "**/tests/*",
    "**/__pycache__/*",
)


# Linux libraries shipped with their symbol tables, which the bundle drops (`strip`): ~100 MB less.
# Only these: the libraries that auditwheel repaired (numpy.libs/, pillow.libs/, ...) are not valid
# ELF files any more once stripped ("ELF load command address/offset not page-aligned").
STRIPPED_FILES = (
    "torch/lib/libtorch_cpu.so",
    "torch/lib/libtorch_python.so",
    "torch/lib/libc10.so",
    "torch/lib/libtorch.so",
    "torch/lib/libshm.so",
)


def is_excluded_module(name: str) -> bool:
    return any(name == excluded or name.startswith(excluded + ".") for excluded in EXCLUDED_MODULES)


def is_excluded_file(destination: str) -> bool:
    destination = destination.replace("\\", "/")
    for pattern in EXCLUDED_FILES:
        if fnmatch.fnmatchcase(destination, pattern):
            return True
        # "**/x" also matches "x" at the top level.
        if pattern.startswith("**/") and fnmatch.fnmatchcase(destination, pattern[3:]):
            return True
    return False
