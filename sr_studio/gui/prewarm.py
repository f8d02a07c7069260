"""Every module a worker thread may import, imported on the GUI thread before any worker starts.

PySide6 hooks `import` (it reads each new module's source to look for `from __feature__`), and that
hook running on a worker thread while the GUI thread is busy corrupts memory: importing torch in the
engine thread crashed the app at start-up ("deallocating None"). So workers must never import
anything new.

The modules are found, not listed: starting from the workers' own modules, every import statement
in their compiled code (function-level ones included) is followed through SR Studio's modules. A
new import on a worker path is covered without anyone remembering to add it. Compiled code, not
source, so it works in the packaged app too. Libraries' own lazy imports are not seen there; those
a worker path is known to trigger are made below.
"""

from __future__ import annotations

import dis
import importlib
import importlib.util
from collections.abc import Iterable, Iterator
from types import CodeType

# The modules whose code runs on worker threads: the engine's, the file thread's and the preview
# thread's workers, and the model manager's downloads and imports.
WORKER_MODULES = (
    "sr_studio.gui.upscale_worker",
    "sr_studio.gui.file_worker",
    "sr_studio.gui.preview_worker",
    "sr_studio.gui.model_manager",
)
OWN_PACKAGE = "sr_studio"
_IMPORT_NAME = dis.opmap["IMPORT_NAME"]
# Imports that libraries make on first use, invisible in our code; tests/test_gui_prewarm.py finds
# new ones by running every worker path.
LIBRARY_LAZY_IMPORTS = (
    "encodings.ascii",  # the first file opened with encoding="ascii" (engine.devices)
    "numpy.ctypeslib",  # safetensors' save_file (importing a model)
)


def prewarm_imports() -> list[str]:
    """Import every module a worker may use, here on the GUI thread; returns their names."""
    names = worker_imports(WORKER_MODULES)
    names += [name for name in LIBRARY_LAZY_IMPORTS if _import(name)]
    try:  # torch pulls these in on first use; do it now rather than on a worker thread
        import torch

        torch.backends.mps.is_available()
        torch.cuda.is_available()
        torch.zeros(1).to(torch.bfloat16)
    except Exception:  # noqa: BLE001
        pass
    return names


def worker_imports(roots: Iterable[str]) -> list[str]:
    """Import `roots` and, transitively through SR Studio's modules, everything their code imports
    (at any level); returns the names of the modules imported, in order. A module that fails to
    import is skipped: the worker that needs it reports that as a readable error."""
    imported: list[str] = []
    queue = list(roots)
    scanned: set[str] = set()
    while queue:
        name = queue.pop(0)
        if name in scanned:
            continue
        scanned.add(name)
        if not _import(name):
            continue
        imported.append(name)
        for target in _targets(name):
            if target.partition(".")[0] == OWN_PACKAGE:
                queue.append(target)
            elif target not in scanned:
                scanned.add(target)
                if _import(target):
                    imported.append(target)
    return imported


def _import(name: str) -> bool:
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - ImportError, or an optional library failing as it loads
        return False
    return True


def _targets(name: str) -> Iterator[str]:
    """The modules the code of module `name` imports: `import a.b` gives a.b, `from a import b`
    gives a, and a.b where b is a module."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or not hasattr(spec.loader, "get_code"):
        return
    code = spec.loader.get_code(name)
    if code is None:
        return
    package = name if spec.submodule_search_locations is not None else name.rpartition(".")[0]
    for target, fromlist, level in _import_statements(code):
        absolute = importlib.util.resolve_name("." * level + target, package) if level else target
        yield absolute
        for item in fromlist:
            if item != "*" and _is_module(f"{absolute}.{item}"):
                yield f"{absolute}.{item}"


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, AttributeError, ValueError):  # parent is a plain module, or not found
        return False


def _import_statements(code: CodeType) -> Iterator[tuple[str, tuple[str, ...], int]]:
    """(module, fromlist, level) of every import in `code` and the functions and classes in it."""
    # Code units are (opcode, argument) byte pairs: most functions import nothing, skip them fast.
    has_imports = _IMPORT_NAME in code.co_code[::2]
    instructions = list(dis.get_instructions(code)) if has_imports else []
    for index, instruction in enumerate(instructions):
        if instruction.opname != "IMPORT_NAME":
            continue
        # Compiled as: push level, push fromlist, IMPORT_NAME module.
        fromlist = instructions[index - 1].argval if index >= 1 else None
        level = instructions[index - 2].argval if index >= 2 else 0
        yield (
            str(instruction.argval),
            tuple(str(item) for item in fromlist) if isinstance(fromlist, tuple) else (),
            level if isinstance(level, int) else 0,
        )
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _import_statements(constant)
