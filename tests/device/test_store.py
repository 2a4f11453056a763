# The credential store: power cut at every byte of every write (a simulated flash whose write
# stops after k bytes, leaving a prefix, a prefix + 0xFF as erased NOR flash reads, a prefix +
# garbage, or a prefix over the file's old bytes), bit flips, damaged slots, first use, size
# limit, and DirFS on the board's own flash. Runs on the board and on CPython.
import hashlib
import os

from imprint import cbor, store
from vectors import MICROPYTHON, raises

PREFIX, ERASED, JUNK, INPLACE = 0, 1, 2, 3
MODES = (PREFIX, ERASED, JUNK, INPLACE)


class PowerCut(Exception):
    pass


def _junk(k, n):
    out = b""
    seed = bytes((k & 255, k >> 8))
    while len(out) < n:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return out[:n]


class SimFlash:
    # The store's fs on a dict. cut = (write number, k, mode): that write stops after k bytes
    # (what the file then holds depends on mode) and the power goes (PowerCut).
    def __init__(self, files=None):
        self.files = dict(files) if files else {}
        self.log = []  # (name, size) of every write
        self.cut = None
        self.fail = False

    def read(self, name):
        return self.files.get(name)

    def write(self, name, parts):
        # the file is the concatenation of parts (the store writes a slot piece by piece)
        if self.fail:
            raise OSError(28)
        data = b"".join(parts)
        cut = self.cut
        if cut is None or cut[0] != len(self.log):
            self.log.append((name, len(data)))
            self.files[name] = data
            return
        self.log.append((name, len(data)))
        k, mode = cut[1], cut[2]
        old = self.files.get(name) or b""
        torn = data[:k]
        if mode == ERASED:
            torn += b"\xff" * (len(data) - k)
        elif mode == JUNK:
            torn += _junk(k, len(data) - k)
        elif mode == INPLACE:
            torn += old[k:]
        self.files[name] = torn
        raise PowerCut()


def _slot(obj):
    # a slot file as the contract defines it: CBOR [seq, state] || SHA-256(CBOR)[:4]
    enc = cbor.dumps(obj)
    return enc + hashlib.sha256(enc).digest()[:4]


def _flip(b, bit):
    b = bytearray(b)
    b[bit >> 3] ^= 1 << (bit & 7)
    return bytes(b)


def _updates(big):
    # A provisioning-like run: first use, growth, a change, a shrink, a delete.
    cert = bytes(range(256)) * (2 if big else 0) + b"cert-leaf"
    ups = [
        {"lifecycle": "manufactured", "serial": "SN0001"},
        {"idevid_key": bytes(range(32))},
        {"idevid_chain": [cert, b"issuing-ca" * (50 if big else 1)], "lifecycle": "provisioned"},
        {"fdo_cred": [101, True, b"\x01" * 16, "mfg", [-1, b"h"]]},
        {"idevid_chain": [b"short"], "idevid_key": None},
        {"lifecycle": "locked"},
    ]
    return ups if big else ups[:1] + ups[2:5]


def _run_sweep(ups, modes):
    fs = SimFlash()
    s = store.Store(fs)
    cases = 0
    for u in ups:
        files = dict(fs.files)
        before = s.items()
        seq0 = s.seq
        first = len(fs.log)
        s.update(u)
        after = s.items()
        writes = fs.log[first:]
        assert len(writes) == (2 if seq0 == 0 else 1)
        for w in range(len(writes)):
            size = writes[w][1]
            for k in range(size + 1):
                for mode in modes:
                    sim = SimFlash(files)
                    sim.cut = (w, k, mode)
                    try:
                        store.Store(sim).update(u)
                        assert False, "the cut did not happen"
                    except PowerCut:
                        pass
                    r = store.Store(sim)
                    got = r.items()
                    assert got == before or got == after, (w, k, mode)
                    if w or (k == size and mode != INPLACE):
                        assert got == after, (w, k, mode)  # complete, or committed in a.cbor
                    elif k < size:
                        assert got == before and r.seq == seq0, (w, k, mode)
                    assert r.seq > seq0 if got == after and got != before else r.seq == seq0
                    # the store goes on working after the cut
                    r.update({"after": k})
                    again = store.Store(sim)
                    assert again.seq == r.seq and again.items() == r.items()
                    assert again.get("after") == k
                    cases += 1
    return cases


def test_power_cut_at_every_byte_of_every_write():
    if MICROPYTHON:
        # small states, every offset, all four tear modes
        n = _run_sweep(_updates(False), MODES)
        assert n > 1000
    else:
        n = _run_sweep(_updates(True), MODES)  # a leaf and an issuing CA of ~500 B
        assert n > 10000


def test_first_use_and_a_first_write_cut_short_are_empty():
    fs = SimFlash()
    s = store.Store(fs)
    assert s.seq == 0 and s.names() == [] and s.items() == []
    assert s.get("serial") is None and s.get("serial", "x") == "x"
    for torn in (b"", b"\x82", b"\xff" * 40, _slot([1, {"a": 1}])[:-1]):
        s = store.Store(SimFlash({"a.cbor": torn}))  # b.cbor never written: nothing held
        assert s.seq == 0 and s.items() == []
    fs = SimFlash({"a.cbor": b"\xff" * 40})
    s = store.Store(fs)
    s.update({"serial": "SN1"})
    assert [n for n, _ in fs.log] == ["a.cbor", "b.cbor"]
    assert s.seq == 2 and store.Store(fs).items() == [("serial", "SN1")]


def test_update_get_delete_reopen_and_slot_order():
    fs = SimFlash()
    s = store.Store(fs)
    value = {"b": b"\x00\xff", "s": "caf\u00e9", "i": -(2 ** 70), "l": [1, [2, None], False],
             "d": {"k": 1, 2: b"v"}, "t": True, "n": 2 ** 64 - 1}
    s.update(value)
    assert s.seq == 2
    s.update({"lifecycle": "manufactured", "t": None})
    s.update({"lifecycle": "provisioned"})
    assert s.seq == 4
    assert [n for n, _ in fs.log] == ["a.cbor", "b.cbor", "a.cbor", "b.cbor"]
    r = store.Store(fs)
    assert r.seq == 4
    assert r.names() == ["b", "d", "i", "l", "lifecycle", "n", "s"]
    for k in ("b", "s", "i", "l", "d", "n"):
        assert r.get(k) == value[k]
    assert r.get("lifecycle") == "provisioned" and r.get("t") is None
    assert r.items() == s.items()
    # what the store already holds is not written again; deleting a missing name neither
    r.update({"lifecycle": "provisioned", "t": None, "l": [1, [2, None], False]})
    assert r.seq == 4 and len(fs.log) == 4
    # ... but a value that encodes differently is (True is not 1)
    r.update({"n": 2 ** 64 - 1, "i": -(2 ** 70), "l": [True, [2, None], False]})
    assert r.seq == 5 and [n for n, _ in fs.log][-1] == "a.cbor"
    # deleting everything leaves an empty state that is still a state
    r.update(dict((k, None) for k in r.names()))
    again = store.Store(fs)
    assert again.items() == [] and again.seq == 6


def _three_updates():
    fs = SimFlash()
    s = store.Store(fs)
    s.update({"serial": "SN7", "k": b"\x11" * 8})   # a: 1, b: 2
    s.update({"lifecycle": "provisioned"})          # a: 3
    prev = s.items()
    s.update({"lifecycle": "locked"})               # b: 4
    return fs, prev, s.items()


def test_bit_flips_in_a_slot():
    fs, prev, cur = _three_updates()
    a, b = fs.files["a.cbor"], fs.files["b.cbor"]
    for bit in range(len(b) * 8):
        r = store.Store(SimFlash({"a.cbor": a, "b.cbor": _flip(b, bit)}))
        assert r.seq == 3 and r.items() == prev, bit  # the newer slot damaged: the older one
    for bit in range(len(a) * 8):
        r = store.Store(SimFlash({"a.cbor": _flip(a, bit), "b.cbor": b}))
        assert r.seq == 4 and r.items() == cur, bit
    # only one slot ever written after first use: each still holds the state
    fs = SimFlash()
    store.Store(fs).update({"serial": "SN8"})
    a, b = fs.files["a.cbor"], fs.files["b.cbor"]
    assert store.Store(SimFlash({"a.cbor": _flip(a, 20), "b.cbor": b})).get("serial") == "SN8"
    assert store.Store(SimFlash({"a.cbor": a, "b.cbor": _flip(b, 20)})).get("serial") == "SN8"


def _damaged(files):
    try:
        store.Store(SimFlash(files))
    except store.StoreError as e:
        msg = str(e)
        assert "erase" in msg and "provision" in msg, msg
        return True
    return False


def test_both_slots_damaged_is_an_error_once_the_store_held_a_state():
    fs, prev, cur = _three_updates()
    a, b = fs.files["a.cbor"], fs.files["b.cbor"]
    assert _damaged({"a.cbor": _flip(a, 9), "b.cbor": _flip(b, 100)})
    assert _damaged({"a.cbor": a[:-1], "b.cbor": b""})
    assert _damaged({"b.cbor": b"\xff" * len(b)})     # a.cbor gone, b.cbor erased
    assert _damaged({"a.cbor": b"junk", "b.cbor": b[:10]})
    assert issubclass(store.StoreError, ValueError)
    # nothing was ever committed: empty, not an error
    assert not _damaged({})
    assert not _damaged({"a.cbor": a[:-1]})
    # two slots claiming the same sequence number with different states
    assert raises(store.StoreError, store.Store,
                  SimFlash({"a.cbor": _slot([3, {"x": 1}]), "b.cbor": _slot([3, {"x": 2}])}))
    same = _slot([3, {"x": 1}])
    assert store.Store(SimFlash({"a.cbor": same, "b.cbor": same})).get("x") == 1


def test_prefix_garbage_and_malformed_slots_are_not_states():
    good = _slot([5, {"serial": "SN5"}])
    newer = _slot([6, {"serial": "SN6", "lifecycle": "locked"}])
    for n in range(len(newer)):  # every proper prefix of the newer slot
        r = store.Store(SimFlash({"a.cbor": good, "b.cbor": newer[:n]}))
        assert r.seq == 5 and r.items() == [("serial", "SN5")], n
    for tail in (b"\x00", b"\xff" * 4, newer[-4:], _junk(1, 30)):
        r = store.Store(SimFlash({"a.cbor": good, "b.cbor": newer + tail}))
        assert r.seq == 5, tail
    enc = cbor.dumps([6, {"serial": "SN6"}])
    bad = [
        _slot([6, {"serial": "SN6"}, 0]),        # three items
        _slot([6, [1, 2]]),                      # state not a map
        _slot([6, {1: "x"}]),                    # a name not a string
        _slot([0, {}]),                          # sequence numbers start at 1
        _slot([-6, {}]), _slot(["6", {}]),
        _slot({6: {}}),                          # not an array
        _slot(6),
        enc + b"\x00" + hashlib.sha256(enc + b"\x00").digest()[:4],  # a byte after the CBOR
        enc[:-1] + hashlib.sha256(enc[:-1]).digest()[:4],            # CBOR cut short
        b"\x82\x06" + hashlib.sha256(b"\x82\x06").digest()[:4],
        _slot([6, {"pad": bytes(store.MAX_STATE)}]),                 # over the size limit
        hashlib.sha256(b"").digest()[:4],
    ]
    for i in range(len(bad)):
        r = store.Store(SimFlash({"a.cbor": good, "b.cbor": bad[i]}))
        assert r.seq == 5 and r.get("serial") == "SN5", i
    # a damaged newer slot is overwritten by the next update; the good one is kept
    fs = SimFlash({"a.cbor": good, "b.cbor": bad[0]})
    r = store.Store(fs)
    r.update({"lifecycle": "provisioned"})
    assert fs.files["a.cbor"] == good and r.seq == 6
    assert store.Store(fs).items() == [("lifecycle", "provisioned"), ("serial", "SN5")]


def test_size_limit():
    fs = SimFlash()
    s = store.Store(fs)
    # CBOR [1, {"k": h'...'}]: 0x82 0x01 0xa1 0x61 0x6b 0x59 hi lo, then the bytes
    s.update({"k": bytes(store.MAX_STATE - 8)})
    assert s.seq == 2 and len(fs.files["a.cbor"]) == store.MAX_STATE + 4
    files = dict(fs.files)
    try:
        s.update({"k": bytes(store.MAX_STATE - 7)})
        assert False, "no error"
    except store.StoreError as e:
        assert "limit" in str(e) and str(store.MAX_STATE) in str(e)
    assert s.seq == 2 and len(s.get("k")) == store.MAX_STATE - 8
    assert fs.files == files and len(fs.log) == 2
    assert raises(store.StoreError, s.update, {"more": b"x"})
    s.update({"k": b"small"})
    assert store.Store(fs).get("k") == b"small"


def test_bad_updates_change_nothing():
    fs = SimFlash()
    s = store.Store(fs)
    s.update({"serial": "SN9"})
    for bad in ({1: "x"}, {"x": object()}, {"x": b"1", "serial": "SN10", "y": set()},
                {"serial": "SN10", "l": [1, object()]}):
        assert raises(store.StoreError, s.update, bad)
        assert s.items() == [("serial", "SN9")] and s.seq == 2
    assert raises(store.StoreError, s.update, [("x", 1)])
    assert len(fs.log) == 2
    # a write that fails (flash full, I/O error) keeps the state in memory and on flash
    fs.fail = True
    try:
        s.update({"serial": "SN10", "lifecycle": "locked"})
        assert False, "no error"
    except store.StoreError as e:
        assert "a.cbor" in str(e) and "sequence 2" in str(e)
    assert s.items() == [("serial", "SN9")] and s.seq == 2
    fs.fail = False
    s.update({"serial": "SN11"})
    assert store.Store(fs).items() == [("serial", "SN11")] and s.seq == 3


def _rmtree(path):
    for name in os.listdir(path):
        os.remove(path + "/" + name)
    os.rmdir(path)


def test_dirfs_on_flash_survives_reopen():
    if MICROPYTHON:
        base = ""  # the board's flash; the test keeps out of the real store's directory
    else:
        import tempfile
        base = tempfile.mkdtemp()
    path = base + "/imprint-test/store"
    try:
        _rmtree(path)
    except OSError:
        pass
    fs = store.DirFS(path + "/")
    assert fs.read("a.cbor") is None
    s = store.Store(fs)
    assert s.seq == 0
    s.update({"serial": "SN-DIR", "idevid_key": b"\x42" * 32})
    s.update({"lifecycle": "provisioned"})
    assert sorted(os.listdir(path)) == ["a.cbor", "b.cbor"]
    r = store.Store(store.DirFS(path))
    assert r.seq == 3 and r.items() == s.items()
    # a torn newer slot on the flash: the other one is used
    b = fs.read("b.cbor")
    fs.write("a.cbor", [fs.read("a.cbor")[:17]])
    assert store.Store(store.DirFS(path)).items() == [("idevid_key", b"\x42" * 32),
                                                      ("serial", "SN-DIR")]
    # a file bigger than any slot is read only as far as needed to know it is not one
    fs.write("b.cbor", [bytes(store.MAX_STATE + 100)])
    assert len(fs.read("b.cbor")) == store.MAX_STATE + 5
    fs.write("b.cbor", [b])
    assert store.Store(store.DirFS(path)).seq == 2
    _rmtree(path)
    os.rmdir(base + "/imprint-test")
    if not MICROPYTHON:
        os.rmdir(base)


def test_dirfs_refuses_a_directory_import_would_take_for_a_package():
    # "/imprint" beside /lib on a board's sys.path ("" is "/") would be imported as the
    # package imprint after the next reset, hiding the firmware.
    import sys
    if MICROPYTHON:
        root = ""
        had = "imprint" in os.listdir("/")
    else:
        import tempfile
        root = tempfile.mkdtemp()
        sys.path.insert(0, root)
        had = False
    try:
        for bad in ("/imprint", "/imprint/", "/imprint/store", "/store", "/_x1"):
            assert raises(store.StoreError, store.DirFS, root + bad), bad
        if MICROPYTHON:
            assert raises(store.StoreError, store.DirFS, "imprint")
        assert had or "imprint" not in os.listdir(root or "/")
        fs = store.DirFS(root + "/imprint-test")  # no module is named so
        fs.write("x", [b"1"])
        assert fs.read("x") == b"1"
        _rmtree(root + "/imprint-test")
    finally:
        if not MICROPYTHON:
            sys.path.remove(root)
            os.rmdir(root)
