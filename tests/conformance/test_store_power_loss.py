"""The credential store survives a hard reset mid-write (imprint.store on a scratch directory
of the board's flash, not its credential store): a loop on the board updates the store as fast
as it can and prints each update it finished; the board is reset without warning at random
moments (a virtual board's power is cut; a real board is held in reset on its reset line),
boots again, and the store must open to one whole state holding every update reported done."""

from __future__ import annotations

import ast
import random

import pytest

from imprint_host.board.serial_board import SerialBoard
from imprint_host.conformance import powerloss

RESETS = 3
STORE = "/conformance-store"


def check(board) -> tuple[int, int, bool]:
    board.wait_ready()
    return ast.literal_eval(board.exec(powerloss.CHECK.format(path=STORE)).strip())


@pytest.mark.requires_hard_reset
def test_store_is_old_or_new_after_a_hard_reset_mid_write(board):
    board.exec(powerloss.REMOVE.format(path=STORE))
    rng = random.Random(20240505)
    seq, n, ok = check(board)
    assert (seq, n, ok) == (0, 0, True)
    acked = ran = 0
    for cut in range(RESETS):
        b = SerialBoard(board.port)
        try:
            ser = b.transport.serial
            ser.timeout = 0.05
            b.transport.exec_raw_no_follow(powerloss.LOOP.format(path=STORE))
            powerloss.read_until(ser, b"start", 10)
            # the first reset falls within the first updates (first use writes both slots)
            out = powerloss.read_for(ser, rng.uniform(0.0, 0.05) if cut == 0 else rng.uniform(0.05, 0.5))
            board.hard_reset(ser)
            out += powerloss.read_for(ser, 0.1)
        finally:
            b.transport.close()  # no Ctrl-B: the board it spoke to is gone
        done = powerloss.finished(out)
        if done:
            acked = max(acked, done[-1])
        new_seq, new_n, ok = check(board)
        assert ok, f"reset {cut}: the store holds a mix of states (n={new_n}, seq={new_seq})"
        assert new_n >= acked, f"reset {cut}: update {acked} was reported done but is lost (n={new_n})"
        assert new_n >= n and new_seq >= seq
        ran += new_n - n
        print(f"reset {cut}: {acked} reported done, the store holds n={new_n} seq={new_seq}")
        seq, n = new_seq, new_n
    assert ran >= RESETS, "the loop hardly ran: the resets did not land among updates"
    if board.virtual is not None:  # its flash is a host directory: CPython reads the same store
        from imprint import store

        host = store.Store(store.DirFS(str(board.virtual.flash / STORE.strip("/"))))
        assert host.seq == seq and dict(host.items()) == powerloss.expected(n)
    board.exec(powerloss.REMOVE.format(path=STORE))
