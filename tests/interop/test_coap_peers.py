# imprint.coap and imprint.coap_client against other CoAP implementations over real UDP on
# 127.0.0.1: an aiocoap server (block-wise GET and POST), libcoap's coap-server-notls when it
# is installed (Debian libcoap3-bin), and the codec against aiocoap's message encoder and
# decoder for seeded random option sets. CPython only.
import asyncio
import hashlib
import os
import random
import shutil
import socket
import subprocess
import time

import pytest

aiocoap = pytest.importorskip("aiocoap")
import aiocoap.optiontypes as ot  # noqa: E402
import aiocoap.resource as resource  # noqa: E402
from aiocoap.numbers.optionnumbers import OptionNumber  # noqa: E402

from imprint_host.conformance.peers import free_udp_port, serving_aiocoap  # noqa: E402

from imprint import coap  # noqa: E402
from imprint.coap_client import Client  # noqa: E402

BIG = bytes((i * 31 + (i >> 8)) & 0xFF for i in range(3072))


class UDPTransport:
    # The datagram transport contract over a connected UDP socket on 127.0.0.1.
    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.connect((host, port))
        self.sent = []
        self.received = []

    def send(self, data):
        self.sent.append(data)
        self.sock.send(data)

    def recv(self, timeout_ms):
        self.sock.settimeout(max(timeout_ms, 1) / 1000)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        except ConnectionRefusedError:  # ICMP port unreachable from an earlier send
            return None
        self.received.append(data)
        return data

    def close(self):
        self.sock.close()


# --- aiocoap server in a thread with its own event loop ------------------------------------

class Big(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=BIG, content_format=42)


class Hash(resource.Resource):
    # answers a POST with the SHA-256 of the whole (reassembled) body
    async def render_post(self, request):
        return aiocoap.Message(code=aiocoap.CHANGED, payload=hashlib.sha256(request.payload).digest())


class Echo(resource.Resource):
    # a POST answered with its own body: Block1 upload, then a Block2 response
    async def render_post(self, request):
        return aiocoap.Message(code=aiocoap.CHANGED, payload=request.payload)


class Slow(resource.Resource):
    # longer than aiocoap's empty-ACK delay: a separate response
    async def render_get(self, request):
        await asyncio.sleep(0.4)
        return aiocoap.Message(payload=b"late")


@pytest.fixture(scope="module")
def aiocoap_server():
    site = resource.Site()
    site.add_resource(["big"], Big())
    site.add_resource(["hash"], Hash())
    site.add_resource(["echo"], Echo())
    site.add_resource(["slow"], Slow())
    port = free_udp_port()
    with serving_aiocoap(site, port):
        yield port


@pytest.fixture
def udp():
    made = []

    def make(port):
        t = UDPTransport(port)
        made.append(t)
        return t
    yield make
    for t in made:
        t.close()


@pytest.mark.parametrize("szx", [6, 4, 2])
def test_aiocoap_block2_get(aiocoap_server, udp, szx):
    t = udp(aiocoap_server)
    c = Client(t, ack_timeout_ms=500, block_szx=szx)
    t0 = time.monotonic()
    r = c.get("/big")
    assert time.monotonic() - t0 < 10
    assert r.code == coap.CONTENT and r.payload == BIG
    assert len(t.sent) == len(BIG) >> (szx + 4)  # one request per block
    assert coap.option_uint(r.get(coap.CONTENT_FORMAT)) == 42
    assert r.get(coap.BLOCK2) is None


@pytest.mark.parametrize("szx", [6, 5, 3])
def test_aiocoap_block1_post(aiocoap_server, udp, szx):
    t = udp(aiocoap_server)
    c = Client(t, ack_timeout_ms=500, block_szx=szx)
    r = c.post("hash", BIG)
    assert r.code == coap.CHANGED
    assert [coap.parse_block(coap.decode(d).get(coap.BLOCK1))[0] for d in t.sent] == \
        list(range(len(BIG) >> (szx + 4)))
    assert r.payload == hashlib.sha256(BIG).digest()
    r = c.post("hash", b"small")
    assert r.payload == hashlib.sha256(b"small").digest()


def test_aiocoap_block1_then_block2(aiocoap_server, udp):
    c = Client(udp(aiocoap_server), ack_timeout_ms=500, block_szx=6)
    r = c.post("/echo", BIG)
    assert r.code == coap.CHANGED and r.payload == BIG


def test_aiocoap_separate_response_and_errors(aiocoap_server, udp):
    t = udp(aiocoap_server)
    c = Client(t, ack_timeout_ms=200)
    r = c.get("slow")
    assert r.payload == b"late" and r.type == coap.CON
    empty_ack = coap.decode(t.received[0])
    assert empty_ack.type == coap.ACK and empty_ack.code == 0
    ours = coap.decode(t.sent[-1])  # we ACKed the separate response
    assert ours.type == coap.ACK and ours.code == 0 and ours.mid == r.mid
    r = c.get("/nothing/here")
    assert r.code == coap.NOT_FOUND
    r = c.request(coap.DELETE, "/big")
    assert r.code == coap.METHOD_NOT_ALLOWED
    r = c.get("big", confirmable=False)
    assert r.payload == BIG and r.type == coap.NON


def test_timeout_against_silent_port(udp):
    # nothing listens: CoAPError after MAX_RETRANSMIT, ICMP errors count as silence
    c = Client(udp(free_udp_port()), ack_timeout_ms=20, max_retransmit=2)
    t0 = time.monotonic()
    with pytest.raises(coap.CoAPError):
        c.get("x")
    assert 0.1 < time.monotonic() - t0 < 2


# --- libcoap coap-server-notls -------------------------------------------------------------

@pytest.fixture(scope="module")
def libcoap_server():
    exe = shutil.which("coap-server-notls")
    if exe is None:
        pytest.skip("libcoap's coap-server-notls is not installed (Debian package libcoap3-bin)")
    port = free_udp_port()
    # -d: resources may be created by PUT (up to 10), so a 3 KB body can be put and got back
    proc = subprocess.Popen([exe, "-A", "127.0.0.1", "-p", str(port), "-d", "10", "-v", "3"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while True:  # wait until it answers a ping (an Empty CON, answered with RST)
            t = UDPTransport(port)
            t.send(coap.encode(coap.Message(0, type=coap.CON, mid=1)))
            got = t.recv(100)
            t.close()
            if got is not None and coap.decode(got).type == coap.RST:
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("coap-server-notls did not come up on port %d" % port)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_libcoap_get_time_and_index(libcoap_server, udp):
    c = Client(udp(libcoap_server), ack_timeout_ms=500)
    r = c.get("/time")
    assert r.code == coap.CONTENT and 0 < len(r.payload) < 64
    r = c.get("/")
    assert r.code == coap.CONTENT and b"libcoap" in r.payload
    assert c.get("/no/such/thing").code == coap.NOT_FOUND
    # RFC 7252 §5.4.1: an unrecognized critical (odd) option in a CON request: 4.02
    assert c.get("/time", options=[(2049, b"x")]).code == coap.BAD_OPTION


@pytest.mark.parametrize("szx", [6, 2])
def test_libcoap_put_then_get_3k(libcoap_server, udp, szx):
    # Block1 upload of 3 KB into a resource, then its Block2 download
    c = Client(udp(libcoap_server), ack_timeout_ms=500, block_szx=szx)
    body = bytes((i * 7 + szx) & 0xFF for i in range(3000))
    r = c.put("/example_data", body)
    assert r.code in (coap.CREATED, coap.CHANGED)
    r = c.get("/example_data")
    assert r.code == coap.CONTENT and r.payload == body
    r = c.put("dyn/sz%d" % szx, body[::-1])
    assert r.code in (coap.CREATED, coap.CHANGED)
    assert c.get("dyn/sz%d" % szx).payload == body[::-1]


# --- the codec against aiocoap's --------------------------------------------------------------

# option numbers with the value formats aiocoap gives them (RFC 7252 §5.10 table)
_UINT = (coap.URI_PORT, coap.CONTENT_FORMAT, coap.MAX_AGE, coap.ACCEPT, coap.SIZE2, coap.SIZE1,
         coap.OBSERVE)
_STRING = (coap.URI_HOST, coap.LOCATION_PATH, coap.URI_PATH, coap.URI_QUERY,
           coap.LOCATION_QUERY, coap.PROXY_URI, coap.PROXY_SCHEME)
_OPAQUE = (coap.IF_MATCH, coap.ETAG, 2000, 3001, 65000)


def _random_options(rnd):
    opts = []
    for _ in range(rnd.randrange(0, 9)):
        kind = rnd.randrange(5)
        if kind == 0:
            n = rnd.choice(_UINT)
            v = coap.uint_option(rnd.choice((0, 1, 255, 256, 65535, 1 << 24, rnd.randrange(1 << 32))))
        elif kind == 1:
            n = rnd.choice(_STRING)
            v = "".join(rnd.choice("abc/xyz.-_~") for _ in range(rnd.choice((0, 1, 12, 13, 40, 268, 269, 300)))).encode()
        elif kind == 2:
            n = rnd.choice(_OPAQUE)
            v = os.urandom(rnd.choice((0, 1, 8, 13, 14, 269, 400)))
        elif kind == 3:
            n = rnd.choice((coap.BLOCK1, coap.BLOCK2))
            v = coap.block_option(rnd.randrange(1 << 20), rnd.random() < 0.5, rnd.randrange(7))
        else:
            n = coap.IF_NONE_MATCH
            v = b""
        opts.append((n, v))
    return opts


def _their_options(msg):
    return [(int(o.number), o.encode()) for o in msg.opt.option_list()]


def test_codec_ours_decoded_by_aiocoap():
    rnd = random.Random(7252)
    for i in range(300):
        m = coap.Message(rnd.choice((coap.GET, coap.POST, coap.CONTENT, coap.CONTINUE, coap.NOT_FOUND)),
                         os.urandom(rnd.randrange(9)), _random_options(rnd),
                         os.urandom(rnd.choice((0, 1, 100))), rnd.randrange(4), rnd.randrange(1 << 16))
        data = coap.encode(m)
        theirs = aiocoap.Message.decode(data)
        assert int(theirs.mtype) == m.type and int(theirs.code) == m.code
        assert theirs.mid == m.mid and theirs.token == m.token and theirs.payload == m.payload
        # aiocoap groups its options by number; within one number the order is kept
        assert sorted(_their_options(theirs), key=lambda o: o[0]) == m.options, i
        assert coap.decode(data).options == m.options


def test_codec_theirs_decoded_by_ours():
    rnd = random.Random(7959)
    for i in range(300):
        opts = _random_options(rnd)
        theirs = aiocoap.Message(code=rnd.choice((aiocoap.GET, aiocoap.PUT, aiocoap.CONTENT,
                                                  aiocoap.CHANGED, aiocoap.BAD_REQUEST)),
                                 payload=os.urandom(rnd.choice((0, 1, 100))))
        theirs.mtype = aiocoap.numbers.types.Type(rnd.randrange(4))
        theirs.mid = rnd.randrange(1 << 16)
        theirs.token = os.urandom(rnd.randrange(9))
        for n, v in opts:
            theirs.opt.add_option(ot.OpaqueOption(OptionNumber(n), v))
        data = theirs.encode()
        m = coap.decode(data)
        assert (m.type, m.code, m.mid, m.token, m.payload) == \
            (int(theirs.mtype), int(theirs.code), theirs.mid, theirs.token, theirs.payload)
        assert m.options == sorted(_their_options(theirs), key=lambda o: o[0]), i
        assert coap.encode(m) == data


def test_codec_aiocoap_request_bytes():
    # a request aiocoap would send, bit for bit the same from both encoders
    theirs = aiocoap.Message(code=aiocoap.POST, uri_path=(".well-known", "edhoc"),
                             payload=b"\xf5" + b"x" * 40, content_format=64, block1=(3, True, 4),
                             size1=3000)
    theirs.mtype = aiocoap.CON
    theirs.mid = 0x1234
    theirs.token = b"\x01\x02\x03\x04"
    ours = coap.Message(coap.POST, b"\x01\x02\x03\x04",
                        [(coap.URI_PATH, b".well-known"), (coap.URI_PATH, b"edhoc"),
                         (coap.CONTENT_FORMAT, coap.uint_option(64)),
                         (coap.BLOCK1, coap.block_option(3, True, 4)),
                         (coap.SIZE1, coap.uint_option(3000))], b"\xf5" + b"x" * 40, coap.CON, 0x1234)
    assert coap.encode(ours) == theirs.encode()
