"""imprint.der (firmware/imprint/der.py) against `cryptography` (OpenSSL) and the openssl CLI.

CPython only. PKCS#10 requests from der.csr() must be what `cryptography` builds and signs
with deterministic ECDSA (RFC 6979), byte for byte, and pass `openssl req -verify`;
certificates issued by `cryptography` (P-256 and Ed25519 issuers, 802.1AR-style extensions)
must parse to the fields `cryptography` reports, and der.verify_cert must agree with it;
mutated and random input must raise DERError and nothing else. Seeded: failures reproduce.
"""

import datetime
import random
import shutil
import subprocess

import pytest
from hypothesis import assume, given, settings, strategies as st

import imprint.crypto as ic
from imprint import der

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)
from cryptography.x509.oid import NameOID, ObjectIdentifier

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
UNICODE = "abcdefghijklmnopqrstuvwxyz ÄÖÜéßçñøΩλжשع中文字😀-_.#&"
HW_MODULE_NAME = ObjectIdentifier("1.3.6.1.5.5.7.8.4")   # RFC 4108 §5 id-on-hardwareModuleName
X962 = (serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
DER = serialization.Encoding.DER


def p256_key(rnd):
    d = rnd.randrange(1, N)
    return d.to_bytes(32, "big"), ec.derive_private_key(d, ec.SECP256R1())


def rand_str(rnd, alphabet, lo=1, hi=16):
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(lo, hi))).strip() or "x"


def rand_subject(rnd):
    fields = [("2.5.4.5", rand_str(rnd, PRINTABLE, 1, 32)), ("2.5.4.3", rand_str(rnd, UNICODE))]
    if rnd.random() < 0.5:
        fields.append(("2.5.4.10", rand_str(rnd, UNICODE)))
    if rnd.random() < 0.5:
        fields.append(("2.5.4.6", rnd.choice(["DE", "SE", "US", "JP"])))
    if rnd.random() < 0.3:
        fields.append(("2.5.4.11", rand_str(rnd, UNICODE)))
    rnd.shuffle(fields)
    return fields


def crypto_name(fields):
    return x509.Name([x509.NameAttribute(ObjectIdentifier(o), v) for o, v in fields])


def crypto_csr(key, fields):
    b = x509.CertificateSigningRequestBuilder().subject_name(crypto_name(fields))
    return b.sign(key, hashes.SHA256(), ecdsa_deterministic=True).public_bytes(DER)


def openssl_verify(path):
    r = subprocess.run(["openssl", "req", "-verify", "-noout", "-in", str(path), "-inform", "DER"],
                       capture_output=True, text=True)
    return r.returncode == 0 and "verify OK" in (r.stdout + r.stderr), r.stdout + r.stderr


# --- PKCS#10 ---

def test_csr_matches_cryptography_byte_for_byte(tmp_path):
    rnd = random.Random(20251)
    have_openssl = shutil.which("openssl") is not None
    for i in range(20):
        d, key = p256_key(rnd)
        fields = rand_subject(rnd)
        pub = ic.p256_public(d)
        req = der.csr(pub, lambda m: ic.p256_sign(d, m), fields)
        assert req == crypto_csr(key, fields), (i, fields)
        csr = x509.load_der_x509_csr(req)
        assert csr.is_signature_valid
        assert csr.subject == crypto_name(fields)
        assert csr.subject.public_bytes() == der.name(fields)
        assert [(a.oid.dotted_string, a.value) for a in csr.subject] == fields
        assert csr.public_key().public_bytes(*X962) == pub
        assert csr.signature_algorithm_oid.dotted_string == der.ECDSA_SHA256
        assert len(csr.attributes) == 0
        if have_openssl:
            path = tmp_path / ("csr%d.der" % i)
            path.write_bytes(req)
            ok, out = openssl_verify(path)
            assert ok, out
    if have_openssl:  # and openssl notices a request whose signed part was changed
        bad = bytearray(req)
        bad[bad.index(pub) + 10] ^= 1
        (tmp_path / "bad.der").write_bytes(bytes(bad))
        assert not openssl_verify(tmp_path / "bad.der")[0]


def test_csr_short_r_and_s():
    # r or s below 2^248 (about 1 in 128 signatures) drops leading zero bytes in its INTEGER;
    # a high first byte takes a 0x00 sign byte: both still match cryptography's encoding
    rnd = random.Random(7)
    d, key = p256_key(rnd)
    pub = ic.p256_public(d)
    seen = set()
    for i in range(3000):
        fields = [("2.5.4.5", "SN%d" % i)]
        sigs = []
        req = der.csr(pub, lambda m: sigs.append(ic.p256_sign(d, m)) or sigs[-1], fields)
        r, s = sigs[0][:32], sigs[0][32:]
        kind = ("r-short" if r[0] == 0 else "r-high" if r[0] >= 0x80 else "r") + \
               ("/s-short" if s[0] == 0 else "/s-high" if s[0] >= 0x80 else "/s")
        if kind in seen and not ("short" in kind):
            continue
        seen.add(kind)
        assert req == crypto_csr(key, fields), kind
        assert x509.load_der_x509_csr(req).is_signature_valid
        if any("r-short" in k for k in seen) and any("s-short" in k for k in seen):
            break
    assert any("r-short" in k for k in seen) and any("s-short" in k for k in seen)


def test_ecdsa_der_round_trip_against_cryptography():
    rnd = random.Random(11)
    for _ in range(500):
        r = rnd.choice([rnd.randrange(1, N), rnd.randrange(1, 2 ** rnd.randint(1, 256))])
        s = rnd.randrange(1, N)
        enc = encode_dss_signature(r, s)
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        assert der.ecdsa_der(raw) == enc
        assert der.ecdsa_raw(enc) == raw


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2), st.integers(min_value=0, max_value=2 ** 70),
       st.lists(st.integers(min_value=0, max_value=2 ** 70), max_size=12))
def test_oid_against_cryptography(a, b, rest):
    if a < 2:
        b %= 40
    dotted = ".".join(str(x) for x in [a, b] + rest)
    try:  # cryptography takes OIDs up to 63 content bytes (ours: der._MAX_OID = 64)
        name = x509.Name([x509.NameAttribute(ObjectIdentifier(dotted), "v")]).public_bytes()
    except ValueError:
        assume(False)
    # cryptography writes the OID inside a Name: the same TLV must be in there
    enc = der.oid(dotted)
    assert name[6:6 + len(enc)] == enc
    assert der.oid_str(enc[2:]) == dotted


# --- certificates ---

def build_cert(rnd, issuer_key, subject_key, sig_hash, fields, idevid=True):
    issuer = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, rand_str(rnd, UNICODE)),
                        x509.NameAttribute(NameOID.COMMON_NAME, "CA %d" % rnd.randrange(99))])
    nb = datetime.datetime(rnd.choice([1999, 2024, 2049, 2050, 2100]), rnd.randint(1, 12),
                           rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59),
                           rnd.randint(0, 59))
    na = rnd.choice([datetime.datetime(9999, 12, 31, 23, 59, 59),
                     nb + datetime.timedelta(days=365)])
    b = (x509.CertificateBuilder().subject_name(crypto_name(fields)).issuer_name(issuer)
         .public_key(subject_key.public_key()).serial_number(rnd.randrange(1, 2 ** 159))
         .not_valid_before(nb).not_valid_after(na))
    if idevid:
        hw = der.encode(der.SEQUENCE, der.oid("1.3.6.1.4.1.%d.1" % rnd.randrange(1, 99999)),
                        der.encode(der.OCTET_STRING, dict(fields)["2.5.4.5"].encode()))
        b = (b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                           False), critical=True)
             .add_extension(x509.SubjectAlternativeName([x509.OtherName(HW_MODULE_NAME, hw)]),
                            critical=False)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()),
                            critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 issuer_key.public_key()), critical=False))
        if rnd.random() < 0.5:
            b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        return b.sign(issuer_key, sig_hash, ecdsa_deterministic=rnd.random() < 0.5)
    return b.sign(issuer_key, None)


def der_time(t):
    return t.strftime("%y%m%d%H%M%SZ" if 1950 <= t.year < 2050 else "%Y%m%d%H%M%SZ")


def public_of(key):
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.public_key().public_bytes(*RAW)
    return key.public_key().public_bytes(*X962)


def check_fields(cert, c):
    assert c["tbs"] == cert.tbs_certificate_bytes
    assert c["version"] == cert.version.value + 1
    assert c["serial"] == cert.serial_number
    assert c["sig_alg"] == cert.signature_algorithm_oid.dotted_string
    assert c["issuer"] == cert.issuer.public_bytes()
    assert c["subject"] == cert.subject.public_bytes()
    assert c["issuer_fields"] == [(a.oid.dotted_string, a.value) for a in cert.issuer]
    assert c["subject_fields"] == [(a.oid.dotted_string, a.value) for a in cert.subject]
    assert c["not_before"] == der_time(cert.not_valid_before_utc)
    assert c["not_after"] == der_time(cert.not_valid_after_utc)
    assert c["extensions"] == [(e.oid.dotted_string, e.critical, e.value.public_bytes())
                               for e in cert.extensions]
    if c["sig_alg"] == der.ECDSA_SHA256:
        r, s = decode_dss_signature(cert.signature)
        assert c["signature"] == r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        assert c["signature"] == cert.signature


def crypto_verifies(cert, issuer_key):
    try:
        pub = issuer_key.public_key()
        if isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
        else:
            pub.verify(cert.signature, cert.tbs_certificate_bytes)
        return True
    except InvalidSignature:
        return False


@pytest.mark.parametrize("issuer_kind", ["p256", "ed25519"])
def test_certificates_parse_to_cryptography_fields(issuer_kind):
    rnd = random.Random({"p256": 1, "ed25519": 2}[issuer_kind])
    for i in range(12):
        issuer_key = p256_key(rnd)[1] if issuer_kind == "p256" else \
            ed25519.Ed25519PrivateKey.from_private_bytes(rnd.randbytes(32))
        subject_key = p256_key(rnd)[1] if i % 3 else \
            ed25519.Ed25519PrivateKey.from_private_bytes(rnd.randbytes(32))
        fields = rand_subject(rnd)
        cert = build_cert(rnd, issuer_key, subject_key, hashes.SHA256(), fields, idevid=i % 4 != 3)
        data = cert.public_bytes(DER)
        c = der.certificate(data)
        check_fields(cert, c)
        kind = "ed25519" if isinstance(subject_key, ed25519.Ed25519PrivateKey) else "p256"
        assert c["public_key"] == (kind, public_of(subject_key))
        assert der.public_key(data) == c["public_key"]
        if i % 4 != 3:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            other = san.get_values_for_type(x509.OtherName)[0]
            assert other.type_id == HW_MODULE_NAME
            # GeneralNames = SEQUENCE { otherName [0] { type-id, [0] EXPLICIT value } }
            assert dict((o, v) for o, _, v in c["extensions"])["2.5.29.17"] == der.encode(
                der.SEQUENCE, der.encode(0xA0, der.oid("1.3.6.1.5.5.7.8.4"),
                                         der.encode(0xA0, other.value)))
        # verify_cert agrees with cryptography: right issuer, a wrong one, a changed TBS
        ipub = public_of(issuer_key)
        assert der.verify_cert(data, ipub) is crypto_verifies(cert, issuer_key) is True
        assert der.verify_cert(data, (issuer_kind, ipub)) is True
        other_key = p256_key(rnd)[1] if issuer_kind == "p256" else \
            ed25519.Ed25519PrivateKey.from_private_bytes(rnd.randbytes(32))
        assert der.verify_cert(data, public_of(other_key)) is crypto_verifies(cert, other_key) \
            is False
        j = data.index(cert.subject.public_bytes()) + 9       # a byte of the serialNumber
        bad = bytearray(data)
        bad[j] ^= 0x01
        bad_cert = x509.load_der_x509_certificate(bytes(bad))
        assert der.verify_cert(bytes(bad), ipub) is crypto_verifies(bad_cert, issuer_key) is False
        if issuer_kind == "p256":
            comp = issuer_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
            assert der.verify_cert(data, comp) is True


def test_other_algorithms_parse_and_do_not_verify():
    rnd = random.Random(3)
    p384 = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    fields = [("2.5.4.5", "SN1"), ("2.5.4.3", "other")]
    # a P-384 issuer signing with ecdsa-with-SHA384: fields parse, signature stays DER
    cert = build_cert(rnd, p384, rsa_key, hashes.SHA384(), fields)
    data = cert.public_bytes(DER)
    c = der.certificate(data)
    assert c["sig_alg"] == "1.2.840.10045.4.3.3" and c["signature"] == cert.signature
    assert c["public_key"][0] == "1.2.840.113549.1.1.1"      # rsaEncryption, unknown: its OID
    assert c["public_key"][1] == rsa_key.public_key().public_bytes(
        DER, serialization.PublicFormat.PKCS1)
    assert der.verify_cert(data, public_of(p384)) is False
    with pytest.raises(der.DERError):
        der.public_key(data)                                  # strict: no RSA
    # an Ed25519 issuer's key offered for an ECDSA certificate and the other way round
    ed = ed25519.Ed25519PrivateKey.generate()
    p256 = p256_key(rnd)[1]
    cert = build_cert(rnd, p256, ed, hashes.SHA256(), fields)
    assert der.verify_cert(cert.public_bytes(DER), public_of(ed)) is False
    assert der.verify_cert(cert.public_bytes(DER), ("ed25519", public_of(p256))) is False
    cert = build_cert(rnd, ed, p256, None, fields)
    assert der.verify_cert(cert.public_bytes(DER), public_of(p256)) is False
    assert der.verify_cert(cert.public_bytes(DER), public_of(ed)) is True


# --- malformed input: DERError only ---

def _sample_cert():
    rnd = random.Random(99)
    fields = [("2.5.4.5", "SN-7"), ("2.5.4.3", "fuzz ü")]
    return build_cert(rnd, p256_key(rnd)[1], p256_key(rnd)[1], hashes.SHA256(), fields) \
        .public_bytes(DER)


SAMPLE = _sample_cert()


def _parse_or_der_error(data):
    try:
        c = der.certificate(data)
    except der.DERError:
        return None
    assert isinstance(c, dict)
    return c


def test_every_byte_mutation_raises_only_der_error():
    parsed = 0
    for i in range(len(SAMPLE)):
        for v in (0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0xFF, SAMPLE[i] ^ 0x20):
            b = bytearray(SAMPLE)
            b[i] = v
            parsed += _parse_or_der_error(bytes(b)) is not None
        assert _parse_or_der_error(SAMPLE[:i]) is None
        _parse_or_der_error(SAMPLE[:i] + SAMPLE[i + 1:])
        _parse_or_der_error(SAMPLE[:i] + b"\x00" + SAMPLE[i:])
    assert parsed > 0


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_fuzz_certificate(data):
    b = bytearray(SAMPLE)
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.integers(0, 3))
        i = data.draw(st.integers(0, max(len(b) - 1, 0)))
        if op == 0 and b:
            b[i] = data.draw(st.integers(0, 255))
        elif op == 1:
            b[i:i] = data.draw(st.binary(max_size=8))
        elif op == 2:
            del b[i:i + data.draw(st.integers(1, 8))]
        else:
            b = b[:i]
    c = _parse_or_der_error(bytes(b))
    if c is not None:  # what parses also survives verify_cert and public_key
        der.verify_cert(bytes(b), b"\x04" + bytes(64))
        try:
            der.public_key(bytes(b))
        except der.DERError:
            pass


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(blob):
    for fn in (der.certificate, der.public_key, der.walk, der.ecdsa_raw, der.oid_str):
        try:
            fn(blob)
        except der.DERError:
            pass
