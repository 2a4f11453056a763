"""EDHOC (RFC 9528), imprint Initiator <-> imprint Responder, CPython only.

All four methods x cipher suites 0 and 2 x credentials {kid, kccs by value, x5t, x5chain};
EAD (critical / non-critical), message_4, key update, suite negotiation, identifiers.
X.509 certificates are made here with `cryptography` (Ed25519 CA; Ed25519, X25519 and
P-256 subject keys).
"""
import datetime
import itertools

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import NameOID

from imprint import cbor, der, edhoc
from imprint.edhoc import EDHOCError, Initiator, Responder

_CA = ed25519.Ed25519PrivateKey.generate()
_NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(pub, cn):
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name("imprint test CA"))
         .public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(_NOW).not_valid_after(_NOW + datetime.timedelta(days=365)))
    return b.sign(_CA, None).public_bytes(serialization.Encoding.DER)


def _raw(key):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        priv = key.private_numbers().private_value.to_bytes(32, "big")
        pub = key.public_key().public_bytes(serialization.Encoding.X962,
                                            serialization.PublicFormat.UncompressedPoint)
        return priv, pub
    priv = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return priv, pub


def make_party(suite, signs, cred_kind, name, kid):
    """-> (private key, CRED (CCS bytes or DER), id_cred or None for the default)."""
    if suite == 2:
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = ed25519.Ed25519PrivateKey.generate() if signs else x25519.X25519PrivateKey.generate()
    priv, pub = _raw(key)
    if cred_kind in ("x5t", "x5chain"):
        cert = _cert(key.public_key(), name)
        return priv, cert, ({33: cert} if cred_kind == "x5chain" else None)
    if suite == 2:
        cose_key = {1: 2, 2: kid, -1: 1, -2: pub[1:33], -3: pub[33:]}
    else:
        cose_key = {1: 1, 2: kid, -1: 6 if signs else 4, -2: pub}
    ccs = cbor.dumps({2: name, 8: {1: cose_key}})
    return priv, ccs, ({14: cbor.loads(ccs)} if cred_kind == "kccs" else None)


def trust_of(*creds):
    """trust(): a known kid / x5t, or a by-value credential that is one of creds."""
    known = [edhoc.cred_bytes(c) for c in creds]

    def trust(id_cred):
        for c in known:
            ref = edhoc._default_id_cred(c)
            if 4 in id_cred and ref == {4: id_cred[4]}:
                return c
            if 34 in id_cred and ref.get(34) == id_cred[34]:
                return c
            if 14 in id_cred and cbor.dumps(id_cred[14]) == c:
                return c
            if 33 in id_cred and edhoc.cred_bytes(id_cred[33]) == c:
                return c
        raise ValueError("not trusted")
    return trust


def handshake(i, r, trust_i, trust_r, m4=True, ead=((), (), (), ())):
    m1 = i.message_1(ead[0])
    m2 = r.message_2(m1, ead[1])
    m3 = i.message_3(m2, trust_i, ead[2])
    r.verify_message_3(m3, trust_r)
    if m4:
        i.complete(r.message_4(ead[3]))
    else:
        i.complete()
    return m1, m2, m3


CASES = list(itertools.product((0, 1, 2, 3), (0, 2), ("kid", "kccs", "x5t", "x5chain")))


@pytest.mark.parametrize("method,suite,cred_kind", CASES)
def test_methods_suites_credentials(method, suite, cred_kind):
    i_signs, r_signs = method in (0, 1), method in (0, 2)
    ik, ic, iid = make_party(suite, i_signs, cred_kind, "initiator", b"\x2b")
    rk, rc, rid = make_party(suite, r_signs, cred_kind, "responder", b"\x32")
    i = Initiator(ik, ic, method=method, suites=(suite,), id_cred=iid)
    r = Responder(rk, rc, method=method, suites=(suite,), id_cred=rid)
    trust = trust_of(ic, rc)
    m1, m2, m3 = handshake(i, r, trust, trust)
    assert i.prk_out == r.prk_out and len(i.prk_out) == 32
    assert i.th_4 == r.th_4 and i.mac_2 == r.mac_2 and i.mac_3 == r.mac_3
    assert i.peer_cred == edhoc.cred_bytes(rc) and r.peer_cred == edhoc.cred_bytes(ic)
    assert i.exporter(5, b"ctx", 33) == r.exporter(5, b"ctx", 33)
    oi, orr = i.oscore_context(), r.oscore_context()
    assert oi["master_secret"] == orr["master_secret"] and len(oi["master_secret"]) == 16
    assert oi["master_salt"] == orr["master_salt"] and len(oi["master_salt"]) == 8
    assert oi["sender_id"] == orr["recipient_id"] == r.c_r
    assert oi["recipient_id"] == orr["sender_id"] == i.c_i
    # key update keeps both sides equal and changes the keys
    before = i.exporter(0, b"", 16)
    i.key_update(b"\x01\x02")
    r.key_update(b"\x01\x02")
    assert i.exporter(0, b"", 16) == r.exporter(0, b"", 16) != before
    # the compact kid form: a one-byte kid that is a CBOR int goes as that int
    if cred_kind == "kid":
        assert r.plaintext_2[1:2] == b"\x32" and i.plaintext_3[:1] == b"\x2b"
    # sizes: static DH MACs are 8 bytes, signatures 64
    assert len(i.mac_2) == (32 if r_signs else 8) and len(i.mac_3) == (32 if i_signs else 8)


@pytest.fixture(scope="module")
def p256_parties():
    ik, ic, _ = make_party(2, False, "kid", "i", b"\x2b")
    rk, rc, _ = make_party(2, False, "kid", "r", b"\x32")
    return ik, ic, rk, rc


def test_ead_critical_and_non_critical(p256_parties):
    ik, ic, rk, rc = p256_parties
    trust = trust_of(ic, rc)
    i = Initiator(ik, ic, ead_labels=(9,))
    r_missing = Responder(rk, rc, ead_labels=(9,))  # does not understand 7
    with pytest.raises(EDHOCError):
        r_missing.message_2(Initiator(ik, ic).message_1([(-7, None)]))
    r = Responder(rk, rc, ead_labels=(7, 9))
    ead = ([(5, b"one"), (-7, None)], [(-9, b"two"), (0, b"pad")], [(-7, b"three"), (6, None)],
           [(11, b"four")])
    handshake(i, r, trust, trust, ead=ead)
    assert r.ead_1 == [(5, b"one"), (-7, None)]
    assert i.ead_2 == [(-9, b"two")]  # padding (label 0) dropped
    assert r.ead_3 == [(-7, b"three"), (6, None)]
    assert i.ead_4 == [(11, b"four")]
    assert i.prk_out == r.prk_out


@pytest.mark.parametrize("where", [1, 2, 3, 4])
def test_ead_critical_not_understood_rejected(p256_parties, where):
    ik, ic, rk, rc = p256_parties
    trust = trust_of(ic, rc)
    i = Initiator(ik, ic)
    r = Responder(rk, rc)
    ead = [(), (), (), ()]
    ead[where - 1] = [(-42, b"x")]
    m1 = i.message_1(ead[0])
    receiver = r if where in (1, 3) else i
    with pytest.raises(EDHOCError) as e:
        m2 = r.message_2(m1, ead[1])
        m3 = i.message_3(m2, trust, ead[2])
        r.verify_message_3(m3, trust)
        i.complete(r.message_4(ead[3]))
    assert e.value.to_peer is not None and cbor.loads_seq(e.value.to_peer)[0] == 1
    with pytest.raises(EDHOCError):
        receiver.exporter(0, b"", 16)


def test_message_4_optional_and_connection_identifiers(p256_parties):
    ik, ic, rk, rc = p256_parties
    trust = trust_of(ic, rc)
    for c_i, c_r in ((b"\x01\x02", 5), (-24, b""), (23, b"\xff" * 8), (b"\x0e", b"\x37")):
        i = Initiator(ik, ic, c_i=c_i)
        r = Responder(rk, rc, c_r=c_r)
        handshake(i, r, trust, trust, m4=False)
        assert i.prk_out == r.prk_out
        cid = c_i if isinstance(c_i, bytes) else cbor.dumps(c_i)
        rid = c_r if isinstance(c_r, bytes) else cbor.dumps(c_r)
        assert r.c_i == i.c_i == cid and i.c_r == r.c_r == rid
        assert i.oscore_context()["sender_id"] == rid
    # b"\x0e" is sent as the int 14 (one-byte CBOR int), b"\x01\x02" as a bstr
    assert edhoc.encode_id(b"\x0e") == b"\x0e" and edhoc.encode_id(b"\x01\x02") == b"\x42\x01\x02"
    assert edhoc.encode_id(b"\x18") == b"\x41\x18"


def test_suite_negotiation_and_retry(p256_parties):
    ik, ic, rk, rc = p256_parties
    x_priv = x25519.X25519PrivateKey.generate()
    i = Initiator(_raw(x_priv)[0], make_party(0, False, "kid", "i0", b"\x01")[1], suites=(0,))
    r = Responder(rk, rc, suites=(2,))
    with pytest.raises(EDHOCError) as e:
        r.message_2(i.message_1())
    assert e.value.to_peer == b"\x02\x02"
    with pytest.raises(EDHOCError) as e2:
        i.message_3(e.value.to_peer, trust_of(rc))
    assert e2.value.err_code == 2 and e2.value.suites_r == [2] and e2.value.to_peer is None
    suites = edhoc.retry_suites((0, 2), e2.value.suites_r)
    assert suites == (0, 2)
    i = Initiator(ik, ic, suites=suites)
    r = Responder(rk, rc, suites=(2,))
    m1 = i.message_1()
    assert m1[1:4] == b"\x82\x00\x02"
    handshake_rest(i, r, m1, trust_of(ic, rc))
    # a responder supporting a suite the initiator prefers to the selected one refuses
    r2 = Responder(rk, rc, suites=(2, 0))
    with pytest.raises(EDHOCError) as e3:
        r2.message_2(Initiator(ik, ic, suites=(0, 2)).message_1())
    assert cbor.loads_seq(e3.value.to_peer) == [2, [2, 0]]
    with pytest.raises(ValueError):
        edhoc.retry_suites((0,), [6])


def handshake_rest(i, r, m1, trust):
    m3 = i.message_3(r.message_2(m1), trust)
    r.verify_message_3(m3, trust)
    assert i.prk_out == r.prk_out


def test_wrong_key_kind_and_x5t_mismatch_rejected(p256_parties):
    ik, ic, rk, rc = p256_parties
    # the responder's credential says Ed25519 while the method needs a static DH key
    rk0, rc0, _ = make_party(0, True, "x5t", "r-ed", None)
    ik0, ic0, _ = make_party(0, False, "kid", "i-x", b"\x2b")
    i = Initiator(ik0, ic0, method=3, suites=(0,))
    r = Responder(rk0, rc0, method=3, suites=(0,))
    with pytest.raises(EDHOCError):
        i.message_3(r.message_2(i.message_1()), trust_of(rc0))
    # x5t that does not match the certificate trust returns
    other = make_party(0, True, "x5t", "other", None)[1]
    i = Initiator(ik0, ic0, method=1, suites=(0,))
    r = Responder(rk0, rc0, method=1, suites=(0,))
    with pytest.raises(EDHOCError) as e:
        i.message_3(r.message_2(i.message_1()), lambda idc: other)
    assert e.value.to_peer is not None


def test_by_value_credential_must_match_trust(p256_parties):
    ik, ic, rk, rc = p256_parties
    i = Initiator(ik, ic)
    r = Responder(rk, rc, id_cred={14: cbor.loads(rc)})
    with pytest.raises(EDHOCError):
        i.message_3(r.message_2(i.message_1()), lambda idc: ic)


def test_der_public_keys():
    for key, kind in ((ed25519.Ed25519PrivateKey.generate(), "ed25519"),
                      (x25519.X25519PrivateKey.generate(), "x25519"),
                      (ec.generate_private_key(ec.SECP256R1()), "p256")):
        cert = _cert(key.public_key(), kind)
        assert der.public_key(cert) == (kind, _raw(key)[1])
        der.walk(cert)
    p384 = _cert(ec.generate_private_key(ec.SECP384R1()).public_key(), "p384")
    with pytest.raises(der.DERError):
        der.public_key(p384)
    with pytest.raises(ValueError):
        der.public_key(b"\x30\x03\x02\x01")
