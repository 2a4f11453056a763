"""The virtual board behaves like a board on a serial port: tested through mpremote, pyserial
and imprint's own deploy, exactly as a physical board would be."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from imprint_host.board import profiles
from imprint_host.board.serial_board import connect
from imprint_host.board.virtual import VirtualBoard, unique_id

MPREMOTE = [sys.executable, "-m", "mpremote"]
IMPRINT = str(Path(sys.executable).parent / "imprint")


def mpremote(port: str, *args: str, timeout: float = 60) -> str:
    res = subprocess.run([*MPREMOTE, "connect", port, *args], capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, f"mpremote {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture
def board(tmp_path):
    vb = VirtualBoard(profiles.load("nrf52840-dk"), link=tmp_path / "ttyVB0", flash=tmp_path / "flash",
                      serial="board-under-test")
    vb.start()
    yield vb
    vb.stop()


def console(port: str, send: bytes, until: bytes, timeout: float = 10) -> bytes:
    with serial.Serial(port, 115200, timeout=0.1) as s:
        s.reset_input_buffer()
        s.write(send)
        got = b""
        end = time.monotonic() + timeout
        while until not in got and time.monotonic() < end:
            got += s.read(4096)
        return got


def test_exec_prints_42(board):
    assert mpremote(board.path, "exec", "print(6*7)").strip() == "42"


def test_eval_and_run(board, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import sys\nprint(sys.implementation.name, 1 + 1)\n")
    assert mpremote(board.path, "run", str(script)).strip() == "micropython 2"
    assert mpremote(board.path, "eval", "3 ** 4").strip() == "81"


def test_fs_cp_64k_round_trip_soft_reset_and_restart(board, tmp_path):
    data = os.urandom(64 * 1024)
    src, back = tmp_path / "blob.bin", tmp_path / "back.bin"
    src.write_bytes(data)
    mpremote(board.path, "fs", "cp", str(src), ":blob.bin")
    mpremote(board.path, "fs", "cp", ":blob.bin", str(back))
    assert back.read_bytes() == data
    # the flash is mirrored to the host directory when the file is closed
    assert (board.flash / "blob.bin").read_bytes() == data
    listing = mpremote(board.path, "fs", "ls")
    assert "65536 blob.bin" in listing
    mpremote(board.path, "soft-reset")
    assert "65536 blob.bin" in mpremote(board.path, "fs", "ls")
    assert hashlib.sha256(data).hexdigest() in mpremote(board.path, "fs", "sha256sum", ":blob.bin")
    mpremote(board.path, "fs", "rm", ":blob.bin")
    assert not (board.flash / "blob.bin").exists()

    # a new board process on the same flash directory sees what the last one wrote
    mpremote(board.path, "fs", "cp", str(src), ":kept.bin")
    flash, link = board.flash, board.link
    board.stop()
    again = VirtualBoard(profiles.load("nrf52840-dk"), link=link, flash=flash, serial="board-under-test")
    again.start()
    try:
        mpremote(again.path, "fs", "cp", ":kept.bin", str(back))
        assert back.read_bytes() == data
    finally:
        again.stop()


def test_fs_mkdir_ls_rm_tree(board, tmp_path):
    mpremote(board.path, "fs", "mkdir", ":d")
    (tmp_path / "f.txt").write_text("x")
    mpremote(board.path, "fs", "cp", str(tmp_path / "f.txt"), ":d/f.txt")
    assert "f.txt" in mpremote(board.path, "fs", "tree")
    assert mpremote(board.path, "fs", "cat", ":d/f.txt") == "x"
    mpremote(board.path, "fs", "rm", "-r", ":d")
    assert not (board.flash / "d").exists()


def test_soft_reset_reruns_boot_and_main_and_keeps_files(board, tmp_path):
    (tmp_path / "boot.py").write_text("print('boot ran')\n")
    (tmp_path / "main.py").write_text("print('main ran')\nKEPT = 1\n")
    mpremote(board.path, "fs", "cp", str(tmp_path / "boot.py"), ":boot.py")
    mpremote(board.path, "fs", "cp", str(tmp_path / "main.py"), ":main.py")
    out = console(board.path, b"\r\x03\x02\x04", b"\r\n>>> ")
    assert b"MPY: soft reboot\r\nboot ran\r\nmain ran\r\n" in out
    assert b"MicroPython v1.27.0" in out
    # main.py ran in __main__, as pyexec_file does on a board
    assert b"1\r\n>>> " in console(board.path, b"print(KEPT)\r", b"1\r\n>>> ")


def test_line_ends_are_crlf(board):
    out = console(board.path, b"\r\x03\x02print('a\\nb')\r", b"b\r\n>>> ")
    assert b"a\r\nb\r\n>>> " in out
    assert b"a\nb" not in out


def test_hard_reset_boots_a_new_interpreter(board):
    mpremote(board.path, "exec", "import builtins; builtins.MARK = 1")
    mpremote(board.path, "reset")
    deadline = time.monotonic() + 20
    while board.resets == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert board.resets == 1
    out = mpremote(board.path, "exec", "import builtins; print(hasattr(builtins, 'MARK'))")
    assert out.strip() == "False"


def test_board_api_urandom_unique_id_errno(board):
    out = mpremote(board.path, "exec", (
        "import os, machine, errno\n"
        "print(len(os.urandom(16)), os.urandom(16) != os.urandom(16))\n"
        "print(machine.unique_id().hex())\n"
        "try:\n open('/nope')\nexcept OSError as e:\n print(e.errno == errno.ENOENT)\n"))
    lines = out.split()
    assert lines[0:2] == ["16", "True"]
    assert bytes.fromhex(lines[2]) == unique_id("board-under-test", 8) == board.uid
    assert lines[3] == "True"


def test_unique_id_default_is_stable_per_flash_dir(tmp_path):
    prof = profiles.load("esp32-devkitc")
    ids = []
    for _ in range(2):
        with VirtualBoard(prof, flash=tmp_path / "f") as vb:
            ids.append(mpremote(vb.path, "exec", "import machine; print(machine.unique_id().hex())").strip())
    with VirtualBoard(prof, flash=tmp_path / "g") as vb:
        other = mpremote(vb.path, "exec", "import machine; print(machine.unique_id().hex())").strip()
    assert ids[0] == ids[1] and len(bytes.fromhex(ids[0])) == prof.unique_id_bytes
    assert other != ids[0]


def test_strict_heap_budget_raises_memory_error(tmp_path):
    prof = profiles.load("nrf52840-dk")
    with VirtualBoard(prof, heap_mode="strict") as vb:
        out = mpremote(vb.path, "exec", (
            "import gc\n"
            "held = []\n"
            "try:\n"
            "    while True:\n"
            "        held.append(bytearray(1024))\n"
            "except MemoryError:\n"
            "    n = len(held)\n"
            "    held = None\n"
            "    print('MemoryError', n)\n"))
    word, kib = out.split()
    assert word == "MemoryError"
    # the cap is the profile's budget: nearly all of it is usable, never more
    assert 0.8 * prof.heap_budget <= int(kib) * 1024 <= prof.heap_budget


def test_measure_mode_flags_a_test_over_budget(tmp_path):
    """In the default mode the heap grows; the device test runner reads the live heap after
    every test and fails the one that keeps more than the budget, naming it."""
    from imprint_host.board import devtest
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "_runner.py").write_bytes((Path(devtest.__file__).parents[3] / "tests/device/_runner.py").read_bytes())
    (tests / "test_big.py").write_text(
        "KEEP = []\n"
        "def test_keeps_too_much():\n"
        "    KEEP.append(bytearray(200 * 1024))\n"
        "def test_small():\n"
        "    assert bytearray(1024)\n")
    prof = profiles.load("nrf52840-dk")
    with VirtualBoard(prof) as vb, connect(vb.path) as b:
        report = devtest.run(b, tests, prof.heap_budget, prof.name)
    by_name = {r.name: r for r in report.results}
    big = by_name["test_keeps_too_much"]
    assert not big.passed
    assert "HEAP BUDGET EXCEEDED" in big.detail and str(prof.heap_budget) in big.detail
    assert big.live_after > prof.heap_budget
    assert report.summary() == "0 passed, 2 failed"  # what stays live fails the next test too


def test_two_boards_side_by_side(tmp_path):
    a = VirtualBoard(profiles.load("esp32-devkitc"), link=tmp_path / "a", serial="aa")
    b = VirtualBoard(profiles.load("nrf52840-dk"), link=tmp_path / "b", serial="bb")
    with a, b:
        assert a.port != b.port
        ra = mpremote(a.path, "exec", "import _vboard, machine; print(_vboard.board(), machine.unique_id().hex())")
        rb = mpremote(b.path, "exec", "import _vboard, machine; print(_vboard.board(), machine.unique_id().hex())")
    assert ra.split() == ["esp32-devkitc", unique_id("aa", 6).hex()]
    assert rb.split() == ["nrf52840-dk", unique_id("bb", 8).hex()]


def test_deploy_mpy_then_import(board):
    res = subprocess.run([IMPRINT, "deploy", "--port", board.path], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "SHA-256 verified" in res.stdout
    listing = mpremote(board.path, "fs", "ls", ":/lib/imprint")
    assert "__init__.mpy" in listing and ".py\n" not in listing
    version = mpremote(board.path, "exec", "import imprint; print(imprint.__version__)").strip()
    import imprint
    assert version == imprint.__version__
    assert mpremote(board.path, "exec", "import imprint; print(imprint.__file__)").strip() \
        == "/lib/imprint/__init__.mpy"


def test_deploy_source_replaces_mpy(board):
    for args in ([], ["--source"]):
        res = subprocess.run([IMPRINT, "deploy", "--port", board.path, *args], capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == 0, res.stderr
    listing = mpremote(board.path, "fs", "ls", ":/lib/imprint")
    assert "__init__.py" in listing and ".mpy" not in listing


def test_cli_board_virtual_runs_until_sigterm(tmp_path):
    link = tmp_path / "ttyV"
    proc = subprocess.Popen([IMPRINT, "board", "virtual", "--profile", "nrf52840-dk", "--link", str(link),
                             "--flash", str(tmp_path / "fl")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith(str(link)) and "/dev/pts/" in first
        assert mpremote(str(link), "exec", "print(6*7)").strip() == "42"
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0
    assert not link.exists()


def test_ctrl_c_on_a_busy_board_resets_it(board):
    """This build cannot interrupt running Python: a Ctrl-C it has not taken within the grace
    period hard-resets the board, so a stuck program never wedges a CI run."""
    with serial.Serial(board.path, 115200, timeout=0.1) as s:
        s.write(b"\r\x03\x02")
        time.sleep(0.3)
        s.write(b"while True:\r    pass\r\r")
        time.sleep(0.5)
        s.write(b"\x03")
        deadline = time.monotonic() + 20
        while board.resets == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert board.resets == 1
    assert mpremote(board.path, "exec", "print(6*7)").strip() == "42"


def test_baud_limit_paces_both_directions(tmp_path):
    """With baud=N the console moves N/10 bytes a second each way (8N1), as a UART would:
    11,520 bytes at 115,200 baud take a second, to the board and from it; without the limit
    the same transfers are many times faster."""
    sent = "s = '" + "y" * 11500 + "'\nprint(len(s))"  # 11,520 bytes of code to the board
    assert len(sent) == 11520

    def transfers(baud: int | None) -> tuple[float, float]:
        with VirtualBoard(profiles.load("nrf52840-dk"), baud=baud) as vb, connect(vb.path) as b:
            assert b.exec("print(6*7)").strip() == "42"
            t0 = time.monotonic()
            assert b.exec("import sys; sys.stdout.write('x' * 11520)") == "x" * 11520
            t1 = time.monotonic()
            assert b.exec(sent).strip() == "11500"
            return t1 - t0, time.monotonic() - t1

    out, into = transfers(115200)
    assert 1.0 <= out < 1.5, out
    assert 1.0 <= into < 1.5, into
    fast_out, fast_in = transfers(None)
    assert fast_out < 0.5 and fast_in < 0.5, (fast_out, fast_in)
