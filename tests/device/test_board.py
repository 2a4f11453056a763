# The virtual board itself, and what every board must give the stack. Runs on the board
# (device runner) and under CPython (pytest), where the board-only checks are skipped.
import sys

ON_BOARD = sys.implementation.name == "micropython"


def test_urandom_is_random_and_sized():
    import os
    a = os.urandom(32)
    b = os.urandom(32)
    assert len(a) == 32 and len(b) == 32
    assert a != b
    assert len(os.urandom(0)) == 0


def test_unique_id_is_stable():
    if not ON_BOARD:
        return
    import machine
    uid = machine.unique_id()
    assert isinstance(uid, bytes)
    assert len(uid) in (6, 8)
    assert machine.unique_id() == uid


def test_missing_file_raises_enoent():
    import errno
    try:
        open("/imprint-no-such-file")
    except OSError as e:
        assert e.errno == errno.ENOENT, e.errno
    else:
        assert False, "open() of a missing file did not raise"


def test_file_round_trip_and_rename():
    import os
    data = bytes(range(256)) * 4
    name = "imprint-test.bin"
    with open(name, "wb") as f:
        f.write(data)
    os.rename(name, name + ".2")
    with open(name + ".2", "rb") as f:
        assert f.read() == data
    os.remove(name + ".2")
    try:
        os.stat(name)
    except OSError:
        pass
    else:
        assert False, "renamed file still under its old name"


def test_sha256_native():
    import hashlib
    h = hashlib.sha256(b"abc").digest()
    assert h[:4] == b"\xba\x78\x16\xbf"
    assert h[-4:] == b"\xf2\x00\x15\xad"


def test_print_line_ends():
    # Nothing to assert on the board itself: the host test checks the console bytes.
    print("line")
