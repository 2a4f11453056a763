# imprint.oscore against aiocoap's OSCORE (aiocoap.oscore.FilesystemSecurityContext, the
# contexts derived from the same Master Secret with the IDs swapped): requests we protect
# verified by aiocoap and its protected responses verified by us, and the other way round,
# over the encoded bytes (aiocoap.Message encode/decode); Observe notifications both ways;
# then a live exchange with an aiocoap OSCORE server on 127.0.0.1 over a plain UDP socket.
# CPython only.
import json
import os
import socket
import time

import pytest

aiocoap = pytest.importorskip("aiocoap")
aioscore = pytest.importorskip("aiocoap.oscore")
import aiocoap.resource as resource  # noqa: E402
from aiocoap.credentials import CredentialsMap  # noqa: E402
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper  # noqa: E402

from imprint_host.conformance.peers import free_udp_port, serving_aiocoap  # noqa: E402

from imprint import coap, oscore  # noqa: E402

SECRET = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")
SALT = bytes.fromhex("9e7ca92223786340")

# (algorithm name for aiocoap, COSE alg, client Sender ID, server Sender ID, ID Context)
SETUPS = [
    ("AES-CCM-16-64-128", 10, b"", b"\x01", None),  # RFC 8613 C.1
    ("AES-CCM-16-64-128", 10, b"\x00", b"\x01", None),  # C.2 IDs (salt kept)
    ("AES-CCM-16-64-128", 10, b"", b"\x01", bytes.fromhex("37cbf3210017a2d3")),  # C.3
    ("AES-CCM-16-128-128", 30, b"client", b"srv", None),
    ("AES-CCM-64-64-128", 12, b"c", b"", None),
    ("AES-CCM-16-64-256", 11, b"\x0a\x0b\x0c\x0d\x0e\x0f\x10", b"\x42", b"ctx"),
]
IDS = ["c1", "c2", "c3", "ccm-16-128", "ccm-64-64", "ccm-256"]


def aiocoap_context(directory, alg_name, sender_id, recipient_id, id_context):
    os.makedirs(directory, exist_ok=True)
    settings = {"algorithm": alg_name, "sender-id_hex": sender_id.hex(),
                "recipient-id_hex": recipient_id.hex(), "secret_hex": SECRET.hex(),
                "salt_hex": SALT.hex()}
    if id_context is not None:
        settings["id-context_hex"] = id_context.hex()
    with open(os.path.join(directory, "settings.json"), "w") as f:
        json.dump(settings, f)
    return aioscore.FilesystemSecurityContext(str(directory))


@pytest.fixture(params=SETUPS, ids=IDS)
def pair(request, tmp_path):
    # (ours as client, aiocoap's as server, ours as server, aiocoap's as client)
    name, alg, cid, sid, idc = request.param
    ours_c = oscore.derive(SECRET, SALT, cid, sid, idc, alg)
    ours_s = oscore.derive(SECRET, SALT, sid, cid, idc, alg)
    theirs_s = aiocoap_context(tmp_path / "server", name, sid, cid, idc)
    theirs_c = aiocoap_context(tmp_path / "client", name, cid, sid, idc)
    # the same keys on both sides
    assert theirs_s.sender_key == ours_c.recipient_key
    assert theirs_s.recipient_key == ours_c.sender_key
    assert theirs_s.common_iv[:len(ours_c.common_iv)] == ours_c.common_iv
    yield ours_c, theirs_s, ours_s, theirs_c
    for c in (theirs_s, theirs_c):
        c._destroy()


def to_aiocoap(msg):
    return aiocoap.Message.decode(coap.encode(msg))


def from_aiocoap(m, mid, token, mtype=aiocoap.CON):
    m.mid = mid
    m.token = token
    m.mtype = mtype
    return coap.decode(m.encode())


def test_our_request_their_response(pair):
    ours_c, theirs_s, _, _ = pair
    for i in range(3):
        req = coap.Message(coap.PUT, b"\x0a\x0b", [(coap.URI_HOST, b"localhost"),
                                                    (coap.URI_PATH, b"conf"),
                                                    (coap.URI_PATH, b"n%d" % i),
                                                    (coap.CONTENT_FORMAT, b"\x3c"),
                                                    (coap.URI_QUERY, b"q=1")],
                           b"\xa1\x01" + bytes(i), coap.CON, 0x100 + i)
        outer, state = oscore.protect_request(ours_c, req)
        wire = coap.encode(outer)
        assert b"conf" not in wire and b"q=1" not in wire and b"localhost" in wire
        inner, request_id = theirs_s.unprotect(aiocoap.Message.decode(wire))
        assert inner.code == aiocoap.PUT
        assert inner.opt.uri_path == ("conf", "n%d" % i)
        assert inner.opt.uri_query == ("q=1",)
        assert inner.opt.content_format == 60
        assert inner.payload == req.payload
        assert request_id.kid == ours_c.sender_id
        assert request_id.partial_iv == state.piv
        resp = aiocoap.Message(code=aiocoap.CHANGED, payload=b"ok %d" % i,
                               location_path=("conf", "n%d" % i))
        protected, _ = theirs_s.protect(resp, request_id)
        back = oscore.unprotect_response(ours_c, from_aiocoap(protected, 0x100 + i, b"\x0a\x0b",
                                                              aiocoap.ACK), state)
        assert back.code == coap.CHANGED and back.payload == b"ok %d" % i
        assert back.get_all(coap.LOCATION_PATH) == [b"conf", b"n%d" % i]
    # a replay of our request is refused by aiocoap too
    with pytest.raises(aioscore.ProtectionInvalid):
        theirs_s.unprotect(aiocoap.Message.decode(wire))


def test_their_request_our_response(pair):
    _, _, ours_s, theirs_c = pair
    for i, new_piv in enumerate((False, True, False)):
        req = aiocoap.Message(code=aiocoap.GET, uri_path=("sensors", "t%d" % i),
                              uri_host="example.com", accept=60)
        protected, request_id = theirs_c.protect(req)
        wire = from_aiocoap(protected, 7 + i, b"\x01")
        assert wire.code == coap.POST
        inner, state = oscore.unprotect_request(ours_s, wire)
        assert inner.code == coap.GET and inner.path() == "sensors/t%d" % i
        assert inner.get(coap.URI_HOST) == b"example.com"
        assert coap.option_uint(inner.get(coap.ACCEPT)) == 60
        assert state.kid == theirs_c.sender_id
        resp = coap.Message(coap.CONTENT, wire.token, [(coap.CONTENT_FORMAT, b"\x3c"),
                                                       (coap.MAX_AGE, b"\x1e")],
                            b"\x19\x01\x2c", coap.ACK, wire.mid)
        outer = oscore.protect_response(ours_s, resp, state, new_piv)
        assert (oscore.decode_option(outer.get(coap.OSCORE))[0] is not None) == new_piv
        back, _ = theirs_c.unprotect(to_aiocoap(outer), request_id)
        assert back.code == aiocoap.CONTENT and back.payload == b"\x19\x01\x2c"
        assert back.opt.content_format == 60 and back.opt.max_age == 30
    # aiocoap's replayed request is refused by us
    with pytest.raises(oscore.OSCOREError):
        oscore.unprotect_request(ours_s, wire)


def test_observe_both_ways(pair):
    ours_c, theirs_s, ours_s, theirs_c = pair
    # our registration, aiocoap's notifications (the first without Partial IV)
    reg = coap.Message(coap.GET, b"\x0b", [(coap.OBSERVE, b""), (coap.URI_PATH, b"temp")])
    outer, state = oscore.protect_request(ours_c, reg)
    assert outer.code == coap.FETCH
    inner, request_id = theirs_s.unprotect(to_aiocoap(outer))
    assert inner.opt.observe == 0 and inner.opt.uri_path == ("temp",)
    for i in range(3):
        n = aiocoap.Message(code=aiocoap.CONTENT, observe=i + 1, payload=b"%d" % i)
        protected, _ = theirs_s.protect(n, request_id)
        got = oscore.unprotect_response(ours_c, from_aiocoap(protected, 40 + i, b"\x0b",
                                                             aiocoap.NON), state)
        assert got.payload == b"%d" % i and got.get(coap.OBSERVE) is not None
    # aiocoap's registration, our notifications
    req = aiocoap.Message(code=aiocoap.GET, uri_path=("temp",), observe=0)
    protected, request_id = theirs_c.protect(req)
    assert protected.code == aiocoap.FETCH
    inner, sstate = oscore.unprotect_request(ours_s, from_aiocoap(protected, 9, b"\x0c"))
    assert sstate.observe and inner.get(coap.OBSERVE) == b""
    for i in range(3):
        n = coap.Message(coap.CONTENT, b"\x0c", [(coap.OBSERVE, bytes((i + 1,)))], b"%d" % i,
                         coap.NON, 50 + i)
        outer = oscore.protect_response(ours_s, n, sstate)
        back, _ = theirs_c.unprotect(to_aiocoap(outer), request_id)
        assert back.payload == b"%d" % i and back.opt.observe is not None


def test_tampering_detected_by_both(pair):
    ours_c, theirs_s, ours_s, theirs_c = pair
    outer, state = oscore.protect_request(ours_c, coap.Message(coap.GET, b"\x01",
                                                               [(coap.URI_PATH, b"x")]))
    bad = bytearray(coap.encode(outer))
    bad[-3] ^= 4
    with pytest.raises(aioscore.ProtectionInvalid):
        theirs_s.unprotect(aiocoap.Message.decode(bytes(bad)))
    protected, request_id = theirs_c.protect(aiocoap.Message(code=aiocoap.GET, uri_path=("x",)))
    bad = bytearray(coap.encode(from_aiocoap(protected, 1, b"\x02")))
    bad[-1] ^= 0x80
    with pytest.raises(oscore.OSCOREError):
        oscore.unprotect_request(ours_s, coap.decode(bytes(bad)))


# --- live: an aiocoap OSCORE server on 127.0.0.1, reached over a plain UDP socket ----------

class Hello(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=b"Hello World!", content_format=0)


class Echo(resource.Resource):
    async def render_post(self, request):
        return aiocoap.Message(code=aiocoap.CHANGED, payload=request.payload[::-1])


@pytest.fixture
def oscore_server(tmp_path):
    # the RFC 8613 C.1 context: the server is Sender ID 01, the client the empty ID
    sc = aiocoap_context(tmp_path / "srv", "AES-CCM-16-64-128", b"\x01", b"", None)
    creds = CredentialsMap()
    creds[":client"] = sc
    site = resource.Site()
    site.add_resource(["hello"], Hello())
    site.add_resource(["echo"], Echo())
    port = free_udp_port()
    try:
        with serving_aiocoap(OscoreSiteWrapper(site, creds), port, creds):
            yield port
    finally:
        sc._destroy()


def exchange(sock, data, deadline):
    # one CON request, its piggybacked answer (retransmitted a few times if lost)
    mid = coap.decode(data).mid
    for _ in range(4):
        sock.send(data)
        sock.settimeout(0.5)
        try:
            while time.monotonic() < deadline:
                m = coap.decode(sock.recv(2048))
                if m.mid == mid and m.type == coap.ACK:
                    return m
        except socket.timeout:
            continue
    raise AssertionError("no answer from the aiocoap server")


def test_live_exchange_with_aiocoap_server(oscore_server):
    ctx = oscore.derive(SECRET, SALT, b"", b"\x01")
    deadline = time.monotonic() + 15
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", oscore_server))
    try:
        for i in range(3):
            req = coap.Message(coap.GET, b"\x39\x74\x00" + bytes((i,)),
                               [(coap.URI_PATH, b"hello")], b"", coap.CON, 0x5d1f + i)
            outer, state = oscore.protect_request(ctx, req)
            answer = exchange(sock, coap.encode(outer), deadline)
            assert answer.code == coap.CHANGED and answer.get(coap.OSCORE) is not None
            r = oscore.unprotect_response(ctx, answer, state)
            assert r.code == coap.CONTENT and r.payload == b"Hello World!"
            assert r.token == req.token
        body = bytes(range(200))
        outer, state = oscore.protect_request(ctx, coap.Message(
            coap.POST, b"\x07", [(coap.URI_PATH, b"echo")], body, coap.CON, 0x6000))
        r = oscore.unprotect_response(ctx, exchange(sock, coap.encode(outer), deadline), state)
        assert r.code == coap.CHANGED and r.payload == body[::-1]
        # an unknown resource: a protected 4.04
        outer, state = oscore.protect_request(ctx, coap.Message(
            coap.GET, b"\x08", [(coap.URI_PATH, b"nothing")], b"", coap.CON, 0x6001))
        r = oscore.unprotect_response(ctx, exchange(sock, coap.encode(outer), deadline), state)
        assert r.code == coap.NOT_FOUND
        # a replayed request: the server's unprotected 4.01 (Max-Age 0), which we refuse
        answer = exchange(sock, coap.encode(outer)[:2] + b"\x60\x02" + coap.encode(outer)[4:],
                          deadline)
        assert answer.code == coap.UNAUTHORIZED and answer.get(coap.OSCORE) is None
        with pytest.raises(oscore.OSCOREError):
            oscore.unprotect_response(ctx, answer, state)
        # a context the server does not have: 4.01 "Security context not found"
        stranger = oscore.derive(SECRET, SALT, b"\x77", b"\x01")
        outer, _ = oscore.protect_request(stranger, coap.Message(
            coap.GET, b"\x09", [(coap.URI_PATH, b"hello")], b"", coap.CON, 0x6003))
        assert exchange(sock, coap.encode(outer), deadline).code == coap.UNAUTHORIZED
    finally:
        sock.close()
