# CoAP messages (RFC 7252 §3) and block options (RFC 7959 §2.2) for MicroPython and CPython.
# A message is type, code, message ID, token, an option list of (number, bytes) pairs kept
# sorted by number (repeated options keep their order) and a payload. Every failure to
# decode or encode is a CoAPError. The exchange rules (retransmission, blocks) are in
# imprint.coap_client.
try:
    from micropython import const
except ImportError:  # CPython
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

# option numbers (RFC 7252 §5.10, RFC 7641, RFC 7959, RFC 8613, RFC 7967, EDHOC)
IF_MATCH = const(1)
URI_HOST = const(3)
ETAG = const(4)
IF_NONE_MATCH = const(5)
OBSERVE = const(6)
URI_PORT = const(7)
LOCATION_PATH = const(8)
OSCORE = const(9)
URI_PATH = const(11)
CONTENT_FORMAT = const(12)
MAX_AGE = const(14)
URI_QUERY = const(15)
ACCEPT = const(17)
LOCATION_QUERY = const(20)
EDHOC = const(21)
BLOCK2 = const(23)
BLOCK1 = const(27)
SIZE2 = const(28)
PROXY_URI = const(35)
PROXY_SCHEME = const(39)
SIZE1 = const(60)
NO_RESPONSE = const(258)

# message types (RFC 7252 §3)
CON = const(0)
NON = const(1)
ACK = const(2)
RST = const(3)

# codes, class << 5 | detail (RFC 7252 §12.1, RFC 8132, RFC 7959 §2.9)
EMPTY = const(0)
GET = const(1)
POST = const(2)
PUT = const(3)
DELETE = const(4)
FETCH = const(5)
PATCH = const(6)
iPATCH = const(7)
CREATED = const(0x41)
DELETED = const(0x42)
VALID = const(0x43)
CHANGED = const(0x44)
CONTENT = const(0x45)
CONTINUE = const(0x5F)
BAD_REQUEST = const(0x80)
UNAUTHORIZED = const(0x81)
BAD_OPTION = const(0x82)
FORBIDDEN = const(0x83)
NOT_FOUND = const(0x84)
METHOD_NOT_ALLOWED = const(0x85)
NOT_ACCEPTABLE = const(0x86)
REQUEST_ENTITY_INCOMPLETE = const(0x88)
CONFLICT = const(0x89)
PRECONDITION_FAILED = const(0x8C)
REQUEST_ENTITY_TOO_LARGE = const(0x8D)
UNSUPPORTED_CONTENT_FORMAT = const(0x8F)
UNPROCESSABLE_ENTITY = const(0x96)
TOO_MANY_REQUESTS = const(0x9D)
INTERNAL_SERVER_ERROR = const(0xA0)
NOT_IMPLEMENTED = const(0xA1)
BAD_GATEWAY = const(0xA2)
SERVICE_UNAVAILABLE = const(0xA3)
GATEWAY_TIMEOUT = const(0xA4)
PROXYING_NOT_SUPPORTED = const(0xA5)

_MAX_EXT = const(65804)  # largest option delta or length: 14, then 65535 + 269


class CoAPError(ValueError):
    pass


def code_str(code):
    # "2.05" for 0x45
    return "%d.%02d" % (code >> 5, code & 31)


class Message:
    __slots__ = ("type", "code", "mid", "token", "options", "payload")

    def __init__(self, code, token=b"", options=None, payload=b"", type=CON, mid=0):
        self.type = type
        self.code = code
        self.mid = mid
        self.token = token
        self.options = []
        self.payload = payload
        if options:
            for number, value in options:
                self.add(number, value)

    def get(self, number):
        for n, v in self.options:
            if n == number:
                return v
        return None

    def get_all(self, number):
        return [v for n, v in self.options if n == number]

    def add(self, number, value):
        # after every option with a number <= number: the list stays sorted, repeats in order
        opts = self.options
        i = len(opts)
        while i and opts[i - 1][0] > number:
            i -= 1
        opts.insert(i, (number, value))

    def remove(self, number):
        self.options = [o for o in self.options if o[0] != number]

    def path(self):
        return "/".join(bytes(v).decode() for v in self.get_all(URI_PATH))

    def __repr__(self):
        return "<CoAP %s %s mid=%d token=%s options=%r payload=%d B>" % (
            "CON NON ACK RST".split()[self.type & 3], code_str(self.code), self.mid,
            bytes(self.token).hex() if self.token else "-", self.options, len(self.payload))


# RFC 7252 §3.2: uint option value, big-endian without leading zero bytes
def uint_option(n):
    if n < 0:
        raise CoAPError("uint option value below 0")
    k = 0
    m = n
    while m:
        k += 1
        m >>= 8
    return n.to_bytes(k, "big") if k else b""


# RFC 7252 §3.2: the integer of a uint option value
def option_uint(b):
    return int.from_bytes(b, "big") if b else 0


def _nibble(out, v):
    # the 4-bit field for a delta or length; extension bytes appended later by the caller
    if v < 13:
        return v
    if v < 269:
        out.append(v - 13)
        return 13
    if v > _MAX_EXT:
        raise CoAPError("option delta or length %d over %d" % (v, _MAX_EXT))
    v -= 269
    out.append(v >> 8)
    out.append(v & 0xFF)
    return 14


# RFC 7252 §3.1: Option = delta:4 length:4 [delta ext 1|2] [length ext 1|2] value
def encode_options(options):
    prev = 0
    for n, _ in options:
        if n < prev:  # not sorted: sort stably (MicroPython's sort is not stable)
            idx = list(range(len(options)))
            idx.sort(key=lambda i: (options[i][0], i))
            options = [options[i] for i in idx]
            break
        prev = n
    out = bytearray()
    prev = 0
    for n, v in options:
        if isinstance(v, str):
            v = v.encode()
        if n < prev:
            raise CoAPError("option number below 0")
        pos = len(out)
        out.append(0)
        ext = bytearray()
        d = _nibble(ext, n - prev)
        out[pos] = d << 4 | _nibble(ext, len(v))
        out += ext
        out += v
        prev = n
    return bytes(out)


def _ext(data, pos, nib):
    # the value of a delta or length nibble, reading its extension bytes
    if nib < 13:
        return nib, pos
    if nib == 13:
        if pos >= len(data):
            raise CoAPError("truncated option")
        return data[pos] + 13, pos + 1
    if nib == 14:
        if pos + 2 > len(data):
            raise CoAPError("truncated option")
        return (data[pos] << 8 | data[pos + 1]) + 269, pos + 2
    raise CoAPError("reserved option nibble 15")


# RFC 7252 §3.1: options up to the payload marker 0xFF (not consumed) or the end of data
def decode_options(data, pos=0):
    opts = []
    n = 0
    end = len(data)
    while pos < end:
        b = data[pos]
        if b == 0xFF:
            break
        delta, pos = _ext(data, pos + 1, b >> 4)
        length, pos = _ext(data, pos, b & 15)
        if pos + length > end:
            raise CoAPError("truncated option value")
        n += delta
        opts.append((n, bytes(data[pos:pos + length])))
        pos += length
    return opts, pos


# RFC 7252 §3: Ver:2 T:2 TKL:4 | Code | Message ID:16 | Token | Options | [0xFF Payload]
def encode(msg):
    token = msg.token
    if len(token) > 8:
        raise CoAPError("token over 8 bytes")
    if not 0 <= msg.type <= 3 or not 0 <= msg.code <= 255 or not 0 <= msg.mid <= 0xFFFF:
        raise CoAPError("type, code or message ID out of range")
    out = bytearray((0x40 | msg.type << 4 | len(token), msg.code, msg.mid >> 8, msg.mid & 0xFF))
    out += token
    if msg.options:
        out += encode_options(msg.options)
    if msg.payload:
        out.append(0xFF)
        out += msg.payload
    return bytes(out)


# RFC 7252 §3, §4.1 (Empty message): one datagram to a Message
def decode(data):
    if len(data) < 4:
        raise CoAPError("message under 4 bytes")
    b = data[0]
    if b >> 6 != 1:
        raise CoAPError("CoAP version %d" % (b >> 6))
    tkl = b & 15
    if tkl > 8:
        raise CoAPError("token length %d" % tkl)
    code = data[1]
    if code == EMPTY and len(data) != 4:
        raise CoAPError("empty message with bytes after the message ID")
    if 4 + tkl > len(data):
        raise CoAPError("truncated token")
    m = Message(code, bytes(data[4:4 + tkl]), None, b"", b >> 4 & 3, data[2] << 8 | data[3])
    m.options, pos = decode_options(data, 4 + tkl)
    if pos < len(data):  # at the payload marker
        if pos + 1 == len(data):
            raise CoAPError("payload marker with an empty payload")
        m.payload = bytes(data[pos + 1:])
    return m


# RFC 7959 §2.2: Block option value = NUM:4..20 M:1 SZX:3 (block size 2 ** (SZX + 4))
def block_option(num, more, szx):
    if not 0 <= szx <= 6 or not 0 <= num < 0x100000:
        raise CoAPError("block number or SZX out of range")
    return uint_option(num << 4 | (8 if more else 0) | szx)


# RFC 7959 §2.2: (NUM, M, SZX) of a Block1 or Block2 option value
def parse_block(b):
    if len(b) > 3:
        raise CoAPError("block option over 3 bytes")
    v = option_uint(b)
    if v & 7 == 7:
        raise CoAPError("block SZX 7 is reserved")
    return v >> 4, bool(v & 8), v & 7
