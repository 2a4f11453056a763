"""imprint's EDHOC, OSCORE and CoAP running on the virtual board (real MicroPython), reaching
peers on loopback through `imprint relay`:

- the board as EDHOC Initiator and CoAP client against aiocoap's EDHOC server (lakers inside):
  handshake, OSCORE GET and POST of 3 KB block-wise, message_3 alone and combined (RFC 9668);
- lakers-python as Initiator against the board as Responder, and the board as Initiator
  against lakers as Responder, over plain UDP: exporter outputs equal.
"""

from __future__ import annotations

import hashlib
import socket
import threading

import cbor2
import lakers
import pytest
from conftest import BIG, ccs

from imprint import crypto
from imprint_host import deploy, relay
from imprint_host.board import profiles
from imprint_host.board.virtual import VirtualBoard


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    with VirtualBoard(profiles.load("nrf52840-dk"), flash=tmp_path_factory.mktemp("flash")) as vb:
        deploy.deploy(vb.port, port="virtual")
        yield vb


def run(board, code: str) -> list[str]:
    out, err = relay.run_program(board.port, code, timeout=120)
    assert err == "", err
    return out.splitlines()


@pytest.mark.parametrize("combined", [False, True], ids=["message_3 alone", "EDHOC+OSCORE request"])
def test_board_edhoc_oscore_blockwise_to_aiocoap(board, edhoc_server, combined):
    s = edhoc_server
    lines = run(board, f"""
import hashlib, imprint_port
from imprint import coap_client, edhoc, edhoc_coap
def trust(id_cred):
    if id_cred == {{4: b"\\x0a"}}:
        return {s.ccs!r}
    raise ValueError("unknown credential")
client = coap_client.Client(imprint_port.datagram("127.0.0.1", {s.port}), ack_timeout_ms=1000)
ini = edhoc.Initiator({s.device_key!r}, {s.device_ccs!r}, id_cred={{4: b"\\x2b"}})
session = edhoc_coap.connect(client, ini, trust, combined={combined})
big = bytes(range(256)) * 12 + b"end"
r = session.get("blob")
print(r.code, len(r.payload), r.payload == big)
r = session.post("blob", big)
print(r.code, r.payload == hashlib.sha256(big).digest())
""")
    assert lines == [f"69 {len(BIG)} True", "68 True"]  # 2.05 Content, 2.04 Changed


class LakersPeer:
    """lakers-python on a UDP socket, driven by the board's datagrams (one handshake)."""

    def __init__(self, role: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(60)
        self.port = self.sock.getsockname()[1]
        self.peer_priv, peer_pub = crypto.p256_keypair()
        self.peer_ccs = ccs("lakers", b"\x0a", peer_pub)
        self.board_priv, board_pub = crypto.p256_keypair()
        self.board_ccs = ccs("board", b"\x2b", board_pub)
        self.exported: bytes | None = None
        self.error: BaseException | None = None
        target = self._initiator if role == "initiator" else self._responder
        self.thread = threading.Thread(target=self._guard(target), daemon=True)
        self.thread.start()

    def _guard(self, fn):
        def go() -> None:
            try:
                fn()
            except BaseException as e:  # reported by the test
                self.error = e
        return go

    def _initiator(self) -> None:
        ini = lakers.EdhocInitiator()
        _, addr = self.sock.recvfrom(64)  # the board says it is ready
        self.sock.sendto(ini.prepare_message_1(None, []), addr)
        m2, addr = self.sock.recvfrom(2048)
        c_r, id_cred_r, ead_2 = ini.parse_message_2(m2)
        valid = lakers.credential_check_or_fetch(id_cred_r, lakers.Credential(self.board_ccs))
        ini.verify_message_2(self.peer_priv, lakers.Credential(self.peer_ccs), valid)
        m3, _ = ini.prepare_message_3(lakers.CredentialTransfer.ByReference, [])
        self.sock.sendto(m3, addr)
        m4, addr = self.sock.recvfrom(2048)
        ini.process_message_4(m4)
        self.exported = bytes(ini.edhoc_exporter(7, b"ctx", 32))
        self.sock.sendto(b"done", addr)

    def _responder(self) -> None:
        resp = lakers.EdhocResponder(self.peer_priv, self.peer_ccs)
        m1, addr = self.sock.recvfrom(2048)
        resp.process_message_1(m1)
        self.sock.sendto(resp.prepare_message_2(lakers.CredentialTransfer.ByValue, None, None), addr)
        m3, addr = self.sock.recvfrom(2048)
        id_cred_i, _ = resp.parse_message_3(m3)
        valid = lakers.credential_check_or_fetch(id_cred_i, lakers.Credential(self.board_ccs))
        resp.verify_message_3(valid)
        self.sock.sendto(resp.prepare_message_4([]), addr)
        self.exported = bytes(resp.edhoc_exporter(7, b"ctx", 32))

    def finish(self) -> bytes:
        self.thread.join(60)
        self.sock.close()
        if self.error is not None:
            raise self.error
        assert self.exported is not None
        return self.exported


def test_lakers_initiator_to_board_responder(board):
    peer = LakersPeer("initiator")
    lines = run(board, f"""
import imprint_port
from binascii import hexlify
from imprint import edhoc
def trust(id_cred):
    if id_cred == {{4: b"\\x0a"}}:
        return {peer.peer_ccs!r}
    raise ValueError("unknown credential")
d = imprint_port.datagram("127.0.0.1", {peer.port})
d.send(b"ready")
resp = edhoc.Responder({peer.board_priv!r}, {peer.board_ccs!r}, id_cred={{4: b"\\x2b"}})
d.send(resp.message_2(d.recv(10000)))
resp.verify_message_3(d.recv(10000), trust)
d.send(resp.message_4())
print(d.recv(10000), hexlify(resp.exporter(7, b"ctx", 32)).decode())
""")
    assert lines == [f"b'done' {peer.finish().hex()}"]


def test_board_initiator_to_lakers_responder_by_value(board):
    peer = LakersPeer("responder")
    kccs = cbor2.loads(peer.peer_ccs)
    lines = run(board, f"""
import imprint_port
from binascii import hexlify
from imprint import cbor, edhoc
def trust(id_cred):
    if 14 in id_cred and cbor.dumps(id_cred[14]) == {peer.peer_ccs!r}:
        return {peer.peer_ccs!r}
    raise ValueError("unknown credential")
d = imprint_port.datagram("127.0.0.1", {peer.port})
ini = edhoc.Initiator({peer.board_priv!r}, {peer.board_ccs!r}, id_cred={{4: b"\\x2b"}})
d.send(ini.message_1())
d.send(ini.message_3(d.recv(10000), trust))
ini.complete(d.recv(10000))
print(hexlify(ini.exporter(7, b"ctx", 32)).decode())
""")
    assert kccs[8][1][2] == b"\x0a"
    assert lines == [peer.finish().hex()]
