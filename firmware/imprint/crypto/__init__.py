# imprint.crypto: the cryptographic primitives of the stack, one facade over pure-Python
# implementations and whatever natives a port registers (register("sha256", f), ...).
# Runs unchanged on MicroPython and CPython. The curve and cipher modules are imported on
# first use, so importing the facade costs little heap.
#
# Errors: a failed decryption, an invalid key or point raises CryptoError; a signature
# that does not verify (malformed included) makes *_verify return False.
import hashlib

try:
    from micropython import const
except ImportError:
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)


class CryptoError(ValueError):
    pass


# Natives a port registered: name -> function with the facade's signature, plus the
# building blocks "sha512" (data -> 64 B) and "aes_ecb_encrypt_block" (key, block16 -> 16 B).
_native = {}  # type: dict

_NAMES = (
    "sha256", "sha512", "hmac_sha256", "hkdf_extract", "hkdf_expand", "hkdf",
    "aes_ecb_encrypt_block", "aes_ccm_encrypt", "aes_ccm_decrypt",
    "aes_siv_encrypt", "aes_siv_decrypt", "x25519", "x25519_base",
    "ed25519_public", "ed25519_sign", "ed25519_verify",
    "p256_keypair", "p256_public", "p256_decompress", "p256_ecdh", "p256_sign",
    "p256_verify", "random_bytes",
)


def register(name, fn):
    # A port's native implementation of `name` (one of _NAMES); None removes it again.
    if name not in _NAMES:
        raise ValueError("unknown primitive: %s" % name)
    if fn is None:
        _native.pop(name, None)
    else:
        _native[name] = fn


def _bytes(x, what):
    if not isinstance(x, (bytes, bytearray, memoryview)):
        raise TypeError("%s must be bytes" % what)
    return bytes(x)


# FIPS 180-4 §6.2: SHA-256 (hashlib's, present on every MicroPython port)
def sha256(data):
    f = _native.get("sha256")
    if f is not None:
        return f(data)
    return hashlib.sha256(data).digest()


def _sha256_2(a, b):
    # SHA-256(a || b) without concatenating when hashlib is used
    f = _native.get("sha256")
    if f is not None:
        return f(bytes(a) + bytes(b))
    h = hashlib.sha256(a)
    h.update(b)
    return h.digest()


# FIPS 180-4 §6.4: SHA-512 (for Ed25519): a native, hashlib's where it has one, else pure
def _sha512(data):
    f = _native.get("sha512")
    if f is not None:
        return f(data)
    if _hashlib512 is not None:
        return _hashlib512(data).digest()
    from .sha512 import sha512
    return sha512(data)


_hashlib512 = getattr(hashlib, "sha512", None)

_IPAD = const(0x36363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636)
_OPAD = const(0x5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C5C)


# RFC 2104 / FIPS 198-1: HMAC-SHA-256
def hmac_sha256(key, data):
    f = _native.get("hmac_sha256")
    if f is not None:
        return f(key, data)
    if len(key) > 64:
        key = sha256(key)
    k = int.from_bytes(bytes(key) + bytes(64 - len(key)), "big")
    inner = _sha256_2((k ^ _IPAD).to_bytes(64, "big"), data)
    return _sha256_2((k ^ _OPAD).to_bytes(64, "big"), inner)


# RFC 5869 §2.2: HKDF-Extract with SHA-256 (an empty salt is HashLen zero bytes)
def hkdf_extract(salt, ikm):
    f = _native.get("hkdf_extract")
    if f is not None:
        return f(salt, ikm)
    if not salt:
        salt = bytes(32)
    return hmac_sha256(salt, ikm)


# RFC 5869 §2.3: HKDF-Expand with SHA-256, length <= 255 * 32
def hkdf_expand(prk, info, length):
    f = _native.get("hkdf_expand")
    if f is not None:
        return f(prk, info, length)
    if length < 0 or length > 255 * 32:
        raise CryptoError("HKDF length out of range")
    info = bytes(info)
    out = b""
    t = b""
    i = 1
    while len(out) < length:
        t = hmac_sha256(prk, t + info + bytes((i,)))
        out += t
        i += 1
    return out[:length]


# RFC 5869 §2: HKDF = Expand(Extract(salt, IKM), info, L)
def hkdf(ikm, salt, info, length):
    f = _native.get("hkdf")
    if f is not None:
        return f(ikm, salt, info, length)
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


# Constant-time comparison (time depends on the lengths only)
def equal(a, b):
    if len(a) != len(b):
        return False
    acc = 0
    for i in range(len(a)):
        acc |= a[i] ^ b[i]
    return acc == 0


# Random bytes from the port's CSPRNG: a registered native, else os.urandom
def random_bytes(n):
    f = _native.get("random_bytes")
    if f is not None:
        out = f(n)
    else:
        try:
            import os
            out = os.urandom(n)
        except (ImportError, AttributeError):
            raise CryptoError("no random source: register('random_bytes', fn)")
    if len(out) != n:
        raise CryptoError("random source returned %d bytes, not %d" % (len(out), n))
    return out


# --- AES (FIPS 197) and its modes: CCM (RFC 3610), CMAC (RFC 4493), SIV (RFC 5297) ---

def _aes(key):
    # The block cipher under `key` as a function block16 -> 16 B: the port's, else pure.
    f = _native.get("aes_ecb_encrypt_block")
    if f is not None:
        return lambda block: f(key, block)
    from .aes import cipher
    return cipher(key)


def _buf(x):
    # a message for the cipher modes: any buffer as it is (read only; no copy of a large
    # payload), anything else as bytes
    if isinstance(x, (bytes, bytearray, memoryview)):
        return x
    return bytes(x)


def _check_aes_key(key, sizes):
    if len(key) not in sizes:
        raise CryptoError("AES key of %d bytes" % len(key))


def aes_prepare():
    # Build the pure-Python AES tables (4 x 1 KB, kept) now unless a native cipher is
    # registered: a protocol calls this before its big-integer work, which leaves the heap
    # fragmented, so that the 1 KB pieces come from a heap that still has them.
    n = _native
    if n.get("aes_ecb_encrypt_block") is None and not ("aes_ccm_encrypt" in n and "aes_ccm_decrypt" in n):
        from .aes import _tables
        _tables()


# RFC 3610 §2.2-2.3: CCM authenticated encryption -> ciphertext || tag
def aes_ccm_encrypt(key, nonce, plaintext, aad=b"", tag_len=8):
    f = _native.get("aes_ccm_encrypt")
    if f is not None:
        return f(key, nonce, plaintext, aad, tag_len)
    _check_aes_key(key, (16, 24, 32))
    from .aes import ccm_encrypt
    return ccm_encrypt(_aes(bytes(key)), bytes(nonce), _buf(plaintext), bytes(aad), tag_len)


# RFC 3610 §2.5: CCM decryption; raises CryptoError (no plaintext) unless the tag verifies
def aes_ccm_decrypt(key, nonce, data, aad=b"", tag_len=8):
    f = _native.get("aes_ccm_decrypt")
    if f is not None:
        return f(key, nonce, data, aad, tag_len)
    _check_aes_key(key, (16, 24, 32))
    from .aes import ccm_decrypt
    return ccm_decrypt(_aes(bytes(key)), bytes(nonce), _buf(data), bytes(aad), tag_len)


# RFC 5297 §2.6: SIV encryption (key: 32, 48 or 64 bytes = K1 for S2V || K2 for CTR)
def aes_siv_encrypt(key, plaintext, ads=()):
    f = _native.get("aes_siv_encrypt")
    if f is not None:
        return f(key, plaintext, ads)
    _check_aes_key(key, (32, 48, 64))
    from .aes import siv_encrypt
    h = len(key) // 2
    key = bytes(key)
    return siv_encrypt(_aes(key[:h]), _aes(key[h:]), bytes(plaintext), ads)


# RFC 5297 §2.7: SIV decryption; raises CryptoError (no plaintext) unless V verifies
def aes_siv_decrypt(key, data, ads=()):
    f = _native.get("aes_siv_decrypt")
    if f is not None:
        return f(key, data, ads)
    _check_aes_key(key, (32, 48, 64))
    from .aes import siv_decrypt
    h = len(key) // 2
    key = bytes(key)
    return siv_decrypt(_aes(key[:h]), _aes(key[h:]), bytes(data), ads)


# --- Curve25519: X25519 (RFC 7748) and Ed25519 (RFC 8032) ---

# RFC 7748 §5: X25519(k, u); an all-zero result (small-order u) raises CryptoError
def x25519(scalar, u):
    f = _native.get("x25519")
    if f is not None:
        return f(scalar, u)
    from .curve25519 import x25519 as g
    return g(_bytes(scalar, "scalar"), _bytes(u, "u"))


# RFC 7748 §6.1: X25519(k, 9), the public key of k
def x25519_base(scalar):
    f = _native.get("x25519_base")
    if f is not None:
        return f(scalar)
    from .curve25519 import x25519_base as g
    return g(_bytes(scalar, "scalar"))


# RFC 8032 §5.1.5: the public key of a 32-byte seed
def ed25519_public(seed):
    f = _native.get("ed25519_public")
    if f is not None:
        return f(seed)
    from .ed25519 import public
    return public(_bytes(seed, "seed"), _sha512)


# RFC 8032 §5.1.6: a 64-byte signature of msg
def ed25519_sign(seed, msg):
    f = _native.get("ed25519_sign")
    if f is not None:
        return f(seed, msg)
    from .ed25519 import sign
    return sign(_bytes(seed, "seed"), _bytes(msg, "msg"), _sha512)


# RFC 8032 §5.1.7: True iff sig is a valid signature of msg under public
def ed25519_verify(public, msg, sig):
    f = _native.get("ed25519_verify")
    if f is not None:
        return f(public, msg, sig)
    from .ed25519 import verify
    return verify(_bytes(public, "public"), _bytes(msg, "msg"), _bytes(sig, "sig"), _sha512)


# --- NIST P-256 (FIPS 186-4, SEC 1): ECDH and ECDSA with RFC 6979 nonces ---

# SEC 1 §3.2.1: a fresh key pair (private 32 B, public 65 B uncompressed)
def p256_keypair():
    f = _native.get("p256_keypair")
    if f is not None:
        return f()
    from .p256 import scalar_below_n
    d = scalar_below_n(random_bytes)
    return d, p256_public(d)


# SEC 1 §3.2.1: Q = dG as 65-byte uncompressed point
def p256_public(private):
    f = _native.get("p256_public")
    if f is not None:
        return f(private)
    from .p256 import public
    return public(_bytes(private, "private"))


# SEC 1 §2.3.4: a compressed point (02/03 || x) -> uncompressed (04 || x || y), validated
def p256_decompress(point33):
    f = _native.get("p256_decompress")
    if f is not None:
        return f(point33)
    from .p256 import decompress
    return decompress(_bytes(point33, "point"))


# SEC 1 §3.3.1: ECDH primitive, the shared x-coordinate (32 B); the peer point is validated
def p256_ecdh(private, peer_public):
    f = _native.get("p256_ecdh")
    if f is not None:
        return f(private, peer_public)
    from .p256 import ecdh
    return ecdh(_bytes(private, "private"), _bytes(peer_public, "public"))


# FIPS 186-4 §6.4 with RFC 6979 §3.2 nonces: r || s (64 B) over SHA-256(msg)
def p256_sign(private, msg):
    f = _native.get("p256_sign")
    if f is not None:
        return f(private, msg)
    from .p256 import sign
    return sign(_bytes(private, "private"), sha256(msg), hmac_sha256)


# FIPS 186-4 §6.4.2: True iff sig (r || s) is valid for SHA-256(msg) under public
def p256_verify(public, msg, sig):
    f = _native.get("p256_verify")
    if f is not None:
        return f(public, msg, sig)
    from .p256 import verify
    return verify(_bytes(public, "public"), sha256(msg), _bytes(sig, "sig"))
