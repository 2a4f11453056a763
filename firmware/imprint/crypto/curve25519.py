# X25519 (RFC 7748 §5) in pure Python: the Montgomery ladder on Curve25519 for any u, and
# the fixed-base case through the Ed25519 comb and the birational map of RFC 7748 §4.1.
from . import CryptoError
from .modinv import inv
try:
    from micropython import const
except ImportError:
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

_P = const(0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFED)
_MASK255 = const(0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF)
_A24 = const(121665)  # (486662 - 2) / 4


# RFC 7748 §5: decodeScalar25519 (clamping)
def _scalar(k):
    if len(k) != 32:
        raise CryptoError("X25519 scalar must be 32 bytes")
    return (int.from_bytes(k, "little") & (_MASK255 - 7)) | (1 << 254)


# RFC 7748 §5: the Montgomery ladder, x-coordinate only. cswap is a selection by index
# (the same operations whatever the bits are); the bits come from the scalar's bytes.
def _ladder(k, u):
    P = _P
    x1 = u
    x2 = 1
    z2 = 0
    x3 = u
    z3 = 1
    swap = 0
    kb = k.to_bytes(32, "little")
    j = 6  # bit 254 first (bit 255 is clear)
    for i in range(31, -1, -1):
        byte = kb[i]
        while j >= 0:
            kt = (byte >> j) & 1
            j -= 1
            s = (swap ^ kt) << 1
            swap = kt
            t = (x2, z2, x3, z3)
            x2 = t[s]
            z2 = t[s + 1]
            x3 = t[2 - s]
            z3 = t[3 - s]
            a = x2 + z2
            b = x2 - z2
            aa = a * a % P
            bb = b * b % P
            e = aa - bb
            c = x3 + z3
            d = x3 - z3
            da = d * a
            cb = c * b
            x3 = (da + cb) % P
            x3 = x3 * x3 % P
            z3 = (da - cb) % P
            z3 = x1 * (z3 * z3 % P) % P
            x2 = aa * bb % P
            z2 = e * (aa + _A24 * e) % P
        j = 7
    s = swap << 1
    t = (x2, z2, x3, z3)
    return t[s] * inv(t[s + 1], P) % P


# RFC 7748 §5: X25519(k, u); the top bit of u is masked, non-canonical u accepted (mod p).
# An all-zero output (u of small order) raises CryptoError (RFC 7748 §6.1 check).
def x25519(k, u):
    if len(u) != 32:
        raise CryptoError("X25519 u-coordinate must be 32 bytes")
    r = _ladder(_scalar(k), (int.from_bytes(u, "little") & _MASK255) % _P)
    if r == 0:
        raise CryptoError("X25519 shared secret is all zero")
    return r.to_bytes(32, "little")


# RFC 7748 §6.1: X25519(k, 9), computed as u = (Z + Y) / (Z - Y) of [k]B on edwards25519
def x25519_base(k):
    from .ed25519 import base_mul
    X, Y, Z, T = base_mul(_scalar(k))
    P = _P
    return ((Z + Y) * inv(Z - Y, P) % P).to_bytes(32, "little")
