# RFC 8949 Appendix A: every example, decoded; and encoded wherever the example is the
# deterministic (RFC 8949 §4.2.1) encoding of its value. Runs on the board and on CPython.
from binascii import unhexlify

from imprint import cbor
from imprint.cbor import Simple, Tag, undefined

INF = float("inf")
NAN = float("nan")

# (hex, value, deterministic)
VECTORS = (
    ("00", 0, True), ("01", 1, True), ("0a", 10, True), ("17", 23, True), ("1818", 24, True),
    ("1819", 25, True), ("1864", 100, True), ("1903e8", 1000, True),
    ("1a000f4240", 1000000, True), ("1b000000e8d4a51000", 1000000000000, True),
    ("1bffffffffffffffff", 18446744073709551615, True),
    ("c249010000000000000000", 18446744073709551616, True),
    ("3bffffffffffffffff", -18446744073709551616, True),
    ("c349010000000000000000", -18446744073709551617, True),
    ("20", -1, True), ("29", -10, True), ("3863", -100, True), ("3903e7", -1000, True),
    ("f90000", 0.0, True), ("f98000", -0.0, True), ("f93c00", 1.0, True),
    ("fb3ff199999999999a", 1.1, True), ("f93e00", 1.5, True), ("f97bff", 65504.0, True),
    ("fa47c35000", 100000.0, True), ("fa7f7fffff", 3.4028234663852886e+38, True),
    ("fb7e37e43c8800759c", 1.0e+300, True), ("f90001", 5.960464477539063e-8, True),
    ("f90400", 0.00006103515625, True), ("f9c400", -4.0, True),
    ("fbc010666666666666", -4.1, True),
    ("f97c00", INF, True), ("f97e00", NAN, True), ("f9fc00", -INF, True),
    ("fa7f800000", INF, False), ("fa7fc00000", NAN, False), ("faff800000", -INF, False),
    ("fb7ff0000000000000", INF, False), ("fb7ff8000000000000", NAN, False),
    ("fbfff0000000000000", -INF, False),
    ("f4", False, True), ("f5", True, True), ("f6", None, True), ("f7", undefined, True),
    ("f0", Simple(16), True), ("f8ff", Simple(255), True),
    ("c074323031332d30332d32315432303a30343a30305a", Tag(0, "2013-03-21T20:04:00Z"), True),
    ("c11a514b67b0", Tag(1, 1363896240), True),
    ("c1fb41d452d9ec200000", Tag(1, 1363896240.5), True),
    ("d74401020304", Tag(23, b"\x01\x02\x03\x04"), True),
    ("d818456449455446", Tag(24, b"dIETF"), True),
    ("d82076687474703a2f2f7777772e6578616d706c652e636f6d", Tag(32, "http://www.example.com"), True),
    ("40", b"", True), ("4401020304", b"\x01\x02\x03\x04", True),
    ("60", "", True), ("6161", "a", True), ("6449455446", "IETF", True),
    ("62225c", "\"\\", True), ("62c3bc", "\u00fc", True), ("63e6b0b4", "\u6c34", True),
    ("64f0908591", "\U00010151", True),
    ("80", [], True), ("83010203", [1, 2, 3], True),
    ("8301820203820405", [1, [2, 3], [4, 5]], True),
    ("98190102030405060708090a0b0c0d0e0f101112131415161718181819", list(range(1, 26)), True),
    ("a0", {}, True), ("a201020304", {1: 2, 3: 4}, True),
    ("a26161016162820203", {"a": 1, "b": [2, 3]}, True),
    ("826161a161626163", ["a", {"b": "c"}], True),
    ("a56161614161626142616361436164614461656145",
     {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}, True),
    ("5f42010243030405ff", b"\x01\x02\x03\x04\x05", False),
    ("7f657374726561646d696e67ff", "streaming", False),
    ("9fff", [], False),
    ("9f018202039f0405ffff", [1, [2, 3], [4, 5]], False),
    ("9f01820203820405ff", [1, [2, 3], [4, 5]], False),
    ("83018202039f0405ff", [1, [2, 3], [4, 5]], False),
    ("83019f0203ff820405", [1, [2, 3], [4, 5]], False),
    ("9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff", list(range(1, 26)), False),
    ("bf61610161629f0203ffff", {"a": 1, "b": [2, 3]}, False),
    ("826161bf61626163ff", ["a", {"b": "c"}], False),
    ("bf6346756ef563416d7421ff", {"Fun": True, "Amt": -2}, False),
)


def same(a, b):
    # NaN equals NaN, -0.0 differs from 0.0, 1 differs from 1.0 and True: a wire-level comparison
    if isinstance(a, float) and isinstance(b, float):
        if a != a or b != b:
            return a != a and b != b
        return a == b and (str(a)[0] == "-") == (str(b)[0] == "-")
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(k in b and same(a[k], b[k]) for k in a)
    if isinstance(a, Tag):
        return a.tag == b.tag and same(a.value, b.value)
    return a == b


def test_decode_every_appendix_a_example():
    for hx, value, _ in VECTORS:
        got = cbor.loads(unhexlify(hx))
        assert same(got, value), (hx, got, value)


def test_encode_every_deterministic_example():
    n = 0
    for hx, value, deterministic in VECTORS:
        if deterministic:
            assert cbor.dumps(value) == unhexlify(hx), (hx, cbor.dumps(value))
            n += 1
    assert n == 64


def test_non_deterministic_examples_encode_to_the_deterministic_form():
    assert cbor.dumps(INF) == unhexlify("f97c00")
    assert cbor.dumps(NAN) == unhexlify("f97e00")
    assert cbor.dumps(-INF) == unhexlify("f9fc00")
    assert cbor.dumps(b"\x01\x02\x03\x04\x05") == unhexlify("450102030405")
    assert cbor.dumps({"Fun": True, "Amt": -2}) == unhexlify("a263416d74216346756ef5")


def test_strict_accepts_deterministic_and_rejects_the_rest():
    for hx, value, deterministic in VECTORS:
        data = unhexlify(hx)
        if deterministic:
            assert same(cbor.loads(data, strict=True), value), hx
        else:
            try:
                cbor.loads(data, strict=True)
            except cbor.CBORError:
                pass
            else:
                assert False, "strict mode accepted " + hx
