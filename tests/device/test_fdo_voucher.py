# FDO 1.1 TO2 voucher check on the device (imprint.methods.fdo.voucher_owner): the owner key at
# the end of the entry chain, and each way a voucher is refused. Vouchers made once on the host
# (fdo_vectors.py). At most 2 P-256 verifies per test.
from imprint import cbor
from imprint.methods import fdo
from fdo_vectors import (DEVICE_INFO, ENTRY0_OTHER, ENTRY1_BY_MFG, MFG, OWNER1, OWNER2,
                         PK_HASH, RV, VOUCHER)

SECRET = bytes(range(0x40, 0x60))
GUID = bytes(range(0x10, 0x20))


class _Store:
    # read-only: any write fails the test
    def __init__(self, cred):
        self.cred = cred

    def get(self, name, default=None):
        return self.cred if name == "fdo_cred" else default

    def update(self, changes):
        raise AssertionError("voucher_owner wrote the store")


def _store(secret=SECRET, guid=GUID, pk_hash=PK_HASH):
    return _Store([True, 101, secret, DEVICE_INFO, guid, RV, [-16, pk_hash]])


def _split(v):
    # -> (bytes before OVEntryArray, [raw entries])
    pos = 1
    for _ in range(4):
        pos = cbor.decode(v, pos)[1]
    head = v[:pos]
    n = v[pos] & 31
    pos += 1
    out = []
    for _ in range(n):
        end = cbor.decode(v, pos)[1]
        out.append(v[pos:end])
        pos = end
    return head, out


def _join(head, entries):
    return head + bytes([0x80 + len(entries)]) + b"".join(entries)


def _refused(store, v, *words):
    try:
        fdo.voucher_owner(store, v)
    except fdo.FDOError as e:
        for w in words:
            assert w in str(e), (w, str(e))
        return True
    return False


def test_fdo_voucher_owner():
    assert fdo.voucher_owner(_store(), VOUCHER) == OWNER2
    head, (e0, e1) = _split(VOUCHER)
    assert fdo.voucher_owner(_store(), _join(head, [])) == MFG   # no entries: the manufacturer


def test_fdo_voucher_one_entry():
    head, (e0, e1) = _split(VOUCHER)
    assert fdo.voucher_owner(_store(), _join(head, [e0])) == OWNER1


def test_fdo_voucher_tampered():
    head, (e0, e1) = _split(VOUCHER)
    # a bit of entry 0's payload flipped (its OVEPubKey): the signature fails
    i = len(e0) - 70
    bad = e0[:i] + bytes([e0[i] ^ 1]) + e0[i + 1:]
    assert _refused(_store(), _join(head, [bad, e1]), "entry 0", "signature")
    # the signature itself changed
    bad = e0[:-1] + bytes([e0[-1] ^ 0x80])
    assert _refused(_store(), _join(head, [bad]), "entry 0", "signature")
    # truncated, trailing bytes, not COSE_Sign1
    assert _refused(_store(), VOUCHER[:-1])
    assert _refused(_store(), VOUCHER + b"\x00", "after")
    assert _refused(_store(), _join(head, [cbor.dumps([1, 2, 3, 4])]), "entry 0")
    assert _refused(_store(), b"\x84" + VOUCHER[1:])


def test_fdo_voucher_broken_chain():
    # a validly signed entry 1 that chains to another entry 0 (same owner key)
    head, (e0, e1) = _split(VOUCHER)
    assert ENTRY0_OTHER != e0
    assert _refused(_store(), _join(head, [ENTRY0_OTHER, e1]), "entry 1", "OVEHashPrevEntry")
    # entries out of order: entry 1 first
    assert _refused(_store(), _join(head, [e1, e0]), "entry 0", "OVEHashPrevEntry")


def test_fdo_voucher_wrong_signer():
    head, (e0, e1) = _split(VOUCHER)
    assert _refused(_store(), _join(head, [e0, ENTRY1_BY_MFG]), "entry 1", "signature",
                    "entry 0")


def test_fdo_voucher_not_mine():
    other = bytes(range(0x20, 0x30))
    assert _refused(_store(guid=other), VOUCHER, "GUID")               # another device's
    assert _refused(_store(secret=bytes(32)), VOUCHER, "HMac")         # a wrong HMAC
    head, (e0, e1) = _split(VOUCHER)
    mac = cbor.decode(head, cbor.decode(head, 1)[1])[1]                # flip a byte of HMac
    assert _refused(_store(), head[:mac - 1] + bytes([head[mac - 1] ^ 1]) + head[mac:]
                    + VOUCHER[len(head):], "HMac")
    # the manufacturer key is not the one DI stored (DCPubKeyHash)
    assert _refused(_store(pk_hash=bytes(32)), VOUCHER, "DCPubKeyHash")
    try:
        fdo.voucher_owner(_Store(None), VOUCHER)
        assert False
    except fdo.FDOError:
        pass
    assert OWNER1 != OWNER2
