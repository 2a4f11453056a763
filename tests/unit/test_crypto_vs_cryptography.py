"""imprint.crypto (pure Python, firmware/imprint/crypto) against `cryptography` (OpenSSL).

CPython only. Thousands of random inputs overall, seeded so that a failure reproduces, plus
hypothesis properties; every comparison runs both ways (ours checked by OpenSSL, OpenSSL's
checked by ours).
"""

import hashlib
import hmac
import random

import pytest
from hypothesis import given, settings, strategies as st

import imprint.crypto as ic
from imprint.crypto import CryptoError
from imprint.crypto import aes as ic_aes
from imprint.crypto.sha512 import sha512 as pure_sha512

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESSIV
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def rng(seed):
    return random.Random(seed)


def raw(key):
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sec1(key, compressed=False):
    fmt = serialization.PublicFormat.CompressedPoint if compressed else serialization.PublicFormat.UncompressedPoint
    return key.public_bytes(serialization.Encoding.X962, fmt)


def p256_private(r):
    while True:
        d = r.randbytes(32)
        if 0 < int.from_bytes(d, "big") < N:
            return d


# --- P-256 ---

def test_p256_public_and_ecdh_both_ways():
    r = rng(1)
    for _ in range(800):
        d = p256_private(r)
        ours = ic.p256_public(d)
        theirs = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
        assert ours == sec1(theirs.public_key())
        peer = ec.generate_private_key(ec.SECP256R1())
        shared = theirs.exchange(ec.ECDH(), peer.public_key())
        assert ic.p256_ecdh(d, sec1(peer.public_key())) == shared
        peer_d = peer.private_numbers().private_value.to_bytes(32, "big")
        assert ic.p256_ecdh(peer_d, ours) == shared


def test_p256_ecdsa_both_ways():
    r = rng(2)
    for i in range(800):
        d = p256_private(r)
        key = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
        pub = sec1(key.public_key())
        msg = r.randbytes(r.randrange(0, 200))
        # ours, verified by OpenSSL (and equal to OpenSSL's RFC 6979 signature)
        sig = ic.p256_sign(d, msg)
        key.public_key().verify(encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                                     int.from_bytes(sig[32:], "big")),
                                msg, ec.ECDSA(hashes.SHA256()))
        if i < 100:
            det = key.sign(msg, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
            rr, ss = decode_dss_signature(det)
            assert sig == rr.to_bytes(32, "big") + ss.to_bytes(32, "big")
        assert ic.p256_verify(pub, msg, sig)
        # OpenSSL's (random nonce), verified by ours
        rr, ss = decode_dss_signature(key.sign(msg, ec.ECDSA(hashes.SHA256())))
        theirs = rr.to_bytes(32, "big") + ss.to_bytes(32, "big")
        assert ic.p256_verify(pub, msg, theirs)
        # and a wrong message or a flipped bit fails on both sides
        assert not ic.p256_verify(pub, msg + b"!", theirs)
        bad = bytearray(sig)
        bad[r.randrange(64)] ^= 1 << r.randrange(8)
        bad = bytes(bad)
        ours_ok = ic.p256_verify(pub, msg, bad)
        try:
            key.public_key().verify(encode_dss_signature(int.from_bytes(bad[:32], "big"),
                                                         int.from_bytes(bad[32:], "big")),
                                    msg, ec.ECDSA(hashes.SHA256()))
            theirs_ok = True
        except (InvalidSignature, ValueError):
            theirs_ok = False
        assert ours_ok == theirs_ok is False


def test_p256_point_validation_agrees():
    # random x: about half are on the curve; decompression and validation must agree
    r = rng(3)
    accepted = 0
    for _ in range(400):
        x = r.randbytes(32)
        prefix = bytes((2 + r.randrange(2),))
        try:
            theirs = sec1(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), prefix + x))
        except ValueError:
            theirs = None
        try:
            ours = ic.p256_decompress(prefix + x)
        except CryptoError:
            ours = None
        assert ours == theirs
        if ours is not None:
            accepted += 1
            assert ic.p256_ecdh(p256_private(r), ours)  # a valid peer
            bad = ours[:64] + bytes((ours[64] ^ 1,))
            with pytest.raises(CryptoError):
                ic.p256_ecdh(p256_private(r), bad)
            with pytest.raises(ValueError):
                ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bad)
    assert 120 < accepted < 280


def test_p256_keypair():
    for _ in range(50):
        d, q = ic.p256_keypair()
        key = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
        assert sec1(key.public_key()) == q


# --- Curve25519 ---

def test_x25519_both_ways():
    r = rng(4)
    for i in range(1000):
        a = r.randbytes(32)
        ka = x25519.X25519PrivateKey.from_private_bytes(a)
        pa = raw(ka.public_key())
        assert ic.x25519_base(a) == pa
        kb = x25519.X25519PrivateKey.from_private_bytes(r.randbytes(32))
        pb = raw(kb.public_key())
        shared = ka.exchange(kb.public_key())
        assert ic.x25519(a, pb) == shared
        # arbitrary u, top bit set half the time (masked by both)
        u = bytearray(r.randbytes(32))
        if i & 1:
            u[31] |= 0x80
        assert ic.x25519(a, bytes(u)) == ka.exchange(x25519.X25519PublicKey.from_public_bytes(bytes(u)))


def test_ed25519_both_ways():
    r = rng(5)
    for _ in range(800):
        seed = r.randbytes(32)
        key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        pub = raw(key.public_key())
        assert ic.ed25519_public(seed) == pub
        msg = r.randbytes(r.randrange(0, 300))
        sig = ic.ed25519_sign(seed, msg)
        assert sig == key.sign(msg)  # Ed25519 is deterministic: byte-equal
        key.public_key().verify(sig, msg)
        assert ic.ed25519_verify(pub, msg, sig)
        bad = bytearray(sig)
        bad[r.randrange(64)] ^= 1 << r.randrange(8)
        assert not ic.ed25519_verify(pub, msg, bytes(bad))
        with pytest.raises(InvalidSignature):
            key.public_key().verify(bytes(bad), msg)
        assert not ic.ed25519_verify(pub, msg + b"\x00", sig)


def test_ed25519_pure_sha512_path():
    r = rng(6)
    ic.register("sha512", pure_sha512)
    try:
        for _ in range(30):
            seed = r.randbytes(32)
            key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
            msg = r.randbytes(r.randrange(0, 400))
            assert ic.ed25519_sign(seed, msg) == key.sign(msg)
            assert ic.ed25519_verify(raw(key.public_key()), msg, key.sign(msg))
    finally:
        ic.register("sha512", None)


# --- AES ---

def test_aes_block_all_key_sizes():
    r = rng(7)
    for _ in range(600):
        key = r.randbytes(r.choice((16, 24, 32)))
        block = r.randbytes(16)
        enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        assert ic_aes.cipher(key)(block) == enc.update(block)


def test_cmac():
    r = rng(8)
    for _ in range(500):
        key = r.randbytes(r.choice((16, 24, 32)))
        msg = r.randbytes(r.randrange(0, 100))
        c = CMAC(algorithms.AES(key))
        c.update(msg)
        assert ic_aes.cmac(ic_aes.cipher(key), msg) == c.finalize()


@pytest.mark.parametrize("tag_len", [8, 16, 4, 10])
def test_aes_ccm_both_ways(tag_len):
    r = rng(9 + tag_len)
    for _ in range(300):
        key = r.randbytes(r.choice((16, 24, 32)))
        nonce = r.randbytes(r.randrange(7, 14))
        pt = r.randbytes(r.randrange(0, 100))
        aad = r.randbytes(r.choice((0, 1, 13, 16, 31, 100)))
        theirs = AESCCM(key, tag_len)
        ct = ic.aes_ccm_encrypt(key, nonce, pt, aad, tag_len)
        assert ct == theirs.encrypt(nonce, pt, aad)
        assert theirs.decrypt(nonce, ct, aad) == pt
        assert ic.aes_ccm_decrypt(key, nonce, ct, aad, tag_len) == pt
        bad = bytearray(ct)
        bad[r.randrange(len(ct))] ^= 1 << r.randrange(8)
        with pytest.raises(CryptoError):
            ic.aes_ccm_decrypt(key, nonce, bytes(bad), aad, tag_len)
        with pytest.raises(InvalidTag):
            theirs.decrypt(nonce, bytes(bad), aad)


def test_aes_siv_both_ways():
    r = rng(10)
    for _ in range(600):
        key = r.randbytes(r.choice((32, 48, 64)))
        pt = r.randbytes(r.randrange(1, 100))  # OpenSSL's AESSIV refuses an empty plaintext
        ads = [r.randbytes(r.randrange(0, 40)) for _ in range(r.randrange(0, 5))]
        theirs = AESSIV(key)
        ct = ic.aes_siv_encrypt(key, pt, ads)
        assert ct == theirs.encrypt(pt, ads or None)
        assert theirs.decrypt(ct, ads or None) == pt
        assert ic.aes_siv_decrypt(key, ct, ads) == pt
        bad = bytearray(ct)
        bad[r.randrange(len(ct))] ^= 1 << r.randrange(8)
        with pytest.raises(CryptoError):
            ic.aes_siv_decrypt(key, bytes(bad), ads)
        with pytest.raises(InvalidTag):
            theirs.decrypt(bytes(bad), ads or None)


# --- hashes, HMAC, HKDF ---

def test_sha512_pure_and_hmac_and_hkdf():
    r = rng(11)
    for _ in range(500):
        data = r.randbytes(r.randrange(0, 400))
        assert pure_sha512(data) == hashlib.sha512(data).digest()
        key = r.randbytes(r.randrange(0, 150))
        assert ic.hmac_sha256(key, data) == hmac.new(key, data, hashlib.sha256).digest()
        salt = r.randbytes(r.randrange(0, 80))
        info = r.randbytes(r.randrange(0, 80))
        n = r.randrange(0, 300)
        expected = HKDF(hashes.SHA256(), n, salt or None, info).derive(data) if n else b""
        assert ic.hkdf(data, salt, info, n) == expected


# --- hypothesis properties ---

keys16_32 = st.sampled_from((16, 24, 32)).flatmap(lambda n: st.binary(min_size=n, max_size=n))
siv_keys = st.sampled_from((32, 48, 64)).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@settings(max_examples=150, deadline=None)
@given(key=keys16_32, nonce=st.binary(min_size=7, max_size=13), pt=st.binary(max_size=80),
       aad=st.binary(max_size=80), tag_len=st.sampled_from((4, 6, 8, 10, 12, 14, 16)))
def test_property_ccm(key, nonce, pt, aad, tag_len):
    ct = ic.aes_ccm_encrypt(key, nonce, pt, aad, tag_len)
    assert ct == AESCCM(key, tag_len).encrypt(nonce, pt, aad)
    assert ic.aes_ccm_decrypt(key, nonce, ct, aad, tag_len) == pt


@settings(max_examples=150, deadline=None)
@given(key=siv_keys, pt=st.binary(min_size=1, max_size=80),
       ads=st.lists(st.binary(max_size=40), max_size=4))
def test_property_siv(key, pt, ads):
    ct = ic.aes_siv_encrypt(key, pt, ads)
    assert ct == AESSIV(key).encrypt(pt, ads or None)
    assert ic.aes_siv_decrypt(key, ct, ads) == pt


@settings(max_examples=150, deadline=None)
@given(key=siv_keys, ads=st.lists(st.binary(max_size=40), max_size=3))
def test_property_siv_empty_plaintext_round_trip(key, ads):
    ct = ic.aes_siv_encrypt(key, b"", ads)
    assert len(ct) == 16
    assert ic.aes_siv_decrypt(key, ct, ads) == b""


@settings(max_examples=200, deadline=None)
@given(ikm=st.binary(max_size=100), salt=st.binary(max_size=100), info=st.binary(max_size=100),
       n=st.integers(min_value=1, max_value=255 * 32))
def test_property_hkdf(ikm, salt, info, n):
    assert ic.hkdf(ikm, salt, info, n) == HKDF(hashes.SHA256(), n, salt or None, info).derive(ikm)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600))
def test_property_sha512_pure(data):
    assert pure_sha512(data) == hashlib.sha512(data).digest()


@settings(max_examples=60, deadline=None)
@given(d=st.integers(min_value=1, max_value=N - 1), msg=st.binary(max_size=64))
def test_property_p256_sign_verify(d, msg):
    priv = d.to_bytes(32, "big")
    key = ec.derive_private_key(d, ec.SECP256R1())
    pub = ic.p256_public(priv)
    assert pub == sec1(key.public_key())
    sig = ic.p256_sign(priv, msg)
    assert ic.p256_verify(pub, msg, sig)
    key.public_key().verify(encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                                 int.from_bytes(sig[32:], "big")),
                            msg, ec.ECDSA(hashes.SHA256()))


@settings(max_examples=60, deadline=None)
@given(k=st.binary(min_size=32, max_size=32), u=st.binary(min_size=32, max_size=32))
def test_property_x25519(k, u):
    try:
        theirs = x25519.X25519PrivateKey.from_private_bytes(k).exchange(
            x25519.X25519PublicKey.from_public_bytes(u))
    except ValueError:  # all-zero output: a small-order u
        with pytest.raises(CryptoError):
            ic.x25519(k, u)
        return
    assert ic.x25519(k, u) == theirs


@settings(max_examples=40, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), msg=st.binary(max_size=200))
def test_property_ed25519(seed, msg):
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    assert ic.ed25519_public(seed) == raw(key.public_key())
    assert ic.ed25519_sign(seed, msg) == key.sign(msg)
    assert ic.ed25519_verify(raw(key.public_key()), msg, key.sign(msg))
