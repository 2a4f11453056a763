# COSE (RFC 9052 structures, RFC 9053 algorithms) for MicroPython and CPython.
#
# Messages are bytes in, bytes out; header maps and COSE_Keys are plain dicts with the
# integer labels below (ALG, KID, ... and KTY, CRV, X, ...). Every failure -- malformed
# input, a bad signature or tag, a wrong key, an unsupported algorithm -- is a COSEError.
#
#   sign1(key, payload, alg=None, protected=None, unprotected=None, external_aad=b"",
#         tagged=True, detached=False) -> COSE_Sign1 bytes           (EDDSA -8, ES256 -7)
#   verify1(key, data, external_aad=b"", alg=None, payload=None)
#         -> (protected, unprotected, payload)       payload= supplies a detached payload
#   encrypt0(key, iv, plaintext, alg=None, protected=None, unprotected=None,
#            external_aad=b"", tagged=True, send_iv=True) -> COSE_Encrypt0 bytes
#         (AES_CCM_16_64_128 10, the default; AES_CCM_16_128_128 30; iv: 13 bytes)
#   decrypt0(key, data, external_aad=b"", iv=None, alg=None)
#         -> (protected, unprotected, plaintext)     iv= when the message carries none
#   mac0(key, payload, alg=None, protected=None, unprotected=None, external_aad=b"",
#        tagged=True, detached=False) -> COSE_Mac0 bytes  (HMAC_256_256 5, the default;
#                                                          HMAC_256_64 4)
#   verify_mac0(key, data, external_aad=b"", alg=None, payload=None)
#         -> (protected, unprotected, payload)
#   unverified_headers(data) -> (protected, unprotected): NOT authenticated; only to pick
#         a key (by KID, X5T, ...) before verify1 / decrypt0 / verify_mac0
#   sig_structure, enc_structure, mac_structure: the to-be-signed/MACed/AAD bytes
#
#   Keys: a COSE_Key dict, or raw bytes with an explicit alg: EdDSA a 32-byte seed
#   (sign) / 32-byte public key (verify); ES256 a 32-byte scalar / a 65-byte uncompressed
#   (or 33-byte compressed) SEC1 point; CCM and HMAC the secret key bytes.
#   okp_key(crv, public=None, d=None, kid=None, alg=None)   CRV_ED25519 / CRV_X25519
#   ec2_key(public=None, d=None, kid=None, alg=None)        P-256, public as SEC1 65/33 B
#   symmetric_key(k, kid=None, alg=None)
#   key_encode(key) -> bytes, key_decode(data) -> dict     (both check the key)
#   key_public(key) -> (crv, public bytes): 32 B for OKP, 65 B uncompressed for EC2
#
#   CWT Claims Sets with a cnf COSE_Key (RFC 8392, RFC 8747, RFC 9528 §3.5.2):
#   ccs(subject, cose_key, kid=None, claims=None) -> bytes (the private part left out)
#   ccs_decode(data) -> claims dict; ccs_key(ccs) -> COSE_Key dict;
#   ccs_public_key(ccs) -> (crv, public bytes)             ccs: bytes or decoded dict
#
#   Certificates (RFC 9360): x5t(cert_der, alg=SHA_256) -> [alg, hash] header value;
#   x5t_matches(value, cert_der) -> bool; x5chain(certs) -> header value;
#   x5chain_certs(value) -> list of DER certificates
from . import cbor
from . import crypto
from .cose_structures import enc_structure, mac_structure, sig_structure  # noqa: F401

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)


class COSEError(ValueError):
    pass


# RFC 9052 §3.1: common header parameters; RFC 9360 §2: X.509 ones
ALG = const(1)
CRIT = const(2)
CONTENT_TYPE = const(3)
KID = const(4)
IV = const(5)
PARTIAL_IV = const(6)
X5CHAIN = const(33)
X5T = const(34)

# RFC 9053: algorithms (§2.1 EdDSA, §2.2 ECDSA, §3.1 HMAC, §4.2 AES-CCM) and RFC 9054 hashes
EDDSA = const(-8)
ES256 = const(-7)
HMAC_256_64 = const(4)
HMAC_256_256 = const(5)
AES_CCM_16_64_128 = const(10)
AES_CCM_16_128_128 = const(30)
SHA_256 = const(-16)
SHA_256_64 = const(-15)

# RFC 9052 §7.1 and RFC 9053 §7: COSE_Key labels, key types and curves
KTY = const(1)
KEY_KID = const(2)
KEY_ALG = const(3)
KEY_OPS = const(4)
CRV = const(-1)
X = const(-2)
Y = const(-3)
D = const(-4)
K = const(-1)
KTY_OKP = const(1)
KTY_EC2 = const(2)
KTY_SYMMETRIC = const(4)
CRV_P256 = const(1)
CRV_X25519 = const(4)
CRV_ED25519 = const(6)

# RFC 9052 §2: CBOR tags of the single-recipient messages
TAG_ENCRYPT0 = const(16)
TAG_MAC0 = const(17)
TAG_SIGN1 = const(18)

# RFC 8392 §3.1: CWT claims used by a CCS; RFC 8747 §3.1: cnf's COSE_Key
CWT_ISS = const(1)
CWT_SUB = const(2)
CWT_CNF = const(8)
CNF_COSE_KEY = const(1)

_CCM_NONCE = const(13)
_NO_CNF = "CCS must be a map with a cnf COSE_Key"
_BAD_X5CHAIN = "x5chain must be bstr or array of bstr"
_KEY_SIZE = const(32)


def _is_bytes(x):
    t = type(x)
    return t is bytes or t is bytearray or t is memoryview


def _need_bytes(x, what):
    if not _is_bytes(x):
        raise COSEError("%s must be bytes" % what)
    return bytes(x)


# ---- headers -------------------------------------------------------------------------

# RFC 9052 §3: Headers = (protected: empty_or_serialized_map, unprotected: header_map)
def _check_headers(p, u):
    # RFC 9052 §3 and §3.1: two maps, no label in both, crit protected and understood,
    # the value types of the parameters this module reads.
    if type(p) is not dict or type(u) is not dict:
        raise COSEError("headers must be maps")
    for lbl in u:
        if lbl in p:
            raise COSEError("label %r both protected and unprotected" % (lbl,))
    if CRIT in u:
        raise COSEError("crit must be protected")
    c = p.get(CRIT)
    if c is not None:
        if type(c) is not list or not c:
            raise COSEError("crit must be a non-empty array")
        for lbl in c:
            if lbl not in _UNDERSTOOD or lbl not in p:
                raise COSEError("crit label %r not understood or not protected" % (lbl,))
    for h in (p, u):
        for lbl in (KID, IV, PARTIAL_IV):
            if lbl in h and type(h[lbl]) is not bytes:
                raise COSEError("header %d must be bstr" % lbl)
        if ALG in h and type(h[ALG]) is not int and type(h[ALG]) is not str:
            raise COSEError("alg must be int or tstr")
        if X5T in h:
            _x5t_value(h[X5T])
        if X5CHAIN in h:
            x5chain_certs(h[X5CHAIN])
    if (IV in p or IV in u) and (PARTIAL_IV in p or PARTIAL_IV in u):
        raise COSEError("both IV and Partial IV")


_UNDERSTOOD = (ALG, CRIT, CONTENT_TYPE, KID, IV, PARTIAL_IV, X5CHAIN, X5T)


def _get(p, u, lbl):
    v = p.get(lbl)
    return u.get(lbl) if v is None else v


def _headers_out(alg, protected, unprotected):
    # The header maps of a new message: alg protected unless the caller placed it in the
    # unprotected map; a different alg anywhere is an error.
    p = dict(protected) if protected else {}
    u = dict(unprotected) if unprotected else {}
    if u.get(ALG, alg) != alg or p.get(ALG, alg) != alg:
        raise COSEError("alg in headers is not %r" % (alg,))
    if ALG not in u:
        p[ALG] = alg
    _check_headers(p, u)
    return p, u


# RFC 9052 §3: protected = bstr .cbor header_map / bstr .size 0 (empty map -> h'')
def _protected_bstr(p):
    return cbor.dumps(p) if p else b""


def _loads(data, what):
    try:
        return cbor.loads(data)
    except cbor.CBORError as e:
        raise COSEError("malformed %s: %s" % (what, e))


# RFC 9052 §2: COSE_Messages = COSE_Untagged_Message / COSE_Tagged_Message
def _parse(data, tag, n, name):
    # A COSE message -> (array, protected map, unprotected map, protected bstr for the
    # structures: h'' when the map is empty, RFC 9052 §3 "the version used in the
    # serialization structures", also when it was sent as h'a0'). tag None: any of the
    # three single-recipient tags, untagged arrays of 3 or 4.
    obj = _loads(_need_bytes(data, name), name)
    if type(obj) is cbor.Tag:
        if obj.tag != tag and (tag or obj.tag not in (TAG_SIGN1, TAG_ENCRYPT0, TAG_MAC0)):
            raise COSEError("CBOR tag %d: not a %s" % (obj.tag, name))
        obj = obj.value
    if type(obj) is not list or len(obj) != n and (n or len(obj) not in (3, 4)):
        raise COSEError("not a %s array" % name)
    praw = obj[0]
    if type(praw) is not bytes:
        raise COSEError("protected must be bstr")
    p = _loads(praw, "protected header") if praw else {}
    _check_headers(p, obj[1])
    return obj, p, obj[1], praw if p else b""


def _out(tag, arr, tagged):
    return cbor.dumps(cbor.Tag(tag, arr) if tagged else arr)


def _alg_in(p, u, alg):
    # The message's alg, checked against the one the caller expects.
    a = _get(p, u, ALG)
    if a is None:
        return alg
    if alg is not None and a != alg:
        raise COSEError("message alg %r, expected %r" % (a, alg))
    return a


def _payload_in(body, payload):
    if body is None:
        if payload is None:
            raise COSEError("detached payload: pass payload=")
        return _need_bytes(payload, "payload")
    if type(body) is not bytes:
        raise COSEError("payload must be bstr or nil")
    if payload is not None:
        raise COSEError("payload= is for detached payloads only")
    return body


# RFC 9052 §3: the header buckets of a received message, before any verification
def unverified_headers(data):
    # (protected, unprotected) of a COSE_Sign1/Encrypt0/Mac0, NOT authenticated: for
    # choosing the key only.
    return _parse(data, None, None, "COSE message")[1:3]


# ---- keys ----------------------------------------------------------------------------

def _key_bstr(key, lbl, size, what):
    v = key.get(lbl)
    if v is not None and (type(v) is not bytes or (size and len(v) != size)):
        raise COSEError("%s must be %d bytes" % (what, size))
    return v


# RFC 9052 §7 / RFC 9053 §7.1-7.2, §7.3: COSE_Key = {1: kty, ? 2: kid, ? 3: alg, ...}
def _check_key(key):
    if type(key) is not dict:
        raise COSEError("COSE_Key must be a map")
    kty = key.get(KTY)
    if KEY_KID in key and type(key[KEY_KID]) is not bytes:
        raise COSEError("key kid must be bstr")
    if kty == KTY_OKP or kty == KTY_EC2:
        crv = key.get(CRV)
        if crv not in ((CRV_ED25519, CRV_X25519) if kty == KTY_OKP else (CRV_P256,)):
            raise COSEError("unsupported crv %r for kty %d" % (crv, kty))
        x = _key_bstr(key, X, _KEY_SIZE, "x")
        d = _key_bstr(key, D, _KEY_SIZE, "d")
        if kty == KTY_EC2:
            y = key.get(Y)
            if y is not None and y is not True and y is not False:
                _key_bstr(key, Y, _KEY_SIZE, "y")
            if (x is None) != (y is None):
                raise COSEError("EC2 key needs x and y")
        if x is None and d is None:
            raise COSEError("key has neither x nor d")
    elif kty == KTY_SYMMETRIC:
        k = key.get(K)
        if type(k) is not bytes or not k:
            raise COSEError("k must be a non-empty bstr")
    else:
        raise COSEError("unsupported kty %r" % (kty,))
    return key


def _key(crv, kty, kid, alg, pairs):
    k = {KTY: kty}
    if crv is not None:
        k[CRV] = crv
    if kid is not None:
        k[KEY_KID] = _need_bytes(kid, "kid")
    if alg is not None:
        k[KEY_ALG] = alg
    for lbl, v in pairs:
        if v is not None:
            k[lbl] = bytes(v) if _is_bytes(v) else v
    return _check_key(k)


# RFC 9053 §7.2: OKP key {1: 1, -1: crv, -2: x, ? -4: d}
def okp_key(crv, public=None, d=None, kid=None, alg=None):
    if public is None and d is not None:
        public = _okp_public(crv, d)
    return _key(crv, KTY_OKP, kid, alg, ((X, public), (D, d)))


# RFC 9053 §7.1.1: EC2 key {1: 2, -1: 1, -2: x, -3: y / sign bit, ? -4: d}
def ec2_key(public=None, d=None, kid=None, alg=None):
    if public is None:
        if d is None:
            raise COSEError("EC2 key needs public or d")
        public = _wrap(crypto.p256_public, d)
    public = _need_bytes(public, "public")
    if len(public) == 65 and public[0] == 4:
        x, y = public[1:33], public[33:]
    elif len(public) == 33 and public[0] in (2, 3):
        x, y = public[1:], public[0] == 3
    else:
        raise COSEError("public must be a 65/33-byte SEC1 point")
    return _key(CRV_P256, KTY_EC2, kid, alg, ((X, x), (Y, y), (D, d)))


# RFC 9053 §7.3: Symmetric key {1: 4, -1: k}
def symmetric_key(k, kid=None, alg=None):
    return _key(None, KTY_SYMMETRIC, kid, alg, ((K, _need_bytes(k, "k")),))


# RFC 9052 §7: COSE_Key = {1: kty, * label => values} -> bytes
def key_encode(key):
    return cbor.dumps(_check_key(key))


# RFC 9052 §7: bytes -> COSE_Key map, checked
def key_decode(data):
    return _check_key(_loads(_need_bytes(data, "COSE_Key"), "COSE_Key"))


def _wrap(fn, *args):
    try:
        return fn(*args)
    except crypto.CryptoError as e:
        raise COSEError("invalid key: %s" % e)


def _okp_public(crv, d):
    if crv == CRV_ED25519:
        return _wrap(crypto.ed25519_public, d)
    if crv == CRV_X25519:
        return _wrap(crypto.x25519_base, d)
    raise COSEError("unsupported crv %r" % (crv,))


def key_public(key):
    # (crv, raw public key): OKP 32 bytes, EC2 65-byte uncompressed SEC1 (a sign-bit y is
    # decompressed, which checks the point). Computed from d when the key has no x.
    _check_key(key)
    kty = key[KTY]
    crv = key[CRV] if kty != KTY_SYMMETRIC else None
    x = key.get(X)
    if kty == KTY_OKP:
        return crv, x if x is not None else _okp_public(crv, key[D])
    if kty == KTY_EC2:
        if x is None:
            return crv, _wrap(crypto.p256_public, key[D])
        y = key[Y]
        if type(y) is bytes:
            return crv, b"\x04" + x + y
        return crv, _wrap(crypto.p256_decompress, (b"\x03" if y else b"\x02") + x)
    raise COSEError("symmetric key has no public part")


def _public_only(key):
    k = dict(_check_key(key))
    if k[KTY] != KTY_SYMMETRIC and X not in k:
        crv, pub = key_public(k)
        if k[KTY] == KTY_OKP:
            k[X] = pub
        else:
            k[X], k[Y] = pub[1:33], pub[33:]
    k.pop(D, None)
    return k


# RFC 9053 §2.1, §2.2: the key type and curve each signature algorithm needs
_SIG_KEYS = {EDDSA: (KTY_OKP, CRV_ED25519, 32, (32,)), ES256: (KTY_EC2, CRV_P256, 32, (65, 33))}
# RFC 9053 §3.1, §4.2: MAC / AEAD algorithms -> (tag length, key length or 0 for any)
_SYM_ALGS = {HMAC_256_64: (8, 0), HMAC_256_256: (32, 0),
             AES_CCM_16_64_128: (8, 16), AES_CCM_16_128_128: (16, 16)}


def _key_alg(key, alg, default):
    # The alg to use with a key: the caller's, else the key's, else a default; the key's
    # alg parameter, if any, must agree (RFC 9052 §7.1).
    ka = key.get(KEY_ALG) if type(key) is dict else None
    if alg is None:
        alg = ka if ka is not None else default
    elif ka is not None and ka != alg:
        raise COSEError("key alg %r is not %r" % (ka, alg))
    if alg is None:
        raise COSEError("alg needed")
    return alg


def _sig_key(key, alg, private):
    # -> (alg, raw key): the seed/scalar to sign with, or the public key to verify with.
    if type(key) is dict:
        _check_key(key)
        crv = key.get(CRV)
        alg = _key_alg(key, alg, EDDSA if crv == CRV_ED25519 else ES256 if crv == CRV_P256
                       else None)
    elif alg is None:
        raise COSEError("alg needed")
    rule = _SIG_KEYS.get(alg)
    if rule is None:
        raise COSEError("unsupported alg %r" % (alg,))
    if type(key) is dict:
        if key[KTY] != rule[0] or key.get(CRV) != rule[1]:
            raise COSEError("key does not fit alg %d" % alg)
        if private:
            raw = key.get(D)
            if raw is None:
                raise COSEError("private key (d) needed")
        else:
            raw = key_public(key)[1]
    else:
        raw = _need_bytes(key, "key")
        if len(raw) not in ((rule[2],) if private else rule[3]):
            raise COSEError("key does not fit alg %d" % alg)
        if len(raw) == 33:
            raw = _wrap(crypto.p256_decompress, raw)
    return alg, raw


def _sym_key(key, alg, mac):
    # -> (alg, raw key, tag length) for a MAC (mac=True) or an AEAD algorithm.
    default = HMAC_256_256 if mac else AES_CCM_16_64_128
    if type(key) is dict:
        _check_key(key)
        if key[KTY] != KTY_SYMMETRIC:
            raise COSEError("symmetric key needed")
        alg = _key_alg(key, alg, default)
        raw = key[K]
    else:
        alg = _key_alg(None, alg, default)
        raw = _need_bytes(key, "key")
    rule = _SYM_ALGS.get(alg)
    if rule is None or (alg == HMAC_256_64 or alg == HMAC_256_256) != mac:
        raise COSEError("unsupported alg %r" % (alg,))
    if not raw or (rule[1] and len(raw) != rule[1]):
        raise COSEError("key does not fit alg %d" % alg)
    return alg, raw, rule[0]


def _check_kid(key, p, u):
    # A COSE_Key with a kid is the wrong key for a message naming another kid.
    if type(key) is dict:
        kk = key.get(KEY_KID)
        mk = _get(p, u, KID)
        if kk is not None and mk is not None and kk != mk:
            raise COSEError("kid %r is not the key's %r" % (mk, kk))


# ---- COSE_Sign1 ----------------------------------------------------------------------

# RFC 9052 §4.2: COSE_Sign1 = [protected, unprotected, payload / nil, signature]
def sign1(key, payload, alg=None, protected=None, unprotected=None, external_aad=b"",
          tagged=True, detached=False):
    alg, d = _sig_key(key, alg, True)
    payload = _need_bytes(payload, "payload")
    p, u = _headers_out(alg, protected, unprotected)
    pb = _protected_bstr(p)
    tbs = sig_structure(pb, _need_bytes(external_aad, "external_aad"), payload)
    try:
        sig = crypto.ed25519_sign(d, tbs) if alg == EDDSA else crypto.p256_sign(d, tbs)
    except crypto.CryptoError as e:
        raise COSEError("invalid key: %s" % e)
    return _out(TAG_SIGN1, [pb, u, None if detached else payload, sig], tagged)


# RFC 9052 §4.4: verify a COSE_Sign1 -> (protected, unprotected, payload)
def verify1(key, data, external_aad=b"", alg=None, payload=None):
    obj, p, u, pb = _parse(data, TAG_SIGN1, 4, "COSE_Sign1")
    alg, pub = _sig_key(key, _alg_in(p, u, alg), False)
    _check_kid(key, p, u)
    payload = _payload_in(obj[2], payload)
    sig = obj[3]
    if type(sig) is not bytes or len(sig) != 64:
        raise COSEError("signature must be 64 bytes")
    tbs = sig_structure(pb, _need_bytes(external_aad, "external_aad"), payload)
    try:
        ok = (crypto.ed25519_verify if alg == EDDSA else crypto.p256_verify)(pub, tbs, sig)
    except crypto.CryptoError as e:
        raise COSEError("invalid key: %s" % e)
    if not ok:
        raise COSEError("signature does not verify")
    return p, u, payload


# ---- COSE_Encrypt0 -------------------------------------------------------------------

def _nonce(iv):
    iv = _need_bytes(iv, "iv")
    if len(iv) != _CCM_NONCE:
        raise COSEError("IV must be 13 bytes")
    return iv


# RFC 9052 §5.2: COSE_Encrypt0 = [protected, unprotected, ciphertext / nil]
def encrypt0(key, iv, plaintext, alg=None, protected=None, unprotected=None,
             external_aad=b"", tagged=True, send_iv=True):
    alg, k, tlen = _sym_key(key, alg, False)
    iv = _nonce(iv)
    plaintext = _need_bytes(plaintext, "plaintext")
    p, u = _headers_out(alg, protected, unprotected)
    if send_iv:
        if _get(p, u, IV) not in (None, iv):
            raise COSEError("iv differs from header IV")
        if IV not in p:
            u[IV] = iv
        _check_headers(p, u)
    pb = _protected_bstr(p)
    aad = enc_structure(pb, _need_bytes(external_aad, "external_aad"))
    try:
        ct = crypto.aes_ccm_encrypt(k, iv, plaintext, aad, tlen)
    except crypto.CryptoError as e:
        raise COSEError("encryption failed: %s" % e)
    return _out(TAG_ENCRYPT0, [pb, u, ct], tagged)


# RFC 9052 §5.3: decrypt a COSE_Encrypt0 -> (protected, unprotected, plaintext)
def decrypt0(key, data, external_aad=b"", iv=None, alg=None):
    obj, p, u, pb = _parse(data, TAG_ENCRYPT0, 3, "COSE_Encrypt0")
    alg, k, tlen = _sym_key(key, _alg_in(p, u, alg), False)
    _check_kid(key, p, u)
    hiv = _get(p, u, IV)
    if hiv is None:
        if iv is None:
            raise COSEError("no full IV in message: pass iv=")
        hiv = iv
    elif iv is not None and bytes(iv) != hiv:
        raise COSEError("iv differs from header IV")
    ct = obj[2]
    if type(ct) is not bytes:
        raise COSEError("ciphertext must be bstr")
    aad = enc_structure(pb, _need_bytes(external_aad, "external_aad"))
    try:
        pt = crypto.aes_ccm_decrypt(k, _nonce(hiv), ct, aad, tlen)
    except crypto.CryptoError:
        raise COSEError("decryption failed: wrong key, IV or AAD, or tampered")
    return p, u, pt


# ---- COSE_Mac0 -----------------------------------------------------------------------

def _hmac(k, msg, tlen):
    return crypto.hmac_sha256(k, msg)[:tlen]


# RFC 9052 §6.2: COSE_Mac0 = [protected, unprotected, payload / nil, tag]
def mac0(key, payload, alg=None, protected=None, unprotected=None, external_aad=b"",
         tagged=True, detached=False):
    alg, k, tlen = _sym_key(key, alg, True)
    payload = _need_bytes(payload, "payload")
    p, u = _headers_out(alg, protected, unprotected)
    pb = _protected_bstr(p)
    tag = _hmac(k, mac_structure(pb, _need_bytes(external_aad, "external_aad"), payload), tlen)
    return _out(TAG_MAC0, [pb, u, None if detached else payload, tag], tagged)


# RFC 9052 §6.3: verify a COSE_Mac0 -> (protected, unprotected, payload)
def verify_mac0(key, data, external_aad=b"", alg=None, payload=None):
    obj, p, u, pb = _parse(data, TAG_MAC0, 4, "COSE_Mac0")
    alg, k, tlen = _sym_key(key, _alg_in(p, u, alg), True)
    _check_kid(key, p, u)
    payload = _payload_in(obj[2], payload)
    tag = obj[3]
    if type(tag) is not bytes:
        raise COSEError("tag must be bstr")
    want = _hmac(k, mac_structure(pb, _need_bytes(external_aad, "external_aad"), payload), tlen)
    if not crypto.equal(tag, want):
        raise COSEError("MAC tag does not verify")
    return p, u, payload


# ---- CWT Claims Sets -----------------------------------------------------------------

# RFC 8392 §7.1 + RFC 8747 §3.1: CCS = {? 2: sub, 8: {1: COSE_Key}, ...} (RFC 9528 §3.5.2)
def ccs(subject, cose_key, kid=None, claims=None):
    key = _public_only(cose_key)
    if kid is not None:
        key[KEY_KID] = _need_bytes(kid, "kid")
    c = dict(claims) if claims else {}
    if subject is not None:
        if type(subject) is not str:
            raise COSEError("subject must be tstr")
        c[CWT_SUB] = subject
    c[CWT_CNF] = {CNF_COSE_KEY: key}
    return cbor.dumps(c)


# RFC 8392 §7.1: a CWT Claims Set with cnf (RFC 8747 §3.1) -> claims map, checked
def ccs_decode(data):
    c = _loads(_need_bytes(data, "CCS"), "CCS")
    if type(c) is not dict:
        raise COSEError(_NO_CNF)
    cnf = c.get(CWT_CNF)
    if type(cnf) is not dict or CNF_COSE_KEY not in cnf:
        raise COSEError(_NO_CNF)
    _check_key(cnf[CNF_COSE_KEY])
    if CWT_SUB in c and type(c[CWT_SUB]) is not str:
        raise COSEError("sub must be tstr")
    return c


def ccs_key(cred):
    # The cnf COSE_Key of a CCS given as bytes or as its decoded map.
    c = ccs_decode(cred) if _is_bytes(cred) else cred
    if type(c) is not dict or type(c.get(CWT_CNF)) is not dict:
        raise COSEError(_NO_CNF)
    return _check_key(c[CWT_CNF].get(CNF_COSE_KEY))


def ccs_public_key(cred):
    return key_public(ccs_key(cred))


# ---- X.509 header parameters (RFC 9360) ----------------------------------------------

def _x5t_value(v):
    if type(v) is not list or len(v) != 2 or type(v[1]) is not bytes:
        raise COSEError("x5t must be [alg, bstr]")
    return v[0], v[1]


def _x5t_hash(alg, cert):
    if alg == SHA_256:
        return crypto.sha256(cert)
    if alg == SHA_256_64:
        return crypto.sha256(cert)[:8]
    raise COSEError("unsupported x5t hash %r" % (alg,))


# RFC 9360 §2: COSE_CertHash = [hashAlg, hashValue]
def x5t(cert_der, alg=SHA_256):
    return [alg, _x5t_hash(alg, _need_bytes(cert_der, "certificate"))]


# RFC 9360 §2: x5t over a candidate certificate
def x5t_matches(value, cert_der):
    alg, hv = _x5t_value(value)
    return crypto.equal(_x5t_hash(alg, _need_bytes(cert_der, "certificate")), hv)


# RFC 9360 §2: COSE_X509 = bstr / [2*certs: bstr]
def x5chain(certs):
    if _is_bytes(certs):
        return bytes(certs)
    certs = [_need_bytes(c, "certificate") for c in certs]
    if not certs:
        raise COSEError("x5chain needs a certificate")
    return certs[0] if len(certs) == 1 else certs


# RFC 9360 §2: COSE_X509 -> [cert, ...]
def x5chain_certs(value):
    if type(value) is bytes:
        return [value]
    if type(value) is not list or not value:
        raise COSEError(_BAD_X5CHAIN)
    for c in value:
        if type(c) is not bytes:
            raise COSEError(_BAD_X5CHAIN)
    return value
