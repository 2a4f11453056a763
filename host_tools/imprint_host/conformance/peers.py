"""Host peers a board talks to through the relay: aiocoap's EDHOC + OSCORE server and
lakers-python over a UDP socket. Shared by the conformance suite and tests/interop."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import aiocoap
import aiocoap.resource as resource
import lakers
from aiocoap.credentials import CredentialsMap
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper

from ..paths import FIRMWARE_DIR

if str(FIRMWARE_DIR) not in sys.path:  # the firmware package imports as `imprint` on CPython too
    sys.path.insert(0, str(FIRMWARE_DIR))
from imprint import cbor, crypto  # noqa: E402

BIG = bytes(range(256)) * 12 + b"end"  # 3,075 B: block-wise both ways


class Blob(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=BIG)

    async def render_post(self, request):
        return aiocoap.Message(code=aiocoap.CHANGED, payload=hashlib.sha256(request.payload).digest())


def ccs(subject: str, kid: bytes, public: bytes) -> bytes:
    # RFC 9528 §3.5.2 / RFC 8392: a CWT Claims Set with a cnf COSE_Key (EC2, P-256)
    return cbor.dumps({2: subject, 8: {1: {1: 2, 2: kid, -1: 1, -2: public[1:33], -3: public[33:]}}})


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextmanager
def serving_aiocoap(site, port: int, credentials=None) -> Iterator[aiocoap.Context]:
    """An aiocoap server on 127.0.0.1:port in a thread with its own event loop, shut down
    (bounded in time) when the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start():
        return await aiocoap.Context.create_server_context(
            site, bind=("127.0.0.1", port), server_credentials=credentials)

    ctx = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield ctx
    finally:
        asyncio.run_coroutine_threadsafe(ctx.shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass
class Server:
    port: int
    ccs: bytes
    device_key: bytes
    device_ccs: bytes


@contextmanager
def edhoc_server() -> Iterator[Server]:
    """aiocoap's EDHOC (method 3, suite 2) + OSCORE server with /blob, and the device's
    credential it trusts (kid 0x2b); the server's own credential has kid 0x0a."""
    server_key, server_pub = crypto.p256_keypair()
    device_key, device_pub = crypto.p256_keypair()
    server_ccs = ccs("server", b"\x0a", server_pub)
    device_ccs = ccs("device", b"\x2b", device_pub)
    port = free_udp_port()
    creds = CredentialsMap()
    creds.load_from_dict({
        f"coap://127.0.0.1:{port}/*": {"edhoc-oscore": {
            "suite": 2, "method": 3, "own_cred_style": "by-key-id",
            "own_cred": {14: cbor.loads(server_ccs)}, "private_key": {1: 2, -1: 1, -4: server_key}}},
        ":device": {"edhoc-oscore": {"suite": 2, "method": 3, "peer_cred": {14: cbor.loads(device_ccs)}}},
    })
    root = resource.Site()
    root.add_resource(["blob"], Blob())
    with serving_aiocoap(OscoreSiteWrapper(root, creds), port, creds):
        yield Server(port, server_ccs, device_key, device_ccs)


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

    # RFC 9528 §5.2-5.5, lakers as Initiator: message_1, verify message_2, message_3, message_4
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

    # RFC 9528 §5.2-5.5, lakers as Responder: message_2 (credential by value), message_4
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
