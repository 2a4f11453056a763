# imprint.der: the X.509 reader (RFC 5280) on the RFC 9529 §2 certificates and on a P-256
# IDevID-style certificate, the PKCS#10 writer (RFC 2986), the small DER writers, and
# malformed input (truncated, wrong lengths, deep nesting, mutations: DERError, nothing else).
# Runs on the board and on CPython. The P-256 vectors were made once with `cryptography`
# 50 (OpenSSL) using deterministic ECDSA (RFC 6979), so they are byte-exact and independent.
from imprint import der
import imprint.crypto as crypto
from vectors import h, raises
from edhoc_trace2 import T2
from vectors import get


def _flip(b, i):
    b = bytearray(b)
    b[i] ^= 1
    return bytes(b)


# RFC 9529 §2 (root certificate, as printed there): the public key of "EDHOC Root Ed25519",
# the issuer of CRED_I and CRED_R
ROOT_PUB = h("2b7b3e8057c8642944d06afe7a71d1c9bf961b6292bac4b04f91669bbb713be4")
# RFC 9529 §2: the common root certificate with the fields, extensions (keyUsage keyCertSign,
# basicConstraints CA, both critical) and signature value the RFC prints. That signature was
# made over the same TBSCertificate without the extensions (the draft's earlier root), so
# the certificate as printed does not verify; `cryptography` agrees.
ROOT = h(
    "3082010e3081c1a003020102020462319e74300506032b6570301d311b301906035504030c124544484f"
    "4320526f6f742045643235353139301e170d3232303331363038323331365a170d323931323331323330"
    "3030305a301d311b301906035504030c124544484f4320526f6f742045643235353139302a300506032b"
    "65700321002b7b3e8057c8642944d06afe7a71d1c9bf961b6292bac4b04f91669bbb713be4a323302130"
    "0e0603551d0f0101ff040403020204300f0603551d130101ff040530030101ff300506032b6570034100"
    "4bb52bbf1539b71a4aaf429778f29eda7e814680698f16c48f2a6fa4dbe82541c58207ba1bc9cdb0c2fa"
    "947ffbf0f0ec0ee91a7ff37a94d9251fa5cdf1e67a0f")

# RFC 6979 §A.2.5: the P-256 key pair (the device key of the CSR and certificate below)
D = h("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
PUB = h("0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
        "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299")
SUBJECT = [("2.5.4.5", "SN-0042"), ("2.5.4.3", "imprint device")]
SUBJECT_DER = h("302b3110300e06035504051307534e2d303034323117301506035504030c0e696d7072"
                "696e7420646576696365")
# RFC 2986 §4.1: CertificationRequestInfo for SUBJECT and PUB, as `cryptography` builds it
CSR_INFO = h(
    "30818d020100" + "302b3110300e06035504051307534e2d303034323117301506035504030c0e696d7072"
    "696e7420646576696365" + "3059301306072a8648ce3d020106082a8648ce3d030107034200"
    "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a4"
    "1ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299" + "a000")
# RFC 2986 §4.2: the whole request, `cryptography` signing with ecdsa_deterministic=True
# (r and s both have their high bit set: 33-byte INTEGERs with a leading zero)
CSR = h("3081e7") + CSR_INFO + h(
    "300a06082a8648ce3d040302034900" "3046022100d49d33ae3c6f2271580552a7b662d4630d551f114dc4"
    "08637df8da0073ce877c022100c434dbc130dc83909a3de2bf7b7bad0189ea03a1a1019186066a046e78"
    "63a351")

# An 802.1AR-style IDevID for PUB, made by `cryptography`: issuer O=Imprint Test,
# CN=Imprint IDevID CA; 159-bit serial; notBefore UTCTime, notAfter GeneralizedTime
# 99991231235959Z; keyUsage digitalSignature (critical), subjectAltName otherName
# hardwareModuleName (RFC 4108, hwType 1.3.6.1.4.1.99999.1), SKI, AKI; ecdsa-with-SHA256
CA_PUB = h("040f3b6052680aabf35c335eca32b87a9f8b3294a5063339c2456fedd26c6b214f"
           "9ebd87cb2adc8ea1878a489ff7d7892e12173a39a8e1d533bd80b9b7d8ce057c")
CERT = h(
    "308201e43082018aa00302010202144f3a5c21e4b7d09a1c2e3f405162738495a6b7c8300a06082a8648"
    "ce3d040302303331153013060355040a0c0c496d7072696e742054657374311a301806035504030c1149"
    "6d7072696e74204944657649442043413020170d3235303130323033303430355a180f39393939313233"
    "313233353935395a302b3110300e06035504051307534e2d303034323117301506035504030c0e696d70"
    "72696e74206465766963653059301306072a8648ce3d020106082a8648ce3d0301070342000460fed4ba"
    "255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628"
    "bc64f2f1b20c2d7e9f5177a3c294d4462299a38181307f300e0603551d0f0101ff040403020780302d06"
    "03551d1104263024a02206082b06010505070804a016301406092b06010401868d1f010407534e2d3030"
    "3432301d0603551d0e041604141a9569579bce329a942d0769c9c0b56431563710301f0603551d230418"
    "30168014c97b42d5504b3874d0c179095b1cc4420912aa2e300a06082a8648ce3d040302034800304502"
    "200c384ada579459805e220c8120c5ebc9981ec235e42f7b18b084961790f789db022100a23cfb6f8457"
    "54ad1d4c0c3eb50461db837a5736a99d8456430800d6ffebe9cf")
CERT_SIG = h("0c384ada579459805e220c8120c5ebc9981ec235e42f7b18b084961790f789db"
             "a23cfb6f845754ad1d4c0c3eb50461db837a5736a99d8456430800d6ffebe9cf")


def test_der_reader_limits():
    cert = get(T2, "CRED_R")
    assert der.public_key(cert)[0] == "ed25519"
    der.walk(cert)
    for bad in (cert[:-1], cert + b"\x00", b"\x30\x80" + cert[2:], b"\x30\x84\x00\x00\x00\xee",
                b"", b"\x1f\x01\x00", bytes(9000), _flip(cert, 0)):
        assert raises(der.DERError, der.public_key, bad)
        assert raises(der.DERError, der.certificate, bad)
    assert raises(der.DERError, der.walk, b"\x30\x02\x30\x00\x00")
    deep = b""
    for _ in range(20):  # nesting over der.MAX_DEPTH
        deep = b"\x30" + bytes((len(deep),)) + deep
    assert raises(der.DERError, der.walk, deep)
    assert raises(der.DERError, der.certificate, deep)
    assert raises(der.DERError, der.certificate, "not bytes")
    assert issubclass(der.DERError, ValueError)


def test_der_writers():
    # X.690 §8.3: INTEGER, minimal two's complement of a non-negative value
    for v, enc in ((0, "020100"), (1, "020101"), (127, "02017f"), (128, "02020080"),
                   (255, "020200ff"), (256, "02020100"), (0x8000, "0203008000"),
                   (2 ** 64, "0209010000000000000000")):
        assert der.integer(v) == h(enc)
    for b, enc in ((b"\x00\x00\x80", "02020080"), (b"\x00", "020100"), (b"", "020100"),
                   (b"\x00\x01", "020101"), (b"\xff", "020200ff")):
        assert der.integer(b) == h(enc)
    assert raises(der.DERError, der.integer, -1)
    # X.690 §8.19: OBJECT IDENTIFIER, both ways (8.19.5 example 2.999.3 -> 88 37 03)
    for s, enc in (("1.2.840.10045.4.3.2", "06082a8648ce3d040302"), ("2.5.4.3", "0603550403"),
                   ("2.999.3", "0603883703"), ("1.3.6.1.4.1.99999.1", "06092b06010401868d1f01"),
                   ("0.0", "060100"), ("1.39", "06014f"), ("2.40", "060178")):
        assert der.oid(s) == h(enc), s
        assert der.oid_str(h(enc)[2:]) == s
    big = "2.25.329800735698586629295641978511506172918"
    assert der.oid_str(der.oid(big)[2:]) == big
    for bad in ("", "1", "3.1", "1.40", "1..2", "a.b", "1.2.", "-1.2", " 1.2", "1.02", None, 12):
        assert raises(der.DERError, der.oid, bad), bad
    for bad in (b"", b"\x2a\x86", b"\x2a\x80\x01", b"\x80\x01"):
        assert raises(der.DERError, der.oid_str, bad)
    # X.690 §8.1.3: short and long definite lengths
    assert der.encode(0x04, b"ab") == b"\x04\x02ab"
    assert der.encode(0x04, bytes(200))[:3] == b"\x04\x81\xc8"
    assert der.encode(0x30, bytes(100), bytes(200))[:4] == b"\x30\x82\x01\x2c"
    assert raises(der.DERError, der.encode, 0x04, bytes(70000))
    # RFC 5280 §4.1.2.4: a Name, and what it refuses
    assert der.name(SUBJECT) == SUBJECT_DER
    assert der.name([]) == b"\x30\x00"
    for bad in ([("2.5.4.5", "SN_1")], [("2.5.4.5", "S\xe9")], [("2.5.4.3", b"x")],
                [("2.5.4.3",)], [("x", "y")], [1], None):
        assert raises(der.DERError, der.name, bad), bad
    # RFC 5480 §2.2.3: Ecdsa-Sig-Value <-> r || s (leading zeros dropped, sign byte added)
    r = bytes(31) + b"\x01"
    s = b"\x80" + bytes(31)
    sig = der.ecdsa_der(r + s)
    assert sig == h("3026020101022100" + "80" + "00" * 31)
    assert der.ecdsa_raw(sig) == r + s
    assert der.ecdsa_raw(h("3006020101020101")) == r + r
    for bad in (sig[:-1], sig + b"\x00", h("300702020001020101"), h("3006020181020101"),
                h("3006020101040101"), h("3025020101022100") + b"\x01" + bytes(32),
                h("30030201010201"), h("3003020101")):
        assert raises(der.DERError, der.ecdsa_raw, bad)
    assert raises(der.DERError, der.ecdsa_der, bytes(63))


def test_der_csr():
    pub = crypto.p256_public(D)
    assert pub == PUB
    calls = []

    def sign(msg):
        calls.append(msg)
        return crypto.p256_sign(D, msg)

    req = der.csr(pub, sign, SUBJECT)
    # the signer saw exactly the CertificationRequestInfo, and RFC 6979 makes the whole
    # request equal to the one `cryptography` signs deterministically
    assert calls == [CSR_INFO]
    assert req == CSR
    # structure: SEQUENCE { info, AlgorithmIdentifier ecdsa-with-SHA256, BIT STRING sig }
    t, s, e = der.tlv(req, 0, len(req))
    assert t == der.SEQUENCE and e == len(req)
    t, i_s, i_e = der.tlv(req, s, e)
    assert req[s:i_e] == CSR_INFO
    t, a_s, a_e = der.tlv(req, i_e, e)
    assert req[i_e:a_e] == h("300a06082a8648ce3d040302")
    t, b_s, b_e = der.tlv(req, a_e, e)
    assert t == der.BIT_STRING and b_e == e and req[b_s] == 0
    assert crypto.p256_verify(pub, CSR_INFO, der.ecdsa_raw(req[b_s + 1:b_e]))
    # what csr() refuses
    ok = lambda m: bytes(64)  # noqa: E731
    for bad in (pub[1:], b"\x02" + pub[1:], None):
        assert raises(der.DERError, der.csr, bad, ok, SUBJECT)
    assert raises(der.DERError, der.csr, pub, lambda m: bytes(63), SUBJECT)
    assert raises(der.DERError, der.csr, pub, ok, [("2.5.4.5", "not*printable")])


def test_der_certificate_p256():
    c = der.certificate(CERT)
    assert c["version"] == 3
    assert c["serial"] == 0x4f3a5c21e4b7d09a1c2e3f405162738495a6b7c8
    assert c["sig_alg"] == "1.2.840.10045.4.3.2"
    assert c["issuer_fields"] == [("2.5.4.10", "Imprint Test"), ("2.5.4.3", "Imprint IDevID CA")]
    assert c["subject"] == SUBJECT_DER
    assert c["subject_fields"] == SUBJECT
    assert c["not_before"] == "250102030405Z"
    assert c["not_after"] == "99991231235959Z"
    assert c["public_key"] == ("p256", PUB)
    assert c["signature"] == CERT_SIG
    assert c["tbs"] == CERT[4:4 + 4 + 0x18a]
    assert c["extensions"] == [
        ("2.5.29.15", True, h("03020780")),
        ("2.5.29.17", False, h("3024a02206082b06010505070804a016301406092b06010401868d1f01"
                               "0407534e2d30303432")),
        ("2.5.29.14", False, h("04141a9569579bce329a942d0769c9c0b56431563710")),
        ("2.5.29.35", False, h("30168014c97b42d5504b3874d0c179095b1cc4420912aa2e")),
    ]
    assert der.public_key(CERT) == ("p256", PUB)
    assert der.verify_cert(CERT, CA_PUB) is True
    assert der.verify_cert(_flip(CERT, len(CERT) - 1), ("p256", CA_PUB)) is False
    assert der.verify_cert(CERT, ROOT_PUB) is False          # an Ed25519 key: wrong kind
    assert der.verify_cert(CERT, ("ed25519", CA_PUB)) is False
    assert der.verify_cert(CERT, b"\x04" + bytes(64)) is False  # not a point


def test_der_certificate_rfc9529():
    for name, serial, cn, nb, key in (
            ("CRED_R", 0x62319ec4, "EDHOC Responder Ed25519", "220316082436Z",
             "a1db47b95184854ad12a0c1a354e418aace33aa0f2c662c00b3ac55de92f9359"),
            ("CRED_I", 0x62319ea0, "EDHOC Initiator Ed25519", "220316082400Z",
             "ed06a8ae61a829ba5fa54525c9d07f48dd44a302f43e0f23d8cc20b73085141e")):
        cert = get(T2, name)
        c = der.certificate(cert)
        assert c["version"] == 3 and c["serial"] == serial
        assert c["sig_alg"] == "1.3.101.112"
        assert c["issuer_fields"] == [("2.5.4.3", "EDHOC Root Ed25519")]
        assert c["subject_fields"] == [("2.5.4.3", cn)]
        assert c["not_before"] == nb and c["not_after"] == "291231230000Z"
        assert c["public_key"] == ("ed25519", h(key))
        assert c["extensions"] == [] and len(c["signature"]) == 64
        assert der.verify_cert(cert, ROOT_PUB) is True
    c = der.certificate(ROOT)
    assert c["serial"] == 0x62319e74 and c["issuer"] == c["subject"]
    assert c["public_key"] == ("ed25519", ROOT_PUB)
    assert c["extensions"] == [("2.5.29.15", True, h("03020204")),
                               ("2.5.29.19", True, h("30030101ff"))]
    assert der.verify_cert(ROOT, ("ed25519", ROOT_PUB)) is False
    # the printed signature is over the TBSCertificate without its [3] extensions
    tbs = c["tbs"]
    i = tbs.index(h("a323"))
    assert crypto.ed25519_verify(ROOT_PUB, der.encode(der.SEQUENCE, tbs[3:i]), c["signature"])


def _only_der_error(fn, data):
    try:
        fn(data)
    except der.DERError:
        return False
    return True


def test_der_malformed():
    cert = CERT
    n = len(cert)
    # every truncation fails; so does every wrong outer or TBS length
    for i in range(0, n, 3):
        assert raises(der.DERError, der.certificate, cert[:i])
    for i in (2, 3, 6, 7):
        for d in (1, 0xFF):
            b = bytearray(cert)
            b[i] = (b[i] + d) & 0xFF
            assert raises(der.DERError, der.certificate, bytes(b)), (i, d)
    # a bit flipped anywhere: DERError or a parse, never another exception
    parsed = 0
    for i in range(0, n, 2):
        parsed += _only_der_error(der.certificate, _flip(cert, i))
    assert 0 < parsed < n // 2
    # fields out of place
    c = der.certificate(cert)
    tbs = c["tbs"]
    body = tbs[4:]
    wrap = lambda t: der.encode(der.SEQUENCE, t, h("300a06082a8648ce3d040302"),  # noqa: E731
                                der.encode(der.BIT_STRING, b"\x00", der.ecdsa_der(CERT_SIG)))
    assert wrap(tbs) == cert
    for bad_tbs in (
            der.encode(der.SEQUENCE, body[:5] + b"\xa0\x03\x02\x01\x05" + body[5:]),  # 2 versions
            der.encode(der.SEQUENCE, h("a003020105") + body[5:]),                # version 6
            der.encode(der.SEQUENCE, body + h("a3023000")),                      # 2nd extensions
            der.encode(der.SEQUENCE, body + h("0500")),                          # trailing NULL
            der.encode(der.SEQUENCE, body.replace(h("040302"), h("040303"), 1)),  # sig alg differs
            der.encode(der.SEQUENCE, body.replace(h("170d"), h("180d"), 1)),     # bad time
            der.encode(der.SEQUENCE, body.replace(h("0101ff"), h("010101"), 1)),  # BOOLEAN not DER
            der.encode(der.SEQUENCE, body.replace(h("0603551d0e"), h("0603551d0f"), 1)),  # dup
    ):
        assert raises(der.DERError, der.certificate, wrap(bad_tbs))
    # an over-deep certificate, and one over the size limit
    deep = b"\x05\x00"
    for _ in range(der.MAX_DEPTH + 2):
        deep = der.encode(der.SEQUENCE, deep)
    assert raises(der.DERError, der.certificate, wrap(deep))
    assert raises(der.DERError, der.certificate, wrap(tbs + bytes(der.MAX_INPUT)))
    assert raises(der.DERError, der.verify_cert, cert[:-1], CA_PUB)
