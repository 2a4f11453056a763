"""The credential store on a virtual board survives the board dying mid-write.

A loop on the board updates the store as fast as it can and prints each update it finished;
the test cuts the board's power (VirtualBoard.power_cut: SIGKILL to its Node process, not a
reset the firmware sees coming) at random moments, lets the board boot again from the same
flash directory, and checks that the store opens to a consistent state that holds every
update the board reported done. At the end CPython reads the same flash files.

The virtual board mirrors a closed file into its flash directory by write-and-rename, so a kill
here never leaves a torn file: it lands before, between or after the slot writes. Torn files
(every byte offset, four ways) are covered by tests/device/test_store.py."""

from __future__ import annotations

import ast
import random
import time

import pytest

from imprint_host import deploy
from imprint_host.board import profiles
from imprint_host.board.serial_board import SerialBoard, connect
from imprint_host.board.virtual import VirtualBoard
from imprint_host.conformance import powerloss
from imprint import store  # firmware/ is on sys.path (tests/conftest.py)

KILLS = 6

# The board-side loop and check (each state follows from its number n, so a mix shows) are
# the conformance suite's (imprint_host.conformance.powerloss), on the credential store's dir.
LOOP = powerloss.LOOP.format(path="/imprint-store")
CHECK = powerloss.CHECK.format(path="/imprint-store")
expected = powerloss.expected


def check(port: str):
    for attempt in range(20):  # the board may still be booting
        try:
            with connect(port) as b:
                return ast.literal_eval(b.exec(CHECK).strip())
        except Exception:
            if attempt == 19:
                raise
            time.sleep(0.3)


@pytest.fixture
def board(tmp_path):
    vb = VirtualBoard(profiles.load("nrf52840-dk"), flash=tmp_path / "flash")
    vb.start()
    yield vb
    vb.stop()


def test_store_survives_the_board_killed_mid_write(board):
    deploy.deploy(board.port, port="virtual")
    rng = random.Random(20240505)
    seq, n = check(board.port)[:2]
    assert (seq, n) == (0, 0)
    acked = 0
    ran = 0
    for kill in range(KILLS):
        b = SerialBoard(board.port)
        try:
            ser = b.transport.serial
            ser.timeout = 0.05
            b.transport.exec_raw_no_follow(LOOP)
            powerloss.read_until(ser, b"start", 10)
            # the first kill falls within the first updates (first use writes both slots)
            delay = rng.uniform(0.0, 0.05) if kill == 0 else rng.uniform(0.05, 0.6)
            out = powerloss.read_for(ser, delay)
            resets = board.resets
            board.power_cut()  # SIGKILL to the board's Node process
            out += powerloss.read_for(ser, 0.1)
        finally:
            b.transport.close()  # no Ctrl-B: the board it spoke to is gone
        lines = out.decode(errors="replace").replace("\r", "").split("\n")[:-1]  # whole lines
        done = [int(ln.split()[1]) for ln in lines if ln.startswith("ok ")]
        if done:
            acked = max(acked, done[-1])
        board.wait_booted(20)
        assert board.resets == resets + 1, "the board did not boot again after the kill"
        new_seq, new_n, ok = check(board.port)
        assert ok, f"kill {kill}: the store holds a mix of states (n={new_n}, seq={new_seq})"
        assert new_n >= acked, f"kill {kill}: update {acked} was reported done but is lost (n={new_n})"
        assert new_n >= n and new_seq >= seq and new_seq >= new_n
        ran += new_n - n
        print(f"kill {kill}: {acked} reported done, the store holds n={new_n} seq={new_seq}")
        seq, n = new_seq, new_n
    assert ran >= KILLS, "the loop hardly ran: the kills did not land among updates"
    # the flash directory on the host holds the same store, and CPython reads it alike
    host = store.Store(store.DirFS(str(board.flash / "imprint-store")))
    assert host.seq == seq and dict(host.items()) == expected(n)
