# The serial link: imprint frames on the console UART beside the REPL and log text.
#
# A frame is one line:  "~~" base64(channel seq body check) "\n"
#   channel  1 byte (CONTROL 0, AGENT 1, DATAGRAM 2, STREAM 3)
#   seq      1 byte, per sender, +1 per frame (a gap shows a lost frame)
#   body     0..MAX_BODY bytes (CBOR on every channel)
#   check    the first 4 bytes of SHA-256(channel seq body)
# Lines are text, so a terminal, a log line or a "\r" a console adds cannot break a frame,
# and the REPL's control bytes (Ctrl-A..E) never appear in one. A receiver skips whatever is
# not a whole frame with a good check: log text, garbage, half a frame cut by a reset.
import hashlib
from binascii import a2b_base64, b2a_base64

from . import clock

try:
    from micropython import const
except ImportError:
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

CONTROL = const(0)
AGENT = const(1)
DATAGRAM = const(2)
STREAM = const(3)
MAX_BODY = const(4096)
_MAX_LINE = const(5480)  # "~~" + base64 of 2 + MAX_BODY + 4 bytes + "\r\n"
MAGIC = b"~~"


class LinkError(ValueError):
    pass


def _check(head_body):
    return hashlib.sha256(head_body).digest()[:4]


# imprint link frame (above): the line for one frame
def encode(channel, seq, body):
    if len(body) > MAX_BODY:
        raise LinkError("frame body of %d bytes is over %d" % (len(body), MAX_BODY))
    raw = bytes((channel, seq & 0xFF)) + bytes(body)
    return MAGIC + b2a_base64(raw + _check(raw)).rstrip(b"\n") + b"\n"


# imprint link frame (above): (channel, seq, body) of one line, or None if it is not a frame
def decode(line):
    line = line.rstrip(b"\r\n")
    start = line.find(MAGIC)
    if start < 0:
        return None
    body = line[start + 2:]
    if len(body) & 3:
        return None
    try:
        raw = a2b_base64(body)
    except Exception:  # ValueError; the webassembly build's Python binascii raises Exception
        return None
    if len(raw) < 6 or len(raw) > MAX_BODY + 6 or _check(raw[:-4]) != raw[-4:]:
        return None
    return raw[0], raw[1], raw[2:-4]


class Link:
    # Frames over a byte pipe: read(n, timeout_ms) -> bytes (b"" on timeout), write(bytes).
    def __init__(self, read, write):
        self._read = read
        self._write = write
        self._buf = bytearray()
        self._seq = 0
        self.skipped = 0  # lines that were not frames (log text, garbage)

    def send(self, channel, body):
        self._write(encode(channel, self._seq, body))
        self._seq = (self._seq + 1) & 0xFF

    def recv(self, timeout_ms):
        # The next frame as (channel, seq, body), or None when none came within timeout_ms.
        buf = self._buf
        start = clock.ms()
        while True:
            nl = buf.find(b"\n")
            while nl >= 0:
                line = bytes(buf[:nl])
                buf[:nl + 1] = b""
                frame = decode(line) if len(line) <= _MAX_LINE else None
                if frame is not None:
                    return frame
                if line.strip():
                    self.skipped += 1
                nl = buf.find(b"\n")
            if len(buf) > _MAX_LINE:  # a line too long to be a frame: drop it
                buf[:] = b""
                self.skipped += 1
            left = timeout_ms - clock.since(start)
            chunk = self._read(256, left if left > 0 else 0)
            if not chunk:
                if left <= 0:
                    return None
                continue
            buf.extend(chunk)
