# imprint.crypto X25519 (RFC 7748) and Ed25519 (RFC 8032) against the published vectors,
# and what invalid keys, points and signatures must do. Every vector here was checked
# against `cryptography` (OpenSSL) on CPython. Vector tables are text, one vector a line,
# hex fields separated by spaces ("-" is empty): one string per table in a board's RAM.
from vectors import MICROPYTHON, h, hx, raises, rows  # noqa: F401

import imprint.crypto as crypto
from imprint.crypto import CryptoError


# RFC 7748 §5.2: scalar, u, X25519(scalar, u)
X25519_VECTORS = """
a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4 e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552
4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493 95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957
"""
# RFC 7748 §5.2: k = u = 9, then k, u = X25519(k, u), k: after 1 and 1,000 iterations
X25519_ITER_1 = "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"
X25519_ITER_1000 = "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"

# RFC 7748 §6.1: Alice's and Bob's keys and their shared secret
DH_ALICE = ("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
DH_BOB = ("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
          "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
DH_SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

# RFC 8032 §7.1 TEST 1, 2, 3 and SHA(abc): secret key, public key, message, signature
ED25519_VECTORS = """
9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60 d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a - e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b
4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb 3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c 72 92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00
c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7 fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025 af82 6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a
833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42 ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704
"""
# RFC 8032 §7.1 TEST 1024, a 1023-byte message (SHA-512 over several blocks): the same fields
ED25519_TEST_1024 = """
f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5 278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e 08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed185ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f27088d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128bab27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb751fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34dff7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e488acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5fb93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380db2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0 0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03
"""

# Points of small order on Curve25519 (u = 0, 1 and the order-8 points, cf. RFC 7748 §7):
# X25519 with them gives the all-zero output that RFC 7748 §6.1 says to refuse
SMALL_ORDER_U = """
0000000000000000000000000000000000000000000000000000000000000000
0100000000000000000000000000000000000000000000000000000000000000
e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800
5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157
ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f
"""


def test_x25519_rfc7748_vectors():
    for k, u, out in rows(X25519_VECTORS):
        assert crypto.x25519(k, u) == out


def test_x25519_rfc7748_iterated_once():
    k = u = h("09" + "00" * 31)
    assert hx(crypto.x25519(k, u)) == X25519_ITER_1


def test_x25519_rfc7748_iterated_1000():
    # about 1000 ladders: a few seconds on the virtual board
    k = u = h("09" + "00" * 31)
    for i in range(1000):
        k, u = crypto.x25519(k, u), k
    assert hx(k) == X25519_ITER_1000


def test_x25519_rfc7748_dh():
    a, a_pub = DH_ALICE
    b, b_pub = DH_BOB
    assert hx(crypto.x25519_base(h(a))) == a_pub
    assert hx(crypto.x25519_base(h(b))) == b_pub
    assert hx(crypto.x25519(h(a), h(b_pub))) == DH_SHARED
    assert hx(crypto.x25519(h(b), h(a_pub))) == DH_SHARED


def test_x25519_base_matches_ladder():
    nine = h("09" + "00" * 31)
    for k, u, out in rows(X25519_VECTORS):
        assert crypto.x25519_base(k) == crypto.x25519(k, nine)
    # scalars at the clamping edges
    for k in (bytes(32), b"\xff" * 32, b"\x01" + bytes(31), bytes(31) + b"\x80"):
        assert crypto.x25519_base(k) == crypto.x25519(k, nine)


def test_x25519_u_top_bit_masked_and_non_canonical_u():
    k, u, out = rows(X25519_VECTORS)[0]
    u = bytearray(u)
    u[31] |= 0x80  # RFC 7748 §5: the top bit is ignored
    assert crypto.x25519(k, bytes(u)) == out
    # u = p + 9 (non-canonical) is accepted and taken mod p
    p_plus_9 = ((1 << 255) - 19 + 9).to_bytes(32, "little")
    assert crypto.x25519(k, p_plus_9) == crypto.x25519(k, h("09" + "00" * 31))


def test_x25519_rejects_small_order_and_bad_lengths():
    k = h(DH_ALICE[0])
    for u, in rows(SMALL_ORDER_U):
        assert raises(CryptoError, crypto.x25519, k, u)
    assert raises(CryptoError, crypto.x25519, k, bytes(31))
    assert raises(CryptoError, crypto.x25519, k[:31], h(DH_BOB[1]))
    assert raises(CryptoError, crypto.x25519_base, bytes(33))


def _ed_check(sk, pk, msg, sig):
    assert crypto.ed25519_public(sk) == pk
    assert crypto.ed25519_sign(sk, msg) == sig
    assert crypto.ed25519_verify(pk, msg, sig) is True


def test_ed25519_rfc8032_test1():
    _ed_check(*rows(ED25519_VECTORS)[0])


def test_ed25519_rfc8032_test2():
    _ed_check(*rows(ED25519_VECTORS)[1])


def test_ed25519_rfc8032_test3():
    _ed_check(*rows(ED25519_VECTORS)[2])


def test_ed25519_rfc8032_test_sha_abc():
    _ed_check(*rows(ED25519_VECTORS)[3])


def test_ed25519_rfc8032_test1024():
    _ed_check(*rows(ED25519_TEST_1024)[0])


def test_ed25519_pure_sha512_path():
    # the path a board without hashlib.sha512 takes: the pure SHA-512 registered as native
    from imprint.crypto.sha512 import sha512
    crypto.register("sha512", sha512)
    try:
        _ed_check(*rows(ED25519_VECTORS)[2])
    finally:
        crypto.register("sha512", None)


def test_ed25519_bad_signatures_false():
    sk, pk, msg, sig = rows(ED25519_VECTORS)[2]
    assert not crypto.ed25519_verify(pk, msg + b"\x00", sig)
    assert not crypto.ed25519_verify(pk, msg[:1], sig)
    for i in (0, 31, 32, 63):
        bad = bytearray(sig)
        bad[i] ^= 0x01
        assert not crypto.ed25519_verify(pk, msg, bytes(bad))
    assert not crypto.ed25519_verify(pk, msg, sig[:63])
    assert not crypto.ed25519_verify(pk, msg, sig + b"\x00")
    assert not crypto.ed25519_verify(pk, msg, b"")
    # another key's valid signature
    sk2, pk2, msg2, sig2 = rows(ED25519_VECTORS)[1]
    assert not crypto.ed25519_verify(pk2, msg, sig)


def test_ed25519_rejects_s_not_below_l():
    # S + L verifies mathematically; RFC 8032 §5.1.7 requires rejecting S >= L
    sk, pk, msg, sig = rows(ED25519_VECTORS)[0]
    L = (1 << 252) + 27742317777372353535851937790883648493
    s = int.from_bytes(sig[32:], "little")
    assert crypto.ed25519_verify(pk, msg, sig)
    assert not crypto.ed25519_verify(pk, msg, sig[:32] + (s + L).to_bytes(32, "little"))
    assert not crypto.ed25519_verify(pk, msg, sig[:32] + b"\xff" * 32)


def test_ed25519_invalid_public_keys_raise():
    sk, pk, msg, sig = rows(ED25519_VECTORS)[0]
    p = (1 << 255) - 19
    bad_keys = (
        pk[:31],                                  # wrong length
        pk + b"\x00",
        (p + 1).to_bytes(32, "little"),           # y >= p: not canonical
        b"\xff" * 31 + b"\x7f",                   # y = 2^255 - 1
        (1).to_bytes(32, "little")[:31] + b"\x80",  # y = 1, x = 0 with the sign bit set
        (2).to_bytes(32, "little"),               # y = 2: x^2 not a square
    )
    for key in bad_keys:
        assert raises(CryptoError, crypto.ed25519_verify, key, msg, sig)
    assert raises(CryptoError, crypto.ed25519_public, bytes(31))
    assert raises(CryptoError, crypto.ed25519_sign, bytes(33), b"")


def test_ed25519_sign_verify_round_trip():
    seed = bytes(range(32))
    pub = crypto.ed25519_public(seed)
    for n in (0, 1, 63, 64, 65, 200):
        msg = bytes((i * 13) & 255 for i in range(n))
        sig = crypto.ed25519_sign(seed, msg)
        assert len(sig) == 64
        assert crypto.ed25519_verify(pub, msg, sig)
