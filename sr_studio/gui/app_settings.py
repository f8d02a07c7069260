"""Settings kept between runs (QSettings), with typed accessors that survive stale or hand-edited
values.

`SR_STUDIO_SETTINGS_DIR` puts them in an INI file in that folder instead of the platform's place;
tests and the self-test use it so that they never read or change a user's settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from sr_studio.gui.export_plan import ExportOptions
from sr_studio.photo_formats import DEVICES, PRECISIONS

SETTINGS_DIR_ENV = "SR_STUDIO_SETTINGS_DIR"
ORGANIZATION = "SR Studio"
APPLICATION = "SR Studio"
MAX_RECENT = 10
APPEARANCES = ("system", "light", "dark")


def open_settings() -> QSettings:
    folder = os.environ.get(SETTINGS_DIR_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
    )


class AppSettings:
    def __init__(self, settings: QSettings | None = None):
        self.qsettings = settings if settings is not None else open_settings()

    def _text(self, key: str, default: str = "") -> str:
        value = self.qsettings.value(key, default)
        return str(value) if value is not None else default

    def _choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self._text(key, default)
        return value if value in choices else default

    def sync(self) -> None:
        self.qsettings.sync()

    # Run options ---------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self._text("run/model")

    @model_id.setter
    def model_id(self, value: str) -> None:
        self.qsettings.setValue("run/model", value)

    @property
    def scale(self) -> float | None:
        """None: the model's own scale."""
        try:
            value = float(self._text("run/scale", "0"))
        except ValueError:
            return None
        return value if 0 < value <= 16 else None

    @scale.setter
    def scale(self, value: float | None) -> None:
        self.qsettings.setValue("run/scale", f"{value:g}" if value else "0")

    @property
    def device(self) -> str:
        return self._choice("run/device", DEVICES, "auto")

    @device.setter
    def device(self, value: str) -> None:
        self.qsettings.setValue("run/device", value)

    @property
    def precision(self) -> str:
        """Automatic unless the user picked bf16 or fp16. The key is new: until automatic precision
        existed every window saved its fp32 default, which would otherwise stick for good."""
        if self.qsettings.contains("run/precision-choice"):
            return self._choice("run/precision-choice", PRECISIONS, "auto")
        earlier = self._text("run/precision", "fp32")
        return earlier if earlier in ("bf16", "fp16") else "auto"

    @precision.setter
    def precision(self, value: str) -> None:
        self.qsettings.setValue("run/precision-choice", value)

    @property
    def tile(self) -> int | None:
        """None: automatic."""
        try:
            value = int(self._text("run/tile", "0"))
        except ValueError:
            return None
        return value if value >= 16 else None

    @tile.setter
    def tile(self, value: int | None) -> None:
        self.qsettings.setValue("run/tile", str(value or 0))

    @property
    def cleanup_percent(self) -> int:
        """A photo model's cleanup strength, 0-100; 100 (the model as trained) when unset."""
        try:
            value = int(self._text("run/cleanup", "100"))
        except ValueError:
            return 100
        return value if 0 <= value <= 100 else 100

    @cleanup_percent.setter
    def cleanup_percent(self, value: int) -> None:
        self.qsettings.setValue("run/cleanup", str(int(value)))

    # Export --------------------------------------------------------------------------------------
    @property
    def export_options(self) -> ExportOptions:
        self.qsettings.beginGroup("export")
        values = {key: self.qsettings.value(key) for key in self.qsettings.childKeys()}
        self.qsettings.endGroup()
        return ExportOptions.from_dict(values)

    @export_options.setter
    def export_options(self, options: ExportOptions) -> None:
        self.qsettings.beginGroup("export")
        for key, value in options.to_dict().items():
            self.qsettings.setValue(key, value)
        self.qsettings.endGroup()

    # Files ---------------------------------------------------------------------------------------
    @property
    def recent_files(self) -> list[str]:
        value = self.qsettings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(item) for item in (value or []) if item][:MAX_RECENT]

    def add_recent(self, path: str | os.PathLike) -> None:
        path = os.fspath(path)
        recent = [item for item in self.recent_files if item != path]
        self.qsettings.setValue("files/recent", [path] + recent[: MAX_RECENT - 1])

    def clear_recent(self) -> None:
        self.qsettings.setValue("files/recent", [])

    @property
    def last_folder(self) -> str:
        return self._text("files/last_folder")

    @last_folder.setter
    def last_folder(self, value: str) -> None:
        self.qsettings.setValue("files/last_folder", value)

    # Window --------------------------------------------------------------------------------------
    def window_geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self.qsettings.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)

    @property
    def compare_mode(self) -> str:
        return self._text("view/compare_mode", "side_by_side")

    @compare_mode.setter
    def compare_mode(self, value: str) -> None:
        self.qsettings.setValue("view/compare_mode", value)

    @property
    def appearance(self) -> str:
        return self._choice("view/appearance", APPEARANCES, "system")

    @appearance.setter
    def appearance(self, value: str) -> None:
        self.qsettings.setValue("view/appearance", value)
