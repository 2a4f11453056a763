"""A BBC micro:bit (nRF51822) emulated by QEMU, running Debian's MicroPython for it.

Debian's ``qemu-system-arm`` has the ``microbit`` machine; ``firmware-microbit-micropython``
installs MicroPython 1.9.2 for the micro:bit (2017) as an Intel HEX file. QEMU's ``-kernel``
takes ELF or raw images only, so the HEX goes through the generic loader
(``-device loader,file=...``), which reads Intel HEX; an ELF or raw image goes to ``-kernel``.
The UART is a pseudo-terminal (``-serial pty``): QEMU prints "char device redirected to
/dev/pts/N", and that path is the board's serial port.

    with QemuMicrobit() as mb:
        identity = probe(mb.port)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

# Where Debian's firmware-microbit-micropython puts the firmware (`dpkg -L`, bookworm 1.0.1-4).
DEBIAN_FIRMWARE = Path("/usr/share/firmware-microbit-micropython/firmware.hex")
PTY_LINE = re.compile(r"char device redirected to (/dev/\S+)")


class QemuError(RuntimeError):
    """QEMU or the firmware is missing, or QEMU did not start."""


def qemu_binary() -> str | None:
    return shutil.which("qemu-system-arm")


def firmware_path() -> Path | None:
    return DEBIAN_FIRMWARE if DEBIAN_FIRMWARE.is_file() else None


def unavailable_reason() -> str | None:
    """Why the emulated micro:bit cannot run here, or None when it can."""
    missing = []
    if qemu_binary() is None:
        missing.append("qemu-system-arm is not installed (Debian: apt-get install qemu-system-arm)")
    if firmware_path() is None:
        missing.append(f"{DEBIAN_FIRMWARE} is missing (Debian: apt-get install firmware-microbit-micropython)")
    return "; ".join(missing) or None


class QemuMicrobit:
    """``qemu-system-arm -M microbit`` with its UART on a pty; a context manager.

    ``start()`` returns the pty path once QEMU has printed it (within ``start_timeout``);
    ``stop()`` ends QEMU with SIGTERM, then SIGKILL, each wait bounded."""

    def __init__(self, firmware: Path | str | None = None, qemu: str | None = None,
                 start_timeout: float = 10.0, stop_timeout: float = 5.0) -> None:
        self.firmware = Path(firmware) if firmware else firmware_path()
        self.qemu = qemu or qemu_binary()
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.port = ""
        self._proc: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._log: Path | None = None

    def command(self) -> list[str]:
        if self.qemu is None or self.firmware is None or not self.firmware.is_file():
            raise QemuError(unavailable_reason() or f"firmware {self.firmware} not found")
        if self.firmware.suffix.lower() == ".hex":
            load = ["-device", f"loader,file={self.firmware}"]
        else:
            load = ["-kernel", str(self.firmware)]
        # -monitor none: with -nographic the monitor would otherwise take QEMU's stdin/stdout
        return [self.qemu, "-M", "microbit", "-nographic", "-monitor", "none", "-serial", "pty", *load]

    def log_text(self) -> str:
        """What QEMU printed so far (its stdout and stderr)."""
        try:
            return self._log.read_text(errors="replace") if self._log else ""
        except OSError:
            return ""

    def start(self) -> str:
        cmd = self.command()
        self._tmp = tempfile.TemporaryDirectory(prefix="imprint-qemu-")
        self._log = Path(self._tmp.name) / "qemu.log"
        # QEMU's output goes to a file, not a pipe: nobody has to drain it while it runs.
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + self.start_timeout
        while time.monotonic() < end:
            m = PTY_LINE.search(self.log_text())
            if m and self._settled():
                self.port = m.group(1)
                return self.port
            if self._proc.poll() is not None:
                break
            time.sleep(0.05)
        code = self._proc.poll()
        text = self.log_text().strip()
        self.stop()
        why = f"exited with {code}" if code is not None else f"printed no pty within {self.start_timeout:g} s"
        raise QemuError(f"qemu-system-arm {why}: {' '.join(cmd)}\n{text}")

    def _settled(self, wait: float = 0.3) -> bool:
        """QEMU opens the pty before it loads the firmware: a firmware it cannot load ends it
        within milliseconds of the pty line, so it must still be running a moment later."""
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if self._proc.poll() is not None:
                return False
            time.sleep(0.02)
        return True

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)  # its own session: QEMU and anything it started
                except ProcessLookupError:
                    break
                try:
                    proc.wait(self.stop_timeout)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> "QemuMicrobit":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
