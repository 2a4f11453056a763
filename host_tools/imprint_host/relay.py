"""`imprint relay`: carries a board's datagrams and streams to peers and back.

A board without IP (nRF52840, the virtual board) sends link frames on its console UART; the
relay opens the UDP and TCP sockets they ask for and forwards both ways. Bodies are CBOR
arrays (firmware/imprint/transport.py has the device end and the table of operations).
By default only loopback peers may be reached; ``allow`` widens that.
"""

from __future__ import annotations

import ipaddress
import selectors
import socket
import time
from dataclasses import dataclass, field
from typing import Callable

import cbor2

from . import link
from .link import Channel, Frame

OPEN, SEND, CLOSE = 0, 1, 2
DATA, CLOSED, OPENED, ERROR = 1, 2, 3, 4
CHUNK = 1024


class RelayError(RuntimeError):
    pass


@dataclass
class _Peer:
    channel: int
    sock: socket.socket
    rx_offset: int = 0  # stream bytes from the board so far
    tx_offset: int = 0  # stream bytes to the board so far


@dataclass
class Relay:
    """Relay for one board. ``write`` sends bytes to the board's UART; feed what the UART
    delivers to ``feed``; call ``poll`` to forward what peers sent."""

    write: Callable[[bytes], None]
    on_text: Callable[[bytes], None] = lambda b: None
    allow: tuple[str, ...] = ()
    log: Callable[[str], None] = lambda s: None
    peers: dict[int, _Peer] = field(default_factory=dict)
    frames_in: int = 0
    frames_out: int = 0
    lost: int = 0

    def __post_init__(self) -> None:
        self._split = link.Splitter()
        self._sel = selectors.DefaultSelector()
        self._seq = 0
        self._last_seq: int | None = None

    # ---- board -> peers
    def feed(self, data: bytes) -> None:
        for item in self._split.feed(data):
            if isinstance(item, Frame):
                self._frame(item)
            else:
                self.on_text(item)

    def _frame(self, f: Frame) -> None:
        self.frames_in += 1
        if self._last_seq is not None and f.seq != (self._last_seq + 1) & 0xFF:
            self.lost += (f.seq - self._last_seq - 1) & 0xFF
        self._last_seq = f.seq
        if f.channel not in (Channel.DATAGRAM, Channel.STREAM):
            self.log(f"relay: frame on channel {f.channel} ignored")
            return
        try:
            msg = cbor2.loads(f.body)
            op, sid = msg[0], msg[1]
        except Exception:
            self.log("relay: a frame body that is not a relay request, ignored")
            return
        try:
            if op == OPEN:
                self._open(f.channel, sid, str(msg[2]), int(msg[3]))
            elif op == SEND:
                self._send(sid, bytes(msg[2]), int(msg[3]))
            elif op == CLOSE:
                self._close(sid)
        except (OSError, RelayError, IndexError, ValueError) as e:
            self._to_board(f.channel, [ERROR, sid, str(e)])
            self._close(sid)

    def _allowed(self, host: str) -> None:
        if "*" in self.allow or host in self.allow:
            return
        for info in socket.getaddrinfo(host, None):
            if not ipaddress.ip_address(info[4][0]).is_loopback:
                raise RelayError(f"{host} is not loopback; start the relay with --allow {host}")

    def _open(self, channel: int, sid: int, host: str, port: int) -> None:
        self._close(sid)
        self._allowed(host)
        kind = socket.SOCK_DGRAM if channel == Channel.DATAGRAM else socket.SOCK_STREAM
        family, _, _, _, addr = socket.getaddrinfo(host, port, 0, kind)[0]
        s = socket.socket(family, kind)
        s.settimeout(5)
        try:
            s.connect(addr)
        except OSError as e:
            s.close()
            raise RelayError(f"cannot reach {host}:{port}: {e.strerror or e}") from None
        s.setblocking(False)
        self.peers[sid] = _Peer(channel, s)
        self._sel.register(s, selectors.EVENT_READ, sid)
        self.log(f"relay: {sid} {'udp' if kind == socket.SOCK_DGRAM else 'tcp'} {host}:{port}")
        if channel == Channel.STREAM:
            self._to_board(channel, [OPENED, sid])

    def _send(self, sid: int, data: bytes, offset: int) -> None:
        peer = self.peers.get(sid)
        if peer is None:
            raise RelayError(f"no open socket {sid}")
        if peer.channel == Channel.STREAM:
            if offset != peer.rx_offset:
                raise RelayError(f"{offset - peer.rx_offset} stream bytes lost on the serial line")
            peer.rx_offset += len(data)
            peer.sock.setblocking(True)
            try:
                peer.sock.sendall(data)
            finally:
                peer.sock.setblocking(False)
        else:
            peer.sock.send(data)

    def _close(self, sid: int) -> None:
        peer = self.peers.pop(sid, None)
        if peer is not None:
            self._sel.unregister(peer.sock)
            peer.sock.close()

    # ---- peers -> board
    def _to_board(self, channel: int, msg: list) -> None:
        self.write(link.encode(channel, self._seq, cbor2.dumps(msg)))
        self._seq = (self._seq + 1) & 0xFF
        self.frames_out += 1

    def poll(self, timeout: float = 0.0) -> None:
        for key, _ in self._sel.select(timeout):
            sid = key.data
            peer = self.peers.get(sid)
            if peer is None:
                continue
            try:
                data = peer.sock.recv(65536 if peer.channel == Channel.DATAGRAM else CHUNK)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:  # e.g. ICMP port unreachable on a UDP socket
                self._to_board(peer.channel, [ERROR, sid, str(e.strerror or e)])
                self._close(sid)
                continue
            if peer.channel == Channel.DATAGRAM:
                self._to_board(peer.channel, [DATA, sid, data, 0])
            elif data:
                self._to_board(peer.channel, [DATA, sid, data, peer.tx_offset])
                peer.tx_offset += len(data)
            else:
                self._to_board(peer.channel, [CLOSED, sid, "closed by peer"])
                self._close(sid)

    def close(self) -> None:
        for sid in list(self.peers):
            self._close(sid)
        self._sel.close()


def run_program(serial_port: str, code: str, *, timeout: float = 300,
                allow: tuple[str, ...] = (), on_text: Callable[[bytes], None] | None = None,
                log: Callable[[str], None] = lambda s: None) -> tuple[str, str]:
    """Run code on the board at serial_port (raw REPL) and relay for it until it ends.

    Returns (what it printed, its traceback or ""). Raises RelayError on a timeout."""
    from mpremote.transport_serial import SerialTransport

    t = SerialTransport(serial_port, baudrate=115200)
    try:
        t.enter_raw_repl(soft_reset=False)
        t.exec_raw_no_follow(code)
        ser = t.serial
        out = bytearray()  # board text, frames removed: stdout \x04 stderr \x04 >

        def text(b: bytes) -> None:
            out.extend(b)
            if on_text is not None:
                on_text(b)

        relay = Relay(write=ser.write, on_text=text, allow=allow, log=log)
        deadline = time.monotonic() + timeout
        try:
            while not (out.count(b"\x04") >= 2 and out.endswith(b"\x04>")):
                if time.monotonic() > deadline:
                    raise RelayError(f"the program on {serial_port} did not end within {timeout:.0f} s")
                n = ser.in_waiting
                if n:
                    relay.feed(ser.read(n))
                relay.poll(0 if n else 0.005)
        finally:
            relay.close()
        stdout, stderr = bytes(out[:-1]).split(b"\x04")[:2]
        return stdout.decode(errors="replace"), stderr.decode(errors="replace")
    finally:
        try:
            t.exit_raw_repl()
        finally:
            t.close()
