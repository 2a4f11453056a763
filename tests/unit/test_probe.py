"""`probe()` identifies the MicroPython on a serial port, bounded in time, and `supported()`
judges it: against virtual boards (real MicroPython 1.27, supported), a port where nothing
answers, and a board that shows only the friendly `>>>` prompt."""

from __future__ import annotations

import ast
import os
import pty
import threading
import time
import tty
from dataclasses import replace

import pytest

from imprint_host.board import profiles
from imprint_host.board.probe import (BoardIdentity, ProbeError, probe, supported,
                                      unsupported_message)
from imprint_host.board.serial_board import connect
from imprint_host.board.virtual import VirtualBoard


@pytest.fixture(params=["nrf52840-dk", "esp32-devkitc"])
def vboard(request, tmp_path):
    vb = VirtualBoard(profiles.load(request.param), link=tmp_path / "ttyVB0", flash=tmp_path / "flash")
    vb.start()
    yield vb
    vb.stop()


def test_virtual_board_is_identified_and_supported(vboard):
    t0 = time.monotonic()
    ident = probe(vboard.path, timeout=10)
    assert time.monotonic() - t0 < 10
    assert ident.implementation == "micropython"
    assert ident.version >= (1, 27, 0)
    assert ident.mpy_version == (6, 3)
    assert ident.platform == "webassembly"
    assert ident.sha256 and ident.hashlib and ident.urandom and ident.machine_module and ident.const
    assert ident.repl == "raw"
    assert ident.heap_size is not None and ident.heap_size >= vboard.profile.heap_budget
    assert supported(ident) == []
    assert supported(ident, vboard.profile.name) == []
    msg = unsupported_message(ident, [])
    assert "MicroPython 1.27.0" in msg and "supported" in msg and "unsupported" not in msg


def test_board_is_left_usable_after_a_probe(vboard):
    probe(vboard.path)
    probe(vboard.path)  # twice: the first left it at a REPL the second reaches again
    with connect(vboard.path) as b:
        assert b.exec("print(6*7)").strip() == "42"
        # the probe cleaned up the names it made on the board
        assert b.exec("print('_h' in globals(), 'r' in globals())").strip() == "False False"


def test_silent_port_raises_within_the_timeout():
    master, slave = pty.openpty()  # a port with nothing behind it
    tty.setraw(slave)
    port = os.ttyname(slave)
    try:
        t0 = time.monotonic()
        with pytest.raises(ProbeError) as e:
            probe(port, timeout=2)
        took = time.monotonic() - t0
    finally:
        os.close(master)
        os.close(slave)
    assert f"no MicroPython REPL answered on {port} within 2 s" in str(e.value)
    assert "sent nothing" in str(e.value)
    assert took < 4


def test_missing_port_raises():
    with pytest.raises(ProbeError, match="cannot open /dev/nonexistent-imprint-port"):
        probe("/dev/nonexistent-imprint-port", timeout=2)


class FriendlyOnlyBoard:
    """A board with a friendly `>>>` REPL and no raw REPL (Ctrl-A does nothing), as some old
    or stripped-down builds: it echoes each line and runs it under CPython."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "FriendlyOnlyBoard":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)
        os.close(self.master)
        os.close(self.slave)

    def _run(self) -> None:
        os.set_blocking(self.master, False)
        line = b""
        while not self.stop.is_set():
            try:
                data = os.read(self.master, 4096)
            except (BlockingIOError, OSError):
                time.sleep(0.01)
                continue
            for c in data:
                ch = bytes([c])
                if ch == b"\x03":
                    line = b""
                    os.write(self.master, b"\r\nKeyboardInterrupt\r\n>>> ")
                elif ch in (b"\x01", b"\x02", b"\n"):
                    pass  # no raw REPL in this build
                elif ch == b"\r":
                    os.write(self.master, b"\r\n" + self._execute(line.decode()) + b">>> ")
                    line = b""
                else:
                    line += ch
                    os.write(self.master, ch)  # echo

    @staticmethod
    def _execute(line: str) -> bytes:
        if not line.strip():
            return b""
        out: list[str] = []
        ns = {"print": lambda *a: out.append(" ".join(str(x) for x in a))}
        call = ast.parse(line, mode="eval").body
        assert isinstance(call, ast.Call) and call.func.id == "exec"
        exec(ast.literal_eval(call.args[0]), ns)
        return "".join(o + "\r\n" for o in out).encode()


def test_friendly_only_repl_is_used_when_raw_repl_never_answers():
    with FriendlyOnlyBoard() as board:
        ident = probe(board.port, timeout=15)
    assert ident.repl == "friendly"
    # the script really ran (under CPython here): its answers are CPython's
    assert ident.implementation == "cpython"
    assert ident.sha256 and ident.urandom and not ident.const and not ident.machine_module
    assert ident.heap_size is None
    reasons = supported(ident)
    assert any("not MicroPython" in r for r in reasons)
    assert any("does not report its heap" in r for r in reasons)


def _identity(**kw) -> BoardIdentity:
    base = BoardIdentity(port="/dev/ttyX", implementation="micropython", version=(1, 24, 1),
                         mpy=6 | (3 << 8) | (6 << 10), platform="nrf", machine="PCA10056",
                         build="", heap_free=200_000, heap_alloc=10_000, hashlib=True, sha256=True,
                         urandom=True, machine_module=True, const=True, repl="raw")
    return replace(base, **kw)


def test_supported_names_each_shortfall():
    budget = profiles.load("nrf52840-dk").heap_budget
    assert supported(_identity()) == []
    small = supported(_identity(heap_free=budget - 20_000, heap_alloc=10_000))
    assert len(small) == 1 and f"{budget:,} B" in small[0] and "nrf52840-dk" in small[0]
    old = supported(_identity(version=(1, 22, 2), mpy=6 | (2 << 8)))
    assert len(old) == 1 and "older than 1.23.0" in old[0]
    assert "loads .mpy 7.0" in supported(_identity(version=(2, 0, 0), mpy=7))[0]
    assert "no sha256" in supported(_identity(sha256=False))[0]
    assert "no hashlib" in supported(_identity(hashlib=False, sha256=False))[0]
    assert "os.urandom" in supported(_identity(urandom=False))[0]
    assert "_mpy" in supported(_identity(mpy=None))[0]


def test_growing_heap_is_not_judged_by_its_size_so_far():
    # an ESP32 reports only the heap it has grown to yet (56 KB at boot on v1.27)
    assert supported(_identity(platform="esp32", heap_free=40_000, heap_alloc=17_000)) == []


def test_unsupported_message_lists_every_reason():
    ident = _identity(version=(1, 9, 2), mpy=None, heap_free=7_000, heap_alloc=3_000, hashlib=False,
                      sha256=False, urandom=False, platform="microbit")
    reasons = supported(ident)
    msg = unsupported_message(ident, reasons)
    assert msg.startswith("/dev/ttyX: MicroPython 1.9.2 on microbit")
    assert "unsupported: imprint cannot run on this board" in msg
    for r in reasons:
        assert f"  - {r}" in msg
    assert len(reasons) == 4  # version, heap, hashlib, urandom
