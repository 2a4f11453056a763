"""The board is the one its profile describes: name (a virtual board says which it emulates),
MicroPython's .mpy version, unique ID length, heap budget available, the port glue's view."""

from __future__ import annotations

import ast


def test_board_matches_its_profile(board):
    prof = board.profile
    if board.reported is not None:
        assert board.reported == prof.name, (
            f"the virtual board emulates {board.reported}, the run was told {prof.name}")
    facts = ast.literal_eval(board.exec(
        "import sys, gc, machine, imprint_port\n"
        "gc.collect()\n"
        "print(repr((sys.implementation._mpy & 0xff, (sys.implementation._mpy >> 8) & 3, "
        "len(machine.unique_id()), gc.mem_free() + gc.mem_alloc(), imprint_port.name)))").strip())
    mpy, sub, uid_len, heap, glue = facts
    assert f"{mpy}.{sub}" == prof.mpy_version, (
        f".mpy {mpy}.{sub} on the board, the profile says {prof.mpy_version}")
    assert uid_len == prof.unique_id_bytes, (
        f"machine.unique_id() has {uid_len} bytes, the profile says {prof.unique_id_bytes}")
    assert heap >= prof.heap_budget, f"the heap is {heap} B, under the profile's budget {prof.heap_budget} B"
    assert glue == board.glue


def test_firmware_imports_and_reports_its_version(board):
    out = board.exec("import imprint\nprint(imprint.__version__)").strip()
    assert out and out[0].isdigit(), out
