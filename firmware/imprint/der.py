# A minimal DER reader (ITU-T X.690) for X.509 certificates (RFC 5280): just enough to walk
# a certificate's TLV structure with limits and take out its SubjectPublicKeyInfo.
# MicroPython and CPython alike. Every failure raises DERError.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MAX_INPUT = const(8192)   # a certificate larger than this is refused
MAX_DEPTH = const(16)     # nesting limit for walk()

SEQUENCE = const(0x30)
SET = const(0x31)
INTEGER = const(0x02)
BIT_STRING = const(0x03)
OCTET_STRING = const(0x04)
NULL = const(0x05)
OID = const(0x06)

# RFC 8410 §3 / RFC 5480 §2.1.1: the algorithm OIDs' content bytes
_OID_ED25519 = b"\x2b\x65\x70"                      # 1.3.101.112
_OID_X25519 = b"\x2b\x65\x6e"                       # 1.3.101.110
_OID_EC = b"\x2a\x86\x48\xce\x3d\x02\x01"           # 1.2.840.10045.2.1
_OID_P256 = b"\x2a\x86\x48\xce\x3d\x03\x01\x07"     # 1.2.840.10045.3.1.7


class DERError(ValueError):
    pass


# X.690 §8.1: identifier || length || contents; returns (tag, content start, content end)
def tlv(data, pos, end):
    if pos + 2 > end:
        raise DERError("truncated TLV at %d" % pos)
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DERError("high tag numbers are not supported")
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise DERError("indefinite length is not DER")
        if k > 3 or pos + k > end:
            raise DERError("length field too long or truncated")
        n = 0
        for i in range(k):
            n = (n << 8) | data[pos + i]
        if n < 0x80 or (k > 1 and data[pos] == 0):
            raise DERError("length not minimally encoded")
        pos += k
    if pos + n > end:
        raise DERError("content runs past its container")
    return tag, pos, pos + n


def _expect(data, pos, end, tag):
    t, s, e = tlv(data, pos, end)
    if t != tag:
        raise DERError("expected tag 0x%02x at %d, found 0x%02x" % (tag, pos, t))
    return s, e


def _check(cert):
    if not isinstance(cert, (bytes, bytearray, memoryview)):
        raise DERError("certificate must be bytes")
    if len(cert) > MAX_INPUT:
        raise DERError("certificate over %d bytes" % MAX_INPUT)
    return bytes(cert)


# X.690 §8.1: check that data is one well-formed DER TLV tree (constructed tags walked)
def walk(data, pos=0, end=None, depth=0):
    if end is None:
        data = _check(data)
        end = len(data)
        t, s, e = tlv(data, 0, end)
        if e != end:
            raise DERError("%d bytes after the outer TLV" % (end - e))
        end = e
    if depth > MAX_DEPTH:
        raise DERError("nesting deeper than %d" % MAX_DEPTH)
    while pos < end:
        t, s, e = tlv(data, pos, end)
        if t & 0x20:
            walk(data, s, e, depth + 1)
        pos = e


# RFC 5280 §4.1: Certificate = SEQUENCE { tbsCertificate, signatureAlgorithm, signature };
# returns the (start, end) of the SubjectPublicKeyInfo SEQUENCE's content
def _spki(cert):
    end = len(cert)
    s, e = _expect(cert, 0, end, SEQUENCE)
    if e != end:
        raise DERError("bytes after the certificate")
    ts, te = _expect(cert, s, e, SEQUENCE)            # tbsCertificate
    t, s1, e1 = tlv(cert, ts, te)
    pos = e1 if t == 0xA0 else ts                     # [0] EXPLICIT version, optional
    for tag in (INTEGER, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE):
        # serialNumber, signature, issuer, validity, subject
        s1, pos = _expect(cert, pos, te, tag)
    return _expect(cert, pos, te, SEQUENCE)


# RFC 5280 §4.1.2.7: SubjectPublicKeyInfo = SEQUENCE { AlgorithmIdentifier, BIT STRING };
# returns (alg, key): "ed25519" / "x25519" (32-byte key) or "p256" (SEC 1 point bytes)
def public_key(cert):
    cert = _check(cert)
    s, e = _spki(cert)
    a_s, a_e = _expect(cert, s, e, SEQUENCE)
    o_s, o_e = _expect(cert, a_s, a_e, OID)
    oid = cert[o_s:o_e]
    b_s, b_e = _expect(cert, a_e, e, BIT_STRING)
    if b_e != e:
        raise DERError("bytes after the subjectPublicKey")
    if b_e - b_s < 2 or cert[b_s] != 0:
        raise DERError("subjectPublicKey must be whole bytes")
    key = cert[b_s + 1:b_e]
    if oid == _OID_ED25519 or oid == _OID_X25519:
        if o_e != a_e:
            raise DERError("parameters must be absent for %s" % ("Ed25519" if oid == _OID_ED25519 else "X25519"))
        if len(key) != 32:
            raise DERError("key must be 32 bytes")
        return ("ed25519" if oid == _OID_ED25519 else "x25519"), key
    if oid == _OID_EC:
        p_s, p_e = _expect(cert, o_e, a_e, OID)
        if cert[p_s:p_e] != _OID_P256 or p_e != a_e:
            raise DERError("EC curve is not P-256")
        if not ((len(key) == 65 and key[0] == 4) or (len(key) == 33 and key[0] in (2, 3))):
            raise DERError("P-256 point must be 65 (04) or 33 (02/03) bytes")
        return "p256", key
    raise DERError("unsupported public key algorithm")
