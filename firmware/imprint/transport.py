# Datagram and stream transports, the one interface the protocols use to reach a peer:
#   datagram: send(data), recv(timeout_ms) -> bytes or None (timeout), close()
#   stream:   send(data), recv(n, timeout_ms) -> bytes, b"" at end of stream, None (timeout),
#             close()
# Boards with IP use sockets; boards without (nRF52840, the virtual board) use the host's
# relay (`imprint relay`) over the serial link. A port's datagram()/stream() picks one.
#
# Relay bodies (CBOR arrays on link channels DATAGRAM and STREAM), device to host:
#   [OPEN 0, sid, host, port]   [SEND 1, sid, data, offset]   [CLOSE 2, sid]
# host to device:
#   [DATA 1, sid, data, offset]  [CLOSED 2, sid, reason]  [OPENED 3, sid]  [ERROR 4, sid, text]
# offset counts a stream's bytes so far (0 on datagrams): a frame lost on the line is noticed.
from . import cbor, clock, link

try:
    from micropython import const
except ImportError:
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

OPEN = const(0)
SEND = const(1)
CLOSE = const(2)
DATA = const(1)
CLOSED = const(2)
OPENED = const(3)
ERROR = const(4)
_MAX_INBOX = const(16)
_CHUNK = const(1024)  # stream bytes per frame (under link.MAX_BODY with the CBOR around)


class TransportError(OSError):
    pass


class Relay:
    # The device end of the host's relay: sockets multiplexed over one Link.
    def __init__(self, lk):
        self.link = lk
        self._socks = {}
        self._sid = 0
        self.dropped = 0  # frames for no open socket, or on a channel this does not serve

    def _open(self, sock, host, port):
        self._sid += 1
        sock.sid = self._sid
        self._socks[sock.sid] = sock
        self.link.send(sock.channel, cbor.dumps([OPEN, sock.sid, host, port]))

    def datagram(self, host, port):
        s = _RelayDatagram(self)
        self._open(s, host, port)
        return s

    def stream(self, host, port, timeout_ms=10000):
        s = _RelayStream(self)
        self._open(s, host, port)
        start = clock.ms()
        while not s.opened:
            s._raise()
            left = timeout_ms - clock.since(start)
            if left <= 0:
                s.close()
                raise TransportError("relay: no connection to %s:%d within %d ms" % (host, port, timeout_ms))
            self.poll(left)
        return s

    def poll(self, timeout_ms):
        # Take one frame from the link (waiting up to timeout_ms) and hand it to its socket.
        frame = self.link.recv(timeout_ms)
        if frame is None:
            return
        channel, _, body = frame
        try:
            msg = cbor.loads(body)
            op, sock = msg[0], self._socks.get(msg[1])
        except (ValueError, TypeError, IndexError, KeyError):
            sock = None
        if sock is None or channel != sock.channel:
            self.dropped += 1
            return
        if op == DATA:
            if msg[3] != sock.rx_offset:
                sock.error = "relay: %d stream bytes lost on the serial line" % (msg[3] - sock.rx_offset)
            elif len(sock.inbox) < _MAX_INBOX:
                sock.inbox.append(msg[2])
                sock.rx_offset += len(msg[2]) if sock.channel == link.STREAM else 0
            else:
                self.dropped += 1
        elif op == OPENED:
            sock.opened = True
        elif op == CLOSED:
            sock.eof = True
        elif op == ERROR:
            sock.error = "relay: " + str(msg[2])

    def _close(self, sock):
        if self._socks.pop(sock.sid, None) is not None:
            self.link.send(sock.channel, cbor.dumps([CLOSE, sock.sid]))


class _RelaySocket:
    channel = link.DATAGRAM

    def __init__(self, relay):
        self._relay = relay
        self.sid = 0
        self.inbox = []
        self.rx_offset = 0
        self.tx_offset = 0
        self.error = None
        self.eof = False
        self.opened = False

    def _raise(self):
        if self.error is not None:
            raise TransportError(self.error)

    def _wait(self, timeout_ms):
        # True once something is in the inbox (or the stream ended) within timeout_ms
        start = clock.ms()
        while not self.inbox and not self.eof:
            self._raise()
            left = timeout_ms - clock.since(start)
            if left <= 0:
                return False
            self._relay.poll(left)
        return True

    def close(self):
        self._relay._close(self)


class _RelayDatagram(_RelaySocket):
    def send(self, data):
        self._raise()
        self._relay.link.send(link.DATAGRAM, cbor.dumps([SEND, self.sid, bytes(data), 0]))

    def recv(self, timeout_ms):
        if self._wait(timeout_ms) and self.inbox:
            return self.inbox.pop(0)
        return None


class _RelayStream(_RelaySocket):
    channel = link.STREAM

    def send(self, data):
        for i in range(0, len(data), _CHUNK):
            self._raise()
            part = bytes(data[i:i + _CHUNK])
            self._relay.link.send(link.STREAM, cbor.dumps([SEND, self.sid, part, self.tx_offset]))
            self.tx_offset += len(part)

    def recv(self, n, timeout_ms):
        if not self._wait(timeout_ms):
            return None
        if not self.inbox:
            return b""  # the peer closed and everything was read
        first = self.inbox[0]
        if len(first) <= n:
            return self.inbox.pop(0)
        self.inbox[0] = first[n:]
        return first[:n]


try:
    _Timeout = TimeoutError  # type: type[BaseException] | tuple[()]  # CPython's socket.timeout
except NameError:  # MicroPython: OSError ETIMEDOUT or EAGAIN
    _Timeout = ()


def _timed_out(e):
    return isinstance(e, _Timeout) or (len(e.args) > 0 and e.args[0] in (11, 110))


class SocketDatagram:
    # UDP for boards with IP (esp32) and for CPython.
    def __init__(self, host, port):
        import socket
        ai = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
        self._s = socket.socket(ai[0], socket.SOCK_DGRAM)
        self._s.connect(ai[-1])

    def send(self, data):
        self._s.send(data)

    def recv(self, timeout_ms):
        self._s.settimeout(max(timeout_ms, 1) / 1000)
        try:
            return self._s.recv(2048)
        except OSError as e:
            if _timed_out(e):
                return None
            raise TransportError("datagram: %s" % (e,))

    def close(self):
        self._s.close()


class SocketStream:
    # TCP for boards with IP (esp32) and for CPython.
    def __init__(self, host, port, timeout_ms=10000):
        import socket
        ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
        self._s = socket.socket(ai[0], socket.SOCK_STREAM)
        self._s.settimeout(timeout_ms / 1000)
        try:
            self._s.connect(ai[-1])
        except OSError as e:
            self._s.close()
            raise TransportError("no connection to %s:%d: %s" % (host, port, e))

    def send(self, data):
        self._s.settimeout(10)
        self._s.sendall(data)

    def recv(self, n, timeout_ms):
        self._s.settimeout(max(timeout_ms, 1) / 1000)
        try:
            return self._s.recv(n)
        except OSError as e:
            if _timed_out(e):
                return None
            raise TransportError("stream: %s" % (e,))

    def close(self):
        self._s.close()
