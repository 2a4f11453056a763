# imprint.crypto P-256: key derivation, ECDH (RFC 5903 §8.1, NIST CAVS 14.1 ECC CDH),
# ECDSA with RFC 6979 nonces (RFC 6979 §A.2.5), point validation and what invalid keys and
# signatures must do. Every vector here was checked against `cryptography` (OpenSSL).
from vectors import MICROPYTHON, h, hx, raises, rows  # noqa: F401

import imprint.crypto as crypto
from imprint.crypto import CryptoError


N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
G = ("046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
     "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")

# RFC 6979 §A.2.5: the P-256 key pair, and the SHA-256 signatures of "sample" and "test"
RFC6979_X = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
RFC6979_U = ("0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
             "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299")
RFC6979_SIGS = (
    (b"sample",
     "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
     "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"),
    (b"test",
     "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367"
     "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083"),
)

# RFC 5903 §8.1: initiator i, responder r, their public keys and the shared x-coordinate
RFC5903_I = ("c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
             "04dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180"
             "5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3")
RFC5903_R = ("c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
             "04d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63"
             "56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab")
RFC5903_Z = "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de"

# NIST CAVS 14.1 ECC CDH primitive (SP 800-56A) P-256, COUNT 0-4 (as in Zephyr's and
# Go's test suites): our private key, peer x, peer y, shared x-coordinate (hex, a line each)
CAVS_ECDH = """
7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534 700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287 db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac 46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b
38f65d6dce47676044d58ce5139582d568f64bb16098d179dbab07741dd5caf5 809f04289c64348c01515eb03d5ce7ac1a8cb9498f5caa50197e58d43a86a7ae b29d84e811197f25eba8f5194092cb6ff440e26d4421011372461f579271cda3 057d636096cb80b67a8c038c890e887d1adfa4195e9b3ce241c8a778c59cda67
1accfaf1b97712b85a6f54b148985a1bdc4c9bec0bd258cad4b3d603f49f32c8 a2339c12d4a03c33546de533268b4ad667debf458b464d77443636440ee7fec3 ef48a3ab26e20220bcda2c1851076839dae88eae962869a497bf73cb66faf536 2d457b78b4614132477618a5b077965ec90730a8c81a1c75d6d4ec68005d67ec
207c43a79bfee03db6f4b944f53d2fb76cc49ef1c9c4d34d51b6c65c4db6932d df3989b9fa55495719b3cf46dccd28b5153f7808191dd518eff0c3cff2b705ed 422294ff46003429d739a33206c8752552c8ba54a270defc06e221e0feaf6ac4 96441259534b80f6aee3d287a6bb17b5094dd4277d9e294f8fe73e48bf2a0024
59137e38152350b195c9718d39673d519838055ad908dd4757152fd8255c09bf 41192d2813e79561e6a1d6f53c8bc1a433a199c835e141b05a74a97b0faeb922 1af98cc45e98a7e041b01cf35f462b7562281351c8ebf3ffa02e33a0722a1328 19d44c8d63e8e8dd12c22a87b8cd4ece27acdde04dbf47f7f27537a6999a8e62
"""
# The same suite's invalid-public-key case: COUNT 4's peer with the x-coordinate changed
CAVS_INVALID_PEER = ("04" "51192d2813e79561e6a1d6f53c8bc1a433a199c835e141b05a74a97b0faeb922"
                     "1af98cc45e98a7e041b01cf35f462b7562281351c8ebf3ffa02e33a0722a1328")


def test_p256_public_rfc6979_key():
    assert hx(crypto.p256_public(h(RFC6979_X))) == RFC6979_U


def test_p256_public_small_and_large_scalars():
    assert hx(crypto.p256_public((1).to_bytes(32, "big"))) == G
    # (n - 1) G = -G: same x, y = p - Gy
    minus_g = crypto.p256_public((N - 1).to_bytes(32, "big"))
    assert minus_g[:33] == h(G)[:33]
    assert int(hx(minus_g[33:]), 16) == P - int(G[66:], 16)


def test_p256_sign_rfc6979_sample_and_test():
    for msg, sig in RFC6979_SIGS:
        assert hx(crypto.p256_sign(h(RFC6979_X), msg)) == sig


def test_p256_verify_rfc6979_sample_and_test():
    for msg, sig in RFC6979_SIGS:
        assert crypto.p256_verify(h(RFC6979_U), msg, h(sig)) is True


def test_p256_ecdh_rfc5903():
    i, gi = RFC5903_I
    r, gr = RFC5903_R
    assert hx(crypto.p256_public(h(i))) == gi
    assert hx(crypto.p256_public(h(r))) == gr
    assert hx(crypto.p256_ecdh(h(i), h(gr))) == RFC5903_Z
    assert hx(crypto.p256_ecdh(h(r), h(gi))) == RFC5903_Z


def _cavs():
    return [line.split() for line in CAVS_ECDH.split("\n") if line]


def test_p256_ecdh_nist_cavs_0_to_2():
    for d, x, y, z in _cavs()[:3]:
        assert hx(crypto.p256_ecdh(h(d), h("04" + x + y))) == z


def test_p256_ecdh_nist_cavs_3_to_4():
    for d, x, y, z in _cavs()[3:]:
        assert hx(crypto.p256_ecdh(h(d), h("04" + x + y))) == z


def test_p256_decompress():
    for pub in (RFC6979_U, RFC5903_I[1], RFC5903_R[1], G):
        b = h(pub)
        prefix = b"\x03" if b[64] & 1 else b"\x02"
        assert crypto.p256_decompress(prefix + b[1:33]) == b
        wrong = b"\x02" if prefix == b"\x03" else b"\x03"
        other = crypto.p256_decompress(wrong + b[1:33])
        assert other[:33] == b[:33] and other != b


def test_p256_decompress_invalid():
    x = h(RFC6979_U)[1:33]
    assert raises(CryptoError, crypto.p256_decompress, b"\x04" + x)
    assert raises(CryptoError, crypto.p256_decompress, b"\x02" + x[:31])
    assert raises(CryptoError, crypto.p256_decompress, b"\x02" + P.to_bytes(32, "big"))
    # x = 1: 1 - 3 + b is not a square mod p, so no point has it
    assert raises(CryptoError, crypto.p256_decompress, b"\x02" + (1).to_bytes(32, "big"))


def test_p256_invalid_points_raise():
    d = h(RFC5903_I[0])
    good = h(RFC5903_R[1])
    off_curve = bytearray(good)
    off_curve[64] ^= 1
    bad_points = (
        h(CAVS_INVALID_PEER),
        bytes(off_curve),
        good[:64],                                 # wrong length
        good + b"\x00",
        b"\x02" + good[1:33] + bytes(32),          # wrong prefix
        b"\x04" + bytes(64),                       # (0, 0): not on the curve
        b"\x04" + P.to_bytes(32, "big") + good[33:],  # x >= p
    )
    for pt in bad_points:
        assert raises(CryptoError, crypto.p256_ecdh, d, pt)
        assert raises(CryptoError, crypto.p256_verify, pt, b"sample", bytes(64))


def test_p256_invalid_private_keys_raise():
    peer = h(RFC5903_R[1])
    for d in (bytes(32), N.to_bytes(32, "big"), (N + 1).to_bytes(32, "big"), b"\xff" * 32,
              bytes(31), b"\x01" * 33):
        assert raises(CryptoError, crypto.p256_ecdh, d, peer)
        assert raises(CryptoError, crypto.p256_public, d)
        assert raises(CryptoError, crypto.p256_sign, d, b"msg")


def test_p256_bad_signatures_false():
    pub = h(RFC6979_U)
    msg, sig = RFC6979_SIGS[0]
    sig = h(sig)
    r = int(hx(sig[:32]), 16)
    s = int(hx(sig[32:]), 16)
    assert not crypto.p256_verify(pub, b"samplf", sig)
    for i in (0, 31, 32, 63):
        bad = bytearray(sig)
        bad[i] ^= 0x01
        assert not crypto.p256_verify(pub, msg, bytes(bad))
    for bad in (sig[:63], sig + b"\x00", b"",
                bytes(32) + sig[32:],                        # r = 0
                sig[:32] + bytes(32),                        # s = 0
                N.to_bytes(32, "big") + sig[32:],            # r = n
                sig[:32] + N.to_bytes(32, "big"),            # s = n
                (r + N).to_bytes(33, "big")[1:] + sig[32:],  # r + n mod 2^256
                b"\xff" * 64):
        assert not crypto.p256_verify(pub, msg, bad)
    # (r, n - s) is valid too: ECDSA signatures are malleable (no low-s rule is applied)
    assert crypto.p256_verify(pub, msg, sig[:32] + (N - s).to_bytes(32, "big"))
    # the other RFC 6979 key's signature
    assert not crypto.p256_verify(h(RFC5903_I[1]), msg, sig)


def test_p256_keypair_sign_verify():
    d, q = crypto.p256_keypair()
    assert len(d) == 32 and len(q) == 65 and q[0] == 4
    assert 0 < int(hx(d), 16) < N
    assert crypto.p256_public(d) == q
    sig = crypto.p256_sign(d, b"hello")
    assert len(sig) == 64
    assert crypto.p256_verify(q, b"hello", sig)
    assert not crypto.p256_verify(q, b"hellp", sig)
    assert crypto.p256_sign(d, b"hello") == sig  # deterministic (RFC 6979)


def test_p256_ecdh_agreement():
    a, qa = crypto.p256_keypair()
    b, qb = crypto.p256_keypair()
    assert crypto.p256_ecdh(a, qb) == crypto.p256_ecdh(b, qa)
