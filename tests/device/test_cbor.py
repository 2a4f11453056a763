# imprint.cbor beyond the RFC examples: deterministic map order, sequences, the incremental
# decoder, limits and malformed input. Runs on the board and on CPython.
from binascii import unhexlify

from imprint import cbor
from imprint.cbor import CBORError, Tag


def rejects(data, **kw):
    try:
        cbor.loads(data, **kw)
    except CBORError:
        return True
    return False


def test_map_keys_sort_bytewise_not_length_first():
    # RFC 8949 §4.2.1 (not RFC 7049's length-first canonical order)
    assert cbor.dumps({10: 0, 100: 0, -1: 0}) == unhexlify("a30a00186400" "2000")
    assert cbor.dumps({"b": 1, "a": 2, "aa": 3, b"a": 4, 1: 5}) == \
        unhexlify("a5" "0105" "416104" "616102" "616201" "62616103")


def test_map_order_is_independent_of_insertion():
    a = {}
    b = {}
    keys = [("k%d" % i) for i in range(40)] + list(range(-20, 20))
    for k in keys:
        a[k] = 1
    for k in reversed(keys):
        b[k] = 1
    assert cbor.dumps(a) == cbor.dumps(b)
    assert cbor.loads(cbor.dumps(a), strict=True) == a


def test_round_trip_nested_with_tags_and_bignums():
    value = [Tag(18, [b"\xa1\x01\x26", {4: b"kid"}, b"payload", b"\x00" * 64]),
             {"n": 2 ** 200, "m": -(2 ** 70), (1, 2): None}, 1.5, -0.0, cbor.undefined]
    data = cbor.dumps(value)
    back = cbor.loads(data, strict=True)
    assert back[0] == value[0]
    assert back[1] == value[1]
    assert back[2:4] == [1.5, -0.0] and str(back[3]) == "-0.0"
    assert back[4] is cbor.undefined


def test_bignum_edges():
    for n in (2 ** 64 - 1, 2 ** 64, -(2 ** 64), -(2 ** 64) - 1, 2 ** 521 + 7):
        assert cbor.loads(cbor.dumps(n), strict=True) == n
    assert cbor.dumps(2 ** 64 - 1)[0] == 0x1B
    assert cbor.dumps(2 ** 64)[:2] == b"\xc2\x49"
    # a bignum that fits in 64 bits, or has a leading zero, is not preferred
    assert cbor.loads(unhexlify("c24101")) == 1
    assert rejects(unhexlify("c24101"), strict=True)
    assert rejects(unhexlify("c2490001000000000000000000"), strict=True)
    assert rejects(unhexlify("c201"))  # bignum content must be a byte string


def test_float_shortest_exact():
    assert cbor.dumps(0.5) == unhexlify("f93800")
    assert cbor.dumps(2.0 ** -24) == unhexlify("f90001")  # half subnormal
    assert cbor.dumps(2.0 ** -25) == unhexlify("fa33000000")  # single, not half
    assert cbor.dumps(2.0 ** -149) == unhexlify("fa00000001")  # single subnormal
    assert cbor.dumps(2.0 ** -150) == unhexlify("fb3690000000000000")
    assert cbor.dumps(65504.0) == unhexlify("f97bff")
    assert cbor.dumps(65505.0) == unhexlify("fa477fe100")
    assert cbor.dumps(1.0e300) == unhexlify("fb7e37e43c8800759c")
    assert rejects(unhexlify("fa3f800000"), strict=True)  # 1.0 in single precision
    assert cbor.loads(unhexlify("fa3f800000")) == 1.0
    assert rejects(unhexlify("f97e01"), strict=True)  # NaN with a payload


def test_sequences_and_incremental_decoder():
    items = [1, "two", [3], {4: 5}, b"six"]
    seq = cbor.dumps_seq(items)
    assert seq == b"".join(cbor.dumps(i) for i in items)
    assert cbor.loads_seq(seq) == items
    assert cbor.loads_seq(b"") == []
    pos = 0
    got = []
    while pos < len(seq):
        item, pos = cbor.decode(seq, pos)
        got.append(item)
    assert got == items and pos == len(seq)
    # EDHOC message_1 of RFC 9529 §3 is a CBOR sequence: METHOD, SUITES_I, G_X, C_I
    m1 = unhexlify("0382060258208af6f430ebe18d34184017a9a11bf511c8dff8f834730b96c1b7c8dbca2fc3b637")
    method, suites, g_x, c_i = cbor.loads_seq(m1)
    assert method == 3 and suites == [6, 2] and len(g_x) == 32 and c_i == -24
    assert cbor.dumps_seq([method, suites, g_x, c_i]) == m1


def test_trailing_bytes_rejected_by_loads():
    assert rejects(unhexlify("0101"))
    assert cbor.decode(unhexlify("0101")) == (1, 1)


def test_malformed_inputs_raise_cbor_error():
    bad = [
        "", "18", "19ff", "1a0000", "1b00000000000000", "1c", "1d", "1e",  # truncated/reserved
        "5f01ff", "5f4101", "7f4101ff", "5f5f4101ffff", "9f", "bf01", "bf", "a1", "a101",
        "ff", "f800", "f818", "fc", "fd", "fe", "3f", "1f", "c2", "62c3",
        "61ff", "62c328", "63eda080",  # invalid UTF-8 (incl. a surrogate)
        "62c0af", "63e08080", "64f4908080", "61f5",  # overlong forms, past U+10FFFF
        "a2010101", "a1800102",  # duplicate key; unhashable key (map)
        "a1a00101",
    ]
    for hx in bad:
        assert rejects(unhexlify(hx)), hx


def test_lengths_are_checked_before_allocation():
    # each claims far more than the input holds
    for hx in ("5bffffffffffffffff", "7a7fffffff", "9b00000001000000000102", "bb0000000100000000",
               "9a7fffffff"):
        try:
            cbor.loads(unhexlify(hx))
        except CBORError as e:
            assert "left" in str(e) or "bytes" in str(e), str(e)
        else:
            assert False, hx


def test_limits():
    deep = b"\x81" * 40 + b"\x00"
    assert rejects(deep)
    assert cbor.loads(deep, max_depth=64) is not None
    assert rejects(b"\x81" * 5 + b"\x00", max_depth=4)
    many = cbor.dumps(list(range(100)))
    assert rejects(many, max_items=50)
    assert len(cbor.loads(many, max_items=101)) == 100
    assert rejects(many, max_length=10)
    # the item limit spans a whole sequence
    try:
        cbor.loads_seq(cbor.dumps_seq([[0] * 10] * 10), max_items=50)
    except CBORError:
        pass
    else:
        assert False


def test_encode_errors():
    for bad in (object(), {1, 2}, cbor.dumps):
        try:
            cbor.dumps(bad)
        except CBORError:
            pass
        else:
            assert False, repr(bad)
    nested = []
    for _ in range(40):
        nested = [nested]
    try:
        cbor.dumps(nested)
    except CBORError:
        pass
    else:
        assert False


def test_bytes_like_inputs():
    data = cbor.dumps([b"ab", "cd"])
    assert cbor.loads(bytearray(data)) == [b"ab", "cd"]
    assert cbor.loads(memoryview(data)) == [b"ab", "cd"]
    assert cbor.dumps(bytearray(b"ab")) == cbor.dumps(b"ab") == cbor.dumps(memoryview(b"ab"))
    try:
        cbor.loads("a0")
    except CBORError:
        pass
    else:
        assert False


def test_tag_and_simple_values():
    assert Tag(1, 2) == Tag(1, 2) and Tag(1, 2) != Tag(1, 3) and Tag(1, 2) != Tag(2, 2)
    assert hash(Tag(1, "x")) == hash(Tag(1, "x"))
    for v in (20, 21, 22, 23, 24, 31):
        try:
            cbor.Simple(v)
        except CBORError:
            pass
        else:
            assert False, v
    assert cbor.dumps(cbor.Simple(19)) == b"\xf3"
    assert cbor.dumps(cbor.Simple(32)) == b"\xf8\x20"
    assert cbor.loads(b"\xf8\x20") == cbor.Simple(32)


def test_dumps_parts_concatenate_to_dumps():
    state = {"idevid_chain": [bytes(range(200)), b"\x30" * 300], "serial": "SN-1",
             "fdo_cred": [True, 101, bytes(32), "m", bytes(16), [[[5, b"\x61"]]], [-16, b"x"]],
             "op_creds": {"ccs": b"\xa1", "kid": b"\x01", "uri": "coap://h"}, 7: None}
    for obj in ([5, state], state, [], {}, 3, [[[[1]]]], (1, (2, 3))):
        for depth in (0, 1, 2, 3, 5):
            parts = cbor.dumps_parts(obj, depth)
            assert b"".join(parts) == cbor.dumps(obj), (obj, depth)
    parts = cbor.dumps_parts([5, state], 3)
    assert max(len(p) for p in parts) <= 300 + 3 and len(parts) > 20
