"""Board profiles: `boards/<name>/board.json`, data only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import BOARDS_DIR


class ProfileError(ValueError):
    """A board profile is missing or malformed."""


@dataclass(frozen=True)
class BoardProfile:
    name: str
    port: str
    mcu: str
    micropython: dict
    console: dict
    heap_budget: int
    flash_fs_size: int
    network: str
    crypto_natives: tuple[str, ...]
    unique_id_bytes: int
    secure_element: str | None
    raw: dict = field(repr=False, compare=False)

    @property
    def mpy_version(self) -> str:
        return self.micropython["mpy"]

    @property
    def lib_dir(self) -> str:
        """The library directory on the board's sys.path where deploy puts imprint."""
        return self.raw["flash"].get("lib_dir", "/lib")


REQUIRED = ("port", "mcu", "micropython", "console", "ram", "flash", "network", "crypto_natives",
            "unique_id_bytes", "secure_element")


def available() -> list[str]:
    return sorted(p.parent.name for p in BOARDS_DIR.glob("*/board.json"))


def load(name: str) -> BoardProfile:
    path = BOARDS_DIR / name / "board.json"
    if not path.is_file():
        raise ProfileError(
            f"no board profile {name!r} (looked for {path}); known boards: {', '.join(available())}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ProfileError(f"{path}: not valid JSON: {e}") from None
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ProfileError(f"{path}: missing {', '.join(missing)}")
    return BoardProfile(
        name=name,
        port=data["port"],
        mcu=data["mcu"],
        micropython=data["micropython"],
        console=data["console"],
        heap_budget=int(data["ram"]["heap_budget"]),
        flash_fs_size=int(data["flash"]["filesystem_size"]),
        network=data["network"],
        crypto_natives=tuple(data["crypto_natives"]),
        unique_id_bytes=int(data["unique_id_bytes"]),
        secure_element=data["secure_element"],
        raw=data,
    )


def profile_path(name: str) -> Path:
    return BOARDS_DIR / name / "board.json"
