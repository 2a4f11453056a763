"""EDHOC over CoAP (RFC 9528 App. A.2) and OSCORE end to end against aiocoap's EDHOC server
(lakers inside, suite 2, method 3): imprint as the CoAP client, under CPython here and on the
virtual board through `imprint relay` (tests/conformance/test_edhoc_interop.py)."""

from __future__ import annotations

import hashlib

import pytest
from imprint_host.conformance.peers import BIG, Server, ccs

from imprint import coap, coap_client, crypto, edhoc, edhoc_coap, transport

def trust_for(server: Server):
    def trust(id_cred):
        if id_cred == {4: b"\x0a"}:
            return server.ccs
        raise ValueError("unknown credential %r" % (id_cred,))
    return trust


@pytest.mark.parametrize("combined", [False, True], ids=["message_3 alone", "EDHOC+OSCORE request"])
def test_edhoc_then_oscore_blockwise_against_aiocoap(edhoc_server, combined):
    t = transport.SocketDatagram("127.0.0.1", edhoc_server.port)
    client = coap_client.Client(t, ack_timeout_ms=500)
    initiator = edhoc.Initiator(edhoc_server.device_key, edhoc_server.device_ccs, id_cred={4: b"\x2b"})
    session = edhoc_coap.connect(client, initiator, trust_for(edhoc_server), combined=combined)
    r = session.get("blob")  # the combined request, when combined
    assert r.code == coap.CONTENT and r.payload == BIG
    r = session.post("blob", BIG)
    assert r.code == coap.CHANGED and r.payload == hashlib.sha256(BIG).digest()
    t.close()


def test_untrusted_server_is_rejected(edhoc_server):
    t = transport.SocketDatagram("127.0.0.1", edhoc_server.port)
    client = coap_client.Client(t, ack_timeout_ms=500)
    initiator = edhoc.Initiator(edhoc_server.device_key, edhoc_server.device_ccs, id_cred={4: b"\x2b"})

    def trust_nobody(id_cred):
        raise ValueError("not on the allow list")

    with pytest.raises(edhoc.EDHOCError):
        edhoc_coap.connect(client, initiator, trust_nobody)
    t.close()


def test_server_rejects_an_unknown_device(edhoc_server):
    key, pub = crypto.p256_keypair()
    t = transport.SocketDatagram("127.0.0.1", edhoc_server.port)
    client = coap_client.Client(t, ack_timeout_ms=500)
    initiator = edhoc.Initiator(key, ccs("stranger", b"\x2c", pub), id_cred={4: b"\x2c"})
    with pytest.raises(edhoc.EDHOCError, match="answered 4.00"):  # at message_3
        edhoc_coap.connect(client, initiator, trust_for(edhoc_server))
    t.close()
