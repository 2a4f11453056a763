"""The serial link and `imprint relay`: host and device framing agree, and a board without IP
reaches UDP and TCP peers on loopback through the relay."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from imprint import link as dev_link
from imprint_host import deploy, link, relay
from imprint_host.board import profiles
from imprint_host.board.virtual import VirtualBoard

ROOT = Path(__file__).resolve().parents[2]


def test_host_and_device_framing_agree():
    for ch, seq, body in [(0, 0, b""), (2, 255, bytes(range(256))), (3, 17, b"x" * link.MAX_BODY)]:
        assert link.encode(ch, seq, body) == dev_link.encode(ch, seq, body)
        assert link.decode(dev_link.encode(ch, seq, body)) == link.Frame(ch, seq, body)
        assert dev_link.decode(link.encode(ch, seq, body)) == (ch, seq, body)


def test_splitter_passes_text_and_cuts_frames():
    f1, f2 = link.encode(2, 1, b"a"), link.encode(3, 2, b"b")
    data = b"boot log\r\n" + f1 + b"half ~~QUJD\r\n" + b"note: " + f2 + b"\x04>"
    s = link.Splitter()
    items = [x for i in range(0, len(data), 3) for x in s.feed(data[i:i + 3])]
    frames = [x for x in items if isinstance(x, link.Frame)]
    text = b"".join(x for x in items if isinstance(x, bytes))
    assert frames == [link.Frame(2, 1, b"a"), link.Frame(3, 2, b"b")]
    assert text == b"boot log\r\nhalf ~~QUJD\r\nnote: \x04>"


@pytest.fixture(scope="module")
def vboard(tmp_path_factory):
    with VirtualBoard(profiles.load("nrf52840-dk"), flash=tmp_path_factory.mktemp("flash")) as vb:
        deploy.deploy(vb.port, port="virtual")
        yield vb


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


def test_board_reaches_udp_and_tcp_peers_through_the_relay(vboard, udp_echo):
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
    code = f"""
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
"""
    out, err = relay.run_program(vboard.port, code, timeout=60)
    tcp.close()
    assert err == ""
    assert out.splitlines() == ["log text between frames", "b'echo:ping 0'", "b'echo:ping 1'",
                                "b'echo:ping 2'", f"{len(blob)} True"]


def test_relay_refuses_peers_off_loopback_with_advice(vboard):
    out, err = relay.run_program(vboard.port, "import imprint_port\n"
                                 "imprint_port.datagram('192.0.2.1', 5683).recv(2000)", timeout=30)
    assert "TransportError" in err and "--allow 192.0.2.1" in err


def test_cli_relay_exec_prints_output_and_exit_status(vboard, udp_echo, tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(f"import imprint_port\nd = imprint_port.datagram('127.0.0.1', {udp_echo})\n"
                    "d.send(b'cli')\nprint(d.recv(5000))\n")
    imprint = [sys.executable, "-m", "imprint_host.cli", "relay", "--port", vboard.port]
    r = subprocess.run(imprint + ["--exec", str(prog)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "b'echo:cli'\n"
    r = subprocess.run(imprint + ["-c", "raise ValueError('no')"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "ValueError: no" in r.stderr
