# The serial link framing and the device end of the relay, over an in-memory pipe.
# Runs on the board and on CPython.
from imprint import cbor, link, transport


class Pipe:
    # The UART as the device sees it: bytes to read (in given chunks), bytes written.
    def __init__(self, chunks=()):
        self.chunks = list(chunks)
        self.written = bytearray()

    def read(self, n, timeout_ms):
        if not self.chunks:
            return b""
        c = self.chunks.pop(0)
        if len(c) > n:
            self.chunks.insert(0, c[n:])
            c = c[:n]
        return c

    def write(self, data):
        self.written.extend(data)


def test_frame_round_trip_and_shape():
    line = link.encode(link.DATAGRAM, 7, b"\xa1\x01\x02")
    assert line.startswith(b"~~") and line.endswith(b"\n") and line.count(b"\n") == 1
    for c in (1, 2, 3, 4, 5):  # the REPL's control bytes never appear in a frame
        assert bytes((c,)) not in line
    assert link.decode(line) == (link.DATAGRAM, 7, b"\xa1\x01\x02")
    assert link.decode(line.rstrip(b"\n") + b"\r\n") == (link.DATAGRAM, 7, b"\xa1\x01\x02")
    assert link.decode(link.encode(link.AGENT, 300, b"")) == (link.AGENT, 44, b"")


def test_bad_frames_are_not_frames():
    line = link.encode(link.STREAM, 1, b"hello frame")
    assert link.decode(b"MPY: soft reboot\r\n") is None
    assert link.decode(line[:-10] + b"\n") is None  # cut short
    for i in range(2, len(line) - 1):  # any one character changed
        bad = bytearray(line)
        bad[i] = ord("A") if bad[i] != ord("A") else ord("B")
        assert link.decode(bytes(bad)) is None, i
    assert link.decode(b"~~!!!!\n") is None


def test_body_limit():
    link.encode(link.AGENT, 0, b"x" * link.MAX_BODY)
    try:
        link.encode(link.AGENT, 0, b"x" * (link.MAX_BODY + 1))
    except link.LinkError:
        pass
    else:
        raise AssertionError("an oversized body was framed")


def test_link_skips_log_text_garbage_and_half_frames():
    good = link.encode(link.DATAGRAM, 1, b"one")
    second = link.encode(link.STREAM, 2, b"two")
    stream = (b"log: starting\r\n" + good[:9] + b"\r\nMPY: soft reboot\r\n\x00\xff garbage\n"
              + good + b"more log " + second)
    p = Pipe([stream[i:i + 5] for i in range(0, len(stream), 5)])  # arrives in bits
    lk = link.Link(p.read, p.write)
    assert lk.recv(100) == (link.DATAGRAM, 1, b"one")
    assert lk.recv(100) == (link.STREAM, 2, b"two")
    assert lk.recv(0) is None
    assert lk.skipped == 4  # the log line, the half frame, the reboot banner, the garbage


def test_link_drops_an_endless_line():
    p = Pipe([b"x" * 1000] * 7 + [b"\n" + link.encode(link.AGENT, 9, b"ok")])
    lk = link.Link(p.read, p.write)
    assert lk.recv(100) == (link.AGENT, 9, b"ok")
    assert lk.skipped >= 1  # the over-long line was dropped, not kept growing


def test_link_send_numbers_frames():
    p = Pipe()
    lk = link.Link(p.read, p.write)
    for i in range(3):
        lk.send(link.AGENT, b"%d" % i)
    lines = bytes(p.written).split(b"\n")[:-1]
    assert [link.decode(x)[1] for x in lines] == [0, 1, 2]


def host_says(*msgs):
    # frames the host relay would send, for channel, body pairs
    return [link.encode(ch, i, cbor.dumps(m)) for i, (ch, m) in enumerate(msgs)]


def sent(p):
    return [(f[0], cbor.loads(f[2])) for f in
            (link.decode(x) for x in bytes(p.written).split(b"\n")[:-1])]


def test_relay_datagram_exchange():
    p = Pipe(host_says((link.DATAGRAM, [transport.DATA, 1, b"pong", 0])))
    r = transport.Relay(link.Link(p.read, p.write))
    d = r.datagram("127.0.0.1", 5683)
    d.send(b"ping")
    assert d.recv(100) == b"pong"
    assert d.recv(0) is None
    d.close()
    assert sent(p) == [(link.DATAGRAM, [transport.OPEN, 1, "127.0.0.1", 5683]),
                       (link.DATAGRAM, [transport.SEND, 1, b"ping", 0]),
                       (link.DATAGRAM, [transport.CLOSE, 1])]


def test_relay_error_reaches_the_caller():
    p = Pipe(host_says((link.DATAGRAM, [transport.ERROR, 1, "10.0.0.1 is not loopback"])))
    d = transport.Relay(link.Link(p.read, p.write)).datagram("10.0.0.1", 5683)
    try:
        d.recv(100)
    except transport.TransportError as e:
        assert "not loopback" in str(e)
    else:
        raise AssertionError("the relay's error was lost")


def test_relay_stream_offsets_and_end():
    p = Pipe(host_says((link.STREAM, [transport.OPENED, 1]),
                       (link.STREAM, [transport.DATA, 1, b"HTTP/1.1 ", 0]),
                       (link.STREAM, [transport.DATA, 1, b"200 OK", 9]),
                       (link.STREAM, [transport.CLOSED, 1, "closed by peer"])))
    s = transport.Relay(link.Link(p.read, p.write)).stream("127.0.0.1", 80)
    s.send(b"G" * 2500)  # over one frame: three SENDs with running offsets
    assert s.recv(4, 100) == b"HTTP"
    assert s.recv(100, 100) == b"/1.1 "
    assert s.recv(100, 100) == b"200 OK"
    assert s.recv(100, 100) == b""
    offsets = [m[3] for ch, m in sent(p) if m[0] == transport.SEND]
    assert offsets == [0, 1024, 2048]


def test_relay_stream_notices_a_lost_frame():
    p = Pipe(host_says((link.STREAM, [transport.OPENED, 1]),
                       (link.STREAM, [transport.DATA, 1, b"abc", 0]),
                       (link.STREAM, [transport.DATA, 1, b"xyz", 10])))
    s = transport.Relay(link.Link(p.read, p.write)).stream("127.0.0.1", 80)
    assert s.recv(10, 100) == b"abc"
    try:
        s.recv(10, 100)
    except transport.TransportError as e:
        assert "lost" in str(e)
    else:
        raise AssertionError("a gap in the stream went unnoticed")


def test_relay_stream_open_times_out():
    s = transport.Relay(link.Link(Pipe().read, Pipe().write))
    try:
        s.stream("127.0.0.1", 80, timeout_ms=20)
    except transport.TransportError as e:
        assert "no connection" in str(e)
    else:
        raise AssertionError("open without an answer succeeded")
