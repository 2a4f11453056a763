# imprint.store: the device's credential store (keys, certificate chains, the FDO device
# credential, the lifecycle state). A name -> value map (CBOR data model) kept in two slot
# files, "a.cbor" and "b.cbor". An update encodes the whole new state (in pieces, see
# _encode) and writes it into the slot that does not hold the state in use, with the next
# sequence number; loading takes the valid slot with the highest one. A power cut at any byte of a write leaves the
# other slot intact, so the store reads back as the old or the new state, never a mix.
#
# A slot file is valid when it is exactly CBOR [seq, state] followed by the first 4 bytes of
# SHA-256 over that CBOR (the checksum is read first, so garbage never reaches the decoder).
# The first update writes the state to both slots (seq 1 into a, 2 into b): from then on
# b.cbor exists, so a store whose slots are both unreadable is empty only when b.cbor was
# never written (a first write cut short); otherwise it is damaged and StoreError says so.
#
# Values handed out by get()/items() are the store's own objects: treat them as read-only
# and pass new values to update().
import hashlib
import os
import sys

from . import cbor

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

MAX_STATE = const(16384)  # bytes of CBOR [seq, state] in a slot
_CHECK = const(4)
_ENOENT = const(2)
_SLOTS = ("a.cbor", "b.cbor")


class StoreError(ValueError):
    pass


def _check(data):
    # The slot's checksum: an integrity check against torn writes and bit flips, not a MAC.
    return hashlib.sha256(data).digest()[:_CHECK]


def _check_parts(parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()[:_CHECK]


# Store slot (issue 5 contract): slot = CBOR [seq: uint, state: {* tstr => any}] || SHA-256[0:4]
def _encode(seq, state):
    # -> the slot as a list of pieces (cbor.dumps_parts, then the checksum): a write needs no
    # buffer as large as the state, which a fragmented heap may not have in one piece
    try:
        parts = cbor.dumps_parts([seq, state], 3)
    except (cbor.CBORError, TypeError, ValueError) as e:
        raise StoreError("a value cannot be stored (CBOR data model only): %s" % e)
    n = 0
    for p in parts:
        n += len(p)
    if n > MAX_STATE:
        raise StoreError("the new state would take %d bytes, over the store's limit of %d; "
                         "nothing was written" % (n, MAX_STATE))
    parts.append(_check_parts(parts))
    return parts


# Store slot (issue 5 contract): slot = CBOR [seq: uint, state: {* tstr => any}] || SHA-256[0:4]
def _seq(data):
    # The sequence number of a slot file whose length, header and checksum are right, or None
    # (missing, torn, damaged). _state() then checks the rest.
    if data is None:
        return None
    n = len(data) - _CHECK
    if n < 3 or n > MAX_STATE or data[0] != 0x82:
        return None
    mv = memoryview(data)
    if _check(mv[:n]) != bytes(mv[n:]):
        return None
    try:
        seq = cbor.decode(mv, 1)[0]
    except cbor.CBORError:
        return None
    return seq if type(seq) is int and seq > 0 else None


def _state(data):
    # The state map of a slot _seq() accepted; None unless the CBOR ends exactly where the
    # checksum starts and is a map of names.
    n = len(data) - _CHECK
    mv = memoryview(data)[:n]
    try:
        state, pos = cbor.decode(mv, cbor.decode(mv, 1)[1], max_items=n, max_length=n)
    except cbor.CBORError:
        return None
    if pos != n or type(state) is not dict:
        return None
    for k in state:
        if type(k) is not str:
            return None
    return state


def _same(a, b):
    # a == b with the types that choose the CBOR encoding equal too (1 vs True vs 1.0).
    t = type(a)
    if t is not type(b):
        return False
    if t is list or t is tuple:
        if len(a) != len(b):
            return False
        for i in range(len(a)):
            if not _same(a[i], b[i]):
                return False
        return True
    if t is dict:
        if len(a) != len(b):
            return False
        for k in a:
            if k not in b or not _same(a[k], b[k]):
                return False
        return True
    return a == b


class Store:
    # Store(fs): fs.read(name) -> bytes or None, fs.write(name, parts): the file is the
    # concatenation of the list of byte strings `parts` (DirFS, or a test's).
    def __init__(self, fs):
        self._fs = fs
        found = []  # type: list  # (seq, slot, data) of the slots with a good checksum, newest first
        held = False
        for i in (0, 1):
            data = fs.read(_SLOTS[i])
            if i:
                held = data is not None  # b.cbor exists: the store has held a state
            seq = _seq(data)
            if seq is None:
                continue
            if found and seq == found[0][0]:
                if data == found[0][2]:
                    continue
                raise StoreError("both slots claim sequence %d with different states: the "
                                 "store was copied or tampered with; erase it (delete a.cbor "
                                 "and b.cbor) and provision the device again" % seq)
            if found and seq > found[0][0]:
                found.insert(0, (seq, i, data))
            else:
                found.append((seq, i, data))
        data = None
        self.seq = 0
        self._cur = 1  # the first update writes a.cbor
        self._state = {}
        for seq, i, data in found:
            st = _state(data)
            if st is not None:
                self.seq = seq
                self._cur = i
                self._state = st
                return
        if held:
            raise StoreError("the credential store is damaged: neither a.cbor nor b.cbor holds "
                             "a valid state (checksum or format), so its keys and credentials "
                             "are lost: erase the store (delete both files) and provision the "
                             "device again")

    def get(self, name, default=None):
        return self._state.get(name, default)

    def names(self):
        return sorted(self._state)

    def items(self):
        st = self._state
        return [(k, st[k]) for k in sorted(st)]

    def update(self, changes):
        # One atomic write of the state with `changes` ({name: value}, None deletes) applied.
        # Nothing changes (in memory or on flash) when it raises.
        if type(changes) is not dict:
            raise StoreError("update takes a dict {name: value}")
        st = self._state
        undo = {}
        for k in changes:
            if type(k) is not str:
                raise StoreError("store names are strings, not %r" % (k,))
            v = changes[k]
            if (k in st) if v is None else not (k in st and _same(st[k], v)):
                undo[k] = st.get(k)
        if not undo:
            return  # the store already holds this: no write, no wear
        for k in undo:
            v = changes[k]
            if v is None:
                del st[k]
            else:
                st[k] = v
        seq = self.seq + 1
        slot = 1 - self._cur
        try:
            data = _encode(seq, st)
            self._write(slot, data)
        except BaseException:
            for k in undo:
                if undo[k] is None:
                    st.pop(k, None)
                else:
                    st[k] = undo[k]
            raise
        first = self.seq == 0
        self.seq = seq
        self._cur = slot
        if first:
            # The state is committed in a.cbor; a copy in b.cbor (seq 2) marks the store as
            # having held a state, and survives damage to a.cbor.
            data[1] = b"\x02"  # seq 1 -> 2 (parts: array head, seq, ..., checksum)
            data[-1] = _check_parts(data[:-1])
            try:
                self._write(1, data)
            except StoreError:
                return  # a.cbor holds the state; the next update writes b.cbor again
            self.seq = 2
            self._cur = 1

    def _write(self, slot, data):
        try:
            self._fs.write(_SLOTS[slot], data)
        except OSError as e:
            raise StoreError("writing %s failed (%s); the store still holds sequence %d"
                             % (_SLOTS[slot], e, self.seq))


def _module_name(d):
    for c in d:
        if not (c.isalpha() or c.isdigit() or c == "_"):
            return False
    return d != "" and not d[0].isdigit()


def _shadows(path):
    # The first directory of path that `import` would take for a package: one named like a
    # module in a directory on sys.path ("" is the current one, "/" on a board). MicroPython
    # imports a directory without __init__.py as a namespace package, so "/imprint" on the
    # flash hides /lib/imprint after the next reset.
    cwd = os.getcwd().rstrip("/")
    roots = [(p if p not in ("", ".") else cwd).rstrip("/") for p in sys.path]
    part = "" if path[0] == "/" else cwd
    for d in path.split("/"):
        if d:
            if part in roots and _module_name(d):
                return part + "/" + d
            part = part + "/" + d
    return None


class DirFS:
    # The store's files in a directory of the board's flash (created if missing). A file's
    # bytes are on flash when it is closed (littlefs commits on close). The directory must
    # not be importable: "/imprint" would hide the imprint package (see _shadows).
    def __init__(self, path):
        path = path.rstrip("/") or "/"
        self.path = path
        bad = _shadows(path)
        if bad:
            raise StoreError("DirFS(%r): the directory %s is named like a module in a directory "
                             "on sys.path, so after a reset `import` would find it instead of "
                             "the real package; keep the store in a directory whose name is no "
                             "module name, e.g. '/imprint-store'" % (path, bad))
        part = ""
        for d in path.split("/"):
            if not d:
                continue
            part = part + "/" + d if (part or path[0] == "/") else d
            try:
                os.mkdir(part)
            except OSError:
                pass
        try:
            os.listdir(path)
        except OSError as e:
            raise StoreError("cannot use %s for the store: %s" % (path, e))

    def _name(self, name):
        return self.path + "/" + name if self.path != "/" else "/" + name

    def read(self, name):
        try:
            f = open(self._name(name), "rb")
        except OSError as e:
            if e.args and e.args[0] == _ENOENT:
                return None
            raise StoreError("cannot read %s: %s" % (self._name(name), e))
        try:
            # one byte past the largest valid slot: a bigger file is not a slot
            return f.read(MAX_STATE + _CHECK + 1)
        finally:
            f.close()

    def write(self, name, parts):
        f = open(self._name(name), "wb")
        try:
            for p in parts:
                n = f.write(p)
                if n is not None and n != len(p):
                    raise OSError(28)  # ENOSPC: a short write
            sync = getattr(os, "fsync", None)  # CPython; littlefs needs only the close
            if sync is not None:
                f.flush()
                sync(f.fileno())
        finally:
            f.close()
