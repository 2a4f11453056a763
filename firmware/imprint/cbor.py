# CBOR (RFC 8949) and CBOR sequences (RFC 8742) for MicroPython and CPython.
# Encoding is deterministic (RFC 8949 §4.2.1) whatever the dict order; decoding has limits
# and a strict mode that accepts only deterministic input. Every failure is a CBORError.
import struct

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

_MAX_DEPTH = const(32)
_MAX_ITEMS = const(4096)
_MAX_LENGTH = const(65536)
_BREAK = const(0xFF)


class CBORError(ValueError):
    pass


class Tag:
    # A tagged data item (RFC 8949 §3.4); tags 2 and 3 decode to int instead.
    __slots__ = ("tag", "value")

    def __init__(self, tag, value):
        if not isinstance(tag, int) or tag < 0 or tag > 0xFFFFFFFFFFFFFFFF:
            raise CBORError("tag number must be an unsigned 64-bit integer")
        self.tag = tag
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Tag) and self.tag == other.tag and self.value == other.value

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((self.tag, self.value))

    def __repr__(self):
        return "Tag(%d, %r)" % (self.tag, self.value)


class Simple:
    # A simple value (RFC 8949 §3.3) other than false, true, null and undefined.
    __slots__ = ("value",)

    def __init__(self, value):
        if not (0 <= value <= 19 or 32 <= value <= 255):
            raise CBORError("simple value %r is reserved or has its own Python value" % (value,))
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Simple) and self.value == other.value

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(("simple", self.value))

    def __repr__(self):
        return "Simple(%d)" % self.value


class _Undefined:
    __slots__ = ()

    def __repr__(self):
        return "undefined"

    def __bool__(self):
        return False


undefined = _Undefined()

_INF = float("inf")


# ---- encoding --------------------------------------------------------------------------

# RFC 8949 §3: initial byte (major type, additional info) and the shortest argument (§4.2.1).
def _head(out, major, n):
    mt = major << 5
    if n < 24:
        out.append(mt | n)
    elif n < 0x100:
        out.append(mt | 24)
        out.append(n)
    elif n < 0x10000:
        out.append(mt | 25)
        out.extend(n.to_bytes(2, "big"))
    elif n < 0x100000000:
        out.append(mt | 26)
        out.extend(n.to_bytes(4, "big"))
    else:
        out.append(mt | 27)
        out.extend(n.to_bytes(8, "big"))


def _uint_bytes(n):
    # Big-endian magnitude without leading zero bytes (bignum content, RFC 8949 §3.4.3).
    size = 1
    m = n >> 8
    while m:
        size += 1
        m >>= 8
    return n.to_bytes(size, "big")


def _float_bits(f):
    return struct.unpack(">Q", struct.pack(">d", f))[0]


def _narrow(sign, e, mant, width, mbits, bias):
    # The bits of 2**e * 1.mant (mant: 52 bits) in a binary format of that width, mantissa
    # bits and exponent bias, if it is exact there (normal or subnormal); else None.
    emin = 1 - bias
    if emin <= e <= bias:
        if mant & ((1 << (52 - mbits)) - 1) == 0:
            return (sign << (width - 1)) | ((e + bias) << mbits) | (mant >> (52 - mbits))
        return None
    if emin - mbits <= e < emin:
        shift = 52 - mbits + (emin - e)
        full = mant | (1 << 52)
        if full & ((1 << shift) - 1) == 0:
            return (sign << (width - 1)) | (full >> shift)
    return None


# RFC 8949 §4.2.1: the shortest of half/single/double that preserves the value;
# NaN as f97e00 (§4.2.2 note), infinities in half precision.
def _encode_float(out, f):
    if f != f:
        out.extend(b"\xf9\x7e\x00")
        return
    bits = _float_bits(f)
    sign = bits >> 63
    exp = (bits >> 52) & 0x7FF
    mant = bits & 0xFFFFFFFFFFFFF
    if exp == 0x7FF:  # infinity
        out.extend(b"\xf9\xfc\x00" if sign else b"\xf9\x7c\x00")
        return
    if exp == 0 and mant == 0:
        out.extend(b"\xf9\x80\x00" if sign else b"\xf9\x00\x00")
        return
    e = exp - 1023  # double subnormals are far below half and single range
    for ib, width, mbits, bias in ((0xF9, 16, 10, 15), (0xFA, 32, 23, 127)):
        v = _narrow(sign, e, mant, width, mbits, bias)
        if v is not None:
            out.append(ib)
            out.extend(v.to_bytes(width >> 3, "big"))
            return
    out.append(0xFB)
    out.extend(bits.to_bytes(8, "big"))


def _int(out, major, n):
    # RFC 8949 §3.1 major types 0/1 past two bytes; §3.4.3 bignums (tags 2/3) beyond 64 bits
    if n <= 0xFFFFFFFFFFFFFFFF:
        _head(out, major, n)
    else:
        _head(out, 6, 2 + major)
        b = _uint_bytes(n)
        _head(out, 2, len(b))
        out.extend(b)


def _keys(obj, depth):
    # §4.2.1: a map's keys as (encoding, key), sorted by the bytewise order of the encodings
    pairs = []
    for k in obj:
        kb = bytearray()
        _encode(kb, k, depth)
        pairs.append((bytes(kb), k))
    pairs.sort(key=_first)
    last = None
    for kb, k in pairs:
        if kb == last:
            raise CBORError("two map keys encode the same: %r" % (k,))
        last = kb
    return pairs


def _map(out, obj, depth):
    for kb, k in _keys(obj, depth):
        out.extend(kb)
        _encode(out, obj[k], depth)


def _encode(out, obj, depth):
    # depth: the containers around obj (at most _MAX_DEPTH, as the decoder accepts).
    # Tests run in order of frequency in COSE/EDHOC/voucher messages.
    t = type(obj)
    if t is int:
        # RFC 8949 §3.1 major types 0/1, argument inline up to two bytes
        if obj >= 0:
            if obj < 24:
                out.append(obj)
            elif obj < 0x100:
                out.append(0x18)
                out.append(obj)
            elif obj < 0x10000:
                out.append(0x19)
                out.append(obj >> 8)
                out.append(obj & 0xFF)
            else:
                _int(out, 0, obj)
        elif obj > -25:
            out.append(0x1F - obj)  # 0x20 | (-1 - obj)
        else:
            _int(out, 1, -1 - obj)
    elif t is bytes:
        # §3.1 major type 2
        n = len(obj)
        if n < 24:
            out.append(0x40 | n)
        elif n < 0x100:
            out.append(0x58)
            out.append(n)
        elif n < 0x10000:
            out.append(0x59)
            out.append(n >> 8)
            out.append(n & 0xFF)
        else:
            _head(out, 2, n)
        out.extend(obj)
    elif t is str:
        # §3.1 major type 3
        b = obj.encode()
        n = len(b)
        if n < 24:
            out.append(0x60 | n)
        elif n < 0x100:
            out.append(0x78)
            out.append(n)
        else:
            _head(out, 3, n)
        out.extend(b)
    elif t is list or t is tuple:
        # §3.1 major type 4
        if depth >= _MAX_DEPTH:
            raise CBORError("nesting deeper than %d" % _MAX_DEPTH)
        n = len(obj)
        if n < 24:
            out.append(0x80 | n)
        else:
            _head(out, 4, n)
        depth += 1
        for item in obj:
            _encode(out, item, depth)
    elif t is dict:
        # §3.1 major type 5, keys in §4.2.1 order
        if depth >= _MAX_DEPTH:
            raise CBORError("nesting deeper than %d" % _MAX_DEPTH)
        n = len(obj)
        if n < 24:
            out.append(0xA0 | n)
        else:
            _head(out, 5, n)
        depth += 1
        # Integer keys (COSE, CWT, SIDs) need no encoding to sort: unsigned ascending, then
        # negative descending, is that order. (Keys within +-(2**30-1) only: small ints on
        # every port, cheap to compare, and so are the bounds; mixed key types fail to sort.)
        try:
            ks = sorted(obj)
        except TypeError:
            ks = None
        if ks is not None:
            for k in ks:
                if type(k) is not int:
                    ks = None
                    break
        if ks is None or (n and (ks[0] < -0x3FFFFFFF or ks[-1] > 0x3FFFFFFF)):
            _map(out, obj, depth)
            return
        for k in ks:
            if k >= 0:
                if k < 24:
                    out.append(k)
                else:
                    _head(out, 0, k)
                _encode(out, obj[k], depth)
        if n and ks[0] < 0:
            for k in reversed(ks):
                if k < 0:
                    if k > -25:
                        out.append(0x1F - k)
                    else:
                        _head(out, 1, -1 - k)
                    _encode(out, obj[k], depth)
    elif t is bool:
        out.append(0xF5 if obj else 0xF4)
    elif obj is None:
        out.append(0xF6)
    elif t is bytearray or t is memoryview:
        _head(out, 2, len(obj))
        out.extend(obj)
    elif obj is undefined:
        out.append(0xF7)
    elif t is float:
        _encode_float(out, obj)
    elif t is Tag:
        # §3.4
        if depth >= _MAX_DEPTH:
            raise CBORError("nesting deeper than %d" % _MAX_DEPTH)
        _head(out, 6, obj.tag)
        _encode(out, obj.value, depth + 1)
    elif t is Simple:
        if obj.value < 24:
            out.append(0xE0 | obj.value)
        else:
            out.append(0xF8)
            out.append(obj.value)
    elif isinstance(obj, int):  # subclasses (IntEnum, ...) as their value
        _encode(out, int(obj), depth)
    elif isinstance(obj, str):
        _encode(out, str(obj), depth)
    elif isinstance(obj, dict):
        _encode(out, dict(obj), depth)
    elif isinstance(obj, (list, tuple)):
        _encode(out, list(obj), depth)
    else:
        raise CBORError("cannot encode %s" % (t.__name__,))


def _first(pair):
    return pair[0]


def dumps(obj):
    # One data item, deterministically encoded (RFC 8949 §4.2.1).
    out = bytearray()
    _encode(out, obj, 0)
    return bytes(out)


def _parts(parts, obj, depth):
    t = type(obj)
    head = bytearray()
    if t is bytes and len(obj) > 23:
        # RFC 8949 §3.1 major type 2: the head, then the string itself (no copy of it)
        _head(head, 2, len(obj))
        parts.append(bytes(head))
        parts.append(obj)
        return
    if depth <= 0 or not (t is list or t is tuple or t is dict):
        parts.append(dumps(obj))
        return
    if t is dict:
        _head(head, 5, len(obj))
        parts.append(bytes(head))
        for kb, k in _keys(obj, 0):
            parts.append(kb)
            _parts(parts, obj[k], depth - 1)
    else:
        _head(head, 4, len(obj))
        parts.append(bytes(head))
        for x in obj:
            _parts(parts, x, depth - 1)


def dumps_parts(obj, depth=3):
    # dumps(obj) as a list of byte strings whose concatenation is exactly dumps(obj), the
    # arrays and maps of the top `depth` levels split at their items and byte strings given
    # as they are (after their head): a large item written piece by piece never needs one
    # large buffer (the heap of a board is fragmented).
    parts = []
    _parts(parts, obj, depth)
    return parts


def dumps_seq(items):
    # A CBOR sequence (RFC 8742): the items' encodings, concatenated.
    out = bytearray()
    for item in items:
        _encode(out, item, 0)
    return bytes(out)


# ---- decoding --------------------------------------------------------------------------

def _half(h):
    # RFC 8949 Appendix D: IEEE 754 binary16
    exp = (h >> 10) & 0x1F
    mant = h & 0x3FF
    if exp == 0:
        val = mant / 16777216.0
    elif exp != 31:
        val = (mant + 1024) * 2.0 ** (exp - 25)
    elif mant == 0:
        val = _INF
    else:
        val = float("nan")
    return -val if h & 0x8000 else val


def _fail(msg, pos):
    raise CBORError("%s at offset %d" % (msg, pos))


def _argument(data, pos, ai, strict):
    # RFC 8949 §3: the argument after the initial byte (ai 24..27); returns (n, next pos)
    size = 1 << (ai - 24)
    if ai > 27:
        _fail("reserved additional information %d" % ai, pos - 1)
    if pos + size > len(data):
        _fail("needs %d bytes, %d left" % (size, len(data) - pos), pos)
    n = data[pos] if size == 1 else int.from_bytes(data[pos:pos + size], "big")
    if strict and n < (24 if size == 1 else 1 << (4 * size)):
        _fail("argument not in shortest form", pos - 1)
    return n, pos + size


def _chunks(data, pos, major, strict):
    # §3.2.3: indefinite-length string = definite chunks of the same major type, then break
    if strict:
        _fail("indefinite length in strict mode", pos - 1)
    parts = []
    end = len(data)
    while True:
        if pos >= end:
            _fail("indefinite-length string not terminated", pos)
        ib = data[pos]
        pos += 1
        if ib == _BREAK:
            return b"".join(parts), pos
        ai = ib & 31
        if ib >> 5 != major or ai == 31:
            _fail("bad chunk in indefinite-length string", pos - 1)
        if ai >= 24:
            ai, pos = _argument(data, pos, ai, strict)
        if ai > end - pos:
            _fail("needs %d bytes, %d left" % (ai, end - pos), pos)
        parts.append(bytes(data[pos:pos + ai]))
        pos += ai


def _simple(data, pos, ai, strict):
    # RFC 8949 §3.3: simple values and floats; returns (value, next pos)
    if ai < 20:
        return Simple(ai), pos
    if ai < 24:
        return (False, True, None, undefined)[ai - 20], pos
    if ai == 24:
        if pos >= len(data):
            _fail("truncated", pos)
        v = data[pos]
        if v < 32:
            _fail("simple value %d in two bytes" % v, pos)
        return Simple(v), pos + 1
    if ai > 27:
        _fail("reserved simple value encoding", pos - 1)
    size = 1 << (ai - 24)
    if pos + size > len(data):
        _fail("needs %d bytes, %d left" % (size, len(data) - pos), pos)
    raw = bytes(data[pos:pos + size])
    if ai == 25:
        h = int.from_bytes(raw, "big")
        f = _half(h)
        if strict and f != f and h != 0x7E00:
            _fail("NaN not in its deterministic form", pos - 1)
        return f, pos + size
    f = struct.unpack(">f" if ai == 26 else ">d", raw)[0]
    if strict:
        check = bytearray()
        _encode_float(check, f)
        if len(check) != size + 1:
            _fail("float not in shortest form", pos - 1)
    return f, pos + size


def _count(lim, n, pos):
    # The item limit: lim[0] items may still start; a container takes its children at once.
    lim[0] -= n
    if lim[0] < 0:
        _fail("more data items than the limit", pos)


def _text(raw, pos):
    # RFC 8949 §3.1 major type 3: UTF-8 (RFC 3629) only; raw: bytes, bytearray or memoryview
    try:
        text = str(raw, "utf-8")
    except UnicodeError:
        _fail("text string is not valid UTF-8", pos)
    if len(text) != len(raw) and not _utf8_extra_ok(raw):
        _fail("text string is not valid UTF-8", pos)
    return text


def _key(key, pos):
    # Map keys must be hashable; arrays become tuples.
    t = type(key)
    if t is not str and t is not bytes:
        if t is list:
            key = _freeze(key)
        try:
            hash(key)
        except TypeError:
            _fail("map key of unhashable type", pos)
    return key


def _indefinite(data, pos, end, major, depth, lim):
    # RFC 8949 §3.2.2-3: indefinite-length strings, arrays and maps (never in strict mode)
    if major < 2 or major == 6:
        _fail("indefinite length on major type %d" % major, pos - 1)
    if major < 4:
        raw, pos = _chunks(data, pos, major, False)
        return (raw if major == 2 else _text(raw, pos)), pos
    if depth <= 0:
        _fail("nesting deeper than the limit", pos - 1)
    depth -= 1
    out = [] if major == 4 else {}
    while data[pos] != _BREAK:
        start = pos
        if lim:
            _count(lim, 1 if major == 4 else 2, pos)
        v, pos = _item(data, pos, end, depth, False, lim)
        if major == 4:
            out.append(v)
        else:
            if type(v) is not int:
                v = _key(v, start)
            if v in out:
                _fail("duplicate map key", start)
            out[v], pos = _item(data, pos, end, depth, False, lim)
    return out, pos + 1


def _item(data, pos, end, depth, strict, lim):
    # RFC 8949 §3: the data item at data[pos] -> (value, next pos). end: len(data); depth:
    # container levels still allowed; lim: None, or [items left] when the item limit is below
    # the input's length. A module function: building a closure per call costs more than a
    # small message. data[pos] past the end raises IndexError: the caller reports truncation.
    # Tests compare ib with major-type boundaries (0x20 = major 1, ...): cheaper than shifts;
    # `if lim:` is cheaper than `if lim is not None:` on MicroPython.
    ib = data[pos]
    pos += 1
    if ib < 0x18:
        return ib, pos
    if ib >= 0xE0:
        if ib == 0xF5:
            return True, pos
        if ib == 0xF4:
            return False, pos
        if ib == 0xF6:
            return None, pos
        return _simple(data, pos, ib & 31, strict)
    ai = ib & 31
    if ai < 24:
        n = ai
    elif ai == 24:  # one-byte argument: 32-byte keys, 64-byte signatures, ...
        n = data[pos]
        pos += 1
        if strict and n < 24:
            _fail("argument not in shortest form", pos - 2)
    elif ai == 25:  # two-byte argument: SIDs, certificates
        n = (data[pos] << 8) | data[pos + 1]
        pos += 2
        if strict and n < 0x100:
            _fail("argument not in shortest form", pos - 3)
    elif ai == 31:
        if strict:
            _fail("indefinite length in strict mode", pos - 1)
        return _indefinite(data, pos, end, ib >> 5, depth, lim)
    else:
        n, pos = _argument(data, pos, ai, strict)
    if ib < 0x40:
        return (n if ib < 0x20 else -1 - n), pos
    if ib < 0x80:
        if n > end - pos:
            _fail("needs %d bytes, %d left" % (n, end - pos), pos)
        if ib < 0x60:
            return bytes(data[pos:pos + n]), pos + n  # bytes(b) is b: no copy
        return _text(data[pos:pos + n], pos + n), pos + n
    if depth <= 0:
        _fail("nesting deeper than the limit", pos - 1)
    depth -= 1
    if ib < 0xA0:
        # each element takes at least one byte: refuse before allocating
        if n > end - pos:
            _fail("array of %d items in %d bytes" % (n, end - pos), pos)
        if lim:
            _count(lim, n, pos)
        out = [None] * n
        for i in range(n):
            ib = data[pos]
            if ib < 0x18:  # small unsigned integer inline: saves a call per element
                out[i] = ib
                pos += 1
            elif 0x40 <= ib <= 0x58:  # byte string of up to 255 bytes inline, likewise
                if ib == 0x58:
                    m = data[pos + 1]
                    pos += 2
                    if strict and m < 24:
                        _fail("argument not in shortest form", pos - 2)
                else:
                    m = ib - 0x40
                    pos += 1
                if m > end - pos:
                    _fail("needs %d bytes, %d left" % (m, end - pos), pos)
                out[i] = bytes(data[pos:pos + m])
                pos += m
            else:
                out[i], pos = _item(data, pos, end, depth, strict, lim)
        return out, pos
    if ib < 0xC0:
        if 2 * n > end - pos:
            _fail("map of %d pairs in %d bytes" % (n, end - pos), pos)
        if lim:
            _count(lim, 2 * n, pos)
        out = {}
        last = None
        while n:
            start = pos
            ib = data[pos]
            if ib < 0x18 and not strict:  # small unsigned key inline (strict checks the order)
                key = ib
                pos += 1
            else:
                key, pos = _item(data, pos, end, depth, strict, lim)
                if type(key) is not int:
                    key = _key(key, start)
                if strict:
                    kb = bytes(data[start:pos])
                    if last is not None and kb <= last:
                        _fail("map keys not in deterministic order or duplicated", start)
                    last = kb
            if key in out:
                _fail("duplicate map key", start)
            out[key], pos = _item(data, pos, end, depth, strict, lim)
            n -= 1
        return out, pos
    # major 6: tag
    if lim:
        _count(lim, 1, pos)
    value, pos = _item(data, pos, end, depth, strict, lim)
    if n == 2 or n == 3:
        if type(value) is not bytes:
            _fail("bignum content is not a byte string", pos)
        if strict and (len(value) <= 8 or value[0] == 0):
            _fail("bignum not in preferred form", pos)
        v = int.from_bytes(value, "big")
        return (v if n == 2 else -1 - v), pos
    return Tag(n, value), pos


def _utf8_extra_ok(b):
    # RFC 3629 §4 forbids overlong forms, surrogates and code points past U+10FFFF; CPython's
    # decoder rejects them, MicroPython's accepts some, so check the lead bytes here.
    n = len(b)
    for i in range(n):
        c = b[i]
        if c < 0xC2:
            if c >= 0xC0:
                return False
            continue
        if c > 0xF4:
            return False
        nxt = b[i + 1] if i + 1 < n else 0
        if (c == 0xE0 and nxt < 0xA0) or (c == 0xED and nxt >= 0xA0) or \
                (c == 0xF0 and nxt < 0x90) or (c == 0xF4 and nxt >= 0x90):
            return False
    return True


def _freeze(value):
    # Arrays used as map keys become tuples (Python lists cannot be dict keys).
    return tuple(_freeze(v) if type(v) is list else v for v in value)


def _start(data, max_items, max_length):
    # Input checks; returns the item counter for _item (None when the limit cannot be reached:
    # every item takes at least one byte).
    t = type(data)
    if t is not bytes and t is not bytearray and t is not memoryview:
        raise CBORError("CBOR input must be bytes, not %s" % t.__name__)
    if len(data) > max_length:
        raise CBORError("input of %d bytes is over the limit of %d" % (len(data), max_length))
    return [max_items] if max_items < len(data) else None


def _run(data, pos, strict, max_depth, lim):
    try:
        if lim:
            _count(lim, 1, pos)
        return _item(data, pos, len(data), max_depth, strict, lim)
    except IndexError:
        raise CBORError("truncated input: the item at offset %d runs past the end" % pos)
    except RuntimeError:  # RecursionError on CPython; MicroPython raises RuntimeError
        raise CBORError("nesting too deep for the stack")


def decode(data, offset=0, strict=False, max_depth=_MAX_DEPTH, max_items=_MAX_ITEMS,
           max_length=_MAX_LENGTH):
    # Incremental: one data item from data[offset:]; returns (item, offset of the next).
    return _run(data, offset, strict, max_depth, _start(data, max_items, max_length))


def loads(data, strict=False, max_depth=_MAX_DEPTH, max_items=_MAX_ITEMS, max_length=_MAX_LENGTH):
    # Exactly one data item; trailing bytes are an error.
    n = len(data) if type(data) is bytes else -1
    if n < 0 or n > max_length or n > max_items:
        obj, pos = _run(data, 0, strict, max_depth, _start(data, max_items, max_length))
        n = len(data)
    else:  # bytes within the limits: _start and _run inlined (small messages are mostly set-up)
        try:
            obj, pos = _item(data, 0, n, max_depth, strict, None)
        except IndexError:
            raise CBORError("truncated input: the item at offset 0 runs past the end")
        except RuntimeError:  # RecursionError on CPython; MicroPython raises RuntimeError
            raise CBORError("nesting too deep for the stack")
    if pos != n:
        raise CBORError("%d bytes after the data item" % (n - pos))
    return obj


def loads_seq(data, strict=False, max_depth=_MAX_DEPTH, max_items=_MAX_ITEMS,
              max_length=_MAX_LENGTH):
    # A CBOR sequence (RFC 8742): zero or more items; the item limit counts across them.
    lim = _start(data, max_items, max_length)
    out = []
    pos = 0
    while pos < len(data):
        obj, pos = _run(data, pos, strict, max_depth, lim)
        out.append(obj)
    return out
