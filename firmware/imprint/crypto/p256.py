# NIST P-256 (FIPS 186-4 §D.1.2.3, SEC 2 §2.4.2 secp256r1) in pure Python: ECDH
# (SEC 1 §3.3.1) and ECDSA (FIPS 186-4 §6.4) with RFC 6979 deterministic nonces.
# Points in Jacobian coordinates (x = X/Z^2, y = Y/Z^3; Z = 0 is the point at infinity).
# Secret scalars go through a fixed sequence of doublings and additions (signed 4-bit
# windows, where a zero digit costs a discarded addition; for G a signed comb, whose digits
# are never zero): constant-ish, as far as Python integers allow. Every received point is
# checked to lie on the curve.
from . import CryptoError
from .modinv import inv
try:
    from micropython import const
except ImportError:
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

# FIPS 186-4 §D.1.2.3: the curve y^2 = x^3 - 3x + b over GF(p), base point G of order n
_P = const(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF)
_N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)
_B = const(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)
_GX = const(0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296)
_M256 = const((1 << 256) - 1)
_GY = const(0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

# The comb, with signed digits: a scalar k is recoded as m = (k + 2^258 - 1) / 2 mod n, so
# k = sum (2 m_i - 1) 2^i (mod n) over i < 258, every digit +-1. 6 teeth 43 bits apart
# cover the 258 bits; a column's value sum(+-2^(43 t) G) is +-entry e, where entry e (0..31)
# is 2^215 G + sum((2 e_t - 1) 2^(43 t) G for t < 5), affine x || y, 32 bytes each
# big-endian (none is infinity). No column is zero: 42 doublings and 42 additions for any k.
# Checked against the point arithmetic by tests/device/test_crypto_tables.py.
_SPACING = const(43)
# m = k (n + 1) / 2 + (2^258 - 1) (n + 1) / 2 mod n
_HALF = const(0x7FFFFFFF800000007FFFFFFFFFFFFFFFDE737D56D38BCF4279DCE5617E3192A9)
_OFFSET = const(0x800000017FFFFFFE800000000000000064A587FB855C923892694FDB856B4806)
# Gathers bits 0, 43, 86, 129, 172, 215 of an integer into bits 210..215 (see _comb_index).
_SPREAD = const(0x800000000010000000000200000000004000000000080000000001)
_GATHER = const(0x40000000001000000000040000000001000000000040000000001)
_COMB = (
    b"\x16\xe4\xab\xe6\x0c\x4b\x18\xa4\x76\xfd\xab\x0d\xb5\x9c\x1a\xc3"
    b"\x76\x78\x55\xb4\x11\x8b\xe0\x11\x3b\xd0\x4b\xb6\x79\xf1\x95\x2d"
    b"\x2c\xb9\x9c\xfc\x85\x06\x75\xe8\xfb\x8d\xb5\x8e\xc8\xc2\xc2\x16"
    b"\xc1\xfb\x57\x74\x0f\xb8\xf7\x54\xc4\x71\x63\x79\xd3\xa5\xaf\x5d"
    b"\xf0\x0e\x43\x39\x63\x4a\x1d\x28\xa5\xd1\x41\xbf\xc2\x64\x42\x3c"
    b"\xf2\x5f\x7c\xbc\x15\x54\xc3\xd0\xc8\x03\xd6\x06\x09\x0d\x09\x2a"
    b"\x50\x13\xe1\xe0\x7d\xb3\x42\x7f\xa6\xe8\x4f\x04\x8a\x55\x9d\xfb"
    b"\x89\x9c\x7c\xbe\x14\xda\x41\x63\x04\x0f\x07\x52\xcc\x47\xc9\xba"
    b"\x79\xe3\xeb\x10\x41\x71\x23\x15\x34\xb5\x64\x2e\xc6\x51\xc5\x2a"
    b"\xcc\x67\xd2\x05\xb1\x6b\x5a\x47\x6f\xbd\x84\xf4\x3e\x93\x05\x76"
    b"\xc6\xf8\x99\x0c\x15\x23\x53\x4a\x11\x22\xf0\x91\x8f\xa9\xa8\x73"
    b"\x09\x66\xc5\x3d\x41\x59\x73\x86\x2d\xa5\x6b\x73\x09\xf8\x7a\x59"
    b"\x70\x8b\xb8\xf8\x51\xfe\x7b\x8e\x6f\x85\x4b\x3d\x9a\x68\x9e\xf4"
    b"\xf3\xc4\xb3\xb0\x06\x04\x88\x1c\xdc\x52\x94\x5c\x4b\x2c\x7c\xb5"
    b"\x06\xda\x7a\xee\x3b\xcc\x6c\x4f\xa7\xcb\x53\xb1\x9b\x53\x38\x6c"
    b"\x6b\x05\xef\xd1\xd7\x3c\x18\x96\x1c\xf4\x68\xff\xe8\x7c\x90\xbc"
    b"\x6b\x9b\x39\x19\xb2\x9c\x56\xef\xe4\x9d\xa1\x8c\x79\x4b\x55\x72"
    b"\x34\xe6\xea\x55\x53\xa1\xca\xbc\x15\x30\xc2\x39\xcf\x72\x5d\x71"
    b"\x87\xe1\xf0\xee\xc3\xe2\xdd\xfa\x64\x55\xce\x06\x90\x3a\x14\xae"
    b"\x0f\x87\x8d\x87\x53\x50\xc8\x8d\x9c\xd2\x8b\x3f\x21\x8e\x74\x0a"
    b"\xa1\x8a\xda\x01\xb4\x59\xf2\x8e\x93\xb3\x64\xaa\xaf\x7b\xc5\x2d"
    b"\x6e\x03\xd1\x30\x5d\x7a\xfa\x38\x74\x7e\x98\x45\x00\x72\x64\xfe"
    b"\x15\x9a\x4c\xcc\x8d\x26\xdb\xec\xaa\xa8\xab\xb0\x28\xce\x1e\xe1"
    b"\x47\xbe\x44\x9a\x76\x8f\x28\x11\x24\x65\xad\x54\x46\xb5\x98\x86"
    b"\x4b\xaf\x4d\xf8\xea\x79\x37\x7b\xa2\x35\xa2\x61\x09\xe3\x78\x7c"
    b"\xc8\x44\x49\xf2\x3e\x57\x60\xdc\xe3\xac\x0e\xb9\x01\x18\xe5\x4b"
    b"\x72\x1d\x66\x4a\x90\x8c\x70\xb9\xac\xfe\x90\xec\x44\xdc\x9a\xe3"
    b"\x07\x6b\x24\x5d\x49\xf0\xe8\xf0\x8d\x9d\x8d\xc4\x78\x7b\xa5\x63"
    b"\x6f\x08\xb1\x86\x1f\xff\x9e\x25\xf9\x69\xce\x2b\xc6\x4d\x7f\x36"
    b"\x65\xe5\x61\x20\xda\xea\x05\xac\x23\x44\x5d\x3f\xc2\xe8\x59\xfb"
    b"\xa9\x40\x1b\xb3\x3c\xd3\xdb\x1a\xc1\xe3\x1a\x2f\x05\xcf\xa5\x0b"
    b"\x1d\x0a\x0d\x9f\x83\x3c\xdd\xb0\xcf\x51\xe9\x28\xae\x30\x36\x2f"
    b"\xbf\xb3\x42\xfd\xca\x18\xb0\x7d\x32\x54\x08\xe0\x5d\x53\x02\x47"
    b"\x5a\x9a\x32\xa5\x12\x4f\x22\xd5\x6d\x7c\x3f\xa7\x7f\x82\x44\x0c"
    b"\x31\x97\x50\x05\xfb\x8c\xa3\xd7\xfb\x0c\x06\x37\x5b\x55\x99\x68"
    b"\x0b\x50\x39\x2d\x0e\x7b\x94\x7c\x9f\xc5\x8f\x24\x30\xdc\x8c\xcc"
    b"\x70\xb6\xc6\x27\xa2\x5b\xd6\x99\xd8\xae\xf3\xef\xb0\x30\x54\x7a"
    b"\x8d\x20\x56\xca\x61\xdc\x37\xf2\xae\xe5\x13\xe1\x8a\x93\xce\x62"
    b"\x81\xaf\x1b\xa4\x04\xd1\xad\x9d\xd4\xf9\x2c\xa4\x28\x47\x38\x2d"
    b"\x2e\xd7\x38\xc9\x60\xff\xf4\x09\x5f\xee\x3d\x43\x6c\x33\x92\xee"
    b"\x5e\x65\x4f\xc5\xb0\x99\xbe\xd7\x0a\x38\x51\x30\xaf\x2c\x1f\x88"
    b"\x28\x79\x5f\xf0\xdd\x62\xea\x40\x82\x33\x4b\x03\xf9\xf4\x8d\xf1"
    b"\x54\xdb\xda\x6e\xa2\x27\x18\x2a\x37\x6c\x29\x15\x57\x6b\xcb\x6e"
    b"\xf2\xb7\x5b\x55\x09\xfc\xb1\xb4\x47\x59\x3a\xe5\x8a\x1c\x8b\x72"
    b"\x3b\x41\x1c\x8b\x64\xb1\xf1\x03\x0c\x24\xf4\xf3\x05\x27\xb7\xde"
    b"\xf5\xd2\x6d\xd4\x57\x89\x6e\x0f\x6a\xfc\xf2\xa7\xe2\xa3\x37\xe1"
    b"\x3e\x93\xf8\x8e\x30\x2c\xab\xbe\xdf\xf8\x53\x3c\x4c\x6b\xcd\x96"
    b"\x92\xe4\x99\x34\x6d\x98\xf1\x64\xc9\x60\xa2\x5d\xc9\x1f\xb8\xe3"
    b"\xc5\xf3\xa1\xc3\x39\x64\x57\xe8\x41\xd3\x20\xb7\x8a\x98\xd3\x9a"
    b"\x1e\x96\x95\x4e\x27\x57\xe0\x79\x26\x8a\x52\x34\xfa\xe3\x00\xda"
    b"\x69\xba\x87\xb8\x68\x1a\x23\x04\x7e\xc4\x5a\xb3\x5c\x03\xdf\x0f"
    b"\xd4\x16\x99\x78\x43\x93\xb5\xf6\x38\xed\xa1\xf1\x2f\x78\xa0\xa6"
    b"\x01\x07\x8a\xc1\xd1\xcf\xcc\x5d\xea\x20\xbb\xb6\x4e\x57\x2c\xe8"
    b"\x85\x22\xf4\xc8\xc6\xb4\x16\x1a\x21\x6b\x0e\x51\x2c\x6e\x57\xcb"
    b"\xef\xf6\x24\xc7\xd0\xfb\x0a\x10\x78\x18\x3a\xec\x74\xfa\x21\xac"
    b"\xf1\x2b\x2e\x60\xd0\xc6\xfd\xd3\x50\x22\xd0\x94\xbe\xd0\x1d\x25"
    b"\x45\x14\x04\xec\x77\x07\x11\x04\x37\xf0\x27\x0c\x5c\x3a\xde\xcc"
    b"\xb4\xa6\x75\x37\xd9\xe7\x5b\x09\xf3\x06\x0f\xef\x4c\x3b\x39\xf7"
    b"\xf8\xd4\xcc\x82\x6e\x2f\x22\x9d\x9e\x6c\xb6\x7d\x19\x20\x55\x42"
    b"\xe5\xa1\x9b\x76\x8f\x45\x38\xb8\x03\x34\x15\x4a\x46\xd6\x54\x48"
    b"\x69\x39\xa5\xe4\xfd\x9e\x96\x6b\x9c\x8b\x3d\x26\x2a\xfa\xb3\xd5"
    b"\xac\x0d\xed\x40\x93\x8d\x67\x4c\x40\x93\xa8\xc3\x37\x5a\x54\xb7"
    b"\x0e\x41\x9d\x29\x1a\xc3\xe7\x44\x87\xfd\xe9\x5c\xa1\xf4\x00\xd9"
    b"\x3b\x12\x33\x5e\x3e\x04\xd4\xa7\x8f\xbb\xb8\x43\x62\x52\xeb\xaa"
    b"\x81\xb0\x57\x8a\xe6\x22\xe0\xed\xee\x49\x49\xfc\xcf\x80\x00\x26"
    b"\x99\xb6\x4d\xff\xc5\x86\x36\x18\xc3\xaf\x0f\x38\xd4\x46\x9b\xf3"
    b"\x28\x47\x68\x7b\x1d\xc8\xe6\xac\xa1\x6c\xee\xd7\xcf\x3d\x90\xac"
    b"\x85\x26\x82\x3c\x0c\xdb\xe1\xc6\x16\x87\x2a\x5e\xa4\xd6\xbb\xac"
    b"\xe0\x00\xbb\x7f\xa1\x1f\xb4\xc1\x63\xeb\x69\xad\x4f\x6a\x05\x75"
    b"\xd4\x8d\x99\x81\x51\x7f\xa7\xc4\x08\x28\xc3\xe6\xfa\xda\xda\x30"
    b"\x1e\x2b\x42\x02\x50\x31\x14\xf6\x76\x12\xc6\xdc\x37\x1a\x45\xc9"
    b"\x13\xea\x93\x59\x10\xe9\xef\x5d\xec\x53\xf2\x8a\xd6\x1f\xf2\x97"
    b"\x3e\x13\xe4\x33\x59\x3e\x8a\xd7\x20\xbf\x82\x25\x50\x2a\x17\x5d"
    b"\x94\x5d\x7c\x22\x69\x10\xb0\x73\xd1\x23\x9e\x0b\x1a\x7d\xb6\x24"
    b"\x42\xd5\xdc\xb9\x91\xf9\x15\xa2\x50\x30\x55\xa4\x96\x32\x9a\x64"
    b"\x9c\xde\x57\x07\xbf\x81\x66\x23\x68\x6a\xb3\x27\xd7\x80\xf2\x53"
    b"\x39\x1c\xfd\x55\x8d\xe8\x1f\x4a\x70\x28\x89\x53\x81\x9f\x96\x06"
    b"\xf9\x51\xc6\x49\x77\xf6\x03\x79\xb9\x0d\x20\x42\xf1\xf7\x9e\xf8"
    b"\x3b\xb2\xc5\xbc\xab\xd9\xc5\x4d\x33\xfb\x6e\x66\xb4\x1c\xe3\x86"
    b"\xbf\x17\x16\x20\xc1\x8e\xd6\xb7\xb2\xfd\x1e\x0c\x2f\x8d\xa3\x3e"
    b"\xef\xa5\x1e\xba\x21\x32\x6c\x8b\x6e\x68\x9b\x1e\x63\x38\xa4\x96"
    b"\x6a\x20\xad\x98\x2e\x53\x93\x39\x16\xc9\x0d\xc2\x13\x1f\xc7\x11"
    b"\xa9\xbb\x53\x40\x18\x14\x31\xf4\x10\x54\x08\x4b\xbc\x79\xb4\xad"
    b"\xd5\xe0\x3b\xcf\xa2\x7c\x00\x98\x50\x73\xfe\x67\x12\x14\x21\x37"
    b"\xe8\x0c\xb3\x86\xac\x2e\xf4\x83\x73\xca\xd5\xb5\x6a\x3e\xe9\x0b"
    b"\x12\x73\x78\x92\xec\x00\xad\x80\xa7\xab\x39\x5d\xa0\x28\x5a\x0c"
    b"\x50\x5c\x3b\x53\x1a\xf7\x8e\xe9\xd2\xa0\xb7\xfd\xd2\x0d\x4e\x04"
    b"\x77\x8a\xd7\xd7\x88\xf8\xe0\xcf\x95\x71\xa0\x1e\x25\x27\x99\xf7"
    b"\x7f\xe2\x60\x2b\x94\xd1\x7c\x8f\xc0\xf7\x27\xdf\x85\x31\xf8\x55"
    b"\x97\x24\xb5\x30\x50\x34\x5b\x7a\x0e\x47\xb7\x14\xae\xc1\x93\xd7"
    b"\x45\x40\x91\xa6\x8c\x2c\x75\x3c\xa9\xc0\x7d\x7a\xeb\xa6\x62\x3f"
    b"\xf4\xae\x32\x93\xd8\xa9\x4f\xfc\xb5\x9a\xec\xf0\xf3\xa6\x7f\x01"
    b"\x94\x35\x6e\x3b\x4b\x6f\x71\x57\x26\x81\x5a\x04\xa6\x2e\xb0\x32"
    b"\x1f\x17\x1b\x12\x4f\x9f\xa0\x0f\xbe\x32\x21\x1d\x37\xf4\x2a\x75"
    b"\x62\x98\xe2\x75\x3c\x56\x33\x75\x48\xf4\xac\xcf\x9c\x17\x09\x91"
    b"\x80\xbf\x3e\xcb\xbe\xfd\xea\x00\x02\xd2\x6f\x97\xab\x65\x5a\x27"
    b"\x7d\x02\xbf\xc9\x53\xa5\x59\x7f\x81\x4f\xcd\x93\xa3\x3f\x02\x1a"
    b"\x7a\xc3\x6b\x60\xf2\x54\x49\x46\xcb\xfe\xd9\xc9\xfc\xbe\xb8\x01"
    b"\x72\x02\x73\x79\xea\xc5\xa2\x7a\xdf\x14\x62\x2d\x64\x69\x2f\xf4"
    b"\x5f\x60\xc0\x39\x13\xda\x5b\xfd\x26\xbf\xa7\x82\xc4\xfd\x70\xd7"
    b"\xd2\xff\x07\x3f\xa4\x82\x06\xb5\x7a\xa7\x83\x26\xbd\xe7\x03\x38"
    b"\x04\x45\xcf\xaf\x3f\x05\xe1\x04\x34\x54\x0d\xb1\x3a\x77\xdc\x93"
    b"\xea\x97\x00\x06\x0f\x4a\x3c\x34\xad\x96\xd0\xda\x58\x1d\xc3\xc1"
    b"\x08\xc3\x48\x4a\xd2\xec\xb9\xa0\xfb\xc5\xdc\xdc\x2e\x0f\x2d\x1d"
    b"\x9d\xf6\x37\x80\x39\x8b\x50\x31\x63\x9d\xaf\x5a\x83\x51\xf0\x8b"
    b"\x7d\xd4\xf8\x6b\x72\x24\x87\xf1\x20\xb4\x23\x47\x06\xcf\x37\x53"
    b"\xcf\x43\xdf\x1a\xe3\x65\xa9\x53\xba\x03\x50\x18\x64\xd0\xb6\x37"
    b"\x81\x30\x69\x44\x5a\xe0\x27\xa5\x26\x4c\xb8\x1d\x9c\xa3\xc4\x91"
    b"\x2e\x75\x4e\xed\x64\x84\xd5\x13\x3b\x85\x37\xd3\x89\x2c\x3f\x6c"
    b"\x59\x7c\xd0\x1b\x98\x78\x6f\x01\x5f\x42\x47\x07\x44\xa0\x1e\x3b"
    b"\x1f\xf3\x0b\x96\x2c\x3c\x67\x04\xa9\x13\x43\xbd\x3a\x29\xc8\x1f"
    b"\x21\xea\x9e\x3a\x0d\x36\x6d\x41\x4e\x68\x5d\x49\x83\xd9\x10\x24"
    b"\x53\x08\x05\x1b\x5c\xbf\x5b\x11\xa5\x90\xa5\xbd\x3b\xfd\x8b\x59"
    b"\xd6\x07\x2c\x6a\xea\x33\xd2\xec\xbf\x51\x09\xc9\xef\x3d\x0c\xa4"
    b"\xe4\xa4\x76\x08\x42\x72\x39\x07\xa6\x55\xbc\xb4\x60\x94\xe9\xf4"
    b"\x13\x5f\x6b\x27\xa8\x82\x07\x1b\x7f\xa4\x90\xa3\x32\xd5\x19\x85"
    b"\xfe\xb2\xac\xa2\x34\xb9\x6e\xbd\x35\xd6\xf5\x30\xcd\xbf\x9c\x05"
    b"\xad\xd4\x1f\x38\xb5\x6b\x86\x8c\x70\x02\xdc\xa5\x54\x54\x0e\x99"
    b"\xfb\x36\x2c\x23\x6b\x30\x3e\x85\x0a\x16\x68\x74\xf2\xc6\x73\x8d"
    b"\xe6\xd8\xe6\xd6\x03\xa4\xc0\xee\xd2\xef\xa7\x42\xbc\x22\xae\x1b"
    b"\xac\xb4\x1a\x54\x4d\x70\xbc\x76\xd6\x4b\x82\x1a\x90\xc9\xe3\x4d"
    b"\x60\x1b\xd3\xcc\x28\xbf\x4e\x8e\xd2\x2e\x1b\x90\x9c\x40\x25\xfd"
    b"\x57\x35\x99\x23\x7b\x2e\x62\xd5\x86\xba\x70\xe6\x14\xb2\x73\xd1"
    b"\x48\x43\x17\x1e\x44\x00\x4c\xa8\x8f\x7f\x8a\x86\x92\xc1\x1c\x81"
    b"\x25\x18\x37\x34\x33\xc7\x54\x6d\xe6\xc0\xe1\x2d\xbb\x58\x0c\x9a"
    b"\x4f\x1f\xb2\xd6\x3a\xda\x2b\x53\xb9\xe4\x37\xf4\xaf\xcc\x2b\xef"
    b"\x53\x1f\x30\x7f\xb4\x8f\x21\xf2\x2a\x0c\x7a\x7e\x9c\xe6\xf4\x9f"
    b"\x2c\xb9\xb9\xb3\xa1\x85\xae\x46\xab\x12\xd9\x0f\xbf\xd9\x2f\xb9"
)


def _recode(k):
    # m with sum((2 m_i - 1) 2^i, i < 258) = k mod n
    return (k * _HALF + _OFFSET) % _N


def _comb_index(m, j):
    # Bits j, j + 43, ..., j + 215 of m as a 6-bit number: mask them, then one
    # multiplication moves bit 43 t to bit 210 + t (no two partial products collide).
    return (((m >> j) & _SPREAD) * _GATHER >> 210) & 63


# SEC 1 §3.2.2.1 step 2: a point (x, y) with 0 <= x, y < p on the curve
def _on_curve(x, y):
    P = _P
    return x < P and y < P and (y * y - (x * x - 3) * x - _B) % P == 0


# Jacobian doubling for a = -3 (EFD dbl-2001-b); infinity stays infinity (Z3 = 2YZ)
def _dbl(X, Y, Z):
    P = _P
    dd = Z * Z % P
    gg = Y * Y % P
    bb = X * gg % P
    aa = 3 * (X - dd) * (X + dd) % P
    X3 = (aa * aa - 8 * bb) % P
    return X3, (aa * (4 * bb - X3) - 8 * gg * gg) % P, 2 * Y * Z % P


# Jacobian + affine addition (EFD madd-2004-hmv) with the exceptional cases
def _madd(X1, Y1, Z1, x2, y2):
    P = _P
    if Z1 == 0:
        return x2, y2, 1
    zz = Z1 * Z1 % P
    u2 = x2 * zz % P
    s2 = y2 * (zz * Z1 % P) % P
    if u2 == X1:
        if s2 == Y1:
            return _dbl(X1, Y1, Z1)
        return 1, 1, 0
    h = u2 - X1
    r = s2 - Y1
    hh = h * h % P
    hhh = h * hh % P
    v = X1 * hh % P
    X3 = (r * r - hhh - 2 * v) % P
    return X3, (r * (v - X3) - Y1 * hhh) % P, Z1 * h % P


# Jacobian addition (EFD add-1998-cmo-2) with the exceptional cases
def _add(X1, Y1, Z1, X2, Y2, Z2):
    P = _P
    if Z1 == 0:
        return X2, Y2, Z2
    if Z2 == 0:
        return X1, Y1, Z1
    z1z1 = Z1 * Z1 % P
    z2z2 = Z2 * Z2 % P
    u1 = X1 * z2z2 % P
    u2 = X2 * z1z1 % P
    s1 = Y1 * (Z2 * z2z2 % P) % P
    s2 = Y2 * (Z1 * z1z1 % P) % P
    if u1 == u2:
        if s1 == s2:
            return _dbl(X1, Y1, Z1)
        return 1, 1, 0
    h = u2 - u1
    r = s2 - s1
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    X3 = (r * r - hhh - 2 * v) % P
    return X3, (r * (v - X3) - s1 * hhh) % P, Z1 * Z2 % P * h % P


def _affine(X, Y, Z):
    P = _P
    zi = inv(Z, P)
    zz = zi * zi % P
    return X * zz % P, Y * zz % P * zi % P


def _comb_point(i):
    o = i * 64
    tb = _COMB
    return int.from_bytes(tb[o:o + 32], "big"), int.from_bytes(tb[o + 32:o + 64], "big")


# [k]G for any integer k by the signed comb: 42 doublings and 42 additions whatever k is
# (the first of each, on infinity, costs next to nothing). The entries are read from the
# bytes of _COMB as they are needed: no table of integers stays on the heap.
def base_mul(k):
    P = _P
    tb = _COMB
    m = _recode(k)
    X = 1
    Y = 1
    Z = 0
    j = _SPACING
    while j:
        j -= 1
        # doubling, dbl-2001-b
        dd = Z * Z % P
        gg = Y * Y % P
        bb = X * gg % P
        aa = 3 * (X - dd) * (X + dd) % P
        Z = 2 * Y * Z % P
        X = (aa * aa - 8 * bb) % P
        Y = (aa * (4 * bb - X) - 8 * gg * gg) % P
        # _comb_index(m, j) << 6: the top tooth at bit 11; the entry is the low 5 bits,
        # complemented (and y negated) when the top tooth is -1
        c = (((m >> j) & _SPREAD) * _GATHER >> 204) & 0xFC0
        o = (c ^ ((c >> 11) - 1)) & 0x7C0
        y2 = int.from_bytes(tb[o:o + 64], "big")  # x || y
        x2 = y2 >> 256
        y2 = ((c >> 10 & 2) - 1) * (y2 & _M256)
        # Jacobian + affine addition, madd-2004-hmv with +-y (the rare cases in _madd)
        zz = Z * Z % P
        u2 = x2 * zz % P
        s2 = y2 * (zz * Z % P) % P
        if Z == 0 or u2 == X:
            X, Y, Z = _madd(X, Y, Z, x2, y2 % P)
        else:
            h = u2 - X
            r = s2 - Y
            hh = h * h % P
            hhh = h * hh % P
            v = X * hh % P
            X = (r * r - hhh - 2 * v) % P
            Y = (r * (v - X) - Y * hhh) % P
            Z = Z * h % P
    return X, Y, Z


def _table(x, y):
    # [x1, y1, ..., x8, y8]: jQ in affine coordinates for j = 1..8, the Jacobian 2Q..8Q
    # brought to affine by one shared inversion (Montgomery's trick). Q has prime order n,
    # so none of them is infinity and no addition here meets an exceptional case.
    P = _P
    J = [_dbl(x, y, 1)]
    for j in range(6):
        X, Y, Z = J[j]
        J.append(_madd(X, Y, Z, x, y))
    c = []  # c[j] = Z_2 * ... * Z_(j+2)
    a = 1
    for j in range(7):
        a = a * J[j][2] % P
        c.append(a)
    a = inv(a, P)
    t = [x, y] * 8
    for j in range(6, -1, -1):
        X, Y, Z = J[j]
        J[j] = None
        zi = a * c[j - 1] % P if j else a
        a = a * Z % P
        zz = zi * zi % P
        t[2 * j + 2] = X * zz % P
        t[2 * j + 3] = Y * zz % P * zi % P
    return t


# [k]Q for 0 < k < 2^256 and an affine point Q by signed 4-bit windows: k = sum d_i 16^i,
# d_i in -8..7 (65 digits, the last 0 or 1), an affine table of 1Q..8Q and -jQ = (x, p - y).
# 256 doublings and 65 additions whatever k is unless vartime (a zero digit adds 1Q and
# discards the sum).
def mul(k, x, y, vartime=False):
    P = _P
    # the digits, from the least significant, as d + 8 (branch-free carries)
    dig = bytearray(65)
    for i in range(64):
        d = k & 15
        s = d >> 3
        dig[i] = d + 8 - (s << 4)
        k = (k >> 4) + s
    dig[64] = k + 8
    tbl = _table(x, y)
    X = 1
    Y = 1
    Z = 0
    i = 64
    while True:
        d = dig[i] - 8
        if d or not vartime:
            m = d >> 4  # -1 for a negative digit, else 0
            a = ((d ^ m) - m) or 1  # |d|, or 1 for a zero digit
            x2 = tbl[2 * a - 2]
            y2 = tbl[2 * a - 1]
            y2 = (y2, P - y2)[-m]
            # Jacobian + affine addition, madd-2004-hmv (the rare cases in _madd)
            zz = Z * Z % P
            u2 = x2 * zz % P
            s2 = y2 * (zz * Z % P) % P
            if Z == 0 or u2 == X:
                X3, Y3, Z3 = _madd(X, Y, Z, x2, y2)
            else:
                h = u2 - X
                r = s2 - Y
                hh = h * h % P
                hhh = h * hh % P
                v = X * hh % P
                X3 = (r * r - hhh - 2 * v) % P
                Y3 = (r * (v - X3) - Y * hhh) % P
                Z3 = Z * h % P
            # keep the sum unless the digit was zero (a selection, not a branch)
            t = (X, Y, Z, X3, Y3, Z3)
            a = 3 * ((d * d + 63) >> 6)  # 0 for a zero digit, else 3
            X = t[a]
            Y = t[a + 1]
            Z = t[a + 2]
        if i == 0:
            return X, Y, Z
        i -= 1
        for n in range(4):
            dd = Z * Z % P
            gg = Y * Y % P
            bb = X * gg % P
            aa = 3 * (X - dd) * (X + dd) % P
            Z = 2 * Y * Z % P
            X = (aa * aa - 8 * bb) % P
            Y = (aa * (4 * bb - X) - 8 * gg * gg) % P


def _scalar(b):
    # A private key: 32 bytes big-endian, 0 < d < n
    if len(b) != 32:
        raise CryptoError("P-256 private key must be 32 bytes")
    d = int.from_bytes(b, "big")
    if d == 0 or d >= _N:
        raise CryptoError("P-256 private key out of range")
    return d


# SEC 1 §2.3.4 and §3.2.2.1: an uncompressed public key, validated (on the curve; with
# cofactor 1 that also puts it in the group of order n)
def decode_public(b):
    if len(b) != 65 or b[0] != 4:
        raise CryptoError("P-256 public key must be 65 bytes 04 || x || y")
    x = int.from_bytes(b[1:33], "big")
    y = int.from_bytes(b[33:], "big")
    if not _on_curve(x, y):
        raise CryptoError("P-256 point not on the curve")
    return x, y


def _encode(x, y):
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


# SEC 1 §3.2.1: the public key dG
def public(private):
    X, Y, Z = base_mul(_scalar(private))
    return _encode(*_affine(X, Y, Z))


def scalar_below_n(random_bytes):
    # SEC 1 §3.2.1 / FIPS 186-4 §B.4.2: a uniform private key in [1, n - 1] by rejection
    while True:
        b = random_bytes(32)
        d = int.from_bytes(b, "big")
        if 0 < d < _N:
            return b


# SEC 1 §2.3.4: decompression of 02/03 || x; y = sqrt(x^3 - 3x + b) = w^((p+1)/4)
def decompress(b):
    if len(b) != 33 or b[0] not in (2, 3):
        raise CryptoError("P-256 compressed point must be 33 bytes 02/03 || x")
    P = _P
    x = int.from_bytes(b[1:], "big")
    if x >= P:
        raise CryptoError("P-256 x-coordinate out of range")
    w = ((x * x - 3) * x + _B) % P
    y = pow(w, (P + 1) >> 2, P)
    if y * y % P != w:
        raise CryptoError("P-256 x-coordinate not on the curve")
    if (y & 1) != (b[0] & 1):
        y = P - y
    return _encode(x, y)


# SEC 1 §3.3.1: ECDH, the x-coordinate of d * Q
def ecdh(private, peer):
    d = _scalar(private)
    x, y = decode_public(peer)
    X, Y, Z = mul(d, x, y)
    if Z == 0:
        raise CryptoError("P-256 shared point is infinity")
    return _affine(X, Y, Z)[0].to_bytes(32, "big")


# RFC 6979 §3.2 (HMAC-SHA-256, qlen = hlen = 256) and FIPS 186-4 §6.4 / SEC 1 §4.1.3
def sign(private, h, hmac):
    d = _scalar(private)
    N = _N
    e = int.from_bytes(h, "big")
    x = private
    ho = (e % N).to_bytes(32, "big")
    V = b"\x01" * 32
    K = hmac(bytes(32), V + b"\x00" + x + ho)
    V = hmac(K, V)
    K = hmac(K, V + b"\x01" + x + ho)
    V = hmac(K, V)
    while True:
        V = hmac(K, V)
        k = int.from_bytes(V, "big")
        if 0 < k < N:
            X, Y, Z = base_mul(k)
            zi = inv(Z, _P)
            r = X * zi * zi % _P % N  # x(kG) mod n
            if r:
                s = inv(k, N) * (e + r * d) % N
                if s:
                    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        K = hmac(K, V + b"\x00")
        V = hmac(K, V)


# FIPS 186-4 §6.4.2 / SEC 1 §4.1.4: verification. An invalid public key raises
# CryptoError; a malformed or wrong signature is False.
def verify(public, h, sig):
    x, y = decode_public(public)
    if len(sig) != 64:
        return False
    N = _N
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:], "big")
    if not (0 < r < N and 0 < s < N):
        return False
    w = inv(s, N)
    e = int.from_bytes(h, "big")
    X1, Y1, Z1 = base_mul(e * w % N)
    X2, Y2, Z2 = mul(r * w % N, x, y, True)
    X, Y, Z = _add(X1, Y1, Z1, X2, Y2, Z2)
    if Z == 0:
        return False
    # x(R) mod n == r without an inversion: X == r' Z^2 for r' = r or r + n (< p)
    P = _P
    zz = Z * Z % P
    if X == r * zz % P:
        return True
    return r + N < P and X == (r + N) * zz % P
