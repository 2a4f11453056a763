"""`make demo` (imprint demo): the main job on a virtual board, end to end."""

from __future__ import annotations

import subprocess
import sys


def test_demo_reports_the_board_and_provisions_it():
    r = subprocess.run([sys.executable, "-m", "imprint_host.cli", "demo", "--profile", "nrf52840-dk"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "the board's self-report:" in out and "micropython: 1.27.0" in out
    assert "imprint: 0.1.0" in out and "board: nrf52840-dk" in out
    assert "provisioned in" in out and "IDevID 2.5.4.5=IMP-" in out and "FDO GUID" in out
