# imprint.oscore against RFC 8613: every test vector of Appendix C (key derivation C.1-C.3
# with each info CBOR, key, Common IV and nonce; requests C.4-C.6 and responses C.7-C.8
# byte-exact in both directions), the §5.4 AAD and §6.3 compression examples, and the
# failures OSCORE must cause: replays, tampering, the wrong context, a response bound to
# another request. Runs on the board and on CPython.
from vectors import h, hx, raises, rows

from imprint import cbor, coap, oscore
from imprint.oscore import OSCOREError

SECRET = h("0102030405060708090a0b0c0d0e0f10")

# Appendix C.1-C.3, client side (C.x.1); the server (C.x.2) has every pair swapped.
# Master Salt, ID Context, Sender ID, Recipient ID, info for Sender Key, info for
# Recipient Key, info for Common IV, Sender Key, Recipient Key, Common IV, sender nonce and
# recipient nonce for Partial IV 0.
KDF = rows("""
9e7ca92223786340 - - 01 8540f60a634b657910 854101f60a634b657910 8540f60a6249560d f0910ed7295e6ad4b54fc793154302ff ffb14e093c94c9cac9471648b4f98710 4622d4dd6d944168eefb54987c 4622d4dd6d944168eefb54987c 4722d4dd6d944169eefb54987c
- - 00 01 854100f60a634b657910 854101f60a634b657910 8540f60a6249560d 321b26943253c7ffb6003b0b64d74041 e57b5635815177cd679ab4bcec9d7dda be35ae297d2dace910c52e99f9 bf35ae297d2dace910c52e99f9 bf35ae297d2dace810c52e99f9
9e7ca92223786340 37cbf3210017a2d3 - 01 85404837cbf3210017a2d30a634b657910 8541014837cbf3210017a2d30a634b657910 85404837cbf3210017a2d30a6249560d af2a1300a5e95788b356336eeecd2b92 e39a0c7c77b43f03b4b39ab9a268699f 2ca58fb85ff1b81c0b7181b85e 2ca58fb85ff1b81c0b7181b85e 2da58fb85ff1b81d0b7181b85e
""")

# Appendix C.4-C.6 (client, Sender Sequence Number 20, contexts of C.1-C.3): unprotected
# request, Partial IV, aad_array, AAD, plaintext, nonce, OSCORE option value, ciphertext,
# protected request
REQUESTS = rows("""
44015d1f00003974396c6f63616c686f737483747631 14 8501810a40411440 8368456e63727970743040488501810a40411440 01b3747631 4622d4dd6d944168eefb549868 0914 612f1092f1776f1c1668b3825e 44025d1f00003974396c6f63616c686f7374620914ff612f1092f1776f1c1668b3825e
440171c30000b932396c6f63616c686f737483747631 14 8501810a4100411440 8368456e63727970743040498501810a4100411440 01b3747631 bf35ae297d2dace910c52e99ed 091400 4ed339a5a379b0b8bc731fffb0 440271c30000b932396c6f63616c686f737463091400ff4ed339a5a379b0b8bc731fffb0
44012f8eef9bbf7a396c6f63616c686f737483747631 14 8501810a40411440 8368456e63727970743040488501810a40411440 01b3747631 2ca58fb85ff1b81c0b7181b84a 19140837cbf3210017a2d3 72cd7273fd331ac45cffbe55c3 44022f8eef9bbf7a396c6f63616c686f73746b19140837cbf3210017a2d3ff72cd7273fd331ac45cffbe55c3
""")

# Appendix C.7-C.8 (server, responses to the C.4 request, Sender Sequence Number 0):
# plaintext, nonce, OSCORE option value, ciphertext, protected response
RESPONSE = "64455d1f00003974ff48656c6c6f20576f726c6421"
RESPONSES = rows("""
45ff48656c6c6f20576f726c6421 4622d4dd6d944168eefb549868 - dbaad1e9a7e7b2a813d3c31524378303cdafae119106 64445d1f0000397490ffdbaad1e9a7e7b2a813d3c31524378303cdafae119106
45ff48656c6c6f20576f726c6421 4722d4dd6d944169eefb54987c 0100 4d4c13669384b67354b2b6175ff4b8658c666a6cf88e 64445d1f00003974920100ff4d4c13669384b67354b2b6175ff4b8658c666a6cf88e
""")


def _pair(i, alg=oscore.AES_CCM_16_64_128):
    # (client, server) contexts of Appendix C.(i+1)
    salt, idc, sid, rid = KDF[i][:4]
    idc = idc or None
    return (oscore.derive(SECRET, salt, sid, rid, idc, alg),
            oscore.derive(SECRET, salt, rid, sid, idc, alg))


def _kdf(i):
    salt, idc, sid, rid, info_s, info_r, info_iv, k_s, k_r, iv, n_s, n_r = KDF[i]
    idc = idc or None
    for (s, r, i_s, i_r, ks, kr, ns, nr) in ((sid, rid, info_s, info_r, k_s, k_r, n_s, n_r),
                                             (rid, sid, info_r, info_s, k_r, k_s, n_r, n_s)):
        assert oscore.kdf_info(s, idc, 10, "Key", 16) == i_s
        assert oscore.kdf_info(r, idc, 10, "Key", 16) == i_r
        assert oscore.kdf_info(b"", idc, 10, "IV", 13) == info_iv
        ctx = oscore.derive(SECRET, salt, s, r, idc)
        assert ctx.sender_key == ks, hx(ctx.sender_key)
        assert ctx.recipient_key == kr, hx(ctx.recipient_key)
        assert ctx.common_iv == iv, hx(ctx.common_iv)
        assert (ctx.sender_id, ctx.recipient_id, ctx.id_context) == (s, r, idc)
        assert oscore.nonce(ctx.common_iv, s, b"\x00") == ns
        assert oscore.nonce(ctx.common_iv, r, b"\x00") == nr
        assert ctx.sender_seq == 0


def test_c1_key_derivation_with_master_salt():
    _kdf(0)


def test_c2_key_derivation_without_master_salt():
    _kdf(1)
    # no Master Salt and an empty one are the same (§3.2.1)
    assert oscore.derive(SECRET, None, b"\x00", b"\x01").sender_key == KDF[1][7]


def test_c3_key_derivation_with_id_context():
    _kdf(2)


def _request(i):
    unprot, piv, aad_array, aad, pt, nonce_, opt, ct, prot = REQUESTS[i]
    client, server = _pair(i)
    client.sender_seq = 20
    msg = coap.decode(unprot)
    # the intermediate values of the vector
    assert oscore.piv_bytes(20) == piv
    assert oscore.aad_array(10, client.sender_id, piv) == aad_array
    assert oscore.aad(10, client.sender_id, piv) == aad
    inner = [o for o in msg.options if o[0] != coap.URI_HOST]  # Uri-Host stays outside
    assert oscore.plaintext(msg.code, inner, msg.payload) == pt
    assert oscore.nonce(client.common_iv, client.sender_id, piv) == nonce_
    # client: protect
    out, cstate = oscore.protect_request(client, msg)
    assert out.get(coap.OSCORE) == opt, hx(out.get(coap.OSCORE))
    assert out.payload == ct, hx(out.payload)
    assert coap.encode(out) == prot, hx(coap.encode(out))
    assert client.sender_seq == 21
    assert (cstate.kid, cstate.piv, cstate.nonce) == (client.sender_id, piv, nonce_)
    # server: unprotect back to the very request
    inner, sstate = oscore.unprotect_request(server, coap.decode(prot))
    assert coap.encode(inner) == unprot, hx(coap.encode(inner))
    assert (sstate.kid, sstate.piv, sstate.nonce) == (client.sender_id, piv, nonce_)
    return client, server, cstate, sstate


def test_c4_request_client():
    _request(0)


def test_c5_request_client_with_sender_id():
    _request(1)


def test_c6_request_client_with_kid_context():
    _request(2)


def _response(i, new_piv):
    pt, nonce_, opt, ct, prot = RESPONSES[i]
    client, server, cstate, sstate = _request(0)
    msg = coap.decode(h(RESPONSE))
    assert oscore.plaintext(msg.code, msg.options, msg.payload) == pt
    if new_piv:
        assert oscore.nonce(server.common_iv, server.sender_id, b"\x00") == nonce_
    else:
        assert sstate.nonce == nonce_
    out = oscore.protect_response(server, msg, sstate, new_piv)
    assert out.get(coap.OSCORE) == opt, hx(out.get(coap.OSCORE))
    assert out.payload == ct, hx(out.payload)
    assert coap.encode(out) == prot, hx(coap.encode(out))
    assert server.sender_seq == (1 if new_piv else 0)
    inner = oscore.unprotect_response(client, coap.decode(prot), cstate)
    assert coap.encode(inner) == h(RESPONSE), hx(coap.encode(inner))


def test_c7_response_server():
    _response(0, False)


def test_c8_response_server_with_partial_iv():
    _response(1, True)


def test_aad_example():
    # §5.4: AES-CCM-16-64-128, request_kid 0x00, request_piv 0x25, no Class I options
    assert oscore.aad_array(10, b"\x00", b"\x25") == h("8501810a4100412540")
    assert cbor.dumps(oscore.aad_array(10, b"\x00", b"\x25")) == h("498501810a4100412540")
    assert oscore.aad(10, b"\x00", b"\x25") == h("8368456e63727970743040498501810a4100412540")


# §6.3: kid, Partial IV, kid context ("-" absent, "e" empty), size of the COSE_Encrypt0
# before compression, size after it, OSCORE option value
COMPRESSION = """
25 05 - 24 17 090525
e 00 - 23 16 0900
e 05 44616c656b 30 22 19050544616c656b
- - - 18 14 -
- 07 - 21 16 0107
"""


def test_compression_examples():
    ct = h("aea0155667924dff8a24e4cb35b9")
    for line in COMPRESSION.split("\n"):
        if not line:
            continue
        f = line.split()
        kid, piv, kc, opt = [None if x == "-" else b"" if x == "e" else h(x)
                             for x in (f[0], f[1], f[2], f[5])]
        u = {}
        for label, v in ((4, kid), (6, piv), (10, kc)):
            if v is not None:
                u[label] = v
        assert len(cbor.dumps([b"", u, ct])) == int(f[3])  # the COSE_Encrypt0 of the example
        # compressed: the option value, and the ciphertext alone as the payload
        assert oscore.encode_option(piv, kid, kc) == (opt or b""), line
        assert len(opt or b"") + len(ct) == int(f[4])
        assert oscore.decode_option(opt) == (piv, kid, kc)


def test_malformed_option_values():
    for bad in ("20", "40", "80", "06", "07", "02", "0205", "1014", "1102", "1003aabb", "0101ff"):
        try:
            oscore.decode_option(h(bad))
        except OSCOREError as e:
            assert e.code == coap.BAD_OPTION
        else:
            raise AssertionError("accepted " + bad)
    assert oscore.decode_option(b"") == (None, None, None)
    assert oscore.decode_option(h("1000")) == (None, None, b"")
    assert oscore.decode_option(h("08")) == (None, b"", None)
    # all fields: n = 5, kid context, kid
    v = oscore.encode_option(h("ffffffffff"), b"\x07", b"ctx")
    assert v == h("1dffffffffff03637478") + b"\x07"
    assert oscore.decode_option(v) == (h("ffffffffff"), b"\x07", b"ctx")
    assert raises(OSCOREError, oscore.encode_option, h("010203040506"))
    assert raises(OSCOREError, oscore.encode_option, b"")


def _fresh_request(client, payload=b"", options=None, code=coap.GET):
    m = coap.Message(code, b"\x01\x02", options or [(coap.URI_PATH, b"x")], payload, coap.CON, 7)
    out, state = oscore.protect_request(client, m)
    return coap.encode(out), state


def _rejected(fn, *args):
    # -> the OSCOREError's code; fails the test if fn returns
    try:
        fn(*args)
    except OSCOREError as e:
        return e.code
    raise AssertionError("not rejected")


def test_replay_rejected():
    client, server = _pair(0)
    wire = {}
    for seq in (0, 1, 2, 5, 20, 25, 22, 60, 29, 70, 100, 200):
        client.sender_seq = seq
        wire[seq] = _fresh_request(client)[0]
    order = (1, 0, 5, 2, 20, 25, 22)
    for seq in order:
        oscore.unprotect_request(server, coap.decode(wire[seq]))
    for seq in order:  # every one of them again
        assert _rejected(oscore.unprotect_request, server, coap.decode(wire[seq])) == \
            coap.UNAUTHORIZED
    oscore.unprotect_request(server, coap.decode(wire[60]))
    assert _rejected(oscore.unprotect_request, server, coap.decode(wire[25])) == \
        coap.UNAUTHORIZED  # 60 - 25 = 35: older than the window of 32
    oscore.unprotect_request(server, coap.decode(wire[29]))  # 60 - 29 = 31: in, unseen
    assert raises(OSCOREError, oscore.unprotect_request, server, coap.decode(wire[29]))
    # a forged message with a fresh Partial IV moves nothing
    bad = bytearray(wire[70])
    bad[-1] ^= 1
    assert _rejected(oscore.unprotect_request, server, coap.decode(bytes(bad))) == \
        coap.BAD_REQUEST
    assert server.replay_top == 60
    oscore.unprotect_request(server, coap.decode(wire[70]))
    # a jump over the whole window
    oscore.unprotect_request(server, coap.decode(wire[200]))
    assert raises(OSCOREError, oscore.unprotect_request, server, coap.decode(wire[200]))
    assert raises(OSCOREError, oscore.unprotect_request, server, coap.decode(wire[100]))
    # after a loss of the window (App. B.1.2): a floor
    _, server2 = _pair(0)
    server2.set_replay_floor(25)
    assert raises(OSCOREError, oscore.unprotect_request, server2, coap.decode(wire[22]))
    oscore.unprotect_request(server2, coap.decode(wire[25]))


def test_flipped_bit_rejected():
    client, server = _pair(1)
    wire, _ = _fresh_request(client, b"set 1", [(coap.URI_PATH, b"lamp")], coap.PUT)
    m = coap.decode(wire)
    start = len(wire) - len(m.payload)
    for i in range(start, len(wire)):  # every byte of the ciphertext and tag
        bad = bytearray(wire)
        bad[i] ^= 0x80 >> (i % 8)
        assert _rejected(oscore.unprotect_request, server, coap.decode(bytes(bad))) == \
            coap.BAD_REQUEST, i
    # the Partial IV and the kid in the option (the nonce and the AAD change)
    for opt in (h("0901") + b"\x00", h("0900") + b"\x01", h("0a0000") + b"\x00"):
        m = coap.decode(wire)
        m.remove(coap.OSCORE)
        m.add(coap.OSCORE, opt)
        assert raises(OSCOREError, oscore.unprotect_request, server, m)
    # a truncated ciphertext, none at all
    m = coap.decode(wire)
    m.payload = m.payload[:8]
    assert _rejected(oscore.unprotect_request, server, m) == coap.BAD_OPTION
    m.payload = b""
    assert raises(OSCOREError, oscore.unprotect_request, server, m)
    assert server.replay_top == -1
    inner, _ = oscore.unprotect_request(server, coap.decode(wire))  # the genuine one passes
    assert inner.code == coap.PUT and inner.payload == b"set 1" and inner.path() == "lamp"


def test_wrong_recipient_rejected():
    client, server = _pair(0)
    wire, cstate = _fresh_request(client)
    # a server whose Recipient ID is not the kid
    other = oscore.derive(SECRET, KDF[0][0], b"\x01", b"\x02")
    assert _rejected(oscore.unprotect_request, other, coap.decode(wire)) == coap.UNAUTHORIZED
    # the right IDs, another Master Secret
    other = oscore.derive(b"\x00" * 16, KDF[0][0], b"\x01", b"")
    assert _rejected(oscore.unprotect_request, other, coap.decode(wire)) == coap.BAD_REQUEST
    # another ID Context, sent as kid context
    c3, s3 = _pair(2)
    wire3, _ = _fresh_request(c3)
    s3.id_context = b"other"
    assert _rejected(oscore.unprotect_request, s3, coap.decode(wire3)) == coap.UNAUTHORIZED
    assert raises(OSCOREError, oscore.unprotect_request, server, coap.decode(wire3))
    # the client: a response from another context
    _, sstate = oscore.unprotect_request(server, coap.decode(wire))
    resp = oscore.protect_response(server, coap.Message(coap.CONTENT, b"\x01\x02"), sstate)
    c2, _ = _pair(1)
    assert raises(OSCOREError, oscore.unprotect_response, c2, resp, cstate)
    # a response naming another sender
    resp.remove(coap.OSCORE)
    resp.add(coap.OSCORE, oscore.encode_option(None, b"\x09"))
    assert _rejected(oscore.unprotect_response, client, resp, cstate) == coap.UNAUTHORIZED


def test_response_to_other_request_rejected():
    client, server = _pair(0)
    wire_a, state_a = _fresh_request(client)
    wire_b, state_b = _fresh_request(client)
    _, sa = oscore.unprotect_request(server, coap.decode(wire_a))
    _, sb = oscore.unprotect_request(server, coap.decode(wire_b))
    ra = coap.encode(oscore.protect_response(server, coap.Message(coap.CONTENT, b"\x01\x02",
                                                                  None, b"A"), sa))
    rb = coap.encode(oscore.protect_response(server, coap.Message(coap.CONTENT, b"\x01\x02",
                                                                  None, b"B"), sb, True))
    assert _rejected(oscore.unprotect_response, client, coap.decode(ra), state_b) == \
        coap.BAD_REQUEST
    assert raises(OSCOREError, oscore.unprotect_response, client, coap.decode(rb), state_a)
    assert oscore.unprotect_response(client, coap.decode(ra), state_a).payload == b"A"
    assert oscore.unprotect_response(client, coap.decode(rb), state_b).payload == b"B"
    # one response per request: the same again is a replay
    assert raises(OSCOREError, oscore.unprotect_response, client, coap.decode(ra), state_a)
    # a second response from the server gets a Partial IV of its own (nonce used once)
    seq = server.sender_seq
    r2 = oscore.protect_response(server, coap.Message(coap.CONTENT, b"\x01\x02"), sa)
    assert oscore.decode_option(r2.get(coap.OSCORE))[0] == oscore.piv_bytes(seq)


def test_options_inner_outer_and_codes():
    client, server = _pair(1)
    m = coap.Message(coap.PUT, b"\xaa", [(coap.URI_HOST, b"h"), (coap.URI_PORT, b"\x16\x34"),
                                         (coap.ETAG, b"e"), (coap.URI_PATH, b"a"),
                                         (coap.URI_PATH, b"b"), (coap.CONTENT_FORMAT, b"\x3c"),
                                         (coap.URI_QUERY, b"q=1"), (coap.BLOCK1, b"\x0e"),
                                         (coap.PROXY_SCHEME, b"coap"),
                                         (coap.NO_RESPONSE, b"\x1a")], b"data", coap.NON, 9)
    out, cstate = oscore.protect_request(client, m)
    assert out.code == coap.POST and out.type == coap.NON and out.mid == 9
    assert [n for n, _ in out.options] == [coap.URI_HOST, coap.URI_PORT, coap.OSCORE,
                                           coap.PROXY_SCHEME]
    # an outer Class E option planted on the way is dropped, the inner one wins
    wire = coap.decode(coap.encode(out))
    wire.add(coap.URI_PATH, b"evil")
    wire.add(coap.MAX_AGE, b"\x00")
    inner, sstate = oscore.unprotect_request(server, wire)
    assert coap.encode(inner) == coap.encode(m)
    assert not sstate.observe
    # nested OSCORE is refused
    assert raises(OSCOREError, oscore.protect_request, client, out)
    # no OSCORE option, or two of them
    assert _rejected(oscore.unprotect_request, server, m) == coap.BAD_OPTION
    twice = coap.decode(coap.encode(out))
    twice.add(coap.OSCORE, b"")
    assert _rejected(oscore.unprotect_request, server, twice) == coap.BAD_OPTION
    # the response: everything inside, outer code 2.04
    r = coap.Message(coap.CREATED, b"\xaa", [(coap.LOCATION_PATH, b"n"), (coap.MAX_AGE, b"\x3c")],
                     b"", coap.NON, 10)
    ro = oscore.protect_response(server, r, sstate)
    assert ro.code == coap.CHANGED and [n for n, _ in ro.options] == [coap.OSCORE]
    assert ro.get(coap.OSCORE) == b""
    back = oscore.unprotect_response(client, coap.decode(coap.encode(ro)), cstate)
    assert coap.encode(back) == coap.encode(r)
    # an error for the server to send unprotected
    try:
        oscore.unprotect_request(server, coap.decode(coap.encode(out)))
    except OSCOREError as e:
        err = oscore.error_response(m, e)
        assert err.code == coap.UNAUTHORIZED and err.get(coap.MAX_AGE) == b""
        assert err.payload == b"Replay detected" and err.token == b"\xaa"
    else:
        raise AssertionError("replay accepted")


def test_proxy_uri_split():
    client, server = _pair(0)
    m = coap.Message(coap.GET, b"", [(coap.PROXY_URI, b"coap://example.com:5683/res/a%2Fb?q=1&r")])
    out, _ = oscore.protect_request(client, m)
    assert out.get(coap.PROXY_URI) == b"coap://example.com:5683"
    assert out.get(coap.URI_PATH) is None and out.get(coap.URI_QUERY) is None
    inner, _ = oscore.unprotect_request(server, coap.decode(coap.encode(out)))
    assert inner.get_all(coap.URI_PATH) == [b"res", b"a/b"]
    assert inner.get_all(coap.URI_QUERY) == [b"q=1", b"r"]
    assert inner.get(coap.PROXY_URI) == b"coap://example.com:5683"
    m = coap.Message(coap.GET, b"", [(coap.PROXY_URI, b"coap://example.com")])
    out, _ = oscore.protect_request(client, m)
    assert out.get(coap.PROXY_URI) == b"coap://example.com"
    inner, _ = oscore.unprotect_request(server, coap.decode(coap.encode(out)))
    assert inner.get(coap.URI_PATH) is None
    assert raises(OSCOREError, oscore.protect_request, client,
                  coap.Message(coap.GET, b"", [(coap.PROXY_URI, b"/relative")]))
    for bad in (b"coap://h/a%2", b"coap://h/a%zz", b"coap://h/a#frag"):
        assert raises(OSCOREError, oscore.protect_request, client,
                      coap.Message(coap.GET, b"", [(coap.PROXY_URI, bad)]))


def test_observe():
    client, server = _pair(0)
    reg = coap.Message(coap.GET, b"\x0b", [(coap.OBSERVE, b""), (coap.URI_PATH, b"temp")])
    out, cstate = oscore.protect_request(client, reg)
    assert out.code == coap.FETCH and out.get(coap.OBSERVE) == b"" and cstate.observe
    assert out.get(coap.URI_PATH) is None
    inner, sstate = oscore.unprotect_request(server, coap.decode(coap.encode(out)))
    assert sstate.observe and inner.get(coap.OBSERVE) == b"" and inner.code == coap.GET
    notes = []
    for i in range(3):  # the first reuses the request's nonce, the others carry a Partial IV
        n = coap.Message(coap.CONTENT, b"\x0b", [(coap.OBSERVE, bytes((i + 1,)))],
                         bytes((48 + i,)), coap.NON)
        o = oscore.protect_response(server, n, sstate)
        assert o.code == coap.CONTENT and o.get(coap.OBSERVE) == bytes((i + 1,))
        assert (oscore.decode_option(o.get(coap.OSCORE))[0] is None) == (i == 0)
        notes.append(coap.encode(o))
    first = oscore.unprotect_response(client, coap.decode(notes[0]), cstate)
    assert first.payload == b"0" and first.get(coap.OBSERVE) == b""
    third = oscore.unprotect_response(client, coap.decode(notes[2]), cstate)
    assert third.payload == b"2" and third.get(coap.OBSERVE) == coap.uint_option(1)
    # older, replayed, and a second one without Partial IV: all refused
    for w in (notes[1], notes[2], notes[0]):
        assert raises(OSCOREError, oscore.unprotect_response, client, coap.decode(w), cstate)
    # an Observe response to a request that did not register is refused
    w, plain = _fresh_request(client)
    _, s2 = oscore.unprotect_request(server, coap.decode(w))
    o = oscore.protect_response(server, coap.Message(coap.CONTENT, b"", [(coap.OBSERVE, b"\x05")]),
                                s2)
    assert raises(OSCOREError, oscore.unprotect_response, client, o, plain)


def test_sequence_numbers():
    client, server = _pair(0)
    stored = []
    client.on_seq = stored.append
    client.seq_step = 4
    for _ in range(9):
        _fresh_request(client)
    assert stored == [0, 4, 8] and client.sender_seq == 9

    def refuse(n):
        raise OSError("flash full")
    client.on_seq = refuse
    client.sender_seq = 12
    assert raises(OSError, _fresh_request, client)
    assert client.sender_seq == 12  # not used
    client.on_seq = None
    client.sender_seq = oscore.MAX_SEQ
    w, _ = _fresh_request(client)
    assert oscore.decode_option(coap.decode(w).get(coap.OSCORE))[0] == h("ffffffffff")
    inner, _ = oscore.unprotect_request(server, coap.decode(w))
    assert inner.path() == "x"
    assert raises(OSCOREError, _fresh_request, client)
    assert oscore.piv_bytes(0) == b"\x00" and oscore.piv_bytes(256) == h("0100")


def test_other_algorithms_and_edhoc_dict():
    for alg, tag, nlen in ((oscore.AES_CCM_16_128_128, 16, 13), (oscore.AES_CCM_64_64_128, 8, 7),
                           (oscore.AES_CCM_16_64_256, 8, 13)):
        client, server = _pair(1, alg)
        assert len(client.common_iv) == nlen
        assert len(client.sender_key) == (32 if alg == oscore.AES_CCM_16_64_256 else 16)
        w, st = _fresh_request(client, b"hi", None, coap.POST)
        assert len(coap.decode(w).payload) == 6 + tag  # code, Uri-Path x, 0xff, hi
        inner, ss = oscore.unprotect_request(server, coap.decode(w))
        assert inner.payload == b"hi"
        r = oscore.protect_response(server, coap.Message(coap.CHANGED, b"\x01\x02"), ss, True)
        assert oscore.unprotect_response(client, r, st).code == coap.CHANGED
    assert raises(OSCOREError, oscore.derive, SECRET, b"", b"", b"\x01", None, 1)
    assert raises(OSCOREError, oscore.derive, SECRET, b"", b"", b"\x01", None, 10, -43)
    assert raises(OSCOREError, oscore.derive, SECRET, b"", b"12345678", b"\x01")
    assert raises(OSCOREError, oscore.derive, SECRET, b"", b"12", b"", None,
                  oscore.AES_CCM_64_64_128)
    # RFC 9528 App. A.1: EDHOC's exporter output as the input parameters
    d = {"master_secret": SECRET, "master_salt": KDF[0][0], "sender_id": b"",
         "recipient_id": b"\x01"}
    ctx = oscore.Context.from_edhoc(d)
    assert (ctx.sender_key, ctx.recipient_key, ctx.common_iv) == (KDF[0][7], KDF[0][8], KDF[0][9])
