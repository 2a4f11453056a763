"""mypy over the device code against MicroPython's stubs, once per port: firmware/imprint and
ports/esp32 with micropython-esp32-stubs, firmware/imprint and ports/nrf with
micropython-nrf-stubs (mypy-micropython.ini says what is checked).

The two stub packages cannot share one environment: both install top-level machine.pyi,
hashlib.pyi, ... and pin different micropython-stdlib-stubs releases. So each is installed with
`pip install --target build/stubs/<package>-<version>` the first time this test runs (kept there
for later runs; `make clean` removes it) and given to mypy as its typeshed and MYPYPATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "mypy-micropython.ini"

# The stub release for each port: MicroPython 1.27 for esp32 (the version the boards' profiles
# are tested with); nrf stubs exist on PyPI for 1.29.0 only (built from SEEED_XIAO_NRF52, the
# same nrf52840 port), whose modules used here (machine, select, micropython, hashlib, os, sys)
# match 1.27's.
STUBS = {
    "esp32": "micropython-esp32-stubs==1.27.0.post1",
    "nrf": "micropython-nrf-stubs==1.29.0.post1",
}


def stubs(port: str) -> Path:
    """The port's stub package, installed once into build/stubs/."""
    target = ROOT / "build" / "stubs" / STUBS[port].replace("==", "-")
    if (target / "stdlib" / "VERSIONS").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                            "--no-compile", "--target", str(tmp), STUBS[port]],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            pytest.fail(f"pip could not install {STUBS[port]} (PyPI is needed once):\n{r.stderr[-2000:]}")
        try:
            tmp.rename(target)
        except OSError:  # another run got there first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def mypy(port: str, *paths: str | Path) -> subprocess.CompletedProcess:
    pytest.importorskip("mypy", reason="mypy is in the test extra: pip install -e '.[test]'")
    st = stubs(port)
    env = dict(os.environ, MYPYPATH=os.pathsep.join([str(st), str(ROOT / "firmware"), str(ROOT / "ports" / port)]))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(CONFIG), "--custom-typeshed-dir", str(st),
         "--no-site-packages", "--explicit-package-bases",
         "--cache-dir", str(ROOT / "build" / "mypy-cache" / port), *map(str, paths)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


@pytest.mark.parametrize("port", sorted(STUBS))
def test_device_code_type_checks_against_the_port_stubs(port):
    r = mypy(port, "firmware/imprint", f"ports/{port}/imprint_port.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found" in r.stdout
    checked = int(r.stdout.split(" in ")[-1].split()[0])
    assert checked == len(list((ROOT / "firmware" / "imprint").rglob("*.py"))) + 1


@pytest.mark.parametrize("port,code,error", [
    # the stubs are in force: what a port lacks, or a wrong call, is an error
    ("nrf", "import cryptolib\n", "cryptolib"),
    ("nrf", "import network\n", "network"),
    ("esp32", "import machine\nmachine.unique_id(1)\n", "unique_id"),
    ("esp32", "import hashlib\nhashlib.sha512(b'')\n", "sha512"),
    ("esp32", "import time\ntime.monotonic()\n", "monotonic"),
])
def test_the_stubs_catch_what_a_port_lacks(port, code, error, tmp_path):
    src = tmp_path / "probe.py"
    src.write_text(code)
    r = mypy(port, src)
    assert r.returncode == 1 and error in r.stdout, r.stdout + r.stderr
