# EDHOC (RFC 9528) against the RFC 9529 §2 trace, byte for byte: method 0, cipher suite 0,
# X.509 certificates referenced by x5t, EdDSA. Runs on the board and on CPython; apart from
# test_edhoc.py (§3) so that each loads only its own vectors and curves.
from imprint import cbor, der
from imprint.edhoc import Initiator, Responder
from edhoc_common import same, trust_from
from vectors import get, h
from edhoc_trace2 import T2


def v2(name):
    return get(T2, name)


def test_trace2_method0_suite0_x509_x5t():
    # RFC 9529 §2: method 0, suite 0, X.509 certificates referenced by x5t, EdDSA
    cred_i, cred_r = v2("CRED_I"), v2("CRED_R")
    assert der.public_key(cred_r) == ("ed25519", v2("PK_R"))
    assert der.public_key(cred_i) == ("ed25519", v2("PK_I"))
    trust = trust_from({h("c24ab2fd7643c79f"): cred_i, h("79f2a41b510c1f9b"): cred_r})
    i = Initiator(v2("SK_I"), cred_i, method=0, suites=(0,), c_i=-14, _eph=(v2("X"), v2("G_X")))
    r = Responder(v2("SK_R"), cred_r, method=0, suites=(0,), c_r=b"\x18",
                  _eph=(v2("Y"), v2("G_Y")))
    assert cbor.dumps(i.id_cred) == v2("ID_CRED_I")  # default: x5t, SHA-256/64
    assert cbor.dumps(r.id_cred) == v2("ID_CRED_R")
    m1 = i.message_1()
    assert m1 == v2("message_1") and len(m1) == 37
    m2 = r.message_2(m1)
    same(r, T2, "TH_2 G_XY PRK_2e PRK_3e2m MAC_2 PLAINTEXT_2 KEYSTREAM_2")
    assert m2 == v2("message_2") and len(m2) == 116
    m3 = i.message_3(m2, trust)
    assert i.c_r == b"\x18"
    same(i, T2, "MAC_2 TH_3 PRK_4e3m MAC_3 PLAINTEXT_3 K_3 IV_3 TH_4 PRK_out PRK_exporter")
    assert m3 == v2("message_3") and len(m3) == 90
    r.verify_message_3(m3, trust)
    assert r.prk_out == v2("PRK_out")
    m4 = r.message_4()
    same(r, T2, "K_4 IV_4")
    assert m4 == v2("message_4")
    i.complete(m4)
    oi = i.oscore_context()
    assert oi["master_secret"] == v2("MASTER_SECRET") and oi["master_salt"] == v2("MASTER_SALT")
    assert oi["sender_id"] == v2("CLIENT_SENDER_ID") and oi["recipient_id"] == v2("SERVER_SENDER_ID")
    assert r.oscore_context()["sender_id"] == v2("SERVER_SENDER_ID")
    i.key_update(v2("KU_CONTEXT"))
    assert i.prk_out == v2("PRK_OUT_KU") and i.prk_exporter == v2("PRK_EXPORTER_KU")
    assert i.exporter(0, b"", 16) == v2("MASTER_SECRET_KU")
    assert i.exporter(1, b"", 8) == v2("MASTER_SALT_KU")
