"""Serial link conformance over the board's real console: the board's framing agrees with the
host's both ways, the agent resynchronises after line garbage and half frames, bad requests
get error frames, and the relay carries datagrams and streams (and refuses what it must)."""

from __future__ import annotations

import ast
import hashlib
import socket
import threading

import cbor2
import pytest

from imprint_host import link, relay
from imprint_host.factory.agent_client import AgentCallError, AgentClient

CASES = [(0, 0, b""), (1, 255, bytes(range(256))), (2, 17, b"\x00\x01\x02\x03\x04\x05~~\n"),
         (3, 300, b"x" * link.MAX_BODY)]


def test_framing_agrees_with_the_host_both_ways(board):
    # the board encodes; the host decodes and compares. The host encodes; the board decodes.
    frames = [link.encode(ch, seq, body) for ch, seq, body in CASES]
    out = board.exec(
        "from imprint import link\n"
        f"for ch, seq, body in {CASES!r}:\n"
        "    print(repr(link.encode(ch, seq, body)))\n"
        f"for f in {frames!r}:\n"
        "    print(repr(link.decode(f)))\n"
        "print(repr(link.decode(b'~~QUJD\\n')), repr(link.decode(b'MPY: soft reboot\\r\\n')))\n")
    lines = out.strip().splitlines()
    n = len(CASES)
    assert [ast.literal_eval(x) for x in lines[:n]] == frames
    assert [ast.literal_eval(x) for x in lines[n:2 * n]] == [(ch, seq & 0xFF, body) for ch, seq, body in CASES]
    assert lines[2 * n] == "None None"


def test_agent_resyncs_after_garbage_and_half_frames(board):
    with AgentClient(board.port) as agent:
        before = agent.call("identify")
        good = link.encode(link.Channel.AGENT, 9, cbor2.dumps([77, "identify", None]))
        agent._ser.write(b"\x00\xffgarbage\r\n" + good[:20] + b"\n" + good[:-6] + b"AAAA\n")
        agent._ser.write(b"~~" + b"QUJD" * 3 + b"\n" + b"x" * (link.MAX_LINE + 100) + b"\n")
        after = agent.call("identify")  # the next good frame is answered
    assert after == before | {"heap_free": after["heap_free"]}
    assert not any(f for f in agent.log if "Traceback" in f), agent.log


def test_bad_requests_get_error_frames(board):
    with AgentClient(board.port) as agent:
        with pytest.raises(AgentCallError) as e:
            agent.call("no-such-request")
        assert e.value.code == 1
        with pytest.raises(AgentCallError) as e:
            agent.call("keygen", ["not", "a", "map"])
        assert e.value.code == 1
        # a body that is not CBOR: an error frame without a request id (code 1)
        agent._ser.write(link.encode(link.Channel.AGENT, 50, b"\xff\xff"))
        assert agent.call("identify")["board"]  # the agent is still serving
    replies = [cbor2.loads(f.body) for f in link.Splitter().feed(bytes(agent.transcript))
               if isinstance(f, link.Frame) and f.channel == link.Channel.AGENT]
    assert [r[:2] for r in replies if r[0] is None] == [[None, 1]], replies


@pytest.fixture
def udp_echo():
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(30)

    def serve() -> None:
        try:
            while True:
                data, addr = srv.recvfrom(4096)
                srv.sendto(b"echo:" + data, addr)
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


@pytest.mark.requires_relay
def test_relay_carries_datagrams_and_streams(board, udp_echo):
    blob = bytes(range(251)) * 20  # 5020 B: several stream frames each way
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)
    tcp.settimeout(30)

    def reverse_once() -> None:
        conn, _ = tcp.accept()
        got = b""
        while len(got) < len(blob):
            got += conn.recv(4096)
        conn.sendall(got[::-1])
        conn.close()

    threading.Thread(target=reverse_once, daemon=True).start()
    out, err = relay.run_program(board.port, f"""
import hashlib, imprint_port
print("log text between frames")
d = imprint_port.datagram("127.0.0.1", {udp_echo})
for i in range(3):
    d.send(b"ping %d" % i)
    print(d.recv(5000))
s = imprint_port.stream("127.0.0.1", {tcp.getsockname()[1]})
s.send({blob!r})
got = b""
while True:
    b = s.recv(4096, 5000)
    if not b:
        break
    got += b
print(len(got), hashlib.sha256(got).digest() == {hashlib.sha256(blob[::-1]).digest()!r})
""", timeout=60)
    tcp.close()
    assert err == ""
    assert out.splitlines() == ["log text between frames", "b'echo:ping 0'", "b'echo:ping 1'",
                                "b'echo:ping 2'", f"{len(blob)} True"]


@pytest.mark.requires_relay
def test_relay_error_frames_reach_the_program(board):
    # off loopback: refused with advice; a closed TCP port: the connection error
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    out, err = relay.run_program(board.port, f"""
import imprint_port
from imprint import transport
for host, port in (("192.0.2.1", 5683), ("127.0.0.1", {port})):
    try:
        if host == "127.0.0.1":
            imprint_port.stream(host, port)
        else:
            imprint_port.datagram(host, port).recv(2000)
    except transport.TransportError as e:
        print("refused", e)
""", timeout=60)
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 2 and all(ln.startswith("refused") for ln in lines), out
    assert "--allow 192.0.2.1" in lines[0] and "cannot reach" in lines[1]
