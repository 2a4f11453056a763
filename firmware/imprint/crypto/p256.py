# NIST P-256 (FIPS 186-4 §D.1.2.3, SEC 2 §2.4.2 secp256r1) in pure Python: ECDH
# (SEC 1 §3.3.1) and ECDSA (FIPS 186-4 §6.4) with RFC 6979 deterministic nonces.
# Points in Jacobian coordinates (x = X/Z^2, y = Y/Z^3; Z = 0 is the point at infinity).
# Secret scalars go through a fixed sequence of doublings and additions (signed 4-bit
# windows, the comb for G; a zero digit costs a discarded addition): constant-ish, as far
# as Python integers allow. Every received point is checked to lie on the curve.
from . import CryptoError
from .modinv import inv
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# FIPS 186-4 §D.1.2.3: the curve y^2 = x^3 - 3x + b over GF(p), base point G of order n
_P = const(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF)
_N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)
_B = const(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)
_GX = const(0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296)
_M256 = const((1 << 256) - 1)
_GY = const(0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

# The comb: 5 teeth 52 bits apart cover 260 bits. Entry i (1..31) is
# sum(2^(52 j) G for each bit j of i), affine x || y, 32 bytes each big-endian; entry 0
# (infinity) is zeros. Checked against the point arithmetic by tests/device/test_crypto_tables.py.
_SPACING = const(52)
# Gathers bits 0, 52, 104, 156, 208 of an integer into bits 208..212 (see _comb_index).
_GATHER = const(0x10000000000002000000000000400000000000080000000000010)
_SPREAD = const(0x10000000000001000000000000100000000000010000000000001)
_COMB = (
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x6b\x17\xd1\xf2\xe1\x2c\x42\x47\xf8\xbc\xe6\xe5\x63\xa4\x40\xf2"
    b"\x77\x03\x7d\x81\x2d\xeb\x33\xa0\xf4\xa1\x39\x45\xd8\x98\xc2\x96"
    b"\x4f\xe3\x42\xe2\xfe\x1a\x7f\x9b\x8e\xe7\xeb\x4a\x7c\x0f\x9e\x16"
    b"\x2b\xce\x33\x57\x6b\x31\x5e\xce\xcb\xb6\x40\x68\x37\xbf\x51\xf5"
    b"\x54\xcc\xc9\x41\x50\x26\xd7\x3f\x20\xa8\x45\xb7\x2a\x58\xe5\xb1"
    b"\x8b\xd2\x7f\x19\x85\x42\xa0\xbe\xee\xa6\xbc\x92\x07\x1e\x5c\x83"
    b"\x1c\x43\x3f\x45\xb4\x51\x45\x32\x3a\x8f\x87\x15\xda\xd2\xbf\x22"
    b"\x92\x9e\x0b\xcc\x5d\x8e\xe4\x96\xcf\xd0\x8e\xf7\x14\x09\x16\xa1"
    b"\x3c\xfa\x0f\x87\x29\x7b\xed\x02\xdf\xcc\x23\x58\xf9\x4c\x9d\x1d"
    b"\x59\x3a\x09\xa0\x3a\x23\xc6\xab\xf7\xd2\x4b\xb7\x04\xba\xc8\x70"
    b"\xe4\xe3\x76\x94\x70\xbe\x12\xc6\xa7\x58\xaa\x80\x83\x09\xaf\x9b"
    b"\x62\x12\x1c\x0d\x02\x48\xa8\xaf\xce\x98\xa3\x0b\x40\xf2\x69\x40"
    b"\x7e\xf2\xee\x3c\x5c\x79\x2a\x0c\x0f\xef\x63\x35\x22\x4d\x94\x28"
    b"\xa7\xd2\xc9\x8f\x67\x43\x33\x3e\xc7\x39\xa5\xea\x3e\xcc\xa7\xe0"
    b"\xaf\xb6\x86\x27\x30\xac\xc0\x11\xa4\xf6\x7f\x51\xd5\xe6\x09\xdb"
    b"\x81\xb2\x14\x50\xdf\xbd\x3d\x20\x30\x2b\x22\xdd\x55\x2a\xc0\x94"
    b"\xd6\x69\x03\x37\x6d\xf0\xfd\x5e\x28\xfe\x9a\x4f\x25\x4c\x54\x91"
    b"\xf6\xd7\x7c\x27\x08\x8b\x86\xdb\xdd\x37\xe3\xff\x86\xef\x7d\x7d"
    b"\x20\xe2\xa5\x3c\xe6\xd1\x3d\x22\xa1\x3e\x95\x78\xdf\x07\x41\x67"
    b"\xf3\xd1\xa7\xaf\x9e\x43\x73\xf9\x9f\xf0\x49\x92\xad\xda\xd5\x96"
    b"\xb6\x66\xfa\xc5\xb7\x7e\x46\xe9\x27\x62\x03\xc2\x12\xf0\x1e\x9e"
    b"\xa4\x24\xec\x2d\xbe\x3c\x72\x65\xd7\xb8\x6a\xee\xb0\x87\x96\x05"
    b"\x38\xaa\xa3\x80\x90\x24\x69\x04\xeb\x5a\xbc\x19\xee\x3d\xe5\xa9"
    b"\xef\x46\xa4\x4a\x72\x6c\xd8\xb6\xf4\x31\xbb\x1a\x3b\xf0\xc5\x2d"
    b"\x62\x1c\x75\xd1\x02\xea\xdb\x2e\xdb\x82\xb3\xea\x54\x49\x20\xa4"
    b"\xc3\x02\xf8\xf4\x96\xbe\xa2\x5a\xae\xbf\xd7\x35\x52\x5d\x6a\xbf"
    b"\xd7\xc4\xa4\xfe\xb4\xfa\x64\x9d\x4f\xda\xc9\x6f\x52\x2d\x7f\x70"
    b"\x22\x5d\x03\xd8\x57\xc4\x6d\x63\x89\x39\xdc\x4c\x9e\xf4\x85\xf0"
    b"\x0d\x2b\xf2\x8b\xa7\xc2\xa5\x1a\x90\xf5\x73\xa8\x25\x89\xf1\x8e"
    b"\x07\xe5\x0a\xb0\x17\x86\xdf\x70\x9c\x76\x2e\xf1\x94\x3e\x83\x2a"
    b"\x0c\xac\x3f\x43\x13\xbd\x00\xac\x70\x87\xa1\x0a\x94\xb4\xe7\xed"
    b"\x27\xec\x9d\xb9\x60\x55\x14\x46\x48\x26\x3a\xf1\x5b\x20\xd3\x7c"
    b"\x00\xdc\x46\xe7\xc9\x9a\x73\x9d\x9f\x05\xf9\x4a\x8c\x26\x7d\x88"
    b"\xf7\x65\x99\x58\xed\xd9\x58\x3f\x8b\xc6\x59\xaa\xc0\xb9\x37\x2a"
    b"\x03\x12\xa5\x57\x45\x79\x34\x24\x40\xd1\xe3\xab\x52\x28\xc1\x11"
    b"\xb5\xeb\x20\x2d\x81\x56\xbf\x6a\x4a\xf5\x0a\x00\xdf\x55\xd0\xf2"
    b"\x3c\x51\x0c\xe2\x88\x2a\x78\x92\x86\x7c\x55\x80\x08\xdc\xd7\xab"
    b"\xc8\xa8\x20\xbd\x1c\x75\x22\xc0\x9d\x90\xcd\xa8\x9e\x64\x86\xe0"
    b"\xd3\x5e\x62\x0f\x5a\xcf\x05\x3f\xc3\xa7\xfc\x08\x5b\xa9\x97\xb0"
    b"\x33\x39\x27\x76\xed\xa4\xe0\x46\x0e\x28\x33\x34\x64\x6d\x54\xc6"
    b"\x3c\x53\xe2\x90\x15\xb0\xa1\xe5\x76\x34\x7a\x52\x84\xe3\x2e\x59"
    b"\x05\xe3\xf2\x23\x0d\x8c\x01\x3d\x8d\x96\x92\xf7\x7e\xb8\xcf\xee"
    b"\xd3\x0e\x7c\xda\x14\x0e\xfe\xb3\x11\xa9\xf0\x72\x9a\x08\x69\x3f"
    b"\x1b\x9f\x1b\xd1\x00\xd2\x35\x91\x53\x8b\x7d\xa5\xfa\xe7\x98\xd4"
    b"\x02\xfd\x7b\x73\x29\xc2\x02\x4d\x39\xf9\xff\x69\xb9\x6b\x99\x11"
    b"\xbf\xed\x14\xfe\xda\xd2\x10\xd5\x81\xde\xc9\x26\x4d\xd6\xc0\x04"
    b"\x42\xeb\xd3\xcb\x59\x92\x7d\xf3\x00\xf3\x4a\xdd\xc7\x79\x78\x31"
    b"\xb6\x82\xb9\x99\x0c\x23\x63\x11\x50\xcf\xce\xb8\x71\x5d\x29\xfc"
    b"\xed\x84\xbb\x42\x5f\xe3\x9a\xad\xfd\x42\x6d\x94\x2d\xf2\x32\xcf"
    b"\x13\xd7\x2b\x7a\x3f\x7f\xbe\x90\x6d\xfc\xf7\x87\xf8\xe8\xf6\x83"
    b"\xa3\x23\x34\x55\x58\x3c\x33\xf2\x0c\xf8\x3b\x61\x97\xa1\xd7\x03"
    b"\x67\xdd\x0a\x8e\x35\x54\x30\xe3\x02\x3e\x67\xa1\x73\x29\x95\xfc"
    b"\x9e\x98\x89\xbc\xd4\x49\x24\x2d\x67\x45\xff\x87\x70\x09\xb9\x58"
    b"\xfb\x50\x08\x82\x00\xcf\xa6\x17\x27\x01\x4a\xb4\x68\x14\x29\x04"
    b"\xd9\xba\x5b\x68\x7e\x79\xb3\xa2\x94\xc0\xd2\x4b\x29\x2e\x6a\xa0"
    b"\x00\x85\x51\x56\x13\x8e\x99\xe2\x03\x5b\x61\x3b\x57\x56\x16\xc8"
    b"\x95\xe1\x84\x52\x66\x38\x2a\xda\xb3\x1d\x23\x53\x1b\x4d\x0d\x1f"
    b"\x50\xcc\x51\xc1\x8a\x4e\xee\x61\xce\xbb\xbc\x7b\x5f\x16\x5d\x99"
    b"\x68\xd6\x8c\x8f\x6b\x0f\xb8\xf3\x3e\xaa\x82\x89\x1f\x4f\xa1\x2f"
    b"\xa0\xa2\xa9\x6e\x41\x42\xff\x0f\xac\xad\x4f\x81\x0a\x83\x9b\x5b"
    b"\x55\xd5\x39\x8d\x16\x66\x43\x2b\x55\x75\x82\xc9\x9a\xd5\x34\x58"
    b"\x01\x01\xfb\x06\xa0\x50\xe6\x2c\x32\x0f\x09\xc3\x83\x9b\xb8\x5f"
    b"\x57\x6e\x22\x90\x49\xff\x8e\x2d\x05\x9c\x6a\x9e\x8e\xba\xa7\x2a"
    b"\xd9\x0d\x6a\x7f\x18\x33\xd9\xe1\xf7\xf6\x31\x18\x4f\xed\x93\x6f"
    b"\x54\xe2\x44\xd5\x10\x1e\x5d\xe4\x9d\x3d\xc3\x34\x6b\xec\xcb\xb9"
    b"\xe8\x0f\x26\xbd\x8d\x0f\x4f\x65\x93\x11\xa2\x69\x51\xbb\xb3\xf1"
    b"\xd6\xbb\xec\x0e\xec\x10\x6e\xb6\x19\xbd\x41\x07\x35\xdf\x9c\x25"
    b"\x43\x34\xfb\xc0\x58\xc2\xe3\xb7\xb3\xad\x4c\x6e\xf1\xb1\x9e\x28"
    b"\x44\x37\x37\xcd\x3c\x00\x73\x6b\xf1\xc0\x5d\x98\x4a\x8c\xb4\x6e"
    b"\x12\x83\x9b\x95\xf1\x79\x32\x7b\x78\x82\x51\xc7\xe5\x04\x6d\xc5"
    b"\x83\x71\x9d\xd7\xe6\xfe\x7a\xf5\xc5\x6e\xb8\x0a\xf4\x2c\x23\xe8"
    b"\x79\x74\x89\xde\x08\x17\xbd\xd9\xa7\x60\xa4\x56\x12\xcd\x8f\xe5"
    b"\xee\x08\x16\xa3\xd4\xd0\x21\xb6\x10\xb3\x7e\xcd\x77\x1e\x46\x88"
    b"\xae\xa3\xc9\xe0\xb9\xb5\x29\x0b\xe8\x88\x1a\x83\x3f\xef\xcf\xc8"
    b"\xc4\xa4\x38\xe3\xad\x90\x06\xe1\x3a\x5f\xdf\x82\xdb\x49\x01\x9f"
    b"\x48\x91\x5d\xcf\xc1\x05\xf2\xd1\x8e\x99\x29\xbf\xb3\xa8\xca\xa1"
    b"\xdb\x96\xbb\x0c\x78\x53\xa9\x37\x30\x1b\xa1\xb2\x32\xac\xf1\x05"
    b"\xd7\x42\x0c\x18\xd9\x1e\xcb\x2e\x5d\xb9\x62\x0f\x87\xde\x4b\x29"
    b"\xb3\x25\x07\x4e\x7a\x13\x22\x2c\x3f\xbe\xe4\xd3\xb9\xda\x17\x17"
    b"\xab\x80\xce\xf0\x64\x85\x2a\x1d\xd8\x4b\xfe\xf6\xc3\x59\xac\x34"
    b"\x86\x99\xdd\x31\xe0\x9c\xb9\xf0\x55\x27\x88\xac\xcb\xd2\x1e\x33"
    b"\xca\x9f\x7a\x1d\xae\xd0\x35\xbe\x5d\x6d\xc5\x03\xe8\x3a\xd2\xc9"
    b"\x16\xe6\x54\x84\xe9\x28\x59\xb7\x24\x19\x99\x08\xc7\x2c\x78\xc1"
    b"\x4c\xb2\x0e\x96\xb8\x2a\x5a\xf9\x38\x58\x41\x96\x32\x9b\xf9\x61"
    b"\xee\xc0\xb9\x75\x2c\xc6\x72\x14\x4a\x75\x99\x82\x16\xc1\xda\x96"
    b"\x6c\x89\x71\x23\x00\x31\xdb\xb4\x6a\x20\x1c\x4b\x05\x2f\xde\x29"
    b"\xe0\x2a\xf7\x70\xf7\xf1\xd2\x83\x78\x9d\x66\x4b\xf9\x66\xf3\x29"
    b"\x36\x7f\xb6\x6a\x84\x39\xf6\xba\xb9\x08\xb9\xf1\x81\x2c\x86\x4e"
    b"\x18\x6c\x7f\x79\x3d\xf3\x24\x5e\xc9\xb9\x7d\x37\x4b\x60\x0b\x83"
    b"\x5f\x0b\x46\xd5\xe9\x9d\x5c\x7c\xa2\x0a\x2c\x70\xdb\x30\x38\xdd"
    b"\x9c\x42\x8d\xb8\x9a\xb5\x89\x13\x81\x39\xb3\x6a\x8d\x2e\xa7\x97"
    b"\x92\x49\x89\x7f\x91\xe2\xd8\xed\x2a\xf7\x24\x60\x4f\x1c\xe5\x7f"
    b"\xee\x22\x80\xf4\x4e\x33\xa6\x5d\x7a\xfc\xcc\x8a\x29\x5b\x57\xd2"
    b"\xdc\xba\xb6\x50\x1b\x6b\x97\x30\xb4\xa1\x96\xfb\x64\x71\xaa\xa0"
    b"\xce\x46\xec\x91\xa6\xa1\xeb\x84\x0d\x59\x8f\x06\xed\x5f\xbb\xd2"
    b"\x4e\x98\xa9\x8d\x82\x60\x4f\x6b\xc4\x7a\x08\x03\x89\x0f\xcd\x12"
    b"\xc6\x2e\x15\x5c\x58\xa5\xf2\x63\x5b\xc5\x34\x1e\x27\x1a\x93\xf1"
    b"\x5f\x72\xcc\x22\x59\x5e\x65\x47\x1f\x1e\x4f\x3f\x4b\xe6\x45\x8d"
    b"\xff\x9f\x23\x22\x18\x26\x7e\x4e\xd3\x3a\x76\x57\xee\xaa\x4d\x04"
    b"\x67\xe1\xf7\xdc\x7e\x36\xa6\xad\x5f\x6f\x84\x5a\x58\xba\x7f\xf4"
    b"\xa0\x31\x8a\x5f\x32\xf6\xe5\x14\xa0\xe8\xf0\xa7\x0b\xab\xa2\x9a"
    b"\xc7\x87\x6f\xb6\x36\x96\xb4\x37\xd3\x69\xf1\x1f\x4a\x53\x78\x9f"
    b"\xf3\x20\xb8\xfc\xf0\xee\xbb\x3a\xfd\x08\x90\x3f\x09\xa3\x25\xaa"
    b"\x41\x8c\x50\x7c\x36\x2e\xeb\xb1\x5c\x4a\x43\xd1\x11\x77\x5a\x08"
    b"\x5e\x67\x7d\x0c\x95\x9c\x44\xfa\xa4\x48\x69\x16\xf4\x64\x6f\x9f"
    b"\x40\x30\xec\xc3\xbb\x90\x02\xd8\xe3\x3f\x02\x55\xc7\x64\x4c\x1d"
    b"\x44\x9f\x0c\xe6\x31\x00\xd3\x1e\xe3\x3d\x0b\xd5\x02\x99\x3a\xea"
    b"\x5d\x93\xa8\x6f\x62\x48\xf9\x1f\xe2\xe7\xd7\xd0\xd8\x8b\x91\x44"
    b"\x8c\x56\x88\x74\x5a\x79\x41\xe4\x90\x11\x09\x1d\x30\x67\x79\x1f"
    b"\x34\xca\x92\x3b\xa6\xd0\xaf\xc7\x3f\xcd\x92\x5a\x73\xcf\x26\x78"
    b"\xfb\x3a\x48\xb1\x5b\xad\x14\xd2\xf2\xdd\xb6\x93\xe8\x8c\x64\x20"
    b"\x77\x44\x31\x6b\x59\x5c\x51\xf4\x34\xd3\x71\x80\xfc\x33\x98\x00"
    b"\xe4\xda\x88\xe9\x93\xd0\xcb\x92\x2a\x84\x94\x71\xa5\x91\xf8\x53"
    b"\x68\xc0\xcd\x44\x31\x27\x35\x4c\x52\xdf\x15\x88\xfd\xaa\xb2\x56"
    b"\xf7\xfa\x4d\x15\x10\x06\x2e\x80\x97\xfc\x50\xde\xd0\xf3\xbc\x51"
    b"\x60\xfe\x2a\x36\x26\x37\x07\xba\x6d\x1e\xa3\x5d\x16\x39\xc6\x24"
    b"\x4b\x59\x25\x3a\xf9\xc1\x3d\xe7\xb5\x8a\x60\x71\xe6\x39\xec\x09"
    b"\xb6\xc9\x35\xfb\x3f\xea\xa2\x72\xc4\x29\xa1\x13\x02\x4c\x16\x8d"
    b"\xaa\x03\x07\xbf\x7f\xa7\x9c\x93\xe8\x5d\x78\x20\x01\xf1\x85\xf5"
    b"\xf0\x06\x4c\x12\x50\x72\x3f\xe2\x6d\x2d\x68\xf2\xfb\xfb\x89\x55"
    b"\x82\x5f\x01\x94\x8e\x83\x1d\x5b\x76\xc4\xc1\x80\x42\x86\xfb\x42"
    b"\x1a\x25\x30\xb0\x5a\x00\x16\x9c\x2e\x75\xa2\x66\x5b\x69\x65\x27"
    b"\x43\x58\x72\xfe\xbc\x72\x3a\x17\x61\x79\x4c\x4f\x24\x11\x11\x50"
    b"\x10\x6f\x9b\xc4\xce\x5b\x10\x6a\xdb\xf0\xa1\x1f\xef\x70\x37\x39"
)


def _comb_index(k, j):
    # Bits j, j + 52, j + 104, j + 156, j + 208 of k as a 5-bit number: mask them, then one
    # multiplication moves bit 52 i to bit 208 + i (no two partial products collide).
    return (((k >> j) & _SPREAD) * _GATHER >> 208) & 31


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


# [k]G for 0 < k < 2^260 by the comb: 51 doublings and 52 additions whatever k is
# (a zero column adds entry 1 and discards the sum). The entries are read from the bytes
# of _COMB as they are needed: no table of integers stays on the heap.
def base_mul(k, vartime=False):
    P = _P
    tb = _COMB
    X = 1
    Y = 1
    Z = 0
    j = _SPACING - 1
    while True:
        i = _comb_index(k, j)
        if i or not vartime:
            o = (i or 1) << 6
            y2 = int.from_bytes(tb[o:o + 64], "big")  # x || y
            x2 = y2 >> 256
            y2 &= _M256
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
            # keep the sum unless the column was zero (a selection, not a branch)
            t = (X, Y, Z, X3, Y3, Z3)
            i = 3 * ((i + 31) >> 5)  # 0 for a zero column, else 3
            X = t[i]
            Y = t[i + 1]
            Z = t[i + 2]
        if j == 0:
            return X, Y, Z
        j -= 1
        # doubling, dbl-2001-b
        dd = Z * Z % P
        gg = Y * Y % P
        bb = X * gg % P
        aa = 3 * (X - dd) * (X + dd) % P
        Z = 2 * Y * Z % P
        X = (aa * aa - 8 * bb) % P
        Y = (aa * (4 * bb - X) - 8 * gg * gg) % P


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
            r = _affine(X, Y, Z)[0] % N
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
    X1, Y1, Z1 = base_mul(e * w % N, True)
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
