"""Live EDHOC interop with lakers-python 0.6.2 (method 3, cipher suite 2).

imprint Initiator <-> lakers EdhocResponder and lakers EdhocInitiator <-> imprint Responder,
credentials CCS by kid and by value (kccs), several runs with fresh random keys; PRK_out,
exporter outputs and OSCORE contexts must agree.
"""
import sys
from pathlib import Path

import cbor2
import pytest

lakers = pytest.importorskip("lakers")

from imprint import cbor, crypto  # noqa: E402
from imprint.edhoc import EDHOCError, Initiator, Responder  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "device"))  # edhoc_trace3, vectors
CONTEXT = bytes.fromhex("a01158fdb820890cd6be169602b8bcea")  # RFC 9529 §3 KeyUpdate context


def ccs(sub, kid, priv):
    # RFC 8392 CCS with a cnf COSE_Key (EC2, P-256), as in RFC 9529 §3
    pub = crypto.p256_public(priv)
    return cbor2.dumps({2: sub, 8: {1: {1: 2, 2: kid, -1: 1, -2: pub[1:33], -3: pub[33:]}}})


def keypair(sub, kid):
    priv, _ = crypto.p256_keypair()
    return priv, ccs(sub, kid, priv)


def imprint_trust(expected):
    # trust a kid reference to, or a by-value copy of, exactly `expected`
    def trust(id_cred):
        if 4 in id_cred and id_cred[4] == cbor2.loads(expected)[8][1][2]:
            return expected
        if 14 in id_cred and cbor.dumps(id_cred[14]) == expected:
            return expected
        raise ValueError("unknown credential %r" % (id_cred,))
    return trust


def transfer(by_value):
    return lakers.CredentialTransfer.ByValue if by_value else lakers.CredentialTransfer.ByReference


@pytest.mark.parametrize("run", range(4))
@pytest.mark.parametrize("by_value", [False, True], ids=["kid", "kccs"])
def test_imprint_initiator_lakers_responder(by_value, run):
    i_priv, cred_i = keypair("initiator-%d" % run, bytes([0x2B]))
    r_priv, cred_r = keypair("responder-%d" % run, bytes([0x0A + run]))
    id_cred_i = {14: cbor2.loads(cred_i)} if by_value else None
    ini = Initiator(i_priv, cred_i, method=3, suites=(2,), id_cred=id_cred_i)
    resp = lakers.EdhocResponder(r_priv, cred_r)

    m1 = ini.message_1()
    c_i, ead_1 = resp.process_message_1(m1)
    assert bytes(c_i) == ini.c_i and not ead_1
    m2 = resp.prepare_message_2(transfer(by_value), None, None)
    m3 = ini.message_3(m2, imprint_trust(cred_r))
    if by_value:
        assert ini.peer_id_cred[14] == cbor2.loads(cred_r)
    else:
        assert ini.peer_id_cred == {4: bytes([0x0A + run])}
    id_cred_i_rx, ead_3 = resp.parse_message_3(m3)
    valid = lakers.credential_check_or_fetch(id_cred_i_rx, cred_i)
    r_prk_out = resp.verify_message_3(valid)
    assert bytes(r_prk_out) == ini.prk_out
    m4 = resp.prepare_message_4(None)
    ini.complete(m4)
    assert bytes(resp.edhoc_exporter(0, [], 16)) == ini.exporter(0, b"", 16)
    assert bytes(resp.edhoc_exporter(1, [], 8)) == ini.exporter(1, b"", 8)
    assert bytes(resp.edhoc_exporter(7, list(b"ctx"), 40)) == ini.exporter(7, b"ctx", 40)
    if ini.c_r != ini.c_i:
        assert ini.oscore_context()["master_secret"] == bytes(resp.edhoc_exporter(0, [], 16))
    else:  # lakers picks C_R at random and may pick C_I: no OSCORE context then (App. A.1)
        with pytest.raises(EDHOCError):
            ini.oscore_context()
    resp.edhoc_key_update(list(CONTEXT))
    ini.key_update(CONTEXT)
    assert bytes(resp.edhoc_exporter(0, [], 16)) == ini.exporter(0, b"", 16)


@pytest.mark.parametrize("run", range(4))
@pytest.mark.parametrize("by_value", [False, True], ids=["kid", "kccs"])
def test_lakers_initiator_imprint_responder(by_value, run):
    i_priv, cred_i = keypair("initiator-%d" % run, bytes([0x2B]))
    r_priv, cred_r = keypair("responder-%d" % run, bytes([0x32]))
    id_cred_r = {14: cbor2.loads(cred_r)} if by_value else None
    ini = lakers.EdhocInitiator()
    resp = Responder(r_priv, cred_r, method=3, suites=(2,), id_cred=id_cred_r)

    m1 = ini.prepare_message_1(None, None)
    m2 = resp.message_2(m1)
    c_r, id_cred_r_rx, ead_2 = ini.parse_message_2(m2)
    assert bytes(c_r) == resp.c_r
    valid = lakers.credential_check_or_fetch(id_cred_r_rx, cred_r)
    ini.verify_message_2(i_priv, cred_i, valid)
    m3, i_prk_out = ini.prepare_message_3(transfer(by_value), None)
    resp.verify_message_3(m3, imprint_trust(cred_i))
    assert (14 in resp.peer_id_cred) == by_value
    assert bytes(i_prk_out) == resp.prk_out
    m4 = resp.message_4()
    ini.process_message_4(m4)
    assert bytes(ini.edhoc_exporter(0, [], 16)) == resp.exporter(0, b"", 16)
    assert bytes(ini.edhoc_exporter(1, [], 8)) == resp.exporter(1, b"", 8)
    osc = resp.oscore_context()
    assert osc["master_secret"] == bytes(ini.edhoc_exporter(0, [], 16))
    assert osc["recipient_id"] == resp.c_r and osc["sender_id"] == resp.c_i
    ini.edhoc_key_update(list(CONTEXT))
    resp.key_update(CONTEXT)
    assert bytes(ini.edhoc_exporter(0, [], 16)) == resp.exporter(0, b"", 16)


def test_lakers_accepts_rfc9529_message_1_and_imprint_reads_its_message_2():
    # RFC 9529 §3 message_1 (SUITES_I [6, 2]) into lakers; its message_2 into imprint
    from edhoc_trace3 import T3
    from vectors import get
    resp = lakers.EdhocResponder(get(T3, "SK_R"), get(T3, "CRED_R"))
    ini = Initiator(get(T3, "SK_I"), get(T3, "CRED_I"), suites=(6, 2), c_i=-24,
                    _eph=(get(T3, "X"), get(T3, "G_X")))
    m1 = ini.message_1()
    assert m1 == get(T3, "message_1")
    c_i, _ = resp.process_message_1(m1)
    assert bytes(c_i) == b"\x37"
    m2 = resp.prepare_message_2(lakers.CredentialTransfer.ByReference, b"\x27", None)
    m3 = ini.message_3(m2, imprint_trust(get(T3, "CRED_R")))
    id_cred_i, _ = resp.parse_message_3(m3)
    prk_out = resp.verify_message_3(lakers.credential_check_or_fetch(id_cred_i, get(T3, "CRED_I")))
    assert bytes(prk_out) == ini.prk_out


def test_lakers_rejects_tampered_imprint_message_3():
    i_priv, cred_i = keypair("i", b"\x2b")
    r_priv, cred_r = keypair("r", b"\x32")
    ini = Initiator(i_priv, cred_i)
    resp = lakers.EdhocResponder(r_priv, cred_r)
    resp.process_message_1(ini.message_1())
    m2 = resp.prepare_message_2(lakers.CredentialTransfer.ByReference, None, None)
    m3 = bytearray(ini.message_3(m2, imprint_trust(cred_r)))
    m3[-1] ^= 1
    with pytest.raises(Exception):
        resp.parse_message_3(bytes(m3))
    # and imprint rejects a tampered lakers message_2
    ini2 = Initiator(i_priv, cred_i)
    resp2 = lakers.EdhocResponder(r_priv, cred_r)
    resp2.process_message_1(ini2.message_1())
    m2 = bytearray(resp2.prepare_message_2(lakers.CredentialTransfer.ByReference, None, None))
    m2[-1] ^= 1
    with pytest.raises(EDHOCError) as e:
        ini2.message_3(bytes(m2), imprint_trust(cred_r))
    assert e.value.to_peer is not None
