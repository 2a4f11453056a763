import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The device package imports as `imprint` under CPython too, as it does on a board.
sys.path.insert(0, str(ROOT / "firmware"))
