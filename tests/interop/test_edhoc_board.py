"""imprint's EDHOC, OSCORE and CoAP running on the virtual board (real MicroPython), reaching
peers on loopback through `imprint relay`:

- the board as EDHOC Initiator and CoAP client against aiocoap's EDHOC server (lakers inside):
  handshake, OSCORE GET and POST of 3 KB block-wise, message_3 alone and combined (RFC 9668);
- lakers-python as Initiator against the board as Responder, and the board as Initiator
  against lakers as Responder, over plain UDP: exporter outputs equal.
"""

from __future__ import annotations

import cbor2
import pytest

from imprint_host import deploy, relay
from imprint_host.board import profiles
from imprint_host.board.virtual import VirtualBoard
from imprint_host.conformance.peers import BIG, LakersPeer


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
