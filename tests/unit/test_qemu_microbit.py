"""Smoke test on a real, tiny, old MicroPython: Debian's firmware-microbit-micropython (v1.9.2,
2017) on QEMU's emulated micro:bit (nRF51822). The probe must reach it, identify it and say
why imprint cannot run there, quickly and without hanging. Skipped where Debian's
qemu-system-arm or the firmware package is not installed (`make setup` installs both as root)."""

from __future__ import annotations

import time

import pytest

from imprint_host.board.probe import probe, supported, unsupported_message
from imprint_host.board.qemu_microbit import QemuError, QemuMicrobit, unavailable_reason

missing = unavailable_reason()
needs_qemu = pytest.mark.skipif(missing is not None, reason=f"emulated micro:bit unavailable: {missing}")


@needs_qemu
def test_microbit_is_identified_as_unsupported():
    t0 = time.monotonic()
    mb = QemuMicrobit()
    with mb:
        assert mb.port.startswith("/dev/pts/") and mb.running
        ident = probe(mb.port, timeout=20)
        reasons = supported(ident)
    assert not mb.running  # QEMU is gone once the block ends
    assert time.monotonic() - t0 < 30

    assert ident.implementation == "micropython"
    assert (1, 0) <= ident.version < (1, 23)
    assert ident.platform == "microbit"
    assert "micro:bit" in ident.machine
    assert ident.mpy is None  # sys.implementation._mpy came in later releases
    assert ident.heap_size is not None and 1_000 < ident.heap_size < 32 * 1024  # 16 KB of RAM
    assert not ident.hashlib and not ident.sha256 and not ident.urandom

    text = "\n".join(reasons)
    assert f"MicroPython {ident.version_str} is older than 1.23.0" in text
    assert f"its heap is {ident.heap_size:,} B" in text
    assert "no hashlib" in text and "os.urandom" in text
    msg = unsupported_message(ident, reasons)
    assert "unsupported: imprint cannot run on this board" in msg and "microbit" in msg


@needs_qemu
def test_qemu_that_cannot_load_its_firmware_fails_fast(tmp_path):
    bad = tmp_path / "garbage.elf"
    bad.write_bytes(b"not a firmware image")
    t0 = time.monotonic()
    with pytest.raises(QemuError, match="qemu-system-arm exited"):
        QemuMicrobit(firmware=bad, start_timeout=10).start()
    assert time.monotonic() - t0 < 10


@needs_qemu
def test_a_running_program_is_interrupted_not_waited_for():
    import serial

    with QemuMicrobit() as mb:
        # leave the board busy in an endless loop, as a deployed main.py might
        with serial.Serial(mb.port, 115200, timeout=0.2) as s:
            end = time.monotonic() + 10
            while time.monotonic() < end:  # until it has booted to its prompt
                s.write(b"\r\x03")
                if b">>> " in s.read_until(b">>> "):
                    break
            else:
                pytest.fail("the emulated micro:bit showed no >>> prompt within 10 s")
            s.reset_input_buffer()
            s.write(b"while True: pass\r\r")
            echo = s.read_until(b"... \r\n")
            assert b"while True" in echo
            assert s.read(64) == b""  # no prompt: the loop runs
        t0 = time.monotonic()
        ident = probe(mb.port, timeout=10)
        assert time.monotonic() - t0 < 10
    assert ident.platform == "microbit"


def test_conformance_refuses_the_micro_bit_clearly():
    """`imprint conformance --port <the emulated micro:bit>`: identified as unsupported, with
    the reasons, exit status 2, within seconds (no hang, no traceback)."""
    import subprocess
    import sys
    from pathlib import Path

    why = unavailable_reason()
    if why:
        pytest.skip(f"emulated micro:bit unavailable: {why}")
    with QemuMicrobit() as mb:
        t0 = time.monotonic()
        r = subprocess.run([str(Path(sys.executable).parent / "imprint"), "conformance",
                            "--port", mb.port], capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "unsupported: imprint cannot run on this board" in r.stderr
    assert "MicroPython 1.9.2 is older than 1.23.0" in r.stderr and "hashlib" in r.stderr
    assert "Traceback" not in r.stderr and took < 45
