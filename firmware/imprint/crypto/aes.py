# AES (FIPS 197) block encryption in pure Python and the modes built on it:
# CTR, CCM (RFC 3610), CMAC (RFC 4493) and SIV (RFC 5297). The modes take the cipher as a
# function block16 -> 16 B, so a port's native AES (esp32 cryptolib) slots in unchanged.
import struct
from array import array

from . import CryptoError

try:
    from micropython import const
except ImportError:
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

# FIPS 197 §5.1.1 Figure 7: the S-box
_SBOX = (
    b"\x63\x7c\x77\x7b\xf2\x6b\x6f\xc5\x30\x01\x67\x2b\xfe\xd7\xab\x76"
    b"\xca\x82\xc9\x7d\xfa\x59\x47\xf0\xad\xd4\xa2\xaf\x9c\xa4\x72\xc0"
    b"\xb7\xfd\x93\x26\x36\x3f\xf7\xcc\x34\xa5\xe5\xf1\x71\xd8\x31\x15"
    b"\x04\xc7\x23\xc3\x18\x96\x05\x9a\x07\x12\x80\xe2\xeb\x27\xb2\x75"
    b"\x09\x83\x2c\x1a\x1b\x6e\x5a\xa0\x52\x3b\xd6\xb3\x29\xe3\x2f\x84"
    b"\x53\xd1\x00\xed\x20\xfc\xb1\x5b\x6a\xcb\xbe\x39\x4a\x4c\x58\xcf"
    b"\xd0\xef\xaa\xfb\x43\x4d\x33\x85\x45\xf9\x02\x7f\x50\x3c\x9f\xa8"
    b"\x51\xa3\x40\x8f\x92\x9d\x38\xf5\xbc\xb6\xda\x21\x10\xff\xf3\xd2"
    b"\xcd\x0c\x13\xec\x5f\x97\x44\x17\xc4\xa7\x7e\x3d\x64\x5d\x19\x73"
    b"\x60\x81\x4f\xdc\x22\x2a\x90\x88\x46\xee\xb8\x14\xde\x5e\x0b\xdb"
    b"\xe0\x32\x3a\x0a\x49\x06\x24\x5c\xc2\xd3\xac\x62\x91\x95\xe4\x79"
    b"\xe7\xc8\x37\x6d\x8d\xd5\x4e\xa9\x6c\x56\xf4\xea\x65\x7a\xae\x08"
    b"\xba\x78\x25\x2e\x1c\xa6\xb4\xc6\xe8\xdd\x74\x1f\x4b\xbd\x8b\x8a"
    b"\x70\x3e\xb5\x66\x48\x03\xf6\x0e\x61\x35\x57\xb9\x86\xc1\x1d\x9e"
    b"\xe1\xf8\x98\x11\x69\xd9\x8e\x94\x9b\x1e\x87\xe9\xce\x55\x28\xdf"
    b"\x8c\xa1\x89\x0d\xbf\xe6\x42\x68\x41\x99\x2d\x0f\xb0\x54\xbb\x16"
)


def _xtime(a):
    # FIPS 197 §4.2.1: multiplication by x in GF(2^8)
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a


_T = None


def _tables():
    # FIPS 197 §5.1.1-5.1.3 folded into four 32-bit tables: Tr[x] is the MixColumns column
    # of S[x] entering at row r (the classic T-table form of SubBytes/ShiftRows/MixColumns).
    # Built on first use (4 KiB), so a port with a native AES never builds them.
    global _T
    if _T is None:
        # array(range(256)) is sized once from len(range): no 1 KB list on the way
        t0 = array("I", range(256))
        t1 = array("I", range(256))
        t2 = array("I", range(256))
        t3 = array("I", range(256))
        S = _SBOX
        for x in range(256):
            s = S[x]
            s2 = _xtime(s)
            s3 = s2 ^ s
            t0[x] = (s2 << 24) | (s << 16) | (s << 8) | s3
            t1[x] = (s3 << 24) | (s2 << 16) | (s << 8) | s
            t2[x] = (s << 24) | (s3 << 16) | (s2 << 8) | s
            t3[x] = (s << 24) | (s << 16) | (s3 << 8) | s2
        _T = (t0, t1, t2, t3)
    return _T


# FIPS 197 §5.2: key expansion (Nk = 4, 6, 8 words; Nr = 10, 12, 14 rounds)
def expand_key(key):
    nk = len(key) // 4
    if nk not in (4, 6, 8) or len(key) & 3:
        raise CryptoError("AES key of %d bytes" % len(key))
    S = _SBOX
    w = list(struct.unpack(">%dI" % nk, key))
    rcon = 1
    for i in range(nk, 4 * (nk + 7)):
        t = w[i - 1]
        if i % nk == 0:
            t = ((S[(t >> 16) & 255] << 24) | (S[(t >> 8) & 255] << 16)
                 | (S[t & 255] << 8) | S[t >> 24]) ^ (rcon << 24)
            rcon = _xtime(rcon)
        elif nk == 8 and i % nk == 4:
            t = ((S[t >> 24] << 24) | (S[(t >> 16) & 255] << 16)
                 | (S[(t >> 8) & 255] << 8) | S[t & 255])
        w.append(w[i - nk] ^ t)
    return w


# FIPS 197 §5.1: the cipher, one 16-byte block under the expanded key w
def encrypt_block(w, block):
    T0, T1, T2, T3 = _T or _tables()
    s0, s1, s2, s3 = struct.unpack(">4I", block)
    s0 ^= w[0]
    s1 ^= w[1]
    s2 ^= w[2]
    s3 ^= w[3]
    last = len(w) - 4
    k = 4
    while k < last:
        t0 = T0[s0 >> 24] ^ T1[(s1 >> 16) & 255] ^ T2[(s2 >> 8) & 255] ^ T3[s3 & 255] ^ w[k]
        t1 = T0[s1 >> 24] ^ T1[(s2 >> 16) & 255] ^ T2[(s3 >> 8) & 255] ^ T3[s0 & 255] ^ w[k + 1]
        t2 = T0[s2 >> 24] ^ T1[(s3 >> 16) & 255] ^ T2[(s0 >> 8) & 255] ^ T3[s1 & 255] ^ w[k + 2]
        s3 = T0[s3 >> 24] ^ T1[(s0 >> 16) & 255] ^ T2[(s1 >> 8) & 255] ^ T3[s2 & 255] ^ w[k + 3]
        s0 = t0
        s1 = t1
        s2 = t2
        k += 4
    # FIPS 197 §5.1: the final round has no MixColumns
    S = _SBOX
    return struct.pack(
        ">4I",
        ((S[s0 >> 24] << 24) | (S[(s1 >> 16) & 255] << 16) | (S[(s2 >> 8) & 255] << 8)
         | S[s3 & 255]) ^ w[last],
        ((S[s1 >> 24] << 24) | (S[(s2 >> 16) & 255] << 16) | (S[(s3 >> 8) & 255] << 8)
         | S[s0 & 255]) ^ w[last + 1],
        ((S[s2 >> 24] << 24) | (S[(s3 >> 16) & 255] << 16) | (S[(s0 >> 8) & 255] << 8)
         | S[s1 & 255]) ^ w[last + 2],
        ((S[s3 >> 24] << 24) | (S[(s0 >> 16) & 255] << 16) | (S[(s1 >> 8) & 255] << 8)
         | S[s2 & 255]) ^ w[last + 3])


def cipher(key):
    # The pure block cipher under key, as a function block16 -> 16 B
    w = expand_key(key)
    return lambda block: encrypt_block(w, block)


_M128 = const(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF)


# NIST SP 800-38A §6.5: CTR keystream XOR data, counter block = ctr (big-endian 128 bits)
# incremented modulo 2^128 per block. Block by block into out (a bytearray of len(data)
# made here unless given, which may be longer: data fills its start), no big intermediates.
def _ctr(enc, ctr, data, out=None):
    n = len(data)
    if out is None:
        out = bytearray(n)
    mv = memoryview(data)
    M = _M128
    full = n & ~15
    for i in range(0, full, 16):
        ks = enc(ctr.to_bytes(16, "big"))
        out[i:i + 16] = (int.from_bytes(ks, "big") ^ int.from_bytes(mv[i:i + 16], "big")).to_bytes(16, "big")
        ctr = (ctr + 1) & M
    if n > full:
        ks = enc(ctr.to_bytes(16, "big"))
        for i in range(full, n):
            out[i] = ks[i - full] ^ mv[i]
    return out


# --- CCM, RFC 3610 §2 ---

def _cbc(enc, x, data):
    # CBC-MAC state x carried on over data, zero-padded to whole blocks (no copy of data)
    n = len(data)
    mv = memoryview(data)
    full = n & ~15
    for i in range(0, full, 16):
        x = int.from_bytes(enc((x ^ int.from_bytes(mv[i:i + 16], "big")).to_bytes(16, "big")), "big")
    if n & 15:
        last = int.from_bytes(bytes(mv[full:]) + bytes(16 - (n & 15)), "big")
        x = int.from_bytes(enc((x ^ last).to_bytes(16, "big")), "big")
    return x


def _ccm_mac(enc, nonce, data, aad, tag_len):
    # RFC 3610 §2.2: CBC-MAC over B_0, the encoded l(a) || a (zero-padded) and the message
    # (zero-padded), block by block without joining them into one buffer
    q = 15 - len(nonce)
    flags = (64 if aad else 0) | (((tag_len - 2) // 2) << 3) | (q - 1)
    x = _cbc(enc, 0, bytes((flags,)) + nonce + len(data).to_bytes(q, "big"))
    la = len(aad)
    if la:
        if la < 0xFF00:
            head = la.to_bytes(2, "big")
        elif la < 0x100000000:
            head = b"\xff\xfe" + la.to_bytes(4, "big")
        else:
            head = b"\xff\xff" + la.to_bytes(8, "big")
        k = 16 - len(head)
        x = _cbc(enc, x, head + aad[:k])
        if la > k:
            x = _cbc(enc, x, memoryview(aad)[k:])
    return _cbc(enc, x, data)


def _ccm_check(nonce, tag_len, n):
    q = 15 - len(nonce)
    if q < 2 or q > 8:
        raise CryptoError("CCM nonce must be 7..13 bytes")
    if tag_len < 4 or tag_len > 16 or tag_len & 1:
        raise CryptoError("CCM tag length must be 4, 6, ..., 16")
    if q < 8 and n >> (8 * q):
        raise CryptoError("CCM message too long for the nonce")
    return q


def ccm_encrypt(enc, nonce, plaintext, aad, tag_len):
    q = _ccm_check(nonce, tag_len, len(plaintext))
    t = _ccm_mac(enc, nonce, plaintext, aad, tag_len)
    # RFC 3610 §2.3: A_i = flags(L') || nonce || i; S_0 masks the tag, S_1.. the message
    a0 = int.from_bytes(bytes((q - 1,)) + nonce + bytes(q), "big")
    s0 = int.from_bytes(enc(a0.to_bytes(16, "big")), "big")
    n = len(plaintext)
    out = bytearray(n + tag_len)
    out[n:] = ((t ^ s0) >> (8 * (16 - tag_len))).to_bytes(tag_len, "big")
    return bytes(_ctr(enc, a0 + 1, plaintext, out))


def ccm_decrypt(enc, nonce, data, aad, tag_len):
    n = len(data) - tag_len
    if n < 0:
        raise CryptoError("CCM input shorter than the tag")
    q = _ccm_check(nonce, tag_len, n)
    # RFC 3610 §2.5: decrypt, recompute the tag, release nothing unless they match
    a0 = int.from_bytes(bytes((q - 1,)) + nonce + bytes(q), "big")
    plaintext = bytes(_ctr(enc, a0 + 1, memoryview(data)[:n]))
    t = _ccm_mac(enc, nonce, plaintext, aad, tag_len)
    s0 = int.from_bytes(enc(a0.to_bytes(16, "big")), "big")
    expected = ((t ^ s0) >> (8 * (16 - tag_len))).to_bytes(tag_len, "big")
    if not _equal(expected, memoryview(data)[n:]):
        raise CryptoError("CCM authentication failed")
    return plaintext


def _equal(a, b):
    acc = len(a) ^ len(b)
    for i in range(min(len(a), len(b))):
        acc |= a[i] ^ b[i]
    return acc == 0


# --- CMAC, RFC 4493 ---

def _dbl(x):
    # RFC 4493 §2.3 / RFC 5297 §2.3: multiplication by x in GF(2^128), R = 0x87
    x <<= 1
    return (x ^ 0x87) & _M128 if x >> 128 else x


# RFC 4493 §2.4: AES-CMAC(K, M) as a 128-bit integer
def _cmac(enc, msg, k1=None):
    if k1 is None:
        k1 = _dbl(int.from_bytes(enc(bytes(16)), "big"))
    n = len(msg)
    mv = memoryview(msg)
    x = 0
    full = n - 16 if n and not n & 15 else n - (n & 15)
    for i in range(0, full, 16):
        x = int.from_bytes(enc((x ^ int.from_bytes(mv[i:i + 16], "big")).to_bytes(16, "big")), "big")
    last = bytes(mv[full:])
    if len(last) == 16:
        m = int.from_bytes(last, "big") ^ k1
    else:
        m = int.from_bytes(last + b"\x80" + bytes(15 - len(last)), "big") ^ _dbl(k1)
    return int.from_bytes(enc((x ^ m).to_bytes(16, "big")), "big")


def cmac(enc, msg):
    return _cmac(enc, bytes(msg)).to_bytes(16, "big")


# --- SIV, RFC 5297 ---

# RFC 5297 §2.4: S2V(K, S1, ..., Sn) with CMAC, as a 128-bit integer
def _s2v(enc, ads, plaintext):
    if len(ads) > 126:
        raise CryptoError("SIV takes at most 126 associated data items")
    k1 = _dbl(int.from_bytes(enc(bytes(16)), "big"))
    d = _cmac(enc, bytes(16), k1)
    for ad in ads:
        d = _dbl(d) ^ _cmac(enc, bytes(ad), k1)
    n = len(plaintext)
    if n >= 16:
        t = plaintext[:n - 16] + (int.from_bytes(plaintext[n - 16:], "big") ^ d).to_bytes(16, "big")
    else:
        t = (_dbl(d) ^ int.from_bytes(plaintext + b"\x80" + bytes(15 - n), "big")).to_bytes(16, "big")
    return _cmac(enc, t, k1)


# RFC 5297 §2.5: Q = V with bits 63 and 31 cleared
_CLEAR = const(0xFFFFFFFFFFFFFFFF7FFFFFFF7FFFFFFF)


# RFC 5297 §2.6: SIV-encrypt -> V || C
def siv_encrypt(enc1, enc2, plaintext, ads):
    v = _s2v(enc1, ads, plaintext)
    out = bytearray(16 + len(plaintext))
    out[:16] = v.to_bytes(16, "big")
    _ctr(enc2, v & _CLEAR, plaintext, memoryview(out)[16:])
    return bytes(out)


# RFC 5297 §2.7: SIV-decrypt; raises CryptoError unless S2V of the result equals V
def siv_decrypt(enc1, enc2, data, ads):
    if len(data) < 16:
        raise CryptoError("SIV input shorter than the synthetic IV")
    v = data[:16]
    plaintext = bytes(_ctr(enc2, int.from_bytes(v, "big") & _CLEAR, memoryview(data)[16:]))
    t = _s2v(enc1, ads, plaintext).to_bytes(16, "big")
    if not _equal(t, v):
        raise CryptoError("SIV authentication failed")
    return plaintext
