"""Peers the interop tests share: aiocoap's EDHOC + OSCORE server on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import aiocoap
import aiocoap.resource as resource
import pytest
from aiocoap.credentials import CredentialsMap
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper

from imprint import cbor, crypto

BIG = bytes(range(256)) * 12 + b"end"  # 3,075 B: block-wise both ways


class Blob(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=BIG)

    async def render_post(self, request):
        return aiocoap.Message(code=aiocoap.CHANGED, payload=hashlib.sha256(request.payload).digest())


def ccs(subject: str, kid: bytes, public: bytes) -> bytes:
    # RFC 9528 §3.5.2 / RFC 8392: a CWT Claims Set with a cnf COSE_Key (EC2, P-256)
    return cbor.dumps({2: subject, 8: {1: {1: 2, 2: kid, -1: 1, -2: public[1:33], -3: public[33:]}}})


@dataclass
class Server:
    port: int
    ccs: bytes
    device_key: bytes
    device_ccs: bytes


@pytest.fixture
def edhoc_server():
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


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextmanager
def serving_aiocoap(site, port: int, credentials=None):
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
