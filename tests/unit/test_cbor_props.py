"""imprint.cbor against cbor2 (property tests) and a decoder fuzz: only CBORError escapes."""

from __future__ import annotations

import math
import random
from binascii import unhexlify

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imprint import cbor

# Tags cbor2 gives no meaning to, so both sides keep them as plain tags.
plain_tags = st.integers(min_value=100_000, max_value=2**32)
floats = st.floats(allow_nan=False)
keys = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=8),
                 st.binary(max_size=8))
scalars = st.one_of(st.integers(min_value=-(2**130), max_value=2**130), st.binary(max_size=40),
                    st.text(max_size=40), st.booleans(), st.none(), floats)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(keys, inner, max_size=6),
        st.builds(cbor.Tag, plain_tags, inner),
    ),
    max_leaves=30,
)


def to_cbor2(v):
    if isinstance(v, cbor.Tag):
        return cbor2.CBORTag(v.tag, to_cbor2(v.value))
    if isinstance(v, list):
        return [to_cbor2(x) for x in v]
    if isinstance(v, dict):
        return {to_cbor2(k): to_cbor2(x) for k, x in v.items()}
    return v


def from_cbor2(v):
    if isinstance(v, cbor2.CBORTag):
        return cbor.Tag(v.tag, from_cbor2(v.value))
    if isinstance(v, (list, tuple)):  # cbor2 6 gives tuples where an item must be hashable
        return [from_cbor2(x) for x in v]
    if hasattr(v, "items"):  # dict, or cbor2's FrozenDict inside tags and keys
        return {from_cbor2(k): from_cbor2(x) for k, x in v.items()}
    return v


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, cbor.Tag):
        return a.tag == b.tag and same(a.value, b.value)
    return a == b


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_cbor2_reads_what_we_write(v):
    assert same(from_cbor2(cbor2.loads(cbor.dumps(v))), v)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_we_read_what_cbor2_writes(v):
    assert same(cbor.loads(cbor2.dumps(to_cbor2(v), canonical=True)), v)
    assert same(cbor.loads(cbor2.dumps(to_cbor2(v))), v)


same_length_keys = st.one_of(st.integers(min_value=-24, max_value=23),
                             st.text(alphabet="abcdefgh", min_size=1, max_size=1))
same_length_values = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                     st.dictionaries(same_length_keys, inner, max_size=6)),
    max_leaves=25)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(same_length_values)
def test_bytes_equal_cbor2_canonical_when_key_order_agrees(v):
    # Where every map's keys encode to one length, RFC 7049 length-first order (cbor2's
    # canonical mode) and RFC 8949 bytewise order agree, so the bytes must be equal.
    assert cbor.dumps(v) == cbor2.dumps(v, canonical=True)
    assert same(cbor.loads(cbor2.dumps(v, canonical=True), strict=True), v)


def test_key_order_differs_from_cbor2_where_lengths_differ():
    v = {10: 0, 100: 0, -1: 0}
    assert cbor.dumps(v) == unhexlify("a30a0018640020" "00")
    assert cbor2.dumps(v, canonical=True) == unhexlify("a30a00200018" "6400")


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64))
def test_decoder_random_bytes_only_cbor_error(data):
    for strict in (False, True):
        try:
            cbor.loads(data, strict=strict)
        except cbor.CBORError:
            pass


def test_decoder_mutation_fuzz_100k():
    """10^5 mutated encodings of realistic items: only CBORError may escape, and whatever
    decodes re-encodes without error."""
    rng = random.Random(8949)
    seeds = [cbor.dumps(x) for x in (
        [3, [6, 2], b"\x8a" * 32, -24],
        cbor.Tag(18, [b"\xa1\x01\x26", {4: b"kid", 33: [b"\x30" * 40]}, b"payload", b"\x00" * 64]),
        {1: 2, "a": [1.5, -0.0, None, True, cbor.undefined], b"k": {2**80: "big"}},
        [cbor.Tag(24, b"\x82\x01\x02"), 65504.0, 1e300, "\u00fc\u6c34\U00010151"],
    )] + [unhexlify(h) for h in ("9f018202039f0405ffff", "bf6346756ef563416d7421ff",
                                 "5f42010243030405ff", "7f657374726561646d696e67ff")]
    n = 0
    while n < 100_000:
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(4)
            i = rng.randrange(len(data)) if data else 0
            if op == 0 and data:
                data[i] ^= 1 << rng.randrange(8)
            elif op == 1 and data:
                data[i] = rng.randrange(256)
            elif op == 2:
                data.insert(i, rng.randrange(256))
            elif data:
                del data[i:]
        n += 1
        for strict in (False, True):
            try:
                obj = cbor.loads(bytes(data), strict=strict)
            except cbor.CBORError:
                continue
            cbor.dumps(obj)
    assert n >= 100_000


@pytest.mark.parametrize("hx", ["1bffffffffffffffff", "c249010000000000000000", "fb7e37e43c8800759c"])
def test_appendix_a_matches_cbor2(hx):
    assert same(cbor.loads(unhexlify(hx)), cbor2.loads(unhexlify(hx)))


def test_float_widths_match_cbor2_canonical():
    """Shortest exact width, on random bit patterns, on the half and single subnormal ranges
    and on the edges of each format."""
    import struct
    rng = random.Random(754)
    values = [2.0 ** e for e in range(-160, 130)] + [-(2.0 ** e) * 1.5 for e in range(-160, 130)]
    values += [struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0] for _ in range(20000)]
    values += [rng.randint(-70000, 70000) / 2 ** rng.randint(0, 40) for _ in range(20000)]
    for f in values:
        if f == f:
            assert cbor.dumps(f) == cbor2.dumps(f, canonical=True), f
            assert same(cbor.loads(cbor.dumps(f), strict=True), f)
