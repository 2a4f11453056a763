# CBOR (RFC 8949) and CBOR sequences (RFC 8742) for MicroPython and CPython.
# Encoding is deterministic (RFC 8949 §4.2.1) whatever the dict order; decoding has limits
# and a strict mode that accepts only deterministic input. Every failure is a CBORError.
import struct

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

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
    # half precision: normal e in [-14, 15] with 10 mantissa bits; subnormal down to 2**-24
    if -14 <= e <= 15 and mant & 0x3FFFFFFFFFF == 0:
        out.append(0xF9)
        out.extend(((sign << 15) | ((e + 15) << 10) | (mant >> 42)).to_bytes(2, "big"))
        return
    if -24 <= e < -14:
        shift = 42 + (-14 - e)
        full = mant | (1 << 52)
        if full & ((1 << shift) - 1) == 0:
            out.append(0xF9)
            out.extend(((sign << 15) | (full >> shift)).to_bytes(2, "big"))
            return
    # single precision: normal e in [-126, 127] with 23 mantissa bits; subnormal to 2**-149
    if -126 <= e <= 127 and mant & 0x1FFFFFFF == 0:
        out.append(0xFA)
        out.extend(((sign << 31) | ((e + 127) << 23) | (mant >> 29)).to_bytes(4, "big"))
        return
    if -149 <= e < -126:
        shift = 29 + (-126 - e)
        full = mant | (1 << 52)
        if full & ((1 << shift) - 1) == 0:
            out.append(0xFA)
            out.extend(((sign << 31) | (full >> shift)).to_bytes(4, "big"))
            return
    out.append(0xFB)
    out.extend(bits.to_bytes(8, "big"))


def _encode(out, obj, depth):
    if depth > _MAX_DEPTH:
        raise CBORError("nesting deeper than %d" % _MAX_DEPTH)
    t = type(obj)
    if t is int:
        # RFC 8949 §3.1 major types 0/1; §3.4.3 bignums beyond 64 bits
        if obj >= 0:
            if obj <= 0xFFFFFFFFFFFFFFFF:
                _head(out, 0, obj)
            else:
                _head(out, 6, 2)
                b = _uint_bytes(obj)
                _head(out, 2, len(b))
                out.extend(b)
        else:
            n = -1 - obj
            if n <= 0xFFFFFFFFFFFFFFFF:
                _head(out, 1, n)
            else:
                _head(out, 6, 3)
                b = _uint_bytes(n)
                _head(out, 2, len(b))
                out.extend(b)
    elif t is bytes or t is bytearray or t is memoryview:
        _head(out, 2, len(obj))
        out.extend(obj)
    elif t is str:
        b = obj.encode()
        _head(out, 3, len(b))
        out.extend(b)
    elif t is list or t is tuple:
        _head(out, 4, len(obj))
        for item in obj:
            _encode(out, item, depth + 1)
    elif t is dict:
        # §4.2.1: keys sorted by the bytewise order of their deterministic encodings
        pairs = []
        for k in obj:
            kb = bytearray()
            _encode(kb, k, depth + 1)
            pairs.append((bytes(kb), k))
        pairs.sort(key=_first)
        _head(out, 5, len(pairs))
        last = None
        for kb, k in pairs:
            if kb == last:
                raise CBORError("two map keys encode the same: %r" % (k,))
            last = kb
            out.extend(kb)
            _encode(out, obj[k], depth + 1)
    elif obj is False:
        out.append(0xF4)
    elif obj is True:
        out.append(0xF5)
    elif obj is None:
        out.append(0xF6)
    elif obj is undefined:
        out.append(0xF7)
    elif t is float:
        _encode_float(out, obj)
    elif t is Tag:
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


class _Decoder:
    __slots__ = ("data", "pos", "end", "strict", "max_depth", "items_left")

    def __init__(self, data, pos, strict, max_depth, max_items):
        self.data = data
        self.pos = pos
        self.end = len(data)
        self.strict = strict
        self.max_depth = max_depth
        self.items_left = max_items

    def fail(self, msg):
        raise CBORError("%s at offset %d" % (msg, self.pos))

    def take(self, n):
        p = self.pos
        if n > self.end - p:
            self.fail("needs %d bytes, %d left" % (n, self.end - p))
        self.pos = p + n
        return self.data[p:p + n]

    # RFC 8949 §3: the argument of a head; None for indefinite length (ai 31)
    def argument(self, ai):
        if ai < 24:
            return ai
        if ai == 24:
            n = self.take(1)[0]
            if self.strict and n < 24:
                self.fail("argument not in shortest form")
            return n
        if ai == 25:
            n = int.from_bytes(self.take(2), "big")
            if self.strict and n < 0x100:
                self.fail("argument not in shortest form")
            return n
        if ai == 26:
            n = int.from_bytes(self.take(4), "big")
            if self.strict and n < 0x10000:
                self.fail("argument not in shortest form")
            return n
        if ai == 27:
            n = int.from_bytes(self.take(8), "big")
            if self.strict and n < 0x100000000:
                self.fail("argument not in shortest form")
            return n
        if ai == 31:
            if self.strict:
                self.fail("indefinite length in strict mode")
            return None
        self.fail("reserved additional information %d" % ai)

    def count(self, n):
        self.items_left -= n
        if self.items_left < 0:
            self.fail("more data items than the limit")

    def chunks(self, major):
        # §3.2.3: indefinite-length string = definite chunks of the same major type, then break
        parts = []
        while True:
            if self.pos >= self.end:
                self.fail("indefinite-length string not terminated")
            ib = self.data[self.pos]
            self.pos += 1
            if ib == _BREAK:
                return b"".join(parts)
            if ib >> 5 != major or ib & 31 == 31:
                self.fail("bad chunk in indefinite-length string")
            parts.append(bytes(self.take(self.argument(ib & 31))))

    def item(self, depth):
        if depth > self.max_depth:
            self.fail("nesting deeper than %d" % self.max_depth)
        if self.pos >= self.end:
            self.fail("truncated")
        self.count(1)
        ib = self.data[self.pos]
        self.pos += 1
        major = ib >> 5
        ai = ib & 31
        if major == 7:
            return self.simple(ai)
        n = self.argument(ai)
        if n is None and (major < 2 or major == 6):
            self.fail("indefinite length on major type %d" % major)
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major == 2:
            return self.chunks(2) if n is None else bytes(self.take(n))
        if major == 3:
            raw = self.chunks(3) if n is None else self.take(n)
            if type(raw) is not bytes:
                raw = bytes(raw)
            try:
                if raw and max(raw) >= 0xC0 and not _utf8_extra_ok(raw):
                    raise UnicodeError
                return str(raw, "utf-8")
            except UnicodeError:
                self.fail("text string is not valid UTF-8")
        if major == 4:
            out = []
            if n is None:
                while self.peek_break():
                    out.append(self.item(depth + 1))
                self.pos += 1
            else:
                # each element takes at least one byte: refuse before allocating
                if n > self.end - self.pos:
                    self.fail("array of %d items in %d bytes" % (n, self.end - self.pos))
                for _ in range(n):
                    out.append(self.item(depth + 1))
            return out
        if major == 5:
            return self.map(n, depth)
        # major 6: tag
        value = self.item(depth + 1)
        if n == 2 or n == 3:
            if type(value) is not bytes:
                self.fail("bignum content is not a byte string")
            if self.strict and (len(value) <= 8 or value[0] == 0):
                self.fail("bignum not in preferred form")
            v = int.from_bytes(value, "big")
            return v if n == 2 else -1 - v
        return Tag(n, value)

    def peek_break(self):
        if self.pos >= self.end:
            self.fail("indefinite-length item not terminated")
        return self.data[self.pos] != _BREAK

    def map(self, n, depth):
        out = {}
        if n is not None and 2 * n > self.end - self.pos:
            self.fail("map of %d pairs in %d bytes" % (n, self.end - self.pos))
        i = 0
        last = None
        while (i < n) if n is not None else self.peek_break():
            start = self.pos
            key = self.item(depth + 1)
            if self.strict:
                kb = self.data[start:self.pos]
                if last is not None and bytes(kb) <= last:
                    self.pos = start
                    self.fail("map keys not in deterministic order or duplicated")
                last = bytes(kb)
            if type(key) is list:
                key = _freeze(key)
            try:
                hash(key)
            except TypeError:
                self.pos = start
                self.fail("map key of unhashable type")
            if key in out:
                self.pos = start
                self.fail("duplicate map key")
            out[key] = self.item(depth + 1)
            i += 1
        if n is None:
            self.pos += 1
        return out

    def simple(self, ai):
        # RFC 8949 §3.3: simple values and floats
        if ai < 20:
            return Simple(ai)
        if ai == 20:
            return False
        if ai == 21:
            return True
        if ai == 22:
            return None
        if ai == 23:
            return undefined
        if ai == 24:
            v = self.take(1)[0]
            if v < 32:
                self.fail("simple value %d in two bytes" % v)
            return Simple(v)
        if ai == 25:
            h = int.from_bytes(self.take(2), "big")
            f = _half(h)
            if self.strict and f != f and h != 0x7E00:
                self.fail("NaN not in its deterministic form")
        elif ai == 26:
            f = struct.unpack(">f", self.take(4))[0]
        elif ai == 27:
            f = struct.unpack(">d", self.take(8))[0]
        elif ai == 31:
            self.fail("unexpected break")
        else:
            self.fail("reserved simple value encoding")
        if self.strict and ai != 25:
            check = bytearray()
            _encode_float(check, f)
            if len(check) != {26: 5, 27: 9}[ai]:
                self.fail("float not in shortest form")
        return f


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


def _check_length(data, max_length):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CBORError("CBOR input must be bytes, not %s" % type(data).__name__)
    if len(data) > max_length:
        raise CBORError("input of %d bytes is over the limit of %d" % (len(data), max_length))


def decode(data, offset=0, strict=False, max_depth=_MAX_DEPTH, max_items=_MAX_ITEMS,
           max_length=_MAX_LENGTH):
    # Incremental: one data item from data[offset:]; returns (item, offset of the next).
    _check_length(data, max_length)
    d = _Decoder(data, offset, strict, max_depth, max_items)
    try:
        obj = d.item(0)
    except RuntimeError:  # RecursionError on CPython; MicroPython raises RuntimeError
        raise CBORError("nesting too deep for the stack")
    return obj, d.pos


def loads(data, strict=False, max_depth=_MAX_DEPTH, max_items=_MAX_ITEMS, max_length=_MAX_LENGTH):
    # Exactly one data item; trailing bytes are an error.
    obj, end = decode(data, 0, strict, max_depth, max_items, max_length)
    if end != len(data):
        raise CBORError("%d bytes after the data item" % (len(data) - end))
    return obj


def loads_seq(data, strict=False, max_depth=_MAX_DEPTH, max_items=_MAX_ITEMS,
              max_length=_MAX_LENGTH):
    # A CBOR sequence (RFC 8742): zero or more items; the item limit counts across them.
    _check_length(data, max_length)
    d = _Decoder(data, 0, strict, max_depth, max_items)
    out = []
    try:
        while d.pos < d.end:
            out.append(d.item(0))
    except RuntimeError:
        raise CBORError("nesting too deep for the stack")
    return out
