# OSCORE (RFC 8613) for MicroPython and CPython: the security context, the compressed
# COSE_Encrypt0 and the protection of imprint.coap Messages. Every failure is an
# OSCOREError; its .code is the CoAP error code a server may answer with (§8.2) and a
# failed decryption never yields any plaintext.
#
#   derive(master_secret, master_salt, sender_id, recipient_id, id_context=None,
#          alg=AES_CCM_16_64_128, hkdf=SHA_256) -> Context                       (§3.2)
#   Context(sender_key, recipient_key, common_iv, sender_id, recipient_id,
#           id_context=None, alg=AES_CCM_16_64_128, sender_seq=0)
#     .sender_seq   next Sender Sequence Number (§3.2.2); MAX_SEQ is the last usable one
#     .on_seq, .seq_step   App. B.1.1: on_seq(n) is called before n is used whenever
#                   n % seq_step == 0 (store n; after a reboot start at n + seq_step + F);
#                   if it raises, n is not used
#     .replay_top, .replay_bits   §7.4 sliding window of 32 (DTLS style); set_replay_floor(n)
#                   rejects requests below n (App. B.1.2, after the window was lost)
#   Context.from_edhoc(d)   d: master_secret, master_salt, sender_id, recipient_id
#                   (RFC 9528 App. A.1; optional id_context, alg, hkdf)
#   protect_request(ctx, msg, kid_context=True) -> (outer Message, RequestState)  §8.1
#   unprotect_request(ctx, msg) -> (inner Message, RequestState)                  §8.2
#   protect_response(ctx, msg, state, new_piv=False) -> outer Message             §8.3
#   unprotect_response(ctx, msg, state) -> inner Message                          §8.4
#   error_response(msg, err) -> the unprotected error answer to a request (§8.2, §7.4)
#   Building blocks: kdf_info, nonce, aad_array, aad, plaintext, encode_option,
#   decode_option (-> (piv, kid, kid_context): pick a context by kid before unprotecting;
#   with the ciphertext in the payload these are the compressed COSE object of §6),
#   piv_bytes.
#
# Not done here: outer Block options (a proxy's fragmentation, §4.1.3.4.2) are discarded
# like every other outer Class E option, so such messages must be reassembled first;
# no Class I options exist (§4.1.2); group OSCORE is out of scope.
from . import coap, crypto
from .cbor import dumps
from .cose_structures import enc_structure

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

# RFC 9053 §4.2: the AES-CCM AEAD algorithms; RFC 9054 / RFC 9053 §5.1: the HKDF hash
AES_CCM_16_64_128 = const(10)
AES_CCM_16_64_256 = const(11)
AES_CCM_64_64_128 = const(12)
AES_CCM_64_64_256 = const(13)
AES_CCM_16_128_128 = const(30)
AES_CCM_16_128_256 = const(31)
AES_CCM_64_128_128 = const(32)
AES_CCM_64_128_256 = const(33)
SHA_256 = const(-16)
HKDF_SHA_256 = const(-10)

MAX_SEQ = const(0xFFFFFFFFFF)  # §7.2.1: 2^40 - 1
WINDOW = const(32)  # §3.2.2: default replay window size

# RFC 8613 §5.1 / §6.1: 'kid context' label and the flag bits of the option value
KID_CONTEXT = const(10)
_FLAG_H = const(0x10)
_FLAG_K = const(0x08)
_FLAG_N = const(0x07)
_FLAG_RESERVED = const(0xE0)

# option numbers (imprint.coap's) that OSCORE treats specially (§4.1, Figure 5)
_URI_HOST = const(3)
_OBSERVE = const(6)
_URI_PORT = const(7)
_OSCORE = const(9)
_URI_PATH = const(11)
_MAX_AGE = const(14)
_URI_QUERY = const(15)
_PROXY_URI = const(35)
_PROXY_SCHEME = const(39)

# codes (class << 5 | detail)
_POST = const(2)
_FETCH = const(5)
_CHANGED = const(0x44)
_CONTENT = const(0x45)
_BAD_REQUEST = const(0x80)
_UNAUTHORIZED = const(0x81)
_BAD_OPTION = const(0x82)


class OSCOREError(ValueError):
    # .code: the CoAP error code a server may answer with (§8.2, §7.4)
    def __init__(self, msg, code=_BAD_REQUEST):
        super().__init__(msg)
        self.code = code


# RFC 9053 §4.2 Table 6: alg -> (key length, nonce length, tag length)
_ALGS = {
    AES_CCM_16_64_128: (16, 13, 8), AES_CCM_16_64_256: (32, 13, 8),
    AES_CCM_64_64_128: (16, 7, 8), AES_CCM_64_64_256: (32, 7, 8),
    AES_CCM_16_128_128: (16, 13, 16), AES_CCM_16_128_256: (32, 13, 16),
    AES_CCM_64_128_128: (16, 7, 16), AES_CCM_64_128_256: (32, 7, 16),
}


def _alg(alg):
    p = _ALGS.get(alg)
    if p is None:
        raise OSCOREError("unsupported AEAD algorithm %r" % (alg,))
    return p


def piv_bytes(n):
    # §5: the Partial IV, big-endian without leading zero bytes; 0 is h'00'
    b = n.to_bytes(5, "big")
    i = 0
    while i < 4 and b[i] == 0:
        i += 1
    return b[i:]


# RFC 8613 §3.2.1: info = [id: bstr, id_context: bstr / nil, alg_aead, type: tstr, L: uint]
def kdf_info(id, id_context, alg, type, length):
    return dumps([id, id_context, alg, type, length])


# RFC 8613 §5.2: (S | pad | ID_PIV | pad | PIV) XOR Common IV
def nonce(common_iv, id_piv, piv):
    n = len(common_iv)
    i = len(id_piv)
    if i > n - 6 or len(piv) > 5:
        raise OSCOREError("ID or Partial IV too long for the nonce", _BAD_OPTION)
    b = bytearray(n)
    b[0] = i
    b[n - 5 - i:n - 5] = id_piv
    b[n - len(piv):] = piv
    for j in range(n):
        b[j] ^= common_iv[j]
    return bytes(b)


# RFC 8613 §5.4: aad_array = [1, [alg_aead], request_kid, request_piv, options: bstr]
def aad_array(alg, request_kid, request_piv, options=b""):
    return dumps([1, [alg], request_kid, request_piv, options])


# RFC 8613 §5.4: AAD = Enc_structure ["Encrypt0", h'', external_aad = bstr .cbor aad_array]
def aad(alg, request_kid, request_piv):
    return enc_structure(b"", aad_array(alg, request_kid, request_piv))


# RFC 8613 §5.3: plaintext = Code | Class E options | (0xFF | payload)
def plaintext(code, options, payload):
    # made at its final size: no regrowing copy of a large payload
    opts = coap.encode_options(options) if options else b""
    k = 1 + len(opts)
    out = bytearray(k + (1 + len(payload) if payload else 0))
    out[0] = code
    out[1:k] = opts
    if payload:
        out[k] = 0xFF
        out[k + 1:] = payload
    return out


# RFC 8613 §6.1: 000hknnn | Partial IV (n B) | s | kid context (s B) | kid
def encode_option(piv=None, kid=None, kid_context=None):
    flags = 0
    out = bytearray(1)
    if piv is not None:
        if not 0 < len(piv) <= 5:
            raise OSCOREError("Partial IV of %d bytes" % len(piv))
        flags = len(piv)
        out += piv
    if kid_context is not None:
        if len(kid_context) > 255:
            raise OSCOREError("kid context over 255 bytes")
        flags |= _FLAG_H
        out.append(len(kid_context))
        out += kid_context
    if kid is not None:
        flags |= _FLAG_K
        out += kid
    if not flags:
        return b""  # §2: all flag bits zero -> empty option value
    out[0] = flags
    return bytes(out)


# RFC 8613 §6.1 in reverse: option value -> (piv, kid, kid_context), None where absent
def decode_option(value):
    piv = kid = ctx = None
    if not value:
        return piv, kid, ctx
    f = value[0]
    n = f & _FLAG_N
    if f & _FLAG_RESERVED or n > 5:
        raise OSCOREError("OSCORE option uses reserved flags or lengths", _BAD_OPTION)
    p = 1 + n
    if n:
        if p > len(value):
            raise OSCOREError("OSCORE option: Partial IV truncated", _BAD_OPTION)
        piv = bytes(value[1:p])
    if f & _FLAG_H:
        if p >= len(value) or p + 1 + value[p] > len(value):
            raise OSCOREError("OSCORE option: kid context truncated", _BAD_OPTION)
        s = value[p]
        ctx = bytes(value[p + 1:p + 1 + s])
        p += 1 + s
    if f & _FLAG_K:
        kid = bytes(value[p:])
    elif p != len(value):
        raise OSCOREError("OSCORE option: bytes after the last field", _BAD_OPTION)
    return piv, kid, ctx


class Context:
    # RFC 8613 §3.1: the Common, Sender and Recipient Contexts of one peer
    def __init__(self, sender_key, recipient_key, common_iv, sender_id, recipient_id,
                 id_context=None, alg=AES_CCM_16_64_128, sender_seq=0):
        kl, nl, self.tag_len = _alg(alg)
        if len(sender_key) != kl or len(recipient_key) != kl or len(common_iv) != nl:
            raise OSCOREError("key or Common IV length does not fit the algorithm")
        if len(sender_id) > nl - 6 or len(recipient_id) > nl - 6:
            raise OSCOREError("Sender/Recipient ID longer than %d bytes" % (nl - 6))
        self.alg = alg
        self.sender_key = bytes(sender_key)
        self.recipient_key = bytes(recipient_key)
        self.common_iv = bytes(common_iv)
        self.sender_id = bytes(sender_id)
        self.recipient_id = bytes(recipient_id)
        self.id_context = None if id_context is None else bytes(id_context)
        self.sender_seq = sender_seq
        self.on_seq = None
        self.seq_step = 64
        self.replay_top = -1  # highest Partial IV received; -1: none yet
        self.replay_bits = 0  # bit i set: replay_top - i was received

    @classmethod
    def from_edhoc(cls, d):
        # RFC 9528 App. A.1: the OSCORE input parameters EDHOC exports
        return derive(d["master_secret"], d.get("master_salt", b""), d["sender_id"],
                      d["recipient_id"], d.get("id_context"),
                      d.get("alg", AES_CCM_16_64_128), d.get("hkdf", SHA_256))

    def set_replay_floor(self, n):
        # requests with a Partial IV below n are rejected from now on
        self.replay_top = n - 1
        self.replay_bits = 0xFFFFFFFF


# RFC 8613 §3.2.1: Sender Key, Recipient Key, Common IV = HKDF(salt, IKM, info, L)
def derive(master_secret, master_salt, sender_id, recipient_id, id_context=None,
           alg=AES_CCM_16_64_128, hkdf=SHA_256):
    if hkdf != SHA_256 and hkdf != HKDF_SHA_256:
        raise OSCOREError("unsupported HKDF %r (HKDF SHA-256 only)" % (hkdf,))
    kl, nl, _ = _alg(alg)
    prk = crypto.hkdf_extract(master_salt or b"", master_secret)
    return Context(crypto.hkdf_expand(prk, kdf_info(sender_id, id_context, alg, "Key", kl), kl),
                   crypto.hkdf_expand(prk, kdf_info(recipient_id, id_context, alg, "Key", kl),
                                      kl),
                   crypto.hkdf_expand(prk, kdf_info(b"", id_context, alg, "IV", nl), nl),
                   sender_id, recipient_id, id_context, alg)


class RequestState:
    # §8: what both ends keep of a request to protect or verify its responses
    __slots__ = ("kid", "piv", "nonce", "observe", "used", "notif", "done")

    def __init__(self, kid, piv, nonce, observe):
        self.kid = kid
        self.piv = piv
        self.nonce = nonce
        self.observe = observe  # an Observe registration (inner Observe 0)
        self.used = False  # the request's nonce served a response already
        self.notif = -1  # client: Notification Number (§4.1.3.5.2), -1: none yet
        self.done = False  # client: the single response to a non-Observe request came


# RFC 8613 §8.1 step 3, §7.2.1, App. B.1.1: take the Sender Sequence Number
def _next_piv(ctx):
    s = ctx.sender_seq
    if s > MAX_SEQ:
        raise OSCOREError("Sender Sequence Number exhausted: a new context is needed",
                          0xA0)
    if ctx.on_seq is not None and s % ctx.seq_step == 0:
        ctx.on_seq(s)
    ctx.sender_seq = s + 1
    return piv_bytes(s)


# RFC 8613 §8.2 / §8.4 step 2: the one OSCORE option, decompressed
def _oscore_value(msg):
    v = msg.get_all(_OSCORE)
    if len(v) != 1:
        raise OSCOREError("not one OSCORE option" if v else "not an OSCORE message",
                          _BAD_OPTION)
    return decode_option(v[0])


# RFC 3986 §2.1: percent-decoding of a URI component
def _pct(s):
    if b"%" not in s:
        return bytes(s)
    out = bytearray()
    i = 0
    while i < len(s):
        if s[i] == 37:
            if i + 3 > len(s):
                raise OSCOREError("bad percent-encoding in Proxy-Uri")
            try:
                out.append(int(bytes(s[i + 1:i + 3]).decode(), 16))
            except ValueError:
                raise OSCOREError("bad percent-encoding in Proxy-Uri")
            i += 3
        else:
            out.append(s[i])
            i += 1
    return bytes(out)


# RFC 8613 §4.1.3.3, RFC 7252 §6.4: Proxy-Uri -> "scheme://authority", Uri-Path/Query
def _split_proxy_uri(uri):
    s = uri.find(b"://")
    if s <= 0 or b"#" in uri:
        raise OSCOREError("Proxy-Uri is not an absolute URI without fragment")
    q = uri.find(b"?")
    if q < 0:
        q = len(uri)
    p = uri.find(b"/", s + 3)
    if p < 0 or p > q:
        p = q
    inner = []
    if q - p > 1:
        for seg in uri[p + 1:q].split(b"/"):
            inner.append((_URI_PATH, _pct(seg)))
    if q < len(uri):
        for arg in uri[q + 1:].split(b"&"):
            inner.append((_URI_QUERY, _pct(arg)))
    return bytes(uri[:p]), inner


def _outer_u(n):
    # Figure 5: the options that are Class U only (never encrypted)
    return n == _URI_HOST or n == _URI_PORT or n == _PROXY_URI or n == _PROXY_SCHEME


# RFC 8613 §4.1, §4.2, §5.3: message -> (outer Class U options, plaintext, Observe value)
def _split(msg, request):
    # Observe goes both ways: inside with the request's value (§4.1.3.5.1), or empty in a
    # response (§4.1.3.5.2)
    outer = []
    inner = []
    observe = None
    for o in msg.options:
        n = o[0]
        if n == _OSCORE:
            raise OSCOREError("message already OSCORE-protected")
        if n == _PROXY_URI and request:
            base, more = _split_proxy_uri(o[1])
            outer.append((n, base))
            inner += more
        elif _outer_u(n):
            outer.append(o)
        else:
            if n == _OBSERVE:
                outer.append(o)
                observe = o[1]
                if not request:
                    o = (n, b"")
            inner.append(o)
    return outer, plaintext(msg.code, inner, msg.payload), observe


# RFC 8613 §8.1 / §8.3 steps 4-5, §6: the OSCORE message around the ciphertext
def _wrap(ctx, msg, code, outer, option, nonce_, state, pt):
    outer.append((_OSCORE, option))
    return coap.Message(code, msg.token, outer, crypto.aes_ccm_encrypt(
        ctx.sender_key, nonce_, pt, aad(ctx.alg, state.kid, state.piv), ctx.tag_len),
        msg.type, msg.mid)


# RFC 8613 §8.1: protecting the request
def protect_request(ctx, msg, kid_context=True):
    outer, pt, observe = _split(msg, True)
    piv = _next_piv(ctx)
    state = RequestState(ctx.sender_id, piv, nonce(ctx.common_iv, ctx.sender_id, piv),
                         observe is not None and coap.option_uint(observe) == 0)
    kc = kid_context  # True: the context's ID Context (if any); False: none; or bytes
    if kc is True:
        kc = ctx.id_context
    elif kc is False:
        kc = None
    return _wrap(ctx, msg, _POST if observe is None else _FETCH, outer,
                 encode_option(piv, ctx.sender_id, kc), state.nonce, state, pt), state


# RFC 8613 §8.2 steps 6-7 / §8.4 steps 5-6: decrypt, verify, rebuild the message
def _open(ctx, msg, nonce_, state):
    # no plaintext unless it verifies; the result has the outer Class U options and the
    # decrypted Code, options and payload
    ct = msg.payload
    if len(ct) <= ctx.tag_len:
        raise OSCOREError("Failed to decode COSE: ciphertext too short", _BAD_OPTION)
    try:
        pt = crypto.aes_ccm_decrypt(ctx.recipient_key, nonce_, ct,
                                    aad(ctx.alg, state.kid, state.piv), ctx.tag_len)
    except crypto.CryptoError:
        raise OSCOREError("Decryption failed", _BAD_REQUEST)
    try:
        opts, pos = coap.decode_options(pt, 1)
    except coap.CoAPError as e:
        raise OSCOREError("malformed inner options: %s" % e, _BAD_OPTION)
    m = coap.Message(pt[0], msg.token, None, b"", msg.type, msg.mid)
    if pos < len(pt):
        if pos + 1 == len(pt):
            raise OSCOREError("inner payload marker without payload", _BAD_OPTION)
        m.payload = bytes(pt[pos + 1:])
    for o in msg.options:
        if _outer_u(o[0]):
            m.options.append(o)
    for o in opts:
        if o[0] == _OSCORE:
            raise OSCOREError("nested OSCORE option", _BAD_OPTION)
        m.add(o[0], o[1])
    return m


# RFC 8613 §8.2: verifying the request (with the replay window of §7.4)
def unprotect_request(ctx, msg):
    piv, kid, kc = _oscore_value(msg)
    if piv is None or kid is None:
        raise OSCOREError("Failed to decode COSE: request without Partial IV or kid",
                          _BAD_OPTION)
    if kid != ctx.recipient_id or (kc is not None and kc != ctx.id_context):
        raise OSCOREError("Security context not found", _UNAUTHORIZED)
    seq = int.from_bytes(piv, "big")
    d = ctx.replay_top - seq  # §7.4: not received before, not older than the window
    if d >= WINDOW or (d >= 0 and (ctx.replay_bits >> d) & 1):
        raise OSCOREError("Replay detected", _UNAUTHORIZED)
    state = RequestState(kid, piv, nonce(ctx.common_iv, kid, piv), False)
    m = _open(ctx, msg, state.nonce, state)
    if d < 0:  # §8.2 step 6: the window moves only for a verified request
        ctx.replay_bits = ((ctx.replay_bits << -d) | 1) & 0xFFFFFFFF if -d < WINDOW else 1
        ctx.replay_top = seq
    else:
        ctx.replay_bits |= 1 << d
    obs = m.get(_OBSERVE)
    state.observe = obs is not None and coap.option_uint(obs) == 0
    return m, state


# RFC 8613 §8.3 (§8.3.1 for notifications): protecting the response
def protect_response(ctx, msg, state, new_piv=False):
    outer, pt, observe = _split(msg, False)
    if new_piv or state.used:  # the request's nonce serves one response only
        piv = _next_piv(ctx)
        nonce_ = nonce(ctx.common_iv, ctx.sender_id, piv)
    else:
        piv = None
        nonce_ = state.nonce
        state.used = True
    return _wrap(ctx, msg, _CHANGED if observe is None else _CONTENT, outer,
                 encode_option(piv), nonce_, state, pt)


# RFC 8613 §8.4 (§8.4.2, §7.4.1 for notifications): verifying the response
def unprotect_response(ctx, msg, state):
    piv, kid, kc = _oscore_value(msg)
    if (kid is not None and kid != ctx.recipient_id) or (kc is not None
                                                         and kc != ctx.id_context):
        raise OSCOREError("response from another security context", _UNAUTHORIZED)
    if state.done:
        raise OSCOREError("request answered already", _UNAUTHORIZED)
    m = _open(ctx, msg, state.nonce if piv is None else nonce(ctx.common_iv,
                                                              ctx.recipient_id, piv), state)
    if m.get(_OBSERVE) is None:
        state.done = True  # a single response per request (§7.4)
        return m
    if not state.observe:
        raise OSCOREError("Observe in a response to a request that did not register")
    if piv is None:  # at most one notification without Partial IV, the oldest of all
        if state.used or state.notif >= 0:
            raise OSCOREError("second notification without Partial IV", _UNAUTHORIZED)
        state.used = True
    else:
        seq = int.from_bytes(piv, "big")
        if seq <= state.notif:
            raise OSCOREError("notification replayed or older than the last", _UNAUTHORIZED)
        state.notif = seq
        # §4.1.3.5.2: Observe = the three least significant bytes of the Partial IV
        m.remove(_OBSERVE)
        m.add(_OBSERVE, coap.uint_option(seq & 0xFFFFFF))
    return m


# RFC 8613 §8.2 / §7.4: the unprotected error answer (Max-Age 0, diagnostic payload)
def error_response(msg, err):
    # (an ACK for a CON request; for a NON one the caller sets a fresh message ID)
    return coap.Message(getattr(err, "code", _BAD_REQUEST), msg.token, [(_MAX_AGE, b"")],
                        str(err).encode(), coap.ACK if msg.type == coap.CON else coap.NON,
                        msg.mid)
