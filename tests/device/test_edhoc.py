# EDHOC (RFC 9528) against the RFC 9529 traces, byte for byte, and the ways a session must
# fail. Runs on the board and on CPython; each test keeps to a few public-key operations.
from imprint import cbor, edhoc
from imprint.edhoc import EDHOCError, Initiator, Responder
from edhoc_common import same, trust_from
from vectors import get, raises
from edhoc_trace3 import T3


def v3(name):
    return get(T3, name)


def t3_trust():
    return trust_from({b"\x2b": v3("CRED_I"), b"\x32": v3("CRED_R")})


def t3_initiator(**kw):
    return Initiator(v3("SK_I"), v3("CRED_I"), method=3, suites=(6, 2), c_i=-24,
                     _eph=(v3("X"), v3("G_X")), **kw)


def t3_responder(**kw):
    return Responder(v3("SK_R"), v3("CRED_R"), method=3, suites=(2,), c_r=-8,
                     _eph=(v3("Y"), v3("G_Y")), **kw)


def expect_error(fn, *args):
    # fn must raise EDHOCError carrying an EDHOC error message (ERR_CODE 1) for the peer
    try:
        fn(*args)
    except EDHOCError as e:
        assert e.to_peer is not None
        code, pos = cbor.decode(e.to_peer, 0)
        info, end = cbor.decode(e.to_peer, pos)
        assert end == len(e.to_peer) and code in (1, 2), e.to_peer
        if code == 1:
            assert type(info) is str
        return e
    raise AssertionError("no EDHOCError")


def test_trace3_negotiation_error_and_retry_suites():
    # RFC 9529 §3: message_1 with SUITES_I 6, the responder's error with SUITES_R 2
    i1 = Initiator(v3("SK_I"), v3("CRED_I"), method=3, suites=(6,), c_i=14,
                   _eph=(v3("X_FIRST"), v3("G_X_FIRST")))
    m1 = i1.message_1()
    assert m1 == v3("message_1_FIRST") and len(m1) == 37
    r1 = Responder(v3("SK_R"), v3("CRED_R"), method=3, suites=(2,))
    e = expect_error(r1.message_2, m1)
    assert e.to_peer == v3("ERROR") == cbor.dumps_seq((2, 2))
    assert raises(EDHOCError, r1.message_2, v3("message_1"))  # that session is dead
    # the initiator gets the error in place of message_2
    try:
        i1.message_3(e.to_peer, t3_trust())
        assert False
    except EDHOCError as err:
        assert err.err_code == 2 and err.err_info == 2 and err.suites_r == [2]
        assert err.to_peer is None
        suites_r = err.suites_r
    assert edhoc.retry_suites((6, 2), suites_r) == (6, 2)
    i2 = t3_initiator()
    m1 = i2.message_1()
    assert m1 == v3("message_1") and len(m1) == 39
    assert cbor.decode(m1, 1)[0] == [6, 2]


def test_trace3_full_handshake():
    # RFC 9529 §3, method 3, suite 2, CCS by kid: every message and intermediate value
    trust = t3_trust()
    i = t3_initiator()
    r = t3_responder()
    m1 = i.message_1()
    assert m1 == v3("message_1")
    m2 = r.message_2(m1)
    same(r, T3, "H_message_1 TH_2 G_XY PRK_2e SALT_3e2m G_RX PRK_3e2m MAC_2 PLAINTEXT_2 "
                "KEYSTREAM_2 TH_3")
    assert m2 == v3("message_2") and len(m2) == 45
    m3 = i.message_3(m2, trust)
    assert i.c_r == v3("C_R") and i.peer_id_cred == {4: b"\x32"} and i.ead_2 == []
    same(i, T3, "TH_2 G_XY PRK_2e KEYSTREAM_2 PLAINTEXT_2 G_RX SALT_3e2m PRK_3e2m MAC_2 TH_3 "
                "SALT_4e3m G_IY PRK_4e3m MAC_3 PLAINTEXT_3 K_3 IV_3 TH_4 PRK_out PRK_exporter")
    assert m3 == v3("message_3") and len(m3) == 19
    r.verify_message_3(m3, trust)
    assert r.peer_id_cred == {4: b"\x2b"} and r.ead_3 == []
    same(r, T3, "SALT_4e3m G_IY PRK_4e3m MAC_3 PLAINTEXT_3 K_3 IV_3 TH_4 PRK_out PRK_exporter")
    m4 = r.message_4()
    same(r, T3, "K_4 IV_4")
    assert m4 == v3("message_4")
    i.complete(m4)
    assert i.ead_4 == []
    # RFC 9529 §3: OSCORE parameters (App. A.1 of RFC 9528)
    oi = i.oscore_context()
    orr = r.oscore_context()
    assert oi["master_secret"] == orr["master_secret"] == v3("MASTER_SECRET")
    assert oi["master_salt"] == orr["master_salt"] == v3("MASTER_SALT")
    assert oi["sender_id"] == orr["recipient_id"] == v3("CLIENT_SENDER_ID")
    assert oi["recipient_id"] == orr["sender_id"] == v3("SERVER_SENDER_ID")
    assert i.exporter(0, b"", 16) == v3("MASTER_SECRET")
    # EDHOC_KeyUpdate
    for s in (i, r):
        s.key_update(v3("KU_CONTEXT"))
        assert s.prk_out == v3("PRK_OUT_KU") and s.prk_exporter == v3("PRK_EXPORTER_KU")
        o = s.oscore_context()
        assert o["master_secret"] == v3("MASTER_SECRET_KU")
        assert o["master_salt"] == v3("MASTER_SALT_KU")


def _flip(b, i):
    b = bytearray(b)
    b[i] ^= 1
    return bytes(b)


def test_message_2_flipped_truncated_rejected():
    trust = t3_trust()
    m2 = v3("message_2")
    for bad in (_flip(m2, len(m2) - 1), _flip(m2, 40), m2[:-1]):
        i = t3_initiator()
        i.message_1()
        expect_error(i.message_3, bad, trust)
        # dead: neither the genuine message_2 nor anything else is accepted
        assert raises(EDHOCError, i.message_3, m2, trust)
        assert raises(EDHOCError, i.complete, None)
        assert raises(EDHOCError, i.exporter, 0, b"", 16)
        if bad == m2[:-1]:
            break


def test_message_3_flipped_truncated_repeated_rejected():
    trust = t3_trust()
    m3 = v3("message_3")
    for bad in (_flip(m3, 5), m3[:-1], m3 + b"\x00"):
        r = t3_responder()
        assert r.message_2(v3("message_1")) == v3("message_2")
        e = expect_error(r.verify_message_3, bad, trust)
        assert cbor.decode(e.to_peer, 0)[0] == 1
        assert raises(EDHOCError, r.verify_message_3, m3, trust)
        assert raises(EDHOCError, r.message_4)
    # a repeated message_3 after success does not advance the session
    r = t3_responder()
    r.message_2(v3("message_1"))
    r.verify_message_3(m3, trust)
    expect_error(r.verify_message_3, m3, trust)
    assert raises(EDHOCError, r.message_4)


def test_out_of_order_and_repeated_calls():
    trust = t3_trust()
    r = t3_responder()
    expect_error(r.verify_message_3, v3("message_3"), trust)  # before message_2
    assert raises(EDHOCError, r.message_2, v3("message_1"))
    i = t3_initiator()
    expect_error(i.message_3, v3("message_2"), trust)  # before message_1
    assert raises(EDHOCError, i.message_1)
    i = t3_initiator()
    i.message_1()
    expect_error(i.message_1)  # message_1 twice
    r = Responder(v3("SK_R"), v3("CRED_R"), suites=(2,))
    expect_error(r.message_4)


def test_unknown_suite_and_method_rejected():
    r = Responder(v3("SK_R"), v3("CRED_R"), method=3, suites=(2,))
    m1 = b"\x03\x82\x02\x18\x18" + v3("message_1")[4:]  # SUITES_I [2, 24]: 24 unknown
    e = expect_error(r.message_2, m1)
    assert e.to_peer == b"\x02\x02"
    # a supported suite more preferred than the selected one: error too (§6.3.2)
    r = Responder(v3("SK_R"), v3("CRED_R"), method=3, suites=(2,))
    e = expect_error(r.message_2, b"\x03\x82\x02\x06" + v3("message_1")[4:])
    assert e.to_peer == b"\x02\x02"
    r = Responder(v3("SK_R"), v3("CRED_R"), method=0, suites=(2,))
    e = expect_error(r.message_2, v3("message_1"))
    assert cbor.decode(e.to_peer, 0)[0] == 1
    assert raises(ValueError, lambda: Initiator(v3("SK_I"), v3("CRED_I"), suites=(6,)))
    assert raises(ValueError, lambda: Responder(v3("SK_R"), v3("CRED_R"), suites=(2, 6)))


def test_untrusted_credential_rejected():
    def nobody(id_cred):
        raise ValueError("not trusted")
    i = t3_initiator()
    i.message_1()
    e = expect_error(i.message_3, v3("message_2"), nobody)
    assert raises(EDHOCError, i.message_3, v3("message_2"), t3_trust())
    # a trust answer that is a different credential fails the MAC
    i = t3_initiator()
    i.message_1()
    expect_error(i.message_3, v3("message_2"), lambda idc: v3("CRED_I"))
    r = t3_responder()
    r.message_2(v3("message_1"))
    expect_error(r.verify_message_3, v3("message_3"), nobody)


def test_error_message_received():
    i = t3_initiator()
    i.message_1()
    try:
        i.message_3(edhoc.error_message(1, "nope"), t3_trust())
        assert False
    except EDHOCError as e:
        assert e.err_code == 1 and e.err_info == "nope" and e.to_peer is None
    assert raises(EDHOCError, i.message_3, v3("message_2"), t3_trust())
