# FDO 1.1 TO2 on the device (imprint.methods.fdo_to2): the session's pieces against values made
# with `cryptography` on the host (KBKDFHMAC, AESCCM), the ServiceInfo the device sends and how
# it answers the owner's, and the rendezvous directives it follows. The whole TO2 runs on the
# virtual board in tests/unit/test_fdo_to2.py and test_fdo_coap.py (through the relay).
from imprint import cbor, crypto
from imprint.methods import fdo, fdo_to2
from vectors import h, raises

SHSE = bytes(range(64)) + bytes(range(16)) + bytes(range(100, 116))
# NIST SP 800-108 counter mode, HMAC-SHA256, label "FIDO-KDF", context
# "AutomaticOnboardTunnel", r = 8, [L]_2 (cryptography's KBKDFHMAC)
SEK16 = h("84f5735a084f94b2c5e04a1ba83bf76e")
SEK32 = h("9ae7abd541d44497b9a4cafd092897b465d88449a7ee1f459c586620804e3346")
# COSE_Encrypt0 AES-CCM-64-128-128 of 82 f5 80 under SEK16, IV 00..06 (cryptography's AESCCM)
SEALED = h("d08344a1011820a105470001020304050653f94e74cdd68f5484968484c8aff8112ea257d2")


def test_kdf_equals_sp800_108():
    assert fdo_to2.kdf(SHSE, 16) == SEK16
    assert fdo_to2.kdf(SHSE, 32) == SEK32


def test_seal_and_unseal():
    assert fdo_to2.seal(SEK16, 32, b"\x82\xf5\x80", rand=lambda n: bytes(range(n))) == SEALED
    assert fdo_to2.unseal(SEK16, 32, SEALED, "m") == b"\x82\xf5\x80"
    bad = bytearray(SEALED)
    bad[-1] ^= 1
    raises(fdo.FDOError, fdo_to2.unseal, SEK16, 32, bytes(bad), "m")   # MAC failure
    raises(fdo.FDOError, fdo_to2.unseal, SEK16, 33, SEALED, "m")        # another algorithm
    raises(fdo.FDOError, fdo_to2.unseal, SEK16, 32, b"\x83\x40\xa0\x40", "m")  # no IV


def test_key_exchange_parameter():
    d, pub = crypto.p256_keypair()
    r = bytes(range(16))
    x = fdo_to2.kex_param(pub, r)
    assert len(x) == 2 + 32 + 2 + 32 + 2 + 16 and x[:2] == b"\x00\x20"
    assert fdo_to2.kex_parse(x) == (pub, r)
    raises(fdo.FDOError, fdo_to2.kex_parse, x[:-1])
    raises(fdo.FDOError, fdo_to2.kex_parse, x + b"\x00")
    raises(fdo.FDOError, fdo_to2.kex_parse, None)


def test_devmod_and_chunks():
    kvs = fdo_to2.devmod({"os": "MicroPython", "arch": "armv7emsp", "version": "1.27.0",
                          "device": "nrf52840-dk", "sn": "SN-1"}, ("devmod", "imprint"))
    got = dict((k, cbor.loads(v)) for k, v in kvs)
    assert got["devmod:active"] is True and got["devmod:bin"] == "armv7emsp"
    assert got["devmod:modules"] == [0, 2, "devmod", "imprint"] and got["devmod:nummodules"] == 2
    for k in ("os", "arch", "version", "device", "sep"):
        assert "devmod:" + k in got
    parts = fdo_to2._svi_chunks(kvs, 60)
    assert len(parts) > 1 and sum(len(p) for p in parts) == len(kvs)
    for p in parts:
        assert len(cbor.dumps(p)) <= 60 + 1
    raises(fdo.FDOError, fdo_to2._svi_chunks, [["x:y", bytes(100)]], 60)


def test_owner_service_info_answers():
    st = {"updates": {}}
    out = []
    fdo_to2._owner_svi([["imprint:active", cbor.dumps(True)],
                        ["other:active", cbor.dumps(True)],
                        ["other:thing", cbor.dumps(1)]], st, out)
    assert out[0][0] == "imprint:pubkey" and out[1] == ["other:active", cbor.dumps(False)]
    key = cbor.loads(out[0][1])
    d, pub = st["imprint"]
    assert key == {1: 2, -1: 1, -2: pub[1:33], -3: pub[33:]} and len(out) == 2
    ccs = cbor.dumps({2: "dev", 8: {1: {1: 2, -1: 1, -2: pub[1:33], -3: pub[33:]}}})
    creds = {"ccs": ccs, "uri": "coap://h:1", "kid": b"\x01"}
    fdo_to2._owner_svi([["imprint:credentials", cbor.dumps(creds)]], st, out)
    assert st["updates"] == {"op_key": d, "op_creds": creds}
    # a CCS for another key, credentials before active, a malformed ServiceInfo: refused
    other = dict(creds, ccs=cbor.dumps({2: "x", 8: {1: {1: 2, -1: 1, -2: bytes(32),
                                                        -3: bytes(32)}}}))
    raises(fdo.FDOError, fdo_to2._owner_svi, [["imprint:credentials", cbor.dumps(other)]], st,
           [])
    raises(fdo.FDOError, fdo_to2._owner_svi, [["imprint:credentials", cbor.dumps(creds)]],
           {"updates": {}}, [])
    raises(fdo.FDOError, fdo_to2._owner_svi, [["imprint:active"]], st, [])


def test_rendezvous_directives():
    ip = [[2, cbor.dumps(bytes([127, 0, 0, 1]))], [3, cbor.dumps(8041)], [12, cbor.dumps(1)]]
    dns = [[5, cbor.dumps("rv.example")], [3, cbor.dumps(5683)], [12, cbor.dumps(6)], [14]]
    owner_only = [[1], [5, cbor.dumps("owner.example")]]
    assert fdo.rv_targets([owner_only, ip, dns]) == [("127.0.0.1", 8041, 1, False),
                                                     ("rv.example", 5683, 6, True)]
    assert fdo.rv_targets([[[5, b"\xff"]]]) == []
