"""SR Studio's own PyInstaller hook for torch, used instead of the one in pyinstaller-hooks-contrib.

The contrib hook collects every torch submodule and data file (so that any torch feature works
frozen); SR Studio only runs inference, so this hook collects torch's shared libraries and lets
PyInstaller follow the imports that torch actually makes. `bundle_contents.EXCLUDED_MODULES` cuts
the lazily imported compiler stack; `packaging/smoke_test.py` proves the result runs.
"""

import os

from PyInstaller import compat
from PyInstaller.utils.hooks import PY_DYLIB_PATTERNS, collect_dynamic_libs, get_package_paths

binaries = collect_dynamic_libs("torch", search_patterns=PY_DYLIB_PATTERNS + ["*.so.*"])

# `import torch` on Linux and macOS checks that its shared-memory helper exists (torch/bin/).
_shm_manager = os.path.join(get_package_paths("torch")[1], "bin", "torch_shm_manager")
if os.path.isfile(_shm_manager):
    binaries.append((_shm_manager, os.path.join("torch", "bin")))

# torch reads the source of a few of its functions (torch.jit, torch._sources) when they are used;
# keep the .py files beside the compiled ones so that such a use cannot fail in the bundle.
module_collection_mode = "pyz+py"

# Modules torch imports by name at run time (importlib), which PyInstaller cannot see.
hiddenimports = ["torch._meta_registrations", "torch._decomp.decompositions", "torch._refs"]

warn_on_missing_hiddenimports = False

if compat.is_linux:
    # As in the contrib hook: no links from the top folder to torch/lib, which confuse torch's own
    # search for its libraries.
    bindepend_symlink_suppression = ["**/torch/lib/*.so*"]
