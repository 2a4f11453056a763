"""Where the project's parts are, relative to this checkout."""

from pathlib import Path

HOST_DIR = Path(__file__).resolve().parent
ROOT = HOST_DIR.parents[1]
FIRMWARE_DIR = ROOT / "firmware"
BOARDS_DIR = ROOT / "boards"
PORTS_DIR = ROOT / "ports"
NODE_MODULES = ROOT / "node_modules"
VBOARD_SCRIPT = HOST_DIR / "board" / "vboard.mjs"
VBOARD_ROM = HOST_DIR / "board" / "rom"
