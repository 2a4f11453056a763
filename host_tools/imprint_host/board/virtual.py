"""The virtual board: real MicroPython (webassembly port, under Node) behind a pseudo-terminal.

The pty is the board's USB serial port: pyserial, mpremote and imprint's own tools open its
path exactly as they open /dev/ttyACM0. This process keeps the board end of the pty open so
clients can come and go, and supervises the interpreter: when it ends (``machine.reset()``, a
crash) a new one boots from the same flash, as a board's reset would.

With ``baud`` set the keeper paces both directions as a UART at that rate would (8N1: ten bit
times a byte, so baud/10 bytes a second); without it bytes move as fast as the pty allows.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pty
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import NODE_MODULES, VBOARD_ROM, VBOARD_SCRIPT
from .profiles import BoardProfile

HARD_RESET_EXIT = 3
HEAP_MODES = ("measure", "strict")


class BoardError(RuntimeError):
    """The virtual board cannot start or run."""


class _Line:
    """One direction of a UART: bytes go in at once and come out at ``rate`` bytes a second,
    back to back while there are any, as from a transmit FIFO that never runs dry."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.buf = bytearray()
        self.t = 0.0  # when the first byte in buf started on the line (or the line went idle)
        self.chunk = max(1, int(rate * 0.002))  # wake-ups no closer than ~2 ms of line time

    def put(self, data: bytes, now: float) -> None:
        if not self.buf:
            self.t = max(self.t, now)
        self.buf += data

    def take(self, now: float) -> bytes:
        """The bytes whose last bit has gone out by ``now``."""
        n = min(len(self.buf), int((now - self.t) * self.rate + 1e-6))
        if n <= 0:
            return b""
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.t += n / self.rate
        return out

    def due(self) -> float | None:
        """When the next batch of bytes is out (the last byte, or ~2 ms worth)."""
        if not self.buf:
            return None
        return self.t + min(len(self.buf), self.chunk) / self.rate

    def clear(self) -> None:
        self.buf.clear()


def node_binary() -> str:
    node = shutil.which("node")
    if not node:
        raise BoardError("node is not installed: run `make setup` (or install Debian's nodejs)")
    if not (NODE_MODULES / "@micropython" / "micropython-webassembly-pyscript").is_dir():
        raise BoardError(f"MicroPython webassembly is not installed in {NODE_MODULES}: run `make setup`")
    return node


def unique_id(serial: str, length: int) -> bytes:
    """The board's ``machine.unique_id()``: the serial itself when it is hex of the profile's
    length, else the first bytes of SHA-256 over it (stable for the same serial)."""
    try:
        raw = bytes.fromhex(serial)
        if len(raw) == length:
            return raw
    except ValueError:
        pass
    return hashlib.sha256(b"imprint-virtual-board:" + serial.encode()).digest()[:length]


@dataclass
class VirtualBoard:
    profile: BoardProfile
    link: Path | None = None
    flash: Path | None = None
    serial: str | None = None
    heap_mode: str = "measure"
    log: Path | None = None
    interrupt_grace: float = 3.0  # seconds a Ctrl-C may wait before the board is hard-reset
    baud: int | None = None  # pace the console as a UART at this rate (8N1); None: no limit
    port: str = field(init=False, default="")
    resets: int = field(init=False, default=0)
    rx_bytes: int = field(init=False, default=0)  # console bytes that reached the board ...
    tx_bytes: int = field(init=False, default=0)  # ... and that it sent to the port

    def __post_init__(self) -> None:
        if self.heap_mode not in HEAP_MODES:
            raise BoardError(f"heap mode must be one of {', '.join(HEAP_MODES)}")
        if self.baud is not None and self.baud <= 0:
            raise BoardError("baud must be a positive number of bits per second")
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._proc: subprocess.Popen | None = None
        self._master = self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log_file = None
        self._booted = threading.Event()
        self._log_line = b""
        self._sent = 0  # console bytes handed to the interpreter
        self._taken = 0  # ... and taken by it (it reports "vboard: rx N")
        self._interrupt: tuple[int, float] | None = None  # (byte index of a Ctrl-C, when)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> str:
        node = node_binary()
        if self.flash is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="imprint-flash-")
            self.flash = Path(self._tmp.name)
        self.flash = Path(self.flash).resolve()
        self.flash.mkdir(parents=True, exist_ok=True)
        if self.serial is None:
            self.serial = hashlib.sha256(str(self.flash).encode()).hexdigest()[:16]
        self.uid = unique_id(self.serial, self.profile.unique_id_bytes)
        self._cmd = [
            node, str(VBOARD_SCRIPT),
            "--heap", str(self.profile.heap_budget),
            "--heap-mode", self.heap_mode,
            "--flash", str(self.flash),
            "--rom", str(VBOARD_ROM),
            "--uid", self.uid.hex(),
            "--board", self.profile.name,
        ]
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        if self.link is not None:
            self.link = Path(self.link)
            if self.link.is_symlink() or self.link.exists():
                self.link.unlink()
            self.link.symlink_to(self.port)
        self._log_file = open(self.log, "ab") if self.log else None
        self._spawn()
        self._thread = threading.Thread(target=self._pump, name=f"vboard-{self.profile.name}", daemon=True)
        self._thread.start()
        if not self._booted.wait(timeout):
            self.stop()
            raise BoardError(f"virtual board did not boot within {timeout:.0f} s")
        return str(self.link) if self.link else self.port

    def stop(self) -> None:
        self._stop.set()
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if self._thread:
            self._thread.join(5)
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()
        if self._log_file:
            self._log_file.close()
        if self._tmp:
            self._tmp.cleanup()

    def power_cut(self) -> None:
        """Kill the board's interpreter at once, as pulling its power would; the keeper
        boots a new one from the same flash (what was closed before the cut is kept)."""
        self._booted.clear()
        self._proc.kill()

    def wait_booted(self, timeout: float = 30.0) -> None:
        if not self._booted.wait(timeout):
            raise BoardError(f"the virtual board did not boot again within {timeout:.0f} s")

    def __enter__(self) -> "VirtualBoard":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def path(self) -> str:
        return str(self.link) if self.link else self.port

    # -- the interpreter and the byte pump ---------------------------------------------
    def _spawn(self) -> None:
        self._proc = subprocess.Popen(
            self._cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            bufsize=0)
        os.set_blocking(self._proc.stdout.fileno(), False)
        os.set_blocking(self._proc.stderr.fileno(), False)

    def _board_log(self, data: bytes) -> None:
        self._log_line += data
        *lines, self._log_line = self._log_line.split(b"\n")
        for line in lines:
            if line.startswith(b"vboard: rx "):
                self._taken = int(line[11:])
                continue
            if line.startswith(b"vboard: ready"):
                self._booted.set()
            if self._log_file:
                self._log_file.write(line + b"\n")
                self._log_file.flush()

    def _stuck(self) -> bool:
        """A Ctrl-C the interpreter has not taken within the grace period: running Python
        cannot be interrupted in this build, so the board is reset as a watchdog would."""
        if self._interrupt is None:
            return False
        index, since = self._interrupt
        if self._taken >= index:
            self._interrupt = None
            return False
        return time.monotonic() - since > self.interrupt_grace

    def _to_console(self, data: bytes) -> None:
        # Nobody reading the port: a UART's bytes are lost, the board does not stall.
        self.tx_bytes += len(data)
        try:
            os.write(self._master, data)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EIO):
                raise

    def _pump(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._master, selectors.EVENT_READ, "rx")
        pending = bytearray()  # console input the interpreter has not taken yet (it is busy)
        # with a baud rate: bytes on their way to the board (rx) and to the port (tx)
        rx_line = _Line(self.baud / 10) if self.baud else None
        tx_line = _Line(self.baud / 10) if self.baud else None

        def watch(proc: subprocess.Popen) -> None:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdout, selectors.EVENT_READ, "tx")
            sel.register(proc.stderr, selectors.EVENT_READ, "log")

        def want_write(on: bool) -> None:
            stdin = self._proc.stdin
            try:
                sel.get_key(stdin)
                registered = True
            except KeyError:
                registered = False
            if on and not registered:
                sel.register(stdin, selectors.EVENT_WRITE, "feed")
            elif not on and registered:
                sel.unregister(stdin)

        def arrive(data: bytes) -> None:  # console input reaches the interpreter's side
            if b"\x03" in data and self._interrupt is None:
                self._interrupt = (self._sent + len(pending) + data.index(b"\x03") + 1,
                                   time.monotonic())
            pending.extend(data)
            self.rx_bytes += len(data)
            want_write(bool(pending))

        def timeout() -> float:
            dues = [d for d in (rx_line and rx_line.due(), tx_line and tx_line.due()) if d]
            return max(0.0, min(dues) - time.monotonic()) if dues else 0.2

        watch(self._proc)
        while not self._stop.is_set():
            for key, _ in sel.select(timeout()):
                if key.data == "feed":
                    try:
                        n = os.write(key.fd, pending)
                        pending[:n] = b""
                        self._sent += n
                    except BlockingIOError:
                        pass
                    except BrokenPipeError:
                        pending.clear()
                    want_write(bool(pending))
                    continue
                try:
                    data = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                except OSError as e:  # EIO: no client has the port open at the moment
                    if e.errno == errno.EIO:
                        time.sleep(0.05)
                        continue
                    raise
                if key.data == "rx":
                    if rx_line is not None:
                        rx_line.put(data, time.monotonic())
                    else:
                        arrive(data)
                elif key.data == "tx":
                    if data and tx_line is not None:
                        tx_line.put(data, time.monotonic())
                    elif data:
                        self._to_console(data)
                elif data:
                    self._board_log(data)
            if rx_line is not None:
                now = time.monotonic()
                data = rx_line.take(now)
                if data:
                    arrive(data)
                data = tx_line.take(now)
                if data:
                    self._to_console(data)
            if self._stuck() and self._proc.poll() is None:
                self._board_log(b"vboard: Ctrl-C not taken: hard reset\n")
                self._proc.kill()
                self._proc.wait()
            if self._proc.poll() is not None and not self._stop.is_set():
                code = self._proc.returncode
                self._interrupt = None
                self._sent = self._taken = 0
                want_write(False)
                pending.clear()  # what was sent while the board was resetting is lost
                if rx_line is not None:
                    rx_line.clear()  # ... and what was still on its way to it
                for stream in (self._proc.stdout, self._proc.stderr):
                    sel.unregister(stream)
                    stream.close()
                self._proc.stdin.close()
                why = "hard reset" if code == HARD_RESET_EXIT else f"interpreter exited with {code}"
                self._board_log(f"vboard: {why}; booting again\n".encode())
                self.resets += 1
                self._booted.clear()  # wait_booted() waits for this boot
                self._spawn()
                watch(self._proc)
        sel.close()
