"""`imprint deploy`: the board's MicroPython and .mpy checked before anything is written,
`--tool ampy`, `--report`, the mip package, and the failure paths.

The failure paths run against a real MicroPython (the virtual board) with the fault injected
at the serial boundary: a pty in front of the board's pty passes the bytes both ways and
rewrites or drops what a faulty board or line would. mpremote, ampy and the deploy code run
unchanged; only the fault is synthetic. A scripted fake raw REPL would test our reading of the
protocol instead of the protocol as MicroPython speaks it.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import pty
import re
import selectors
import subprocess
import sys
import threading
import tty
from pathlib import Path

import pytest

from imprint_host import deploy
from imprint_host.board import profiles
from imprint_host.board.virtual import VirtualBoard
from imprint_host.paths import FIRMWARE_DIR, ROOT

IMPRINT = str(Path(sys.executable).parent / "imprint")
MPREMOTE = [sys.executable, "-m", "mpremote"]
NRF = profiles.load("nrf52840-dk")


def run_imprint(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([IMPRINT, *args], capture_output=True, text=True, timeout=timeout)


def mpremote(port: str, *args: str) -> str:
    res = subprocess.run([*MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"mpremote {' '.join(args)}:\n{res.stdout}\n{res.stderr}"
    return res.stdout


def board_sha256(port: str, path: str) -> str | None:
    """The SHA-256 of a file on the board, read with mpremote (None: no such file)."""
    out = mpremote(port, "exec", f"import hashlib\ntry:\n f = open({path!r}, 'rb')\nexcept OSError:\n"
                   " print(None)\nelse:\n print(hashlib.sha256(f.read()).digest().hex())")
    out = out.strip()
    return None if out == "None" else out


@pytest.fixture
def board(tmp_path):
    vb = VirtualBoard(NRF, flash=tmp_path / "flash", serial="deploy-tools")
    vb.start()
    yield vb
    vb.stop()


# -- the board's MicroPython and .mpy ----------------------------------------------------

def test_mpy_abi_decodes_sys_implementation_mpy():
    assert deploy.MpyAbi.decode(774) == deploy.MpyAbi(6, 3, None)  # 1.27, no native emitter
    assert deploy.MpyAbi.decode(6 | 3 << 8 | 7 << 10) == deploy.MpyAbi(6, 3, "armv7emsp")
    assert deploy.MpyAbi.decode(6 | 3 << 8 | 10 << 10) == deploy.MpyAbi(6, 3, "xtensawin")
    assert deploy.MpyAbi.decode(5 | 7 << 10) == deploy.MpyAbi(5, 0, "armv7emsp")
    assert deploy.MpyAbi.parse("6.3") == deploy.MpyAbi(6, 3)
    # what mpy-cross 1.27 says it emits, and what its .mpy header carries
    assert deploy.mpy_cross_abi() == deploy.MpyAbi(6, 3)


def info(mpy: int | None, version: tuple[int, int, int]) -> deploy.BoardInfo:
    return deploy.BoardInfo(version, deploy.MpyAbi.decode(mpy) if mpy else None)


def test_a_board_older_than_the_profile_is_refused_even_for_sources():
    for mpy in (True, False):
        with pytest.raises(deploy.DeployError) as e:
            deploy.check_board(info(774, (1, 22, 2)), mpy=mpy, profile=NRF)
        assert "1.22.2" in str(e.value) and "1.23.0" in str(e.value) and "imprint flash" in str(e.value)


def test_an_mpy_version_the_build_does_not_emit_is_refused_unless_sources():
    future = info(7, (1, 30, 0))
    with pytest.raises(deploy.DeployError) as e:
        deploy.check_board(future, mpy=True, profile=NRF)
    msg = str(e.value)
    assert "1.30.0" in msg and "v7.0" in msg and "v6.3" in msg and "--source" in msg and "imprint flash" in msg
    assert deploy.check_board(future, mpy=False, profile=NRF) == []
    with pytest.raises(deploy.DeployError, match="cannot import .mpy"):
        deploy.check_board(info(None, (1, 27, 0)), mpy=True, profile=NRF)


def test_the_native_arch_must_be_the_profiles_except_on_a_virtual_board():
    esp32 = info(6 | 3 << 8 | 10 << 10, (1, 27, 0))
    with pytest.raises(deploy.DeployError, match="not a nrf52840-dk"):
        deploy.check_board(esp32, mpy=True, profile=NRF)
    assert deploy.check_board(esp32, mpy=True, profile=profiles.load("esp32-devkitc")) == []
    assert deploy.check_board(esp32, mpy=True, profile=NRF, virtual=True) == []
    # a build without a native emitter says no arch: nothing to compare
    assert deploy.check_board(info(774, (1, 27, 0)), mpy=True, profile=NRF) == []


def test_a_sub_version_difference_is_noted_not_refused():
    notes = deploy.check_board(info(6 | 1 << 8, (1, 23, 0)), mpy=True, profile=NRF)
    assert any("bytecode-only" in n for n in notes) and any("update the profile" in n for n in notes)


# -- the mip package ---------------------------------------------------------------------

def test_committed_package_json_is_the_generated_one():
    committed = (FIRMWARE_DIR / "package.json").read_text()
    assert committed == deploy.mip_package_json(), \
        "firmware/package.json is stale: run python -m imprint_host.deploy package-json"
    pkg = json.loads(committed)
    sources = sorted(p.relative_to(FIRMWARE_DIR).as_posix() for p in (FIRMWARE_DIR / "imprint").rglob("*.py"))
    assert [u[1] for u in pkg["urls"]] == sources
    assert all(dest == src and dest.startswith("imprint/") for dest, src in pkg["urls"])
    sys.path.insert(0, str(FIRMWARE_DIR))
    import imprint
    assert pkg["version"] == imprint.__version__


@pytest.fixture
def http_repo():
    """The repository served over HTTP on 127.0.0.1, as raw.githubusercontent.com would."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(ROOT))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_mpremote_mip_install_puts_the_firmware_in_lib(board, http_repo):
    # mpremote's mip downloads on the host and writes over the serial port, so the board needs
    # no network: the same path as `mip install github:OWNER/REPO/firmware/package.json`,
    # relative URLs included, with the host fetching from 127.0.0.1
    out = mpremote(board.path, "mip", "install", f"{http_repo}/firmware/package.json")
    assert "Done" in out
    pkg = json.loads((FIRMWARE_DIR / "package.json").read_text())
    for dest, src in pkg["urls"]:
        want = hashlib.sha256((FIRMWARE_DIR / src).read_bytes()).hexdigest()
        assert board_sha256(board.path, f"/lib/{dest}") == want, dest
    got = mpremote(board.path, "exec", "import imprint, imprint.cbor\nprint(imprint.__version__, imprint.__file__)")
    assert got.split() == [pkg["version"], "/lib/imprint/__init__.py"]


# -- --tool ampy and --report on a virtual board -------------------------------------------

def test_deploy_with_ampy_then_import(board, tmp_path):
    res = run_imprint("deploy", "--port", board.path, "--tool", "ampy", "--quiet")
    assert res.returncode == 0, res.stderr
    assert "with ampy" in res.stdout and "all SHA-256 verified" in res.stdout
    assert "board: MicroPython 1.27.0, .mpy v6.3" in res.stdout
    files = deploy.plan(tmp_path / "build", source=False, port="virtual")
    for f in files:
        assert board_sha256(board.path, f.remote) == f.sha256, f.remote
    got = mpremote(board.path, "exec", "import imprint, imprint.cbor\nprint(imprint.__file__)").strip()
    assert got == "/lib/imprint/__init__.mpy"


ROW = re.compile(r"^\| `(?P<mod>[\w.]+)` \| (?P<py>[\d,]+) \| (?P<mpy>[\d,]+) \| (?P<live>[\d,]+) \| "
                 r"\+(?P<cost>[\d,]+) \| (?P<free>-?[\d,]+)", re.M)


def num(s: str) -> int:
    return int(s.replace(",", ""))


def test_deploy_report_on_a_virtual_board(board, tmp_path):
    res = run_imprint("deploy", "--port", board.path, "--report", "--quiet")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "footprint on nrf52840-dk (MicroPython 1.27.0, .mpy, heap budget 131,072 B" in out
    base = num(re.search(r"\| \(freshly reset board\) \| \| \| ([\d,]+) \|", out)[1])
    rows = {m["mod"]: m for m in ROW.finditer(out)}
    files = deploy.plan(tmp_path, source=False, port="virtual")
    assert set(rows) == {deploy._module_name(f.remote) for f in files}
    for f in files:
        r = rows[deploy._module_name(f.remote)]
        assert num(r["mpy"]) == f.local.stat().st_size and num(r["py"]) == f.source.stat().st_size
        assert num(r["live"]) > base and num(r["cost"]) == num(r["live"]) - base
        assert num(r["free"]) == NRF.heap_budget - num(r["live"])  # budget less live heap (virtual)
    total = re.search(r"\| \*\*whole stack\*\* \| \*\*([\d,]+)\*\* \| \*\*([\d,]+)\*\* \| \*\*([\d,]+)\*\*", out)
    assert num(total[1]) == sum(f.source.stat().st_size for f in files)
    assert num(total[2]) == sum(f.local.stat().st_size for f in files)
    # everything imported at once keeps at least what the biggest single import keeps
    assert num(total[3]) >= max(num(r["live"]) for r in rows.values())
    # the stack is still deployed and importable after the measurement's soft resets
    assert mpremote(board.path, "exec", "import imprint; print(imprint.__file__)").strip() == "/lib/imprint/__init__.mpy"


# -- faults at the serial boundary -------------------------------------------------------

class _Rewrite:
    """Replace ``old`` by ``new`` in a byte stream that arrives in pieces; a tail that could
    be the start of ``old`` is held back until more arrives (or flush())."""

    def __init__(self, old: bytes, new: bytes, once: bool) -> None:
        assert len(old) == len(new)  # raw-paste counts bytes: keep them
        self.old, self.new, self.once, self.buf, self.hits = old, new, once, b"", 0

    def feed(self, data: bytes) -> bytes:
        if self.once and self.hits:
            return data
        self.buf += data
        out = b""
        while (i := self.buf.find(self.old)) >= 0 and not (self.once and self.hits):
            out += self.buf[:i] + self.new
            self.buf = self.buf[i + len(self.old):]
            self.hits += 1
        keep = next((k for k in range(min(len(self.old) - 1, len(self.buf)), 0, -1)
                     if self.old.startswith(self.buf[-k:])), 0)
        out += self.buf[:len(self.buf) - keep]
        self.buf = self.buf[len(self.buf) - keep:]
        return out

    def flush(self) -> bytes:
        out, self.buf = self.buf, b""
        return out


class FaultyLine:
    """A pty in front of a board's port. Bytes pass both ways; ``to_board``/``from_board``
    rewrite them, and once ``silent_after`` has gone to the board nothing passes any more."""

    def __init__(self, board_path: str, *, to_board: _Rewrite | None = None,
                 from_board: _Rewrite | None = None, silent_after: bytes | None = None) -> None:
        self.to_board, self.from_board, self.silent_after = to_board, from_board, silent_after
        self.silent = False
        self._seen = b""
        self.board_fd = os.open(board_path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.board_fd)
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pass(self, data: bytes, rewrite: _Rewrite | None, fd: int, to_board: bool) -> None:
        if to_board and self.silent_after and not self.silent:
            self._seen = (self._seen + data)[-4096:]
            self.silent = self.silent_after in self._seen
        if self.silent:
            return
        if rewrite:
            data = rewrite.feed(data)
        if data:
            os.write(fd, data)

    def _pump(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.master, selectors.EVENT_READ, True)
        sel.register(self.board_fd, selectors.EVENT_READ, False)
        while not self._stop.is_set():
            events = sel.select(0.02)
            for key, _ in events:
                try:
                    data = os.read(key.fd, 65536)
                except OSError:
                    continue
                if key.data:
                    self._pass(data, self.to_board, self.board_fd, True)
                else:
                    self._pass(data, self.from_board, self.master, False)
            if not events and not self.silent:  # quiet line: let held-back bytes go
                for rw, fd in ((self.to_board, self.board_fd), (self.from_board, self.master)):
                    if rw and (held := rw.flush()):
                        os.write(fd, held)
        sel.close()

    def __enter__(self) -> "FaultyLine":
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for fd in (self.master, self.slave, self.board_fd):
            os.close(fd)


# what MicroPython 1.27 on the virtual board answers to deploy's query ...
ANSWER_1_27 = b"(774, (1, 27, 0))"


def test_the_line_itself_is_transparent(board):
    with FaultyLine(board.path) as line:
        res = run_imprint("deploy", "--port", line.path, "--quiet")
    assert res.returncode == 0, res.stderr
    assert "board: MicroPython 1.27.0, .mpy v6.3" in res.stdout


def test_an_old_micropython_is_refused_before_anything_is_written(board):
    # ... and what a MicroPython 1.19.1 board (.mpy v5) answers instead
    with FaultyLine(board.path, from_board=_Rewrite(ANSWER_1_27, b"(5, (1, 19, 1))  ", once=False)) as line:
        res = run_imprint("deploy", "--port", line.path)
    assert res.returncode == 2
    assert "MicroPython 1.19.1" in res.stderr and "needs 1.23.0 or later" in res.stderr
    assert "imprint flash" in res.stderr
    assert board_sha256(board.path, "/lib/imprint/__init__.mpy") is None
    assert board_sha256(board.path, "/lib/imprint/__init__.py") is None


def test_a_board_with_another_mpy_version_takes_sources_only(board):
    # a future MicroPython 1.30 importing .mpy v7: .mpy refused, --source deployed and reported
    future = _Rewrite(ANSWER_1_27, b"(7, (1, 30, 0))  ", once=False)
    with FaultyLine(board.path, from_board=future) as line:
        refused = run_imprint("deploy", "--port", line.path)
    assert refused.returncode == 2
    assert ".mpy v7.0" in refused.stderr and "needs .mpy v6.3" in refused.stderr and "--source" in refused.stderr
    future = _Rewrite(ANSWER_1_27, b"(7, (1, 30, 0))  ", once=False)
    with FaultyLine(board.path, from_board=future) as line:
        res = run_imprint("deploy", "--port", line.path, "--source")
    assert res.returncode == 0, res.stderr
    assert "as sources" in res.stdout and "board: MicroPython 1.30.0, .mpy v7.0" in res.stdout
    want = hashlib.sha256((FIRMWARE_DIR / "imprint" / "__init__.py").read_bytes()).hexdigest()
    assert board_sha256(board.path, "/lib/imprint/__init__.py") == want


# the first 32-byte write of an .mpy, as mpremote (w(...)) and ampy (f.write(...)) send it
MPY_WRITE = rb"(b'M\x06\x00"


@pytest.mark.parametrize("tool", ["mpremote", "ampy"])
def test_a_write_corrupted_on_the_line_is_caught_by_the_sha256_check(board, tool):
    # one byte of the first .mpy is changed on its way: the board really stores it
    with FaultyLine(board.path, to_board=_Rewrite(MPY_WRITE, rb"(b'N\x06\x00", once=True)) as line:
        res = run_imprint("deploy", "--port", line.path, "--tool", tool, "--quiet")
    assert line.to_board.hits == 1
    assert res.returncode == 2
    first = deploy.plan(Path(board.flash).parent / "build", source=False, port="virtual")[0]
    assert first.remote == "/lib/imprint/__init__.mpy"
    assert f"{first.remote}: SHA-256 on the board is" in res.stderr and "deploy again" in res.stderr
    stored = board_sha256(board.path, first.remote)
    corrupted = bytearray(first.local.read_bytes())
    corrupted[0] = ord("N")
    assert stored == hashlib.sha256(corrupted).hexdigest()  # the check read what the board holds


def test_a_board_that_stops_answering_mid_copy_fails_with_what_to_do(board):
    with FaultyLine(board.path, silent_after=b"open('/lib/imprint/cbor.mpy'") as line:
        res = run_imprint("deploy", "--port", line.path, timeout=120)
    assert line.silent
    assert res.returncode == 2
    assert "stopped answering during the deployment" in res.stderr and "deploy again" in res.stderr
    # the board is left mid-request, as a real one would be: reset it as the message says;
    # what went before the silence arrived intact
    board.power_cut()
    board.wait_booted()
    files = deploy.plan(Path(board.flash).parent / "build", source=False, port="virtual")
    before = [f for f in files if f.remote < "/lib/imprint/cbor.mpy"]
    assert before and all(board_sha256(board.path, f.remote) == f.sha256 for f in before)


def test_the_nrf_port_deploys_under_flash_lib(tmp_path):
    """The nrf port's filesystem is /flash (with /flash/lib on sys.path): deploy writes there;
    other profiles, and a virtual board whatever it emulates, use /lib."""
    from imprint_host.board import profiles
    assert profiles.load("nrf52840-dk").lib_dir == "/flash/lib"
    assert profiles.load("esp32-devkitc").lib_dir == "/lib"
    files = deploy.plan(tmp_path, source=True, port="nrf", lib="/flash/lib")
    remotes = {f.remote for f in files}
    assert "/flash/lib/imprint/cbor.py" in remotes and "/flash/lib/imprint_port.py" in remotes
    assert all(r.startswith("/flash/lib/") for r in remotes)
    assert {deploy._module_name(r) for r in remotes} >= {"imprint.cbor", "imprint_port",
                                                          "imprint.methods.fdo_to2"}
