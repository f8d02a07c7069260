"""Shared pieces of the GUI tests (imported by the test_gui_* modules; holds no tests itself).

Everything a window touches is redirected into the test's temporary folder: settings, the model
store, the bundled models (one tiny SPAN x2), the catalog and the session cache of parked results.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("PySide6")

from sr_studio.archs import LoadedModel  # noqa: E402
from sr_studio.archs.span.detect import describe_span  # noqa: E402


def save_tiny_span(path: Path, scale: int = 2, seed: int = 0, channels: int = 8) -> Path:
    from safetensors.torch import save_file

    from sr_studio.archs.span import SPAN

    torch.manual_seed(seed)
    model = SPAN(feature_channels=channels, upscale=scale)
    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, str(path))
    return path


def write_png(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(pixels).save(path)
    return path


def gradient_photo(height: int = 48, width: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack(
        [x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256], axis=2
    ).astype(np.uint8)


@pytest.fixture
def gui_env(tmp_path, monkeypatch):
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    save_tiny_span(bundled / "span-x2.safetensors")
    (bundled / "span-x2.json").write_text(
        json.dumps(
            {
                "id": "bundled-span-x2",
                "name": "SPAN x2 (test)",
                "arch": "SPAN",
                "scale": 2,
                "license": "Apache-2.0",
            }
        )
    )
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"format": 1, "models": []}))
    monkeypatch.setenv("SR_STUDIO_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SR_STUDIO_BUNDLED_DIR", str(bundled))
    monkeypatch.setenv("SR_STUDIO_CATALOG", str(catalog))
    monkeypatch.setenv("SR_STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    photos = tmp_path / "photos"
    photos.mkdir()
    return SimpleNamespace(
        root=tmp_path, bundled=bundled, catalog=catalog, photos=photos, cache=tmp_path / "cache"
    )


@pytest.fixture
def make_window(qtbot, gui_env):
    from sr_studio.gui.main_window import MainWindow

    windows = []

    def make(resize: bool = True):
        window = MainWindow()
        window.ask_unsaved = lambda items: "discard"  # closing after a test never waits on a dialog
        qtbot.addWidget(window)
        if resize:
            window.resize(1100, 700)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        if window.isVisible() or window.upscale_thread.isRunning():
            window.close()


@pytest.fixture
def window(make_window):
    return make_window()


def drop_paths(widget, paths) -> None:
    """What a file manager does: a drag entering with file URLs, then the drop."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    centre = widget.rect().center()
    with (
        warnings.catch_warnings()
    ):  # PySide marks the QPoint constructor deprecated; it is the only one
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(
            centre,
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the window refused the drag"
    drop = QDropEvent(
        QPointF(centre),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, drop)


class StandInModel(torch.nn.Module):
    """A predictable "network" for viewer tests: nearest-neighbour x`scale`, optionally inverted,
    optionally slow."""

    def __init__(self, scale: int = 2, invert: bool = False, delay: float = 0.0):
        super().__init__()
        self.scale = scale
        self.invert = invert
        self.delay = delay
        self.anchor = torch.nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(self, x):
        if self.delay:
            time.sleep(self.delay)
        y = torch.nn.functional.interpolate(
            x, scale_factor=self.scale, mode="nearest"
        ) + self.anchor.to(x.dtype)
        return 1 - y if self.invert else y


def use_stand_in(window, **kwargs) -> None:
    window.upscale_worker.load_model = lambda path: stand_in(**kwargs)


def stand_in(scale: int = 2, invert: bool = False, delay: float = 0.0) -> LoadedModel:
    """The stand-in network, tiled as a SPAN of its scale would be."""
    descriptor = describe_span({"feature_channels": 48, "upscale": scale})
    return LoadedModel(StandInModel(scale, invert, delay), descriptor)


def compare_ticked(qtbot, window, dialog, model_ids, timeout=60000) -> dict:
    """Tick `model_ids` in the Compare Models dialog, compare, wait for the end: the cells by model
    id (the comparison must have finished)."""
    from sr_studio.gui import session as events

    dialog.set_checked(model_ids)
    ended = []
    window.session.subscribe(
        lambda e: ended.append(e) if isinstance(e, events.CompareEnded) else None
    )
    dialog.compare_button.click()
    qtbot.waitUntil(lambda: bool(ended), timeout=timeout)
    assert ended[0].outcome == "done"
    return {cell.model.id if cell.model else "original": cell for cell in dialog.cells}


def wait_loaded(qtbot, item, timeout=20000) -> None:
    qtbot.waitUntil(lambda: item.photo is not None or item.status == "failed", timeout=timeout)


def queue_photo(qtbot, window, path):
    """Drop one photo on the window and wait until it is read; the queue item."""
    drop_paths(window, [path])
    item = window.queue.items[-1]
    wait_loaded(qtbot, item)
    assert item.photo is not None, item.message
    return item
