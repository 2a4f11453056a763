# The minimal DER (ITU-T X.690) a device needs for X.509 (RFC 5280): a reader that walks a
# certificate's TLV tree with limits, takes out its fields and checks its signature, and a
# writer for a PKCS#10 certificate request (RFC 2986) signed by a P-256 key.
# MicroPython and CPython alike. Every failure on input raises DERError.
try:
    from micropython import const
except ImportError:
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

MAX_INPUT = const(8192)   # a certificate larger than this is refused
MAX_DEPTH = const(16)     # nesting limit for walk()
_MAX_OID = const(64)      # bytes of one OBJECT IDENTIFIER's content
_MAX_INT = const(33)      # bytes of an INTEGER's content (serial numbers, r, s)

BOOLEAN = const(0x01)
INTEGER = const(0x02)
BIT_STRING = const(0x03)
OCTET_STRING = const(0x04)
NULL = const(0x05)
OID = const(0x06)
UTF8_STRING = const(0x0C)
PRINTABLE_STRING = const(0x13)
SEQUENCE = const(0x30)
SET = const(0x31)

# RFC 8410 §3 / RFC 5480 §2.1.1: the algorithm OIDs' content bytes
_OID_ED25519 = b"\x2b\x65\x70"                      # 1.3.101.112
_OID_X25519 = b"\x2b\x65\x6e"                       # 1.3.101.110
_OID_EC = b"\x2a\x86\x48\xce\x3d\x02\x01"           # 1.2.840.10045.2.1
_OID_P256 = b"\x2a\x86\x48\xce\x3d\x03\x01\x07"     # 1.2.840.10045.3.1.7
# RFC 5758 §3.2: AlgorithmIdentifier { ecdsa-with-SHA256 } (parameters absent)
_ALG_ES256 = b"\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02"
# RFC 5480 §2: SubjectPublicKeyInfo header for an uncompressed P-256 point (65 bytes follow)
_SPKI_P256 = b"\x30\x59\x30\x13\x06\x07" + _OID_EC + b"\x06\x08" + _OID_P256 + b"\x03\x42\x00"

ECDSA_SHA256 = "1.2.840.10045.4.3.2"
ED25519 = "1.3.101.112"
# RFC 5280 Appendix A.1: attributes whose values are PrintableString (serialNumber, country)
_PRINTABLE_OIDS = ("2.5.4.5", "2.5.4.6")
_PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
# X.680 §41: string types read as text (UTF8, Numeric, Printable, T61, IA5, Visible)
_TEXT_TAGS = (0x0C, 0x12, 0x13, 0x14, 0x16, 0x1A)


class DERError(ValueError):
    pass


# --- reading ---

# X.690 §8.1: identifier || length || contents; returns (tag, content start, content end)
def tlv(data, pos, end):
    if pos + 2 > end:
        raise DERError("truncated at %d" % pos)
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DERError("high tag number")
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise DERError("indefinite length")
        if k > 3 or pos + k > end:
            raise DERError("bad length")
        n = 0
        for i in range(k):
            n = (n << 8) | data[pos + i]
        if n < 0x80 or (k > 1 and data[pos] == 0):
            raise DERError("bad length")
        pos += k
    if pos + n > end:
        raise DERError("overrun at %d" % pos)
    return tag, pos, pos + n


def _expect(data, pos, end, tag):
    t, s, e = tlv(data, pos, end)
    if t != tag:
        raise DERError("tag 0x%02x at %d, not 0x%02x" % (t, pos, tag))
    return s, e


def _end(p, e):
    if p != e:
        raise DERError("trailing bytes at %d" % p)


def _check(cert):
    if not isinstance(cert, (bytes, bytearray, memoryview)):
        raise DERError("not bytes")
    if len(cert) > MAX_INPUT:
        raise DERError("over %d bytes" % MAX_INPUT)
    return bytes(cert)


# X.690 §8.1: check that data is one well-formed DER TLV tree (constructed tags walked)
def walk(data, pos=0, end=None, depth=0):
    if end is None:
        data = _check(data)
        end = len(data)
        t, s, e = tlv(data, 0, end)
        _end(e, end)
        end = e
    if depth > MAX_DEPTH:
        raise DERError("nested too deep")
    while pos < end:
        t, s, e = tlv(data, pos, end)
        if t & 0x20:
            walk(data, s, e, depth + 1)
        pos = e


# X.690 §8.3: a two's complement INTEGER's content, minimally encoded
def _int(data, s, e):
    if s == e or e - s > _MAX_INT:
        raise DERError("bad INTEGER")
    if e - s > 1 and ((data[s] == 0 and data[s + 1] < 0x80) or
                      (data[s] == 0xFF and data[s + 1] >= 0x80)):
        raise DERError("bad INTEGER")
    v = int.from_bytes(data[s:e], "big")
    if data[s] & 0x80:
        v -= 1 << (8 * (e - s))
    return v


# X.690 §8.19: OBJECT IDENTIFIER content -> dotted string
def oid_str(c):
    if not c or len(c) > _MAX_OID or c[-1] & 0x80:
        raise DERError("bad OID")
    arcs = []
    v = 0
    for b in c:
        if v == 0 and b == 0x80:
            raise DERError("bad OID")
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(v)
            v = 0
    x = min(arcs[0] // 40, 2)
    arcs[0] -= 40 * x
    return "%d." % x + ".".join(["%d" % a for a in arcs])


def _oid_at(data, pos, end):
    s, e = _expect(data, pos, end, OID)
    return oid_str(data[s:e]), e


# X.690 §8.6: BIT STRING content as whole bytes (no unused bits)
def _bits(data, pos, end):
    s, e = _expect(data, pos, end, BIT_STRING)
    if e == s or data[s] != 0:
        raise DERError("bad BIT STRING")
    return data[s + 1:e], e


# RFC 5280 §4.1.2.4: Name = SEQUENCE OF SET OF { type OID, value }; -> [(oid, value)]
# (value: str for the string types, else the value's raw TLV bytes)
def _name(data, s, e):
    out = []
    while s < e:
        rs, re_ = _expect(data, s, e, SET)
        s = re_
        while rs < re_:
            a_s, a_e = _expect(data, rs, re_, SEQUENCE)
            rs = a_e
            o, p = _oid_at(data, a_s, a_e)
            t, v_s, v_e = tlv(data, p, a_e)
            _end(v_e, a_e)
            v = data[v_s:v_e]
            if t in _TEXT_TAGS:
                try:
                    v = str(v, "utf-8")
                except Exception:
                    raise DERError("not UTF-8")
            else:
                v = data[p:v_e]
            out.append((o, v))
    return out


# RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ / GeneralizedTime YYYYMMDDHHMMSSZ, as written
def _time(data, pos, end):
    t, s, e = tlv(data, pos, end)
    n = 13 if t == 0x17 else 15 if t == 0x18 else 0
    if e - s != n or data[e - 1] != 0x5A or not all(0x30 <= b <= 0x39 for b in data[s:e - 1]):
        raise DERError("bad time")
    return str(data[s:e], "ascii"), e


# RFC 5280 §4.1.2.7: SubjectPublicKeyInfo = SEQUENCE { AlgorithmIdentifier, BIT STRING };
# (kind, key): "ed25519" / "x25519" (32 bytes) or "p256" (SEC 1 point); with strict False an
# unknown algorithm gives (its OID, the key bits) instead of DERError
def _key(data, s, e, strict):
    a_s, a_e = _expect(data, s, e, SEQUENCE)
    o_s, o_e = _expect(data, a_s, a_e, OID)
    oid = data[o_s:o_e]
    key, b_e = _bits(data, a_e, e)
    _end(b_e, e)
    if oid == _OID_ED25519 or oid == _OID_X25519:
        if o_e != a_e:
            raise DERError("bad key")
        if len(key) != 32:
            raise DERError("bad key")
        return ("ed25519" if oid == _OID_ED25519 else "x25519"), key
    if oid == _OID_EC:
        p_s, p_e = _expect(data, o_e, a_e, OID)
        if data[p_s:p_e] == _OID_P256 and p_e == a_e:
            if not ((len(key) == 65 and key[0] == 4) or (len(key) == 33 and key[0] in (2, 3))):
                raise DERError("bad key")
            return "p256", key
        if strict:
            raise DERError("EC curve is not P-256")
    if strict:
        raise DERError("unsupported public key algorithm")
    return oid_str(oid), key


# RFC 5280 §4.1: Certificate = SEQUENCE { tbsCertificate, signatureAlgorithm, signature },
# TBSCertificate = SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity,
# subject, subjectPublicKeyInfo, ... }; -> (TBS TLV start, TBS content start, TBS end,
# certificate end, [(start, content start, end)] of serialNumber .. subjectPublicKeyInfo)
def _tbs(cert):
    end = len(cert)
    s, e = _expect(cert, 0, end, SEQUENCE)
    _end(e, end)
    ts, te = _expect(cert, s, e, SEQUENCE)
    t, s1, pos = tlv(cert, ts, te)
    if t != 0xA0:
        pos = ts
    f = []
    for tag in (INTEGER, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE):
        s1, e1 = _expect(cert, pos, te, tag)
        f.append((pos, s1, e1))
        pos = e1
    return s, ts, te, e, f


# RFC 5280 §4.1.2.7: the certificate's public key as (alg, key): "ed25519" / "x25519"
# (32-byte key) or "p256" (SEC 1 point bytes)
def public_key(cert):
    cert = _check(cert)
    k = _tbs(cert)[4][5]
    return _key(cert, k[1], k[2], True)


# RFC 5280 §4.1.2.7: a bare SubjectPublicKeyInfo (DER) -> (alg, key) as public_key(cert)
def spki_public_key(spki):
    end = len(spki)
    s, e = _expect(spki, 0, end, SEQUENCE)
    _end(e, end)
    return _key(spki, s, e, True)


# RFC 5480 §2.2.3 / RFC 5758 §3.2: Ecdsa-Sig-Value = SEQUENCE { r INTEGER, s INTEGER } -> r || s
def ecdsa_raw(sig):
    end = len(sig)
    s, e = _expect(sig, 0, end, SEQUENCE)
    out = b""
    for _ in (0, 1):
        i_s, i_e = _expect(sig, s, e, INTEGER)
        v = _int(sig, i_s, i_e)
        if v < 0 or v >> 256:
            raise DERError("bad ECDSA signature")
        out += v.to_bytes(32, "big")
        s = i_e
    _end(s, end)
    return out


# RFC 5280 §4.1.2.9: Extension = SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }
def _extensions(data, s, e):
    out = []
    seen = []
    while s < e:
        x_s, x_e = _expect(data, s, e, SEQUENCE)
        s = x_e
        o, p = _oid_at(data, x_s, x_e)
        if o in seen:
            raise DERError("extension twice")
        seen.append(o)
        crit = False
        t, b_s, b_e = tlv(data, p, x_e)
        if t == BOOLEAN:
            if b_e - b_s != 1 or data[b_s] not in (0, 0xFF):
                raise DERError("bad BOOLEAN")
            crit = data[b_s] == 0xFF
            p = b_e
        v_s, v_e = _expect(data, p, x_e, OCTET_STRING)
        _end(v_e, x_e)
        out.append((o, crit, data[v_s:v_e]))
    return out


# RFC 5280 §4.1 and §4.1.2: a certificate's fields as a dict: "tbs" (the signed TBSCertificate
# TLV), "version" (1..3), "serial" (int), "sig_alg" (OID str), "issuer" / "subject" (Name TLVs),
# "issuer_fields" / "subject_fields" ([(OID str, str)]), "not_before" / "not_after" (the time
# strings as written), "public_key" ((kind, key) as public_key() gives; (OID str, key bits)
# for other algorithms), "extensions" ([(OID str, critical, extnValue bytes)]), "signature"
# (r || s, 64 bytes, for ecdsa-with-SHA256; else the BIT STRING's bytes)
def certificate(cert):
    cert = _check(cert)
    walk(cert)
    s, ts, te, e, f = _tbs(cert)
    a_s, a_e = _expect(cert, te, e, SEQUENCE)         # signatureAlgorithm
    alg = cert[te:a_e]
    if cert[f[1][0]:f[1][2]] != alg:
        raise DERError("signature algorithms differ")
    sig_alg = _oid_at(cert, a_s, a_e)[0]
    sig, p = _bits(cert, a_e, e)
    _end(p, e)
    if sig_alg == ECDSA_SHA256:
        sig = ecdsa_raw(sig)
    version = 1
    t, v_s, v_e = tlv(cert, ts, te)
    if t == 0xA0:                                     # [0] EXPLICIT Version DEFAULT v1
        i_s, i_e = _expect(cert, v_s, v_e, INTEGER)
        _end(i_e, v_e)
        version = _int(cert, i_s, i_e) + 1
        if not 1 <= version <= 3:
            raise DERError("bad version")
    v = f[3]                                          # validity
    nb, p = _time(cert, v[1], v[2])
    na, p = _time(cert, p, v[2])
    _end(p, v[2])
    exts = []
    last = 0x80
    pos = f[5][2]
    while pos < te:                                   # [1] [2] unique IDs, [3] extensions
        t, x_s, x_e = tlv(cert, pos, te)
        if t not in (0x81, 0x82, 0xA3) or t & 0x1F <= last & 0x1F:
            raise DERError("bad field 0x%02x" % t)
        last = t
        if t == 0xA3:
            l_s, l_e = _expect(cert, x_s, x_e, SEQUENCE)
            _end(l_e, x_e)
            exts = _extensions(cert, l_s, l_e)
        pos = x_e
    i, j = f[2], f[4]
    return {
        "tbs": cert[s:te], "version": version, "serial": _int(cert, f[0][1], f[0][2]),
        "sig_alg": sig_alg, "issuer": cert[i[0]:i[2]], "issuer_fields": _name(cert, i[1], i[2]),
        "subject": cert[j[0]:j[2]], "subject_fields": _name(cert, j[1], j[2]),
        "not_before": nb, "not_after": na, "public_key": _key(cert, f[5][1], f[5][2], False),
        "extensions": exts, "signature": sig,
    }


# RFC 5280 §6.1.3 (a)(1): the certificate's signature checked with the issuer's public key:
# bytes (65/33-byte P-256 point or 32-byte Ed25519 key) or (kind, key) as public_key() gives.
# ecdsa-with-SHA256 and Ed25519; any other algorithm, or a key of the wrong kind, is False.
def verify_cert(cert, issuer_public):
    c = certificate(cert)
    kind = None
    if isinstance(issuer_public, tuple):
        kind, issuer_public = issuer_public
    from . import crypto
    key = bytes(issuer_public)
    alg = c["sig_alg"]
    try:
        if alg == ECDSA_SHA256 and kind in (None, "p256") and len(key) in (33, 65):
            if len(key) == 33:
                key = crypto.p256_decompress(key)
            return crypto.p256_verify(key, c["tbs"], c["signature"]) is True
        if alg == ED25519 and kind in (None, "ed25519") and len(key) == 32:
            return crypto.ed25519_verify(key, c["tbs"], c["signature"]) is True
    except crypto.CryptoError:                        # not a valid point / key
        pass
    return False


# --- writing ---

# X.690 §8.1.3: definite length octets (short form, or long form up to 2 bytes)
def _len(n):
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    raise DERError("too long")


# X.690 §8.1: a TLV whose content is the parts joined (SEQUENCE, SET, strings, BIT STRING...)
def encode(tag, *parts):
    c = b"".join(parts)
    return bytes((tag,)) + _len(len(c)) + c


# X.690 §8.3: INTEGER from a non-negative int or unsigned big-endian bytes, minimally encoded
def integer(v):
    if isinstance(v, int):
        if v < 0:
            raise DERError("bad INTEGER")
        n = 1
        while v >> (8 * n):
            n += 1
        v = v.to_bytes(n, "big")
    v = bytes(v)
    i = 0
    while i < len(v) - 1 and v[i] == 0:
        i += 1
    v = v[i:] or b"\x00"
    if v[0] & 0x80:
        v = b"\x00" + v
    return encode(INTEGER, v)


# X.690 §8.19: OBJECT IDENTIFIER TLV from a dotted string
def oid(dotted):
    arcs = []
    for a in dotted.split(".") if isinstance(dotted, str) else ():
        if not a.isdigit() or "%d" % int(a) != a:     # ASCII decimal, no leading zeros
            arcs = ()
            break
        arcs.append(int(a))
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39):
        raise DERError("bad OID")
    arcs[1] += 40 * arcs[0]
    out = bytearray()
    for a in arcs[1:]:
        n = 7
        while a >> n:
            n += 7
        while n:
            n -= 7
            out.append(((a >> n) & 0x7F) | (0x80 if n else 0))
    if len(out) > _MAX_OID:
        raise DERError("bad OID")
    return encode(OID, out)


# RFC 5280 §4.1.2.4: Name from [(oid, str)], one attribute per RDN; serialNumber and
# countryName as PrintableString (RFC 5280 Appendix A.1), the others UTF8String
def name(fields):
    rdns = []
    try:
        for o, v in fields:
            if o in _PRINTABLE_OIDS:
                for ch in v:
                    if ch not in _PRINTABLE:
                        raise DERError("not PrintableString")
                t = PRINTABLE_STRING
            else:
                t = UTF8_STRING
            rdns.append(encode(SET, encode(SEQUENCE, oid(o), encode(t, v.encode()))))
    except DERError:
        raise
    except (TypeError, ValueError, AttributeError):
        raise DERError("bad subject")
    return encode(SEQUENCE, *rdns)


# RFC 5480 §2.2.3 / RFC 5758 §3.2: r || s (64 bytes) -> Ecdsa-Sig-Value DER
def ecdsa_der(sig):
    if not isinstance(sig, (bytes, bytearray)) or len(sig) != 64:
        raise DERError("bad ECDSA signature")
    return encode(SEQUENCE, integer(sig[:32]), integer(sig[32:]))


# RFC 2986 §4: CertificationRequest = SEQUENCE { CertificationRequestInfo { version 0,
# subject, subjectPKInfo, attributes [0] {} }, signatureAlgorithm, signature BIT STRING };
# P-256 key (65-byte uncompressed point), sign(info) -> r || s, ecdsa-with-SHA256
def csr(public65, sign, subject):
    if not isinstance(public65, (bytes, bytearray)) or len(public65) != 65 or public65[0] != 4:
        raise DERError("bad key")
    info = encode(SEQUENCE, b"\x02\x01\x00", name(subject), _SPKI_P256, public65, b"\xa0\x00")
    return encode(SEQUENCE, info, _ALG_ES256, encode(BIT_STRING, b"\x00", ecdsa_der(sign(info))))


# RFC 5480 §2: SubjectPublicKeyInfo of a P-256 key (65-byte uncompressed point)
def spki_p256(public65):
    if not isinstance(public65, (bytes, bytearray)) or len(public65) != 65 or public65[0] != 4:
        raise DERError("bad key")
    return _SPKI_P256 + bytes(public65)
