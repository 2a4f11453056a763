# Board side of bench/cbor.py: encode+decode of realistic payloads with imprint.cbor and, where
# it is present in /bench, micropython-lib's cbor2. Prints one line per measurement.
import gc
import time

from imprint import cbor
from imprint.cbor import Tag

try:
    import cbor2 as mpl
except ImportError:
    mpl = None


def ticks():
    return time.ticks_us()


def payloads():
    # EDHOC message_1..3 (RFC 9529 §3 shapes: CBOR sequences of small ints and byte strings)
    m1 = [3, [6, 2], b"\x8a" * 32, -24]
    m2 = [b"\x41" * 32 + b"\x99" * 13, 0x27]
    m3 = [b"\xc2" * 19]
    # constrained voucher (COSE_Sign1 over a map keyed by YANG SIDs)
    voucher_payload = {2451: {2: "2026-11-27T00:00:00Z", 12: True, 13: "JADA123456789",
                              5: b"\x04" + b"\x11" * 64, 11: 1}}
    voucher = Tag(18, [cbor.dumps({1: -7}), {4: b"kid-masa"}, cbor.dumps(voucher_payload),
                       b"\x5a" * 64])
    # FDO ownership voucher: [ver, bstr .cbor OVHeader, HMAC, cert chain, [COSE_Sign1 entries]]
    cert = b"\x30\x82\x02\x9a" + bytes(range(256)) * 2 + b"\x00" * 158
    ovh = [101, b"\x01" * 16, [[[5, "rv.example.com"], [3, 8080], [12, 1]]], "imprint-dev",
           [10, 1, b"\x04" + b"\x22" * 64], [-16, b"\x33" * 32]]
    entry = Tag(18, [cbor.dumps({1: -7}), {}, cbor.dumps([[-16, b"\x44" * 32], [-16, b"\x55" * 32],
                                                           {}, [10, 1, b"\x04" + b"\x66" * 64]]),
                     b"\x77" * 64])
    ov = [101, cbor.dumps(ovh), [5, b"\x88" * 32], [cert, cert], [entry, entry]]
    chain = [cert, cert[:600], cert[:700]]  # about 2 KB
    return (
        ("EDHOC message_1", m1, True),
        ("EDHOC message_2", m2, True),
        ("EDHOC message_3", m3, True),
        ("voucher payload (SID map)", voucher_payload, True),
        ("COSE_Sign1 voucher (tag 18)", voucher, False),
        ("FDO ownership voucher", ov, False),
        ("2 KB certificate chain", chain, True),
    )


def timed(fn, min_us=300000):
    # Repeat until at least min_us have passed: the webassembly build's clock has 1 ms steps.
    gc.collect()
    n = 0
    t0 = ticks()
    while True:
        fn()
        n += 1
        dt = time.ticks_diff(ticks(), t0)
        if dt >= min_us:
            return dt / n


def run():
    for name, value, plain in payloads():
        data = cbor.dumps(value)
        ours = timed(lambda: cbor.loads(cbor.dumps(value)))
        theirs = -1
        note = ""
        if mpl is not None:
            try:
                if mpl.loads(mpl.dumps(value)) != value and plain:
                    note = "mpl-mismatch"
                theirs = timed(lambda: mpl.loads(mpl.dumps(value)))
            except Exception as e:
                note = "mpl-fails:" + type(e).__name__
                if not plain:
                    note += " on tags"
                theirs = -1
        print("ROW|%s|%d|%.1f|%.1f|%s" % (name, len(data), ours, theirs, note))


run()
