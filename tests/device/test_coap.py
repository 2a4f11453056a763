# imprint.coap and imprint.coap_client: the RFC 7252 Appendix A message flows byte for byte,
# option delta/length forms, malformed input, RFC 7959 block options and flows, and the
# client against a scripted in-memory peer on a fake clock. Runs on the board and on CPython.
import hashlib

from imprint import coap
from imprint.coap import (ACK, BLOCK1, BLOCK2, CON, NON, RST, CoAPError, Message,
                          block_option, decode, encode, parse_block)
from imprint.coap_client import Client, uri_options

from vectors import h, raises

TEMP = b"temperature".hex()  # the Uri-Path of RFC 7252 Appendix A
C223 = b"22.3 C".hex()


# --- the scripted peer ---------------------------------------------------------------------

class Net:
    # A datagram transport to a scripted peer on a fake clock: server(req_msg, net) returns
    # the datagrams (Messages or bytes) the peer sends back; recv() with nothing queued
    # lets timeout_ms pass.
    def __init__(self, server):
        self.server = server
        self.now = 0
        self.inbox = []
        self.sent = []
        self.times = []

    def send(self, data):
        self.sent.append(bytes(data))
        self.times.append(self.now)
        for r in self.server(decode(data), self) or ():
            self.inbox.append(r if isinstance(r, bytes) else encode(r))

    def recv(self, timeout_ms):
        if self.inbox:
            return self.inbox.pop(0)
        assert timeout_ms > 0
        self.now += timeout_ms
        return None

    def clock(self):
        return self.now


def rand_from(*chunks):
    # rand(n): the given chunks in turn, then distinct counter bytes
    q = list(chunks)
    state = [0]

    def rand(n):
        if q:
            b = q.pop(0)
            assert len(b) == n
            return b
        state[0] += 1
        return bytes((state[0] + i) & 0xFF for i in range(n))
    return rand


def client(net, rand=None, **kw):
    return Client(net, clock=net.clock, rand=rand or rand_from(), **kw)


def piggy(req, code, payload=b"", options=None):
    return Message(code, req.token, options, payload, ACK, req.mid)


# --- codec ---------------------------------------------------------------------------------

def test_rfc7252_figure16_get_piggybacked():
    req = h("40017d34" "bb" + TEMP)
    assert len(req) == 16
    m = Message(coap.GET, options=[(coap.URI_PATH, b"temperature")], mid=0x7D34)
    assert encode(m) == req
    m = decode(req)
    assert (m.type, m.code, m.mid, m.token, m.payload) == (CON, 1, 0x7D34, b"", b"")
    assert m.options == [(11, b"temperature")] and m.path() == "temperature"
    resp = h("60457d34" "ff" + C223)
    assert len(resp) == 11
    r = decode(resp)
    assert (r.type, r.code, r.mid, r.token, r.options, r.payload) == \
        (ACK, coap.CONTENT, 0x7D34, b"", [], b"22.3 C")
    assert encode(r) == resp


def test_rfc7252_figure17_token():
    req = h("41017d35" "20" "bb" + TEMP)
    resp = h("61457d35" "20" "ff" + C223)
    assert (len(req), len(resp)) == (17, 12)
    assert encode(Message(coap.GET, b"\x20", [(11, b"temperature")], mid=0x7D35)) == req
    r = decode(resp)
    assert r.token == b"\x20" and r.payload == b"22.3 C" and r.code == 0x45
    assert encode(r) == resp


def test_rfc7959_figure12_block2_with_etag():
    # GET 0x41011638, Token 0xfc, Uri-Path status-icon, Block2 2/0/128; the response
    # 2.05 0x61451638 with Block2 2/0/128, ETag 6f00f392 and 53 bytes
    req = h("41011638" "fc" "bb" + b"status-icon".hex() + "c123")
    m = Message(coap.GET, b"\xfc", [(BLOCK2, block_option(2, False, 3)),
                                    (coap.URI_PATH, b"status-icon")], mid=0x1638)
    assert encode(m) == req
    resp = h("61451638" "fc" "446f00f392" "d10623" "ff") + b"x" * 53
    r = Message(coap.CONTENT, b"\xfc", [(BLOCK2, h("23")), (coap.ETAG, h("6f00f392"))],
                b"x" * 53, ACK, 0x1638)
    assert encode(r) == resp
    r = decode(resp)
    assert parse_block(r.get(BLOCK2)) == (2, False, 3) and r.get(coap.ETAG) == h("6f00f392")


def test_option_extended_delta_and_length():
    eo = coap.encode_options
    # RFC 7252 §3.1: 0..12 in the nibble; 13: one byte minus 13; 14: two bytes minus 269
    assert eo([(12, b"")]) == h("c0")
    assert eo([(13, b"")]) == h("d000")
    assert eo([(coap.SIZE1, b"\x01")]) == h("d12f01")          # delta 60 = 13 + 47
    assert eo([(268, b"")]) == h("d0ff")
    assert eo([(269, b"")]) == h("e00000")
    assert eo([(coap.NO_RESPONSE, b"")]) == h("d0f5")           # 258 = 13 + 245
    assert eo([(2000, b"")]) == h("e006c3")                    # 2000 = 269 + 0x06c3
    assert eo([(65804, b"")]) == h("e0ffff")
    assert eo([(11, b"x" * 12)]) == h("bc") + b"x" * 12
    assert eo([(11, b"x" * 13)]) == h("bd00") + b"x" * 13
    assert eo([(11, b"x" * 268)]) == h("bdff") + b"x" * 268
    assert eo([(11, b"x" * 269)]) == h("be0000") + b"x" * 269
    assert eo([(300, b"y" * 300)]) == h("ee001f001f") + b"y" * 300
    # deltas are relative: Uri-Path, Uri-Path (delta 0), Content-Format (1), Size1 (48)
    opts = [(11, b"a"), (11, b"b"), (12, b""), (60, b"\x04\x00")]
    data = eo(opts)
    assert data == h("b161" "0162" "10" "d2230400")
    assert coap.decode_options(data) == (opts, len(data))
    assert coap.decode_options(data + b"\xff\x01", 0) == (opts, len(data))  # stops at marker
    assert coap.decode_options(b"\x00" + data, 1) == (opts, len(data) + 1)
    assert raises(CoAPError, eo, [(65805, b"")])
    assert raises(CoAPError, eo, [(1, b"x" * 65805)])
    for o in ([(13, b"z" * 14)], [(1000, b"q" * 300)], [(2000, b"")], [(269, b"z" * 268)]):
        assert coap.decode_options(eo(o)) == (o, len(eo(o)))


def test_payload_marker_and_reserved_nibble():
    assert raises(CoAPError, decode, h("60457d34ff"))          # marker, empty payload
    assert raises(CoAPError, decode, h("40017d34f0"))          # delta nibble 15
    assert raises(CoAPError, decode, h("40017d340f"))          # length nibble 15
    assert raises(CoAPError, decode, h("40017d34b1" "61" "1f"))
    assert raises(CoAPError, coap.decode_options, h("f1"))
    m = decode(h("40017d34ff00"))
    assert m.payload == b"\x00" and m.options == []


def test_malformed_messages():
    for bad in ("", "40", "400100", "00017d34", "80017d34", "c0017d34",   # short, version
                "49017d340102030405060708",                             # TKL 9
                "42017d3401",                                           # token cut short
                "40017d34d1", "40017d34e100", "40017d34b3616263"[:-2],  # option cut short
                "40017d341d",                                           # length ext missing
                "60007d34ff01", "60007d3401", "62007d340102"):           # Empty with bytes
        assert raises(CoAPError, decode, h(bad)), bad
    assert decode(h("70007d34")).type == RST
    assert raises(CoAPError, encode, Message(1, b"123456789"))
    assert raises(CoAPError, encode, Message(1, mid=0x10000))
    assert raises(CoAPError, encode, Message(1, type=4))


def test_garbage_decodes_to_error_or_roundtrips():
    # deterministic pseudo-random datagrams: a CoAPError, or a message that re-encodes to
    # the very same bytes (the encoding of a message is unique)
    x = 0x12345678
    ok = 0
    for i in range(300):
        n = 4 + i % 23
        buf = bytearray(n)
        for j in range(n):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            buf[j] = x >> 16 & 0xFF
        buf[0] = 0x40 | buf[0] & 0x3F                          # version 1, so it gets further
        if i & 1:
            buf[0] &= 0xF3                                      # TKL 0..3
        try:
            m = decode(bytes(buf))
        except CoAPError:
            continue
        ok += 1
        assert encode(m) == bytes(buf)
    assert ok > 20


def test_message_options_api():
    m = Message(coap.POST, options=[(coap.URI_QUERY, b"q"), (coap.URI_PATH, b"a"),
                                    (coap.CONTENT_FORMAT, b"\x3c"), (coap.URI_PATH, b"b")])
    assert [n for n, _ in m.options] == [11, 11, 12, 15]
    assert m.path() == "a/b" and m.get(coap.URI_PATH) == b"a"
    m.add(coap.URI_PATH, b"c")
    m.add(coap.URI_HOST, b"h")
    m.add(coap.OSCORE, b"")
    assert m.get_all(coap.URI_PATH) == [b"a", b"b", b"c"]
    assert [n for n, _ in m.options] == [3, 9, 11, 11, 11, 12, 15]
    assert m.get(coap.OSCORE) == b"" and m.get(coap.ETAG) is None and m.get_all(4) == []
    m.remove(coap.URI_PATH)
    assert m.path() == "" and [n for n, _ in m.options] == [3, 9, 12, 15]
    m.remove(99)
    r = decode(encode(m))
    assert r.options == m.options and r.code == coap.POST
    r = Message(coap.CONTENT, b"\xab", None, b"xyz", ACK, 5)
    assert "ACK 2.05 mid=5 token=ab" in repr(r) and coap.code_str(coap.CONTINUE) == "2.31"
    # an unsorted list given straight to encode_options is sorted stably
    opts = [(15, b"x"), (11, b"1"), (3, b"h"), (11, b"2"), (11, b"3")]
    assert coap.decode_options(coap.encode_options(opts))[0] == \
        [(3, b"h"), (11, b"1"), (11, b"2"), (11, b"3"), (15, b"x")]


def test_uint_options():
    for n, b in ((0, ""), (1, "01"), (255, "ff"), (256, "0100"), (0x7D34, "7d34"),
                 (0xFFFFFFFF, "ffffffff")):
        assert coap.uint_option(n) == h(b)
        assert coap.option_uint(h(b)) == n
    assert coap.option_uint(h("0001")) == 1
    assert raises(CoAPError, coap.uint_option, -1)


def test_block_options():
    # RFC 7959 §2.2; "2:0/1/128" is NUM 0, M 1, SZX 3
    for num, more, szx, v in ((0, True, 3, "0b"), (1, True, 3, "1b"), (2, False, 3, "23"),
                              (0, False, 0, ""), (0, False, 6, "06"), (4, True, 1, "49"),
                              (20, False, 6, "0146"), (0xFFFFF, True, 6, "fffffe")):
        assert block_option(num, more, szx) == h(v)
        assert parse_block(h(v)) == (num, more, szx)
    assert raises(CoAPError, block_option, 0x100000, False, 0)
    assert raises(CoAPError, block_option, 0, False, 7)
    assert raises(CoAPError, parse_block, h("07"))              # SZX 7 is reserved
    assert raises(CoAPError, parse_block, h("00000010"))        # over 3 bytes


def test_uri_options():
    assert uri_options("/.well-known/core") == [(11, b".well-known"), (11, b"core")]
    assert uri_options("a/b?x=1&&y") == [(15, b"x=1"), (15, b"y"), (11, b"a"), (11, b"b")]
    assert uri_options("/") == []


# --- client: RFC 7252 Appendix A flows -----------------------------------------------------

def test_client_figure17_piggybacked():
    def server(req, net):
        return [h("61457d35" "20" "ff" + C223)]
    net = Net(server)
    c = client(net, rand_from(h("7d34"), h("20"), h("00")), token_len=1)
    r = c.get("/temperature")
    assert net.sent == [h("41017d35" "20" "bb" + TEMP)]
    assert r.code == coap.CONTENT and r.payload == b"22.3 C" and r.type == ACK


def test_client_figure18_lost_request_retransmitted():
    def server(req, net):
        if len(net.sent) < 2:
            return []  # lost
        return [h("61457d36" "31" "ff" + C223)]
    net = Net(server)
    c = client(net, rand_from(h("7d35"), h("31"), h("00")), token_len=1, ack_timeout_ms=2000)
    r = c.get("temperature")
    req = h("41017d36" "31" "bb" + TEMP)
    assert net.sent == [req, req] and net.times == [0, 2000]
    assert r.payload == b"22.3 C" and c.retransmissions == 1


def test_client_figure20_separate_response():
    def server(req, net):
        if req.type == CON and req.code == coap.GET:
            return [h("60007d38"), h("4145ad7b" "53" "ff" + C223)]
        return []
    net = Net(server)
    c = client(net, rand_from(h("7d37"), h("53"), h("00")), token_len=1)
    r = c.get("temperature")
    assert net.sent == [h("41017d38" "53" "bb" + TEMP), h("6000ad7b")]
    assert r.payload == b"22.3 C" and r.type == CON and r.mid == 0xAD7B
    # the response may also come before the empty ACK, which is then ignored
    def server2(req, net):
        if req.code == coap.GET:
            return [Message(coap.CONTENT, req.token, None, b"x", CON, 0x1111),
                    Message(0, type=ACK, mid=req.mid)]
        return []
    net = Net(server2)
    c = client(net)
    assert c.get("a").payload == b"x"
    assert decode(net.sent[1]).type == ACK and decode(net.sent[1]).mid == 0x1111


def test_client_figure21_unexpected_con_rejected_and_duplicates_reacked():
    # a stray CON response (another token) is rejected with RST (RFC 7252 Figure 21); a
    # retransmitted separate response we already ACKed is ACKed again
    def server(req, net):
        if req.code != coap.GET:
            return []
        if len(net.sent) == 1:
            return [h("4145ad7c" "64" "ff" + C223), piggy(req, coap.CONTENT, b"one")]
        return [h("60007d3a"), Message(coap.CONTENT, req.token, None, b"two", CON, 0xAD7D)]
    net = Net(server)
    c = client(net, rand_from(h("7d38"), h("01"), h("00"), h("02"), h("00")), token_len=1)
    assert c.get("t").payload == b"one"
    assert net.sent[1] == h("7000ad7c")
    assert c.get("t").payload == b"two"
    assert net.sent[3] == h("6000ad7d")
    # the same CON again (our ACK was lost) during the next exchange: ACKed again, ignored
    def server3(req, net):
        if req.code != coap.GET:
            return []
        return [Message(coap.CONTENT, b"\x02", None, b"two", CON, 0xAD7D),
                piggy(req, coap.CONTENT, b"three")]
    net.server = server3
    assert c.get("t").payload == b"three"
    assert net.sent[5] == h("6000ad7d")


def test_client_figure22_non_confirmable():
    def server(req, net):
        assert req.type == NON
        return [h("5145ad7d" "75" "ff" + C223)]
    net = Net(server)
    c = client(net, rand_from(h("7d3f"), h("75"), h("00")), token_len=1)
    r = c.get("temperature", confirmable=False)
    assert net.sent == [h("51017d40" "75" "bb" + TEMP)]
    assert r.payload == b"22.3 C" and r.type == NON
    # a NON request is never retransmitted; no answer still ends in CoAPError
    net = Net(lambda req, net: [])
    c = client(net, ack_timeout_ms=10, max_retransmit=2)
    assert raises(CoAPError, lambda: c.get("x", confirmable=False))
    assert len(net.sent) == 1 and net.now == 70


# --- client: loss, timeouts, stray datagrams -----------------------------------------------

def test_client_backoff_and_timeout():
    net = Net(lambda req, net: [])
    c = client(net, rand_from(h("0000"), h("01020304"), h("00")), ack_timeout_ms=100,
               max_retransmit=4, token_len=4)
    try:
        c.get("x")
        assert False
    except CoAPError as e:
        assert "5 transmissions" in str(e)
    assert len(net.sent) == 5 and len(set(net.sent)) == 1
    assert net.times == [0, 100, 300, 700, 1500] and net.now == 3100
    # the random factor: ACK_TIMEOUT * (1 + 0.5 * 255/256) for the byte 0xff
    net = Net(lambda req, net: [])
    c = client(net, rand_from(h("0000"), h("01020304"), h("ff")), ack_timeout_ms=1024,
               max_retransmit=1, token_len=4)
    assert raises(CoAPError, c.get, "x")
    assert net.times == [0, 1534] and net.now == 1534 * 3


def test_client_lost_ack_then_response():
    # RFC 7252 Figure 19: the ACK is lost; the retransmission (same MID) is answered
    def server(req, net):
        if len(net.sent) == 1:
            return []
        return [piggy(req, coap.CONTENT, b"ok")]
    net = Net(server)
    c = client(net, ack_timeout_ms=10)
    assert c.get("x").payload == b"ok" and net.sent[0] == net.sent[1]


def test_client_ignores_unrelated_and_mismatched_token():
    def server(req, net):
        if req.code != coap.GET:
            return []
        wrong = bytes(b ^ 0xFF for b in req.token)
        return [b"\x00garbage", h("60457d34ff"),                  # malformed
                Message(coap.CONTENT, req.token, None, b"old", ACK, req.mid ^ 1),  # other MID
                Message(coap.CONTENT, wrong, None, b"bad", ACK, req.mid),   # other token
                Message(coap.CONTENT, wrong, None, b"bad", NON, 77),
                Message(0, type=ACK, mid=req.mid ^ 2),
                Message(0, type=RST, mid=req.mid ^ 3),
                Message(coap.CONTENT, req.token, None, b"good", NON, 78)]
    net = Net(server)
    c = client(net, ack_timeout_ms=10)
    r = c.get("x")
    assert r.payload == b"good" and c.ignored == 7 and len(net.sent) == 1


def test_client_rst_is_an_error():
    net = Net(lambda req, net: [Message(0, type=RST, mid=req.mid)])
    c = client(net)
    assert raises(CoAPError, c.get, "x")
    # message IDs advance per request, tokens differ
    net = Net(lambda req, net: [piggy(req, coap.CONTENT)])
    c = client(net, rand_from(h("fffe")), token_len=8)
    c.get("a")
    c.get("a")
    a, b = decode(net.sent[0]), decode(net.sent[1])
    assert (a.mid, b.mid) == (0xFFFF, 0) and a.token != b.token and len(a.token) == 8


def test_client_no_separate_response_times_out():
    net = Net(lambda req, net: [Message(0, type=ACK, mid=req.mid)])
    c = client(net, ack_timeout_ms=10, response_timeout_ms=500)
    assert raises(CoAPError, c.get, "x")
    assert len(net.sent) == 1 and net.now == 500


# --- client: block-wise (RFC 7959) ---------------------------------------------------------

BODY = bytes(i * 7 & 0xFF for i in range(300))


def block2_server(body, sizes, etags=None, seen=None, code=coap.CONTENT):
    # answers GETs in Block2 blocks: sizes[i] is the SZX the server uses for its i-th answer
    # (never more than the client asked for)
    def server(req, net):
        if req.type != CON or req.code == 0:
            return []
        b2 = req.get(BLOCK2)
        num, _, szx = parse_block(b2) if b2 is not None else (0, False, 6)
        if seen is not None:
            seen.append((num, szx, b2 is not None))
        i = len(seen) - 1 if seen is not None else 0
        s = min(szx, sizes[min(i, len(sizes) - 1)])
        off = num << (szx + 4)
        size = 16 << s
        more = off + size < len(body)
        opts = [(BLOCK2, block_option(off >> (s + 4), more, s))]
        if etags:
            opts.append((coap.ETAG, etags[min(i, len(etags) - 1)]))
        return [piggy(req, code, body[off:off + size], opts)]
    return server


def test_client_block2_figure2():
    seen = []
    net = Net(block2_server(BODY, [3], seen=seen))
    c = client(net)
    r = c.get("status")
    assert r.payload == BODY and r.get(BLOCK2) is None and r.code == coap.CONTENT
    assert seen == [(0, 6, False), (1, 3, True), (2, 3, True)]


def test_client_block2_early_and_late_negotiation():
    # Figure 3: we ask for 64-byte blocks up front
    seen = []
    c = client(Net(block2_server(BODY, [6], seen=seen)), block_szx=2)
    assert c.get("status").payload == BODY
    assert seen == [(0, 2, True), (1, 2, True), (2, 2, True), (3, 2, True), (4, 2, True)]
    # Figure 4: the server ignores the proposal and sends 128 bytes; we go on at 64 (2/0/64)
    seen = []

    def stubborn(req, net):
        b2 = req.get(BLOCK2)
        if parse_block(b2)[0] == 0:
            seen.append((0, 3, True))
            return [piggy(req, coap.CONTENT, BODY[:128], [(BLOCK2, block_option(0, True, 3))])]
        return block2_server(BODY, [6], seen=seen)(req, net)
    c = client(Net(stubborn), block_szx=2)
    assert c.get("status").payload == BODY
    assert [n for n, _, _ in seen] == [0, 2, 3, 4]
    # the server shrinks the blocks mid-transfer: 1024 -> 256 -> 32
    body = bytes(range(256)) * 9
    seen = []
    c = client(Net(block2_server(body, [6, 4, 1], seen=seen)))
    assert c.get("big").payload == body
    assert seen[:3] == [(0, 6, False), (1, 6, True), (5, 4, True)]
    assert seen[3] == (1312 >> 5, 1, True) and len(seen) == 3 + (len(body) - 1312) // 32


def test_client_block2_errors():
    # ETag changes mid-transfer
    c = client(Net(block2_server(BODY, [3], etags=[b"\x01", b"\x02"], seen=[])))
    assert raises(CoAPError, c.get, "x")
    c = client(Net(block2_server(BODY, [3], etags=[b"\x01"], seen=[])))
    assert c.get("x").payload == BODY
    # a block at the wrong offset
    def liar(req, net):
        return [piggy(req, coap.CONTENT, b"z" * 16, [(BLOCK2, block_option(5, True, 0))])]
    assert raises(CoAPError, client(Net(liar)).get, "x")
    # an error code while following is handed to the caller
    def failing(req, net):
        if req.get(BLOCK2) is None:
            return [piggy(req, coap.CONTENT, b"z" * 16, [(BLOCK2, block_option(0, True, 0))])]
        return [piggy(req, coap.NOT_FOUND)]
    assert client(Net(failing)).get("x").code == coap.NOT_FOUND
    # over max_body
    c = client(Net(block2_server(BODY, [3])), max_body=200)
    assert raises(CoAPError, c.get, "x")


def block1_server(sizes, final=coap.CHANGED, got=None, resp_body=None):
    # takes Block1 uploads; sizes[i] is the SZX it asks for in its i-th 2.31
    state = {"buf": bytearray(), "n": 0}

    def server(req, net):
        if req.type != CON or req.code == 0:
            return []
        b1 = req.get(BLOCK1)
        if got is not None:
            got.append((parse_block(b1) if b1 else None, req.get(coap.SIZE1),
                        req.get(BLOCK2), len(req.payload)))
        if b1 is None and req.get(BLOCK2) is not None:  # a Block2 follow-up of the response
            return block2_server(resp_body, [3], code=final)(req, net)
        num, more, szx = parse_block(b1) if b1 is not None else (0, False, 6)
        buf = state["buf"]
        assert num << (szx + 4) == len(buf)
        buf += req.payload
        if more:
            s = min(szx, sizes[min(state["n"], len(sizes) - 1)])
            state["n"] += 1
            return [piggy(req, coap.CONTINUE, b"", [(BLOCK1, block_option(num, True, s))])]
        opts = [(BLOCK1, block_option(num, False, szx))] if b1 is not None else []
        if resp_body is not None:
            out = resp_body[:128]
            opts.append((BLOCK2, block_option(0, len(resp_body) > 128, 3)))
        else:
            out = hashlib.sha256(bytes(buf)).digest()
        return [piggy(req, final, out, opts)]
    return server


def test_client_block1_figure9_smaller_size():
    got = []
    payload = bytes(range(200))
    c = client(Net(block1_server([1], got=got)), block_szx=3)
    r = c.put("options", payload)
    assert r.code == coap.CHANGED and r.payload == hashlib.sha256(payload).digest()
    assert [g[0] for g in got] == [(0, True, 3), (4, True, 1), (5, True, 1), (6, False, 1)]
    assert [g[3] for g in got] == [128, 32, 32, 8]
    assert got[0][1] == coap.uint_option(200) and got[1][1] is None


def test_client_block1_3k_and_retransmission():
    payload = bytes(i * 13 & 0xFF for i in range(3000))
    got = []
    inner = block1_server([6], got=got)
    drops = [2, 4]

    def lossy(req, net):
        if len(net.sent) in drops:
            return []
        return inner(req, net)
    net = Net(lossy)
    c = client(net, ack_timeout_ms=10)
    r = c.post("/upload", payload)
    assert r.payload == hashlib.sha256(payload).digest()
    assert [g[0] for g in got] == [(0, True, 6), (1, True, 6), (2, False, 6)]
    assert [g[3] for g in got] == [1024, 1024, 952] and c.retransmissions == 2
    # the server shrinks the blocks after the second one: 1024, 1024, then 128 from 2048 on
    got = []
    r = client(Net(block1_server([6, 3], got=got))).post("/upload", payload)
    assert r.payload == hashlib.sha256(payload).digest()
    assert [g[0] for g in got] == [(0, True, 6), (1, True, 6)] + \
        [(n, n < 23, 3) for n in range(16, 24)]
    # a payload that fits one block goes without Block1
    got = []
    r = client(Net(block1_server([6], got=got))).post("u", payload[:1024])
    assert got == [(None, None, None, 1024)]
    assert r.code == coap.CHANGED and r.payload == hashlib.sha256(payload[:1024]).digest()


def test_client_block1_413_retry_and_error():
    # RFC 7959 §2.9.3: 4.13 with a Block1 size hint: start over in smaller blocks
    got = []
    inner = block1_server([4], got=got)

    def picky(req, net):
        b1 = req.get(BLOCK1)
        if b1 is not None and parse_block(b1)[2] > 4:
            return [piggy(req, coap.REQUEST_ENTITY_TOO_LARGE, b"",
                          [(BLOCK1, block_option(0, False, 4))])]
        return inner(req, net)
    payload = bytes(1500)
    net = Net(picky)
    r = client(net).post("u", payload)
    assert r.code == coap.CHANGED and r.payload == hashlib.sha256(payload).digest()
    assert [g[0] for g in got] == [(n, n < 5, 4) for n in range(6)]
    assert len(net.sent) == 7
    # another error stops the upload and is returned
    def refuse(req, net):
        return [piggy(req, coap.UNAUTHORIZED)]
    net = Net(refuse)
    assert client(net).post("u", payload, options=()).code == coap.UNAUTHORIZED
    assert len(net.sent) == 1


def test_client_block1_stateless_figure8():
    # a stateless server answers every block with 2.04 and Block1 M=0: the client goes on
    got = []

    def server(req, net):
        num, more, szx = parse_block(req.get(BLOCK1))
        got.append((num, more, szx, len(req.payload)))
        return [piggy(req, coap.CHANGED, b"", [(BLOCK1, block_option(num, False, szx))])]
    r = client(Net(server), block_szx=3).put("options", bytes(300))
    assert r.code == coap.CHANGED
    assert got == [(0, True, 3, 128), (1, True, 3, 128), (2, False, 3, 44)]
    # a server answering a block with a block number that is not ours
    def confused(req, net):
        return [piggy(req, coap.CONTINUE, b"", [(BLOCK1, block_option(7, True, 3))])]
    assert raises(CoAPError, client(Net(confused), block_szx=3).put, "o", bytes(300))


def test_client_413_on_single_request_goes_blockwise():
    # RFC 7959 §2.9.3: 4.13 to a request without Block1, with a Block1 size hint
    got = []
    inner = block1_server([2], got=got)

    def server(req, net):
        if req.get(BLOCK1) is None:
            got.append("whole")
            return [piggy(req, coap.REQUEST_ENTITY_TOO_LARGE, b"",
                          [(BLOCK1, block_option(0, False, 2))])]
        return inner(req, net)
    payload = bytes(range(200))
    r = client(Net(server)).post("u", payload)
    assert r.code == coap.CHANGED and r.payload == hashlib.sha256(payload).digest()
    assert got[0] == "whole" and [g[0] for g in got[1:]] == \
        [(0, True, 2), (1, True, 2), (2, True, 2), (3, False, 2)]
    # without a hint, the 4.13 is the answer
    def plain(req, net):
        return [piggy(req, coap.REQUEST_ENTITY_TOO_LARGE)]
    assert client(Net(plain)).post("u", payload).code == coap.REQUEST_ENTITY_TOO_LARGE


def test_client_block1_then_block2_figure10():
    got = []
    resp = bytes(range(250)) + bytes(200)
    c = client(Net(block1_server([3], got=got, resp_body=resp)), block_szx=3)
    r = c.post("soap", bytes(300))
    assert r.payload == resp and r.code == coap.CHANGED
    assert [g[0] for g in got] == [(0, True, 3), (1, True, 3), (2, False, 3), None, None, None]
    assert [g[2] for g in got[3:]] == [h("13"), h("23"), h("33")]   # 2:1/0/128 ...
    assert [g[3] for g in got[3:]] == [0, 0, 0]


def test_client_protect_unprotect_per_exchange():
    # a stand-in for OSCORE: protect marks each request, unprotect each response
    calls = []

    def protect(m):
        calls.append("p")
        m.add(coap.OSCORE, b"")
        return m

    def unprotect(m):
        calls.append("u")
        assert m.get(coap.OSCORE) == b"\x01"
        m.remove(coap.OSCORE)
        return m
    inner = block2_server(BODY, [3])

    def server(req, net):
        if req.code == 0:
            return []
        assert req.get(coap.OSCORE) == b""
        out = inner(req, net)
        out[0].add(coap.OSCORE, b"\x01")
        return out
    net = Net(server)
    r = client(net).get("x", protect=protect, unprotect=unprotect)
    assert r.payload == BODY and calls == ["p", "u"] * 3 and r.get(coap.OSCORE) is None
