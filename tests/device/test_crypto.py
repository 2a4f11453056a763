# imprint.crypto: the facade, hashes, HMAC and HKDF against the published vectors.
# Plain test functions: pytest runs them on CPython, `imprint board test` on MicroPython.
# Every vector here was checked against hashlib / hmac / `cryptography` on CPython.
from vectors import MICROPYTHON, h, hx, raises, rows  # noqa: F401

import imprint.crypto as crypto
from imprint.crypto import CryptoError


# FIPS 180-4 examples (NIST CSRC "Examples with intermediate values", SHA256.pdf /
# SHA512.pdf; also FIPS 180-2 Appendix B/C): (message, SHA-256, SHA-512)
SHA_VECTORS = (
    (b"abc",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
    (b"",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
     "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
     "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
     "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"),
    (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
     b"ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
     "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
     "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"),
)

# FIPS 180-4 / NIST: one million repetitions of "a"
MILLION_A_SHA256 = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
MILLION_A_SHA512 = ("e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
                    "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b")

# RFC 4231 §4.2-4.8: HMAC-SHA-256 test cases 1-7 (key, data, HMAC; case 5 truncated).
# Built when called, so a board keeps no repeated-byte keys in RAM between tests.
def hmac_vectors():
    return (
        ("0b" * 20, b"Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        ("4a656665", b"what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ("aa" * 20, b"\xdd" * 50,
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        ("0102030405060708090a0b0c0d0e0f10111213141516171819", b"\xcd" * 50,
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        ("0c" * 20, b"Test With Truncation",
         "a3b6167473100ee06e0c796c2955552b"),
        ("aa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ("aa" * 131, b"This is a test using a larger than block-size key and a larger than "
         b"block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    )


def _range_hex(a, b):
    return hx(bytes(range(a, b)))


# RFC 5869 Appendix A.1-A.3: HKDF-SHA-256 (IKM, salt, info, L, PRK, OKM), built when called
def hkdf_vectors():
    return (
        ("0b" * 22, "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9", 42,
         "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
         "34007208d5b887185865"),
        (_range_hex(0x00, 0x50), _range_hex(0x60, 0xb0), _range_hex(0xb0, 0x100), 82,
         "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
         "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
         "cc30c58179ec3e87c14c01d5c1f3434f1d87"),
        ("0b" * 22, "", "", 42,
         "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
         "9d201395faa4b61a96c8"),
    )


def test_facade_names():
    for name in ("sha256", "hmac_sha256", "hkdf_extract", "hkdf_expand", "hkdf",
                 "aes_ccm_encrypt", "aes_ccm_decrypt", "aes_siv_encrypt", "aes_siv_decrypt",
                 "x25519", "x25519_base", "ed25519_public", "ed25519_sign", "ed25519_verify",
                 "p256_keypair", "p256_public", "p256_decompress", "p256_ecdh", "p256_sign",
                 "p256_verify", "random_bytes", "equal", "register"):
        assert callable(getattr(crypto, name)), name
    assert issubclass(CryptoError, ValueError)


def test_sha256_fips180():
    for msg, d256, d512 in SHA_VECTORS:
        assert hx(crypto.sha256(msg)) == d256
        assert hx(crypto.sha256(bytearray(msg))) == d256


def test_sha256_million_a():
    # one million bytes in one call: CPython only (a board's heap has no room for it)
    if MICROPYTHON:
        return
    assert hx(crypto.sha256(b"a" * 1000000)) == MILLION_A_SHA256


def test_sha512_pure_fips180():
    # the pure-Python SHA-512 (the one a board without hashlib.sha512 uses)
    from imprint.crypto.sha512 import sha512
    for msg, d256, d512 in SHA_VECTORS:
        assert hx(sha512(msg)) == d512


def test_sha512_pure_block_boundaries():
    # padding edge cases: 111, 112 and 128 bytes straddle the length field; compared with
    # the facade's SHA-512 (hashlib's where present, so pure vs OpenSSL on CPython)
    from imprint.crypto.sha512 import sha512
    for n in (1, 55, 56, 64, 111, 112, 113, 127, 128, 129, 239, 240, 256):
        data = bytes((i * 7 + n) & 255 for i in range(n))
        assert sha512(data) == crypto._sha512(data), n


def test_sha512_pure_million_a():
    if MICROPYTHON:
        return  # 7813 blocks: seconds of pure Python on a board
    from imprint.crypto.sha512 import sha512
    assert hx(sha512(b"a" * 1000000)) == MILLION_A_SHA512


def test_hmac_sha256_rfc4231():
    for key, data, mac in hmac_vectors():
        got = crypto.hmac_sha256(h(key), data)
        assert hx(got[:len(mac) // 2]) == mac


def test_hkdf_rfc5869():
    for ikm, salt, info, n, prk, okm in hkdf_vectors():
        assert hx(crypto.hkdf_extract(h(salt), h(ikm))) == prk
        assert hx(crypto.hkdf_expand(h(prk), h(info), n)) == okm
        assert hx(crypto.hkdf(h(ikm), h(salt), h(info), n)) == okm


def test_hkdf_lengths():
    prk = bytes(32)
    assert crypto.hkdf_expand(prk, b"", 0) == b""
    assert len(crypto.hkdf_expand(prk, b"x", 255 * 32)) == 255 * 32
    assert crypto.hkdf_expand(prk, b"x", 33)[:32] == crypto.hkdf_expand(prk, b"x", 32)
    assert raises(CryptoError, crypto.hkdf_expand, prk, b"", 255 * 32 + 1)
    # an empty salt is HashLen zero bytes (RFC 5869 §2.2)
    assert crypto.hkdf_extract(b"", b"ikm") == crypto.hkdf_extract(bytes(32), b"ikm")


def test_equal():
    assert crypto.equal(b"", b"")
    assert crypto.equal(b"abc", b"abc")
    assert crypto.equal(b"abc", bytearray(b"abc"))
    assert not crypto.equal(b"abc", b"abd")
    assert not crypto.equal(b"abc", b"ab")
    assert not crypto.equal(b"\x00", b"\x80")


def test_random_bytes():
    a = crypto.random_bytes(32)
    b = crypto.random_bytes(32)
    assert len(a) == 32 and len(b) == 32 and a != b
    assert crypto.random_bytes(0) == b""


def test_register_overrides_and_restores():
    calls = []

    def fake_random(n):
        calls.append(n)
        return bytes(n)

    crypto.register("random_bytes", fake_random)
    try:
        assert crypto.random_bytes(5) == bytes(5)
        assert calls == [5]
    finally:
        crypto.register("random_bytes", None)
    assert crypto.random_bytes(16) != bytes(16)
    assert raises(ValueError, crypto.register, "no_such_primitive", fake_random)


def test_register_short_random_source_rejected():
    crypto.register("random_bytes", lambda n: bytes(n - 1))
    try:
        assert raises(CryptoError, crypto.random_bytes, 8)
    finally:
        crypto.register("random_bytes", None)


def test_register_sha256_used_by_hmac():
    seen = []

    def traced(data):
        seen.append(len(data))
        import hashlib
        return hashlib.sha256(data).digest()

    crypto.register("sha256", traced)
    try:
        key, data, mac = hmac_vectors()[1]
        assert hx(crypto.hmac_sha256(h(key), data)) == mac
        assert len(seen) == 2
    finally:
        crypto.register("sha256", None)


def test_register_aes_block_used_by_modes():
    from imprint.crypto.aes import cipher
    blocks = []

    def native(key, block):
        blocks.append(block)
        return cipher(key)(block)

    key = h("404142434445464748494a4b4c4d4e4f")
    expected = crypto.aes_ccm_encrypt(key, h("10111213141516"), h("20212223"), h("0001020304050607"), 4)
    crypto.register("aes_ecb_encrypt_block", native)
    try:
        got = crypto.aes_ccm_encrypt(key, h("10111213141516"), h("20212223"), h("0001020304050607"), 4)
    finally:
        crypto.register("aes_ecb_encrypt_block", None)
    assert got == expected == h("7162015b4dac255d")
    # CBC-MAC over B0, the AAD block and the payload block; CTR blocks A0 (tag) and A1
    assert len(blocks) == 5
