# EDHOC (RFC 9528): Ephemeral Diffie-Hellman Over COSE, initiator and responder.
# Methods 0..3; cipher suites 0 (AES-CCM-16-64-128, SHA-256, 8, X25519, EdDSA) and
# 2 (AES-CCM-16-64-128, SHA-256, 8, P-256, ES256). Credentials: CCS (RFC 8392) or X.509
# DER, referenced by kid / kccs / x5t / x5chain. EDHOC-Exporter, EDHOC-KeyUpdate and the
# OSCORE security context of App. A.1. MicroPython and CPython alike.
#
# Errors: whatever fails to parse, decrypt or verify raises EDHOCError (a ValueError) with
# .to_peer, the EDHOC error message to send back; the session is then dead. An error message
# received from the peer raises EDHOCError with .err_code, .err_info (and .suites_r).
from . import cbor, crypto
from .cose_structures import enc_structure, sig_structure

try:
    from micropython import const
except ImportError:
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

_HASH_LEN = const(32)
_MAC_LEN = const(8)      # EDHOC MAC length of suites 0 and 2
_KEY_LEN = const(16)     # AES-CCM-16-64-128
_IV_LEN = const(13)
_TAG_LEN = const(8)

SUITES = (0, 2)          # the cipher suites this module runs

ERR_UNSPECIFIED = const(1)
ERR_WRONG_SUITE = const(2)

# session states
_START = const(0)
_WAIT_2 = const(1)       # initiator: message_1 sent
_WAIT_3 = const(2)       # responder: message_2 sent
_WAIT_4 = const(3)       # initiator: message_3 sent (keys available)
_DONE = const(4)         # keys available
_DEAD = const(5)

# COSE header labels used in ID_CRED_x (RFC 9052 §3.1, RFC 9360 §2, RFC 9528 §10.6)
_KID = const(4)
_KCCS = const(14)
_X5CHAIN = const(33)
_X5T = const(34)


class EDHOCError(ValueError):
    def __init__(self, msg, to_peer=None, err_code=None, err_info=None):
        super().__init__(msg)
        self.to_peer = to_peer
        self.err_code = err_code
        self.err_info = err_info
        self.suites_r = None
        if err_code == ERR_WRONG_SUITE:
            self.suites_r = [err_info] if type(err_info) is int else list(err_info)


# RFC 9528 §6: error = (ERR_CODE : int, ERR_INFO : any)
def error_message(code, info):
    return cbor.dumps_seq((code, info))


def _fail(msg, diag=None):
    return EDHOCError(msg, error_message(ERR_UNSPECIFIED, diag or msg))


# RFC 9528 §6: a received error message; raises EDHOCError if data is one, else returns
def _check_peer_error(data):
    if not data:
        raise _fail("empty message")
    first = data[0]
    if first < 0x40:  # major type 0 or 1: an int ERR_CODE where a bstr message belongs
        try:
            code, pos = cbor.decode(data, 0)
            info = None
            if pos < len(data):
                info, pos = cbor.decode(data, pos)
        except ValueError:
            raise _fail("malformed error message")
        if pos != len(data) or type(code) is not int:
            raise _fail("malformed error message")
        if code == ERR_WRONG_SUITE and not _suites_ok(info):
            raise _fail("malformed SUITES_R")
        raise EDHOCError("peer sent EDHOC error %d: %r" % (code, info), None, code, info)


def _suites_ok(s):
    if type(s) is int:
        return True
    if type(s) is not list or not s:
        return False
    for x in s:
        if type(x) is not int:
            return False
    return True


# RFC 9528 §6.3.2: the SUITES_I for a retry after ERR_CODE 2: the initiator's preference
# list up to and including its most preferred suite that SUITES_R and this module support
def retry_suites(preferred, suites_r):
    if type(suites_r) is int:
        suites_r = (suites_r,)
    out = []
    for s in preferred:
        out.append(s)
        if s in suites_r and s in SUITES:
            return tuple(out)
    raise ValueError("no cipher suite in common")


# RFC 9528 §4.1.2: EDHOC_KDF(PRK, label, context, length) = Expand(PRK, info, length),
# info = (label : int, context : bstr, length : uint)
def kdf(prk, label, context, length):
    return crypto.hkdf_expand(prk, cbor.dumps_seq((label, bytes(context), length)), length)


def _bstr(b):
    return cbor.dumps(bytes(b))


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


# RFC 9528 §3.3.2: a connection identifier or kid that is a one-byte CBOR int (-24..23)
# is sent as that int, any other byte string as a bstr
def encode_id(raw):
    if len(raw) == 1 and (raw[0] < 0x18 or 0x20 <= raw[0] < 0x38):
        return bytes(raw)
    return _bstr(raw)


def _id_raw(v):
    # an identifier given as int (-24..23) or bytes -> its byte string (the OSCORE ID form)
    if type(v) is int:
        if not -24 <= v <= 23:
            raise ValueError("int identifier not in -24..23")
        return cbor.dumps(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise ValueError("identifier must be int or bytes")


def _decode_id(item):
    t = type(item)
    if t is int and -24 <= item <= 23:
        return cbor.dumps(item)
    if t is bytes:
        return item
    raise ValueError("bad identifier")


def _random_id(avoid=None):
    while True:
        raw = cbor.dumps(crypto.random_bytes(1)[0] % 48 - 24)
        if raw != avoid:
            return raw


# RFC 9528 §3.8: EAD = 1* (ead_label : int, ? ead_value : bstr)
def _encode_ead(items):
    out = bytearray()
    for label, value in items:
        if type(label) is not int:
            raise ValueError("EAD label must be int")
        out.extend(cbor.dumps(label))
        if value is not None:
            out.extend(_bstr(value))
    return bytes(out)


def _decode_ead(data, pos, understood):
    # the EAD items from pos to the end; a critical (negative) label not understood fails
    items = []
    end = len(data)
    while pos < end:
        label, pos = cbor.decode(data, pos)
        if type(label) is not int:
            raise ValueError("EAD label must be int")
        value = None
        if pos < end and 0x40 <= data[pos] < 0x60:
            value, pos = cbor.decode(data, pos)
        if label < 0 and -label not in understood:
            raise ValueError("critical EAD %d" % label)
        if label != 0:  # label 0 is padding (§3.8.1)
            items.append((label, value))
    return items


def _map_raw(data, pos):
    # a small CBOR map at pos -> (dict of decoded values, dict key -> raw value bytes, end)
    h = data[pos]
    if not 0xA1 <= h <= 0xB7:
        raise ValueError("ID_CRED must be a small map")
    pos += 1
    d = {}
    raw = {}
    for _ in range(h & 0x1F):
        k, pos = cbor.decode(data, pos)
        s = pos
        v, pos = cbor.decode(data, pos)
        if type(k) is not int or k in d:
            raise ValueError("bad ID_CRED label")
        d[k] = v
        raw[k] = data[s:pos]
    return d, raw, pos


# RFC 9528 §3.5.3.2: ID_CRED_x in PLAINTEXT_2/3 (the compact kid form) and in context_x
def _id_cred_encodings(id_cred, cred):
    # -> (full map encoding, plaintext encoding)
    keys = list(id_cred)
    if keys == [_KCCS]:
        full = b"\xa1\x0e" + cred  # by value: exactly the CCS bytes that are CRED_x
    else:
        full = cbor.dumps(id_cred)
    if keys == [_KID]:
        kid = id_cred[_KID]
        if not isinstance(kid, (bytes, bytearray)):
            raise ValueError("kid must be bytes")
        return full, encode_id(kid)
    return full, full


def _parse_id_cred(data, pos):
    # -> (dict given to trust, full map encoding for context_x, raw by-value CRED or None, end)
    h = data[pos]
    if h < 0x40 or 0x40 <= h < 0x60:  # int or bstr: the compact kid form
        item, end = cbor.decode(data, pos)
        kid = _decode_id(item)
        d = {_KID: kid}
        return d, cbor.dumps(d), None, end
    d, raw, end = _map_raw(data, pos)
    full = data[pos:end]
    by_value = None
    if _KCCS in d:
        by_value = raw[_KCCS]
    elif _X5CHAIN in d:
        v = d[_X5CHAIN]
        leaf = v[0] if type(v) is list and v else v
        if type(leaf) is not bytes:
            raise ValueError("bad x5chain")
        by_value = _bstr(leaf)
    return d, full, by_value, end


# RFC 9528 §3.5.2: CRED_x is a CCS as is, an X.509 certificate as a bstr of its DER
def cred_bytes(cred):
    cred = bytes(cred)
    if cred and cred[0] == 0x30:
        return _bstr(cred)
    return cred


def _cred_der(cred):
    # the DER certificate inside an X.509 CRED_x, or None for a CCS
    h = cred[0]
    if 0x40 <= h < 0x60:
        v, end = cbor.decode(cred, 0)
        if end != len(cred):
            raise ValueError("bytes after the certificate")
        return v
    return None


# RFC 8392 §3.1 + RFC 8747 §3.1: the CCS's cnf COSE_Key (RFC 9053 §7.1, §7.2)
def _ccs_key(cred):
    ccs = cbor.loads(cred)
    return ccs[8][1]


def cred_public_key(cred):
    # CRED_x -> ("p256", 65-byte point) / ("x25519" | "ed25519", 32 bytes)
    der = _cred_der(cred)
    if der is not None:
        from . import der as _der
        kind, key = _der.public_key(der)
    else:
        k = _ccs_key(cred)
        kty = k.get(1)
        crv = k.get(-1)
        x = k.get(-2)
        if type(x) is not bytes or len(x) != 32:
            raise ValueError("COSE_Key x must be 32 bytes")
        if kty == 2 and crv == 1:
            y = k.get(-3)
            if type(y) is bytes and len(y) == 32:
                return "p256", b"\x04" + x + y
            if type(y) is bool:
                key = (b"\x03" if y else b"\x02") + x
                kind = "p256"
            else:
                raise ValueError("COSE_Key y missing")
        elif kty == 1 and crv == 4:
            return "x25519", x
        elif kty == 1 and crv == 6:
            return "ed25519", x
        else:
            raise ValueError("unsupported COSE_Key")
    if kind == "p256" and len(key) == 33:
        key = crypto.p256_decompress(key)
    return kind, key


def _default_id_cred(cred):
    der = _cred_der(cred)
    if der is not None:
        return {_X5T: [-15, crypto.sha256(der)[:8]]}
    kid = _ccs_key(cred).get(2)
    if type(kid) is not bytes:
        raise ValueError("no kid in CCS: give id_cred")
    return {_KID: kid}


def _ecdh(suite, priv, pub):
    # pub: a 32-byte X25519 key or P-256 x-coordinate, or a 65-byte P-256 point
    if suite == 2:
        if len(pub) == 32:
            pub = crypto.p256_decompress(b"\x02" + pub)  # either y gives the same shared x
        return crypto.p256_ecdh(priv, pub)
    return crypto.x25519(priv, pub)


def _ephemeral(suite):
    if suite == 2:
        d, pub = crypto.p256_keypair()
        return d, pub[1:33]
    x = crypto.random_bytes(32)
    return x, crypto.x25519_base(x)


def _eph_public(suite, pub):
    pub = bytes(pub)
    if len(pub) == 65:
        return pub[1:33]
    return pub


def _sign(suite, key, msg):
    if suite == 2:
        return crypto.p256_sign(key, msg)
    return crypto.ed25519_sign(key, msg)


def _verify(suite, pub, msg, sig):
    if suite == 2:
        return crypto.p256_verify(pub, msg, sig)
    return crypto.ed25519_verify(pub, msg, sig)


def _resolve(trust, id_cred, by_value):
    # the peer's CRED_x: trust decides; a by-value credential must be the one sent
    try:
        cred = trust(id_cred)
    except Exception as e:
        raise EDHOCError("credential rejected: %s" % (e,),
                         error_message(ERR_UNSPECIFIED, "credential not trusted"))
    if cred is None:
        raise EDHOCError("credential rejected", error_message(ERR_UNSPECIFIED, "credential not trusted"))
    cred = cred_bytes(cred)
    if by_value is not None and cred != by_value:
        raise ValueError("by-value credential mismatch")
    x5t = id_cred.get(_X5T)
    if x5t is not None:
        der = _cred_der(cred)
        if der is None or type(x5t) is not list or len(x5t) != 2:
            raise ValueError("bad x5t")
        alg, th = x5t
        dig = crypto.sha256(der)
        if alg == -15:
            dig = dig[:8]
        elif alg != -16:
            raise ValueError("unsupported x5t hash")
        if not crypto.equal(dig, th):
            raise ValueError("x5t mismatch")
    return cred


def _parse_sig_or_mac(data, pos, n):
    v, pos = cbor.decode(data, pos)
    if type(v) is not bytes or len(v) != n:
        raise ValueError("bad Signature_or_MAC")
    return v, pos


class _Session:
    # State and derivations shared by both roles.
    def __init__(self, key, cred, method, suites, id_cred, ead_labels):
        if method not in (0, 1, 2, 3):
            raise ValueError("method must be 0..3")
        suites = tuple(suites)
        if not suites:
            raise ValueError("no cipher suite")
        self.method = method
        self.suites = suites
        self._key = bytes(key)
        self.cred = cred_bytes(cred)
        self.id_cred = id_cred if id_cred is not None else _default_id_cred(self.cred)
        self._understood = [abs(x) for x in ead_labels]
        self._state = _START
        self.prk_out = None
        self.prk_exporter = None
        self.ead_1 = self.ead_2 = self.ead_3 = self.ead_4 = None

    def _enter(self, want):
        if self._state == _DEAD:
            raise EDHOCError("session terminated", error_message(ERR_UNSPECIFIED, "session terminated"))
        if self._state != want:
            self._state = _DEAD
            raise _fail("unexpected message")

    def _dead(self, e):
        # any failure kills the session; a non-EDHOC error becomes one with a diagnostic
        self._state = _DEAD
        if isinstance(e, EDHOCError):
            return e
        return EDHOCError("%s: %s" % (type(e).__name__, e),
                          error_message(ERR_UNSPECIFIED, "message rejected"))

    # RFC 9528 §4.1.3: PRK_out = EDHOC_KDF(PRK_4e3m, 7, TH_4, hash_length), PRK_exporter
    def _finish(self):
        self.prk_out = kdf(self.prk_4e3m, 7, self.th_4, _HASH_LEN)
        self.prk_exporter = kdf(self.prk_out, 10, b"", _HASH_LEN)

    # RFC 9528 §4.2.1: EDHOC_Exporter(label, context, length)
    def exporter(self, label, context, length):
        if self.prk_exporter is None or self._state == _DEAD:
            raise EDHOCError("handshake not complete")
        return kdf(self.prk_exporter, label, context, length)

    # RFC 9528 App. H: EDHOC_KeyUpdate(context)
    def key_update(self, context):
        if self.prk_out is None or self._state == _DEAD:
            raise EDHOCError("handshake not complete")
        self.prk_out = kdf(self.prk_out, 11, context, _HASH_LEN)
        self.prk_exporter = kdf(self.prk_out, 10, b"", _HASH_LEN)

    # RFC 9528 App. A.1: OSCORE Master Secret/Salt and Sender/Recipient IDs from C_I, C_R
    def oscore_context(self, key_length=16, salt_length=8):
        if self.c_i == self.c_r:
            raise EDHOCError("C_I equals C_R: no OSCORE context")
        mine, theirs = (self.c_r, self.c_i) if self._initiator else (self.c_i, self.c_r)
        return {
            "master_secret": self.exporter(0, b"", key_length),
            "master_salt": self.exporter(1, b"", salt_length),
            "sender_id": mine,
            "recipient_id": theirs,
        }

    # RFC 9528 §5.3.2: context_2 = << C_R, ID_CRED_R, TH_2, CRED_R, ? EAD_2 >>, MAC_2
    def _mac_2(self, c_r, id_cred_full, cred, ead):
        r_signs = self.method in (0, 2)
        ctx = c_r + id_cred_full + _bstr(self.th_2) + cred + ead
        self.mac_2 = kdf(self.prk_3e2m, 2, ctx, _HASH_LEN if r_signs else _MAC_LEN)
        return r_signs

    # RFC 9528 §5.4.2: context_3 = << ID_CRED_I, TH_3, CRED_I, ? EAD_3 >>, MAC_3
    def _mac_3(self, id_cred_full, cred, ead):
        i_signs = self.method in (0, 1)
        ctx = id_cred_full + _bstr(self.th_3) + cred + ead
        self.mac_3 = kdf(self.prk_4e3m, 6, ctx, _HASH_LEN if i_signs else _MAC_LEN)
        return i_signs

    # RFC 9528 §4.1.1.2: PRK_3e2m = PRK_2e, or Extract(SALT_3e2m, G_RX) when R is static DH
    def _prk_3e2m(self, priv, pub):
        if self.method in (1, 3):
            self.salt_3e2m = kdf(self.prk_2e, 1, self.th_2, _HASH_LEN)
            self.g_rx = _ecdh(self.suite, priv, pub)
            self.prk_3e2m = crypto.hkdf_extract(self.salt_3e2m, self.g_rx)
        else:
            self.prk_3e2m = self.prk_2e

    # RFC 9528 §4.1.1.3: PRK_4e3m = PRK_3e2m, or Extract(SALT_4e3m, G_IY) when I is static DH
    def _prk_4e3m(self, priv, pub):
        if self.method in (2, 3):
            self.salt_4e3m = kdf(self.prk_3e2m, 5, self.th_3, _HASH_LEN)
            self.g_iy = _ecdh(self.suite, priv, pub)
            self.prk_4e3m = crypto.hkdf_extract(self.salt_4e3m, self.g_iy)
        else:
            self.prk_4e3m = self.prk_3e2m

    # RFC 9528 §5.2.1 / §5.4.1: which key kind the peer's credential must hold
    def _peer_kind(self, peer_signs):
        if self.suite == 2:
            return "p256"
        return "ed25519" if peer_signs else "x25519"

    def _k_iv(self, prk, k_label, th):
        return kdf(prk, k_label, th, _KEY_LEN), kdf(prk, k_label + 1, th, _IV_LEN)


class Initiator(_Session):
    _initiator = True

    def __init__(self, key, cred, *, method=3, suites=(2,), c_i=None, id_cred=None,
                 ead_labels=(), _eph=None):
        _Session.__init__(self, key, cred, method, suites, id_cred, ead_labels)
        self.suite = self.suites[-1]
        if self.suite not in SUITES and _eph is None:
            raise ValueError("cipher suite %d not supported" % self.suite)
        self._eph = _eph
        self.c_i = _id_raw(c_i) if c_i is not None else _random_id()
        self.c_r = None

    # RFC 9528 §5.2.1: message_1 = (METHOD, SUITES_I, G_X, C_I, ? EAD_1)
    def message_1(self, ead=()):
        self._enter(_START)
        try:
            crypto.aes_prepare()  # before the big-integer work fragments the heap
            if self._eph is not None:
                self._x, self.g_x = bytes(self._eph[0]), _eph_public(self.suite, self._eph[1])
            else:
                self._x, self.g_x = _ephemeral(self.suite)
            self._eph = None
            s = self.suites
            m1 = (cbor.dumps_seq((self.method, s[0] if len(s) == 1 else list(s), self.g_x))
                  + encode_id(self.c_i) + _encode_ead(ead))
            self.h_message_1 = crypto.sha256(m1)
        except Exception as e:
            raise self._dead(e)
        self._state = _WAIT_2
        return m1

    # RFC 9528 §5.3.3 (message_2 processing) and §5.4.2 (message_3 = (CIPHERTEXT_3))
    def message_3(self, message_2, trust, ead=()):
        self._enter(_WAIT_2)
        try:
            m3 = self._message_3(bytes(message_2), trust, ead)
        except Exception as e:
            raise self._dead(e)
        self._state = _WAIT_4
        return m3

    def _message_3(self, m2, trust, ead):
        suite = self.suite
        _check_peer_error(m2)
        if suite not in SUITES:
            raise ValueError("cipher suite %d not supported" % suite)
        # RFC 9528 §5.3.1: message_2 = (G_Y_CIPHERTEXT_2 : bstr)
        g_y_ct, end = cbor.decode(m2, 0)
        if type(g_y_ct) is not bytes or end != len(m2) or len(g_y_ct) <= 32:
            raise ValueError("bad message_2")
        g_y, ct2 = g_y_ct[:32], g_y_ct[32:]
        # RFC 9528 §5.3.2: TH_2 = H(G_Y, H(message_1)); PRK_2e = Extract(TH_2, G_XY)
        self.th_2 = crypto.sha256(_bstr(g_y) + _bstr(self.h_message_1))
        self.g_xy = _ecdh(suite, self._x, g_y)
        self.prk_2e = crypto.hkdf_extract(self.th_2, self.g_xy)
        self.keystream_2 = kdf(self.prk_2e, 0, self.th_2, len(ct2))
        pt = _xor(ct2, self.keystream_2)
        self.plaintext_2 = pt
        # PLAINTEXT_2 = (C_R, ID_CRED_R / bstr / -24..23, Signature_or_MAC_2, ? EAD_2)
        c_r, pos = cbor.decode(pt, 0)
        self.c_r = _decode_id(c_r)
        c_r = pt[:pos]
        id_cred_r, full, by_value, pos = _parse_id_cred(pt, pos)
        r_signs = self.method in (0, 2)
        sig_or_mac, pos = _parse_sig_or_mac(pt, pos, 64 if r_signs else _MAC_LEN)
        ead_2 = pt[pos:]
        self.ead_2 = _decode_ead(pt, pos, self._understood)
        cred_r = _resolve(trust, id_cred_r, by_value)
        self.peer_cred = cred_r
        self.peer_id_cred = id_cred_r
        kind, g_r = cred_public_key(cred_r)
        if kind != self._peer_kind(r_signs):
            raise ValueError("wrong key kind")
        self._prk_3e2m(self._x, g_r)
        self._mac_2(c_r, full, cred_r, ead_2)
        if r_signs:
            msg = sig_structure(full, _bstr(self.th_2) + cred_r + ead_2, self.mac_2)
            ok = _verify(suite, g_r, msg, sig_or_mac)
        else:
            ok = crypto.equal(sig_or_mac, self.mac_2)
        if not ok:
            raise EDHOCError("message_2 authentication failed",
                             error_message(ERR_UNSPECIFIED, "authentication failed"))
        # RFC 9528 §5.3.2: TH_3 = H(TH_2, PLAINTEXT_2, CRED_R)
        self.th_3 = crypto.sha256(_bstr(self.th_2) + pt + cred_r)
        self._prk_4e3m(self._key, g_y)
        i_signs = self.method in (0, 1)
        full_i, compact_i = _id_cred_encodings(self.id_cred, self.cred)
        ead_3 = _encode_ead(ead)
        self._mac_3(full_i, self.cred, ead_3)
        if i_signs:
            som = _sign(suite, self._key,
                        sig_structure(full_i, _bstr(self.th_3) + self.cred + ead_3, self.mac_3))
        else:
            som = self.mac_3
        # PLAINTEXT_3 = (ID_CRED_I / bstr / -24..23, Signature_or_MAC_3, ? EAD_3)
        pt3 = compact_i + _bstr(som) + ead_3
        self.plaintext_3 = pt3
        self.k_3, self.iv_3 = self._k_iv(self.prk_3e2m, 3, self.th_3)
        ct3 = crypto.aes_ccm_encrypt(self.k_3, self.iv_3, pt3, enc_structure(b"", self.th_3), _TAG_LEN)
        # RFC 9528 §5.4.2: TH_4 = H(TH_3, PLAINTEXT_3, CRED_I)
        self.th_4 = crypto.sha256(_bstr(self.th_3) + pt3 + self.cred)
        self._finish()
        self._x = None
        return _bstr(ct3)

    # RFC 9528 §5.5.3: message_4 = (CIPHERTEXT_4), PLAINTEXT_4 = (? EAD_4)
    def complete(self, message_4=None):
        self._enter(_WAIT_4)
        try:
            if message_4 is not None:
                m4 = bytes(message_4)
                _check_peer_error(m4)
                ct4, end = cbor.decode(m4, 0)
                if type(ct4) is not bytes or end != len(m4):
                    raise ValueError("bad message_4")
                self.k_4, self.iv_4 = self._k_iv(self.prk_4e3m, 8, self.th_4)
                pt4 = crypto.aes_ccm_decrypt(self.k_4, self.iv_4, ct4,
                                             enc_structure(b"", self.th_4), _TAG_LEN)
                self.ead_4 = _decode_ead(pt4, 0, self._understood)
        except Exception as e:
            raise self._dead(e)
        self._state = _DONE


class Responder(_Session):
    _initiator = False

    def __init__(self, key, cred, *, method=3, suites=(2,), c_r=None, id_cred=None,
                 ead_labels=(), _eph=None):
        _Session.__init__(self, key, cred, method, suites, id_cred, ead_labels)
        for s in self.suites:
            if s not in SUITES:
                raise ValueError("cipher suite %d not supported" % s)
        self._eph = _eph
        self._c_r = _id_raw(c_r) if c_r is not None else None
        self.c_i = self.c_r = None
        self.suite = None

    def _suites_error(self):
        s = self.suites
        return EDHOCError("cipher suite not supported",
                          error_message(ERR_WRONG_SUITE, s[0] if len(s) == 1 else list(s)))

    # RFC 9528 §5.2.3 (message_1 processing) and §5.3.2 (message_2 = (G_Y_CIPHERTEXT_2))
    def message_2(self, message_1, ead=()):
        self._enter(_START)
        try:
            crypto.aes_prepare()  # before the big-integer work fragments the heap
            m2 = self._message_2(bytes(message_1), ead)
        except Exception as e:
            raise self._dead(e)
        self._state = _WAIT_3
        return m2

    def _message_2(self, m1, ead):
        # message_1 = (METHOD : int, SUITES_I : int / [2* int], G_X : bstr, C_I, ? EAD_1)
        method, pos = cbor.decode(m1, 0)
        if type(method) is not int:
            raise ValueError("METHOD must be int")
        if method != self.method:
            raise _fail("method %d not supported" % method, "method not supported")
        suites_i, pos = cbor.decode(m1, pos)
        if not _suites_ok(suites_i) or type(suites_i) is list and len(suites_i) < 2:
            raise ValueError("malformed SUITES_I")
        if type(suites_i) is int:
            suites_i = [suites_i]
        selected = suites_i[-1]
        # §6.3.2: refuse if the selected suite is unsupported or a more preferred one is
        if selected not in self.suites:
            raise self._suites_error()
        for s in suites_i[:-1]:
            if s in self.suites:
                raise self._suites_error()
        self.suite = suite = selected
        g_x, pos = cbor.decode(m1, pos)
        if type(g_x) is not bytes or len(g_x) != 32:
            raise ValueError("G_X must be a 32-byte bstr")
        c_i, pos = cbor.decode(m1, pos)
        self.c_i = _decode_id(c_i)
        self.ead_1 = _decode_ead(m1, pos, self._understood)
        self.h_message_1 = crypto.sha256(m1)
        self.c_r = self._c_r if self._c_r is not None else _random_id(self.c_i)
        if self._eph is not None:
            self._y, self.g_y = bytes(self._eph[0]), _eph_public(suite, self._eph[1])
            self._eph = None
        else:
            self._y, self.g_y = _ephemeral(suite)
        self._g_x = g_x
        # RFC 9528 §5.3.2: TH_2 = H(G_Y, H(message_1)); PRK_2e = Extract(TH_2, G_XY)
        self.th_2 = crypto.sha256(_bstr(self.g_y) + _bstr(self.h_message_1))
        self.g_xy = _ecdh(suite, self._y, g_x)
        self.prk_2e = crypto.hkdf_extract(self.th_2, self.g_xy)
        self._prk_3e2m(self._key, g_x)
        full_r, compact_r = _id_cred_encodings(self.id_cred, self.cred)
        ead_2 = _encode_ead(ead)
        c_r = encode_id(self.c_r)
        if self._mac_2(c_r, full_r, self.cred, ead_2):
            som = _sign(suite, self._key,
                        sig_structure(full_r, _bstr(self.th_2) + self.cred + ead_2, self.mac_2))
        else:
            som = self.mac_2
        # PLAINTEXT_2 = (C_R, ID_CRED_R / bstr / -24..23, Signature_or_MAC_2, ? EAD_2)
        pt = c_r + compact_r + _bstr(som) + ead_2
        self.plaintext_2 = pt
        self.keystream_2 = kdf(self.prk_2e, 0, self.th_2, len(pt))
        # TH_3 = H(TH_2, PLAINTEXT_2, CRED_R)
        self.th_3 = crypto.sha256(_bstr(self.th_2) + pt + self.cred)
        return _bstr(self.g_y + _xor(pt, self.keystream_2))

    # RFC 9528 §5.4.3: message_3 processing
    def verify_message_3(self, message_3, trust):
        self._enter(_WAIT_3)
        try:
            self._verify_3(bytes(message_3), trust)
        except Exception as e:
            raise self._dead(e)
        self._state = _DONE

    def _verify_3(self, m3, trust):
        suite = self.suite
        _check_peer_error(m3)
        ct3, end = cbor.decode(m3, 0)
        if type(ct3) is not bytes or end != len(m3):
            raise ValueError("bad message_3")
        self.k_3, self.iv_3 = self._k_iv(self.prk_3e2m, 3, self.th_3)
        pt = crypto.aes_ccm_decrypt(self.k_3, self.iv_3, ct3, enc_structure(b"", self.th_3), _TAG_LEN)
        self.plaintext_3 = pt
        # PLAINTEXT_3 = (ID_CRED_I / bstr / -24..23, Signature_or_MAC_3, ? EAD_3)
        id_cred_i, full, by_value, pos = _parse_id_cred(pt, 0)
        i_signs = self.method in (0, 1)
        sig_or_mac, pos = _parse_sig_or_mac(pt, pos, 64 if i_signs else _MAC_LEN)
        ead_3 = pt[pos:]
        self.ead_3 = _decode_ead(pt, pos, self._understood)
        cred_i = _resolve(trust, id_cred_i, by_value)
        self.peer_cred = cred_i
        self.peer_id_cred = id_cred_i
        kind, g_i = cred_public_key(cred_i)
        if kind != self._peer_kind(i_signs):
            raise ValueError("wrong key kind")
        self._prk_4e3m(self._y, g_i)
        self._mac_3(full, cred_i, ead_3)
        if i_signs:
            msg = sig_structure(full, _bstr(self.th_3) + cred_i + ead_3, self.mac_3)
            ok = _verify(suite, g_i, msg, sig_or_mac)
        else:
            ok = crypto.equal(sig_or_mac, self.mac_3)
        if not ok:
            raise EDHOCError("message_3 authentication failed",
                             error_message(ERR_UNSPECIFIED, "authentication failed"))
        # RFC 9528 §5.4.3: TH_4 = H(TH_3, PLAINTEXT_3, CRED_I)
        self.th_4 = crypto.sha256(_bstr(self.th_3) + pt + cred_i)
        self._finish()
        self._y = None

    # RFC 9528 §5.5.2: message_4 = (CIPHERTEXT_4), PLAINTEXT_4 = (? EAD_4)
    def message_4(self, ead=()):
        self._enter(_DONE)
        if getattr(self, "k_4", None) is not None:
            self._state = _DEAD
            raise _fail("message_4 already sent", "unexpected message")
        self.k_4, self.iv_4 = self._k_iv(self.prk_4e3m, 8, self.th_4)
        ct4 = crypto.aes_ccm_encrypt(self.k_4, self.iv_4, _encode_ead(ead),
                                     enc_structure(b"", self.th_4), _TAG_LEN)
        return _bstr(ct4)
