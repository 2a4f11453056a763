# imprint.cose: COSE_Sign1 / Encrypt0 / Mac0 (RFC 9052, RFC 9053), COSE_Key, CCS (RFC 8392,
# RFC 9528 §3.5.2) and the x5t / x5chain headers (RFC 9360) against published vectors:
# RFC 9052 Appendix C (C.2.1, C.4.1) and the COSE WG Examples repository (cose-wg/Examples:
# eddsa-examples/eddsa-sig-01, sign1-tests/sign-pass-01..03, aes-ccm-examples/aes-ccm-enc-01
# and -02, hmac-examples/HMac-enc-01, -04, -05, mac0-tests/mac-pass-01..03), the CCSs and the
# certificate of the EDHOC traces (RFC 9529 §2 and §3); then round trips, tagged and untagged,
# external AAD, detached payloads, and the rejection of flipped bits and wrong keys.
# EdDSA signatures and CCM/HMAC outputs are deterministic, so those vectors are compared
# byte for byte; the ECDSA examples used random nonces, so they are verified.
# Public-key operations are slow on a board: each test does only a few.
from vectors import h, raises

from imprint import cose
from imprint.cose import COSEError

CONTENT = b"This is the content."

# RFC 8032 §7.1 TEST 1 key pair (also the eddsa-sig-01 key, kid "11")
ED_D = h("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
ED_X = h("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
# eddsa-sig-01: protected {1: -8, 3: 0}, unprotected {4: '11'}
EDDSA_SIG_01 = ("d28445a201270300a10442313154546869732069732074686520636f6e74656e742e5840"
                "7142fd2ff96d56db85bee905a76ba1d0b7321a95c8c4d3607c5781932b7afb8711497dfa"
                "751bf40b58b3bcc32300b1487f3db34085eef013bf08f4a44d6fef0d")

# RFC 9052 C.2.1 / sign1-tests key "11" (P-256), x, y and d
P256_X = h("bac5b11cad8f99f9c72b05cf4b9e26d244dc189f745228255a219a86d6a09eff")
P256_Y = h("20138bf82dc1b6d562be0fa54ab7804a3a64b6d72ccfed6b6fb6ed28bbfc117e")
P256_D = h("57c92077664146e876760c9520d054aa93c3afb04e306705db6090308507b4d3")
# RFC 9052 C.2.1: ES256, protected {1: -7}, unprotected {4: '11'}
C_2_1 = ("d28443a10126a10442313154546869732069732074686520636f6e74656e742e58408eb33e4c"
         "a31d1c465ab05aac34cc6b23d58fef5c083106c4d25a91aef0b0117e2af9a291aa32e14ab834"
         "dc56ed2a223444547e01f11d3b0916e5a4c345cacb36")
# sign-pass-01: protected sent as h'a0' (an empty map), alg unprotected
SIGN_PASS_01 = ("d28441a0a201260442313154546869732069732074686520636f6e74656e742e584087db0d2e"
                "5571843b78ac33ecb2830df7b6e0a4d5b7376de336b23c591c90c425317e56127fbe04370097"
                "ce347087b233bf722b64072beb4486bda4031d27244f")
# sign-pass-02: external AAD 11aa22bb33cc44dd55006699
SIGN_PASS_02 = ("d28443a10126a10442313154546869732069732074686520636f6e74656e742e584010729cd7"
                "11cb3813d8d8e944a8da7111e7b258c9bdca6135f7ae1adbee9509891267837e1e33bd36c150"
                "326ae62755c6bd8e540c3e8f92d7d225e8db72b8820b")

# aes-ccm-enc-01 (alg 10) and -02 (alg 30): key, IV
CCM_KEY = h("849b57219dae48de646d07dbb533566e")
CCM_IV = h("89f52f65a1c580933b5261a72f")
CCM_ENC_01 = ("d08343a1010aa1054d89f52f65a1c580933b5261a72f581c6899da0a132bd2d2b9b10915743e"
              "e1f7b92a4680e7c51bdbc1b320ea")
CCM_ENC_02 = ("d08344a101181ea1054d89f52f65a1c580933b5261a72f58246899da0a132bd2d2b9b1091574"
              "3ee1f7b92a4680903f2c00d37e14d4ebdc7ef2c03cf5a9")
# RFC 9052 C.4.1: key our-secret2
C_4_1_KEY = h("849b5786457c1491be3a76dcea6c4271")
C_4_1 = ("d08343a1010aa1054d89f52f65a1c580933b5261a78c581c5974e1b99a3a4cc09a659aa2e9e7ff"
         "f161d38ce71cb45ce460ffb569")
# RFC 9052 C.4.2: the same key, Partial IV 61a7 sent, full IV not sent
C_4_2 = ("d08343a1010aa1064261a7581c252a8911d465c125b6764739700f0141ed09192de139e053bd09ab"
         "ca")
C_4_2_IV = h("89f52f65a1c5809300000061a7")

# HMac-enc-01 (HMAC 256/256), -05 (HMAC 256/64), -04 (the -01 tag with its last bit changed)
HMAC_KEY = h("849b57219dae48de646d07dbb533566e976686457c1491be3a76dcea6c427188")
HMAC_ENC_01 = ("d18443a10105a054546869732069732074686520636f6e74656e742e5820a1a848d3471f9d61"
               "ee49018d244c824772f223ad4f935293f1789fc3a08d8c58")
HMAC_ENC_04 = HMAC_ENC_01[:-2] + "59"
HMAC_ENC_05 = ("d18443a10104a054546869732069732074686520636f6e74656e742e4811f9e357975fb849")
# mac-pass-01: protected sent as h'a0'; -02: external AAD, protected h''; -03: untagged
MAC_PASS_01 = ("d18441a0a1010554546869732069732074686520636f6e74656e742e5820176dce14c1e57430"
               "c13658233f41dc89aa4fa0ff9b8783f23b0ef51ca6b026bc")
MAC_PASS_02 = ("d18440a1010554546869732069732074686520636f6e74656e742e58200fecaec59bb46cc8a4"
               "88aaca4b205e322dd52696b75a45768d3c302dd4bae2f7")
MAC_PASS_02_AAD = h("ff00ee11dd22cc33bb44aa559966")
MAC_PASS_03 = ("8440a1010554546869732069732074686520636f6e74656e742e5820176dce14c1e57430c136"
               "58233f41dc89aa4fa0ff9b8783f23b0ef51ca6b026bc")

# RFC 9529 §3: CRED_R and CRED_I, P-256 static DH keys as CCSs; SK_R
CRED_R = ("a2026b6578616d706c652e65647508a101a501020241322001215820bbc34960526ea4d32e940c"
          "ad2a234148ddc21791a12afbcbac93622046dd44f02258204519e257236b2a0ce2023f0931f1f3"
          "86ca7afda64fcde0108c224c51eabf6072")
SK_R = h("72cc4761dbd4c78f758931aa589d348d1ef874a7e303ede2f140dcf3e6aa4aac")
CRED_I = ("a2027734322d35302d33312d46462d45462d33372d33322d333908a101a501020241"
          "2b2001215820ac75e9ece3e50bfc8ed60399889522405c47bf16df96660a41298cb4307f7eb622"
          "58206e5de611388a4b8a8211334ac7d37ecb52a387d257e6db3c2a93df21ff3affc8")
# RFC 9529 §2: the Responder's X.509 certificate (CRED_R) and ID_CRED_R = {34: [-15, h'79f2...']}
CERT_R = ("3081ee3081a1a003020102020462319ec4300506032b6570301d311b301906035504030c124544"
          "484f4320526f6f742045643235353139301e170d3232303331363038323433365a170d32393132"
          "33313233303030305a30223120301e06035504030c174544484f4320526573706f6e6465722045"
          "643235353139302a300506032b6570032100a1db47b95184854ad12a0c1a354e418aace33aa0f2"
          "c662c00b3ac55de92f9359300506032b6570034100b723bc01eab0928e8b2b6c98de19cc3823d4"
          "6e7d6987b032478fecfaf14537a1af14cc8be829c6b73044101837eb4abc949565d86dce51cfae"
          "52ab82c152cb02")
ID_CRED_R_X5T = "a11822822e4879f2a41b510c1f9b"


def _ed_key():
    return cose.okp_key(cose.CRV_ED25519, ED_X, ED_D, kid=b"11")


def _p256_key():
    return cose.ec2_key(b"\x04" + P256_X + P256_Y, P256_D, kid=b"11")


def _flipped(data, i, bit=1):
    b = bytearray(data)
    b[i] ^= bit
    return bytes(b)


def _all_flips_rejected(fn, data):
    # fn(data') raises COSEError for every message with one bit flipped (the low bit of
    # each byte, and the high bit of each byte).
    for i in range(len(data)):
        for bit in (1, 0x80):
            if not raises(COSEError, fn, _flipped(data, i, bit)):
                return i, bit
    return None


# ---- COSE_Sign1 ----------------------------------------------------------------------

def test_sign1_eddsa_vector():
    key = _ed_key()
    msg = cose.sign1(key, CONTENT, protected={cose.CONTENT_TYPE: 0},
                     unprotected={cose.KID: b"11"})
    assert msg == h(EDDSA_SIG_01)
    # the raw seed with an explicit alg gives the same message
    assert cose.sign1(ED_D, CONTENT, cose.EDDSA, {cose.CONTENT_TYPE: 0}, {cose.KID: b"11"}) == msg
    p, u, payload = cose.verify1(ED_X, msg, alg=cose.EDDSA)
    assert p == {cose.ALG: cose.EDDSA, cose.CONTENT_TYPE: 0}
    assert u == {cose.KID: b"11"} and payload == CONTENT


def test_sign1_es256_rfc9052_c21():
    pub = cose.ec2_key(b"\x04" + P256_X + P256_Y, kid=b"11")
    p, u, payload = cose.verify1(pub, h(C_2_1))
    assert p == {cose.ALG: cose.ES256} and u == {cose.KID: b"11"} and payload == CONTENT
    # sign-pass-01: an empty protected map sent as h'a0' enters Sig_structure as h''
    p, u, payload = cose.verify1(b"\x04" + P256_X + P256_Y, h(SIGN_PASS_01), alg=cose.ES256)
    assert p == {} and u == {cose.ALG: cose.ES256, cose.KID: b"11"}


def test_sign1_es256_external_aad_and_untagged():
    pub = b"\x04" + P256_X + P256_Y
    aad = h("11aa22bb33cc44dd55006699")
    assert cose.verify1(pub, h(SIGN_PASS_02), aad, cose.ES256)[2] == CONTENT
    # sign-pass-03 is C.2.1 without its tag: untagged input verifies the same
    assert cose.verify1(pub, h(C_2_1)[1:], alg=cose.ES256)[2] == CONTENT
    # the same signature under another external AAD fails
    assert raises(COSEError, cose.verify1, pub, h(SIGN_PASS_02), b"", cose.ES256)


def test_sign1_es256_round_trip_and_tamper():
    key = _p256_key()
    msg = cose.sign1(key, b"hello", external_aad=b"aad", unprotected={cose.KID: b"11"})
    assert msg[0] == 0xD2  # tag 18
    assert cose.verify1(key, msg, b"aad") == ({cose.ALG: cose.ES256}, {cose.KID: b"11"},
                                               b"hello")
    # one flipped bit in the signature
    assert raises(COSEError, cose.verify1, key, _flipped(msg, len(msg) - 1))
    # flipped bits elsewhere fail before any curve arithmetic, or at decoding
    assert raises(COSEError, cose.verify1, key, _flipped(msg, 0))  # tag 18 -> 19
    assert raises(COSEError, cose.verify1, key, _flipped(msg, 5, 0x80))  # alg -7 -> other


def test_sign1_eddsa_detached_untagged_external_aad():
    key = _ed_key()
    msg = cose.sign1(key, CONTENT, external_aad=b"ctx", tagged=False, detached=True)
    assert msg[0] == 0x84 and b"This is" not in msg
    p, u, payload = cose.verify1(ED_X, msg, b"ctx", cose.EDDSA, payload=CONTENT)
    assert payload == CONTENT and p == {cose.ALG: cose.EDDSA} and u == {}
    assert raises(COSEError, cose.verify1, ED_X, msg, b"ctx", cose.EDDSA)  # no payload
    assert raises(COSEError, cose.verify1, ED_X, msg, b"ctx", cose.EDDSA, CONTENT + b"!")
    assert raises(COSEError, cose.verify1, ED_X, msg, b"xtc", cose.EDDSA, CONTENT)


def test_sign1_eddsa_flipped_bits():
    # a short message, every byte flipped once (the low bit); Ed25519 verify is cheap
    # enough on the board for this, most flips fail at decoding
    key = _ed_key()
    msg = cose.sign1(key, b"x", tagged=False)
    for i in range(len(msg)):
        assert raises(COSEError, cose.verify1, key, _flipped(msg, i)), i


def test_sign1_wrong_keys():
    ed = _ed_key()
    msg = cose.sign1(ed, CONTENT, unprotected={cose.KID: b"11"})
    other = cose.okp_key(cose.CRV_ED25519,  # RFC 8032 §7.1 TEST 2 public key
                         h("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"))
    assert raises(COSEError, cose.verify1, other, msg)  # signature fails
    # kid names another key
    assert raises(COSEError, cose.verify1, cose.okp_key(cose.CRV_ED25519, ED_X, kid=b"12"), msg)
    # an EdDSA message with a P-256 key, an X25519 key, a raw key of the wrong size
    p256 = cose.ec2_key(b"\x04" + P256_X + P256_Y)
    assert raises(COSEError, cose.verify1, p256, msg)
    assert raises(COSEError, cose.verify1, cose.okp_key(cose.CRV_X25519, ED_X), msg)
    assert raises(COSEError, cose.verify1, b"\x04" + P256_X + P256_Y, msg)
    # the key's alg parameter must agree with the message's
    assert raises(COSEError, cose.verify1, cose.okp_key(cose.CRV_ED25519, ED_X, alg=cose.ES256),
                  msg)
    # expected alg differs from the message's
    assert raises(COSEError, cose.verify1, ed, msg, b"", cose.ES256)
    # signing needs d; a raw key needs an alg
    assert raises(COSEError, cose.sign1, cose.okp_key(cose.CRV_ED25519, ED_X), b"")
    assert raises(COSEError, cose.sign1, ED_D, b"")
    # a Sign1 is not a Mac0 nor an Encrypt0
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY, msg)
    assert raises(COSEError, cose.decrypt0, CCM_KEY, msg)


# ---- COSE_Encrypt0 -------------------------------------------------------------------

def test_encrypt0_vectors():
    assert cose.encrypt0(CCM_KEY, CCM_IV, CONTENT) == h(CCM_ENC_01)
    key = cose.symmetric_key(CCM_KEY, kid=b"our-secret", alg=cose.AES_CCM_16_128_128)
    assert cose.encrypt0(key, CCM_IV, CONTENT) == h(CCM_ENC_02)
    assert cose.decrypt0(CCM_KEY, h(CCM_ENC_01)) == ({cose.ALG: 10}, {cose.IV: CCM_IV}, CONTENT)
    assert cose.decrypt0(key, h(CCM_ENC_02))[2] == CONTENT
    p, u, pt = cose.decrypt0(C_4_1_KEY, h(C_4_1))
    assert pt == CONTENT and u[cose.IV] == h("89f52f65a1c580933b5261a78c")
    # the wrong algorithm, key or key size
    assert raises(COSEError, cose.decrypt0, key, h(CCM_ENC_01))
    assert raises(COSEError, cose.decrypt0, C_4_1_KEY, h(CCM_ENC_01))
    assert raises(COSEError, cose.decrypt0, CCM_KEY + b"\x00", h(CCM_ENC_01))


def test_encrypt0_round_trip():
    for alg in (cose.AES_CCM_16_64_128, cose.AES_CCM_16_128_128):
        for tagged in (True, False):
            msg = cose.encrypt0(CCM_KEY, CCM_IV, b"secret", alg, {}, {cose.KID: b"k"},
                                b"ext", tagged)
            assert (msg[0] == 0xD0) == tagged
            p, u, pt = cose.decrypt0(CCM_KEY, msg, b"ext")
            assert pt == b"secret" and p == {cose.ALG: alg}
            assert u == {cose.KID: b"k", cose.IV: CCM_IV}
            assert raises(COSEError, cose.decrypt0, CCM_KEY, msg)  # external AAD missing
    # IV not sent: the recipient supplies it
    msg = cose.encrypt0(CCM_KEY, CCM_IV, b"", send_iv=False)
    assert cose.unverified_headers(msg) == ({cose.ALG: 10}, {})
    assert raises(COSEError, cose.decrypt0, CCM_KEY, msg)
    assert cose.decrypt0(CCM_KEY, msg, iv=CCM_IV)[2] == b""
    assert raises(COSEError, cose.decrypt0, CCM_KEY, msg, b"", CCM_IV[:-1] + b"\x00")
    # RFC 9052 C.4.2 carries only a Partial IV: refused unless the caller gives the full IV
    assert raises(COSEError, cose.decrypt0, C_4_1_KEY, h(C_4_2))
    p, u, pt = cose.decrypt0(C_4_1_KEY, h(C_4_2), iv=C_4_2_IV)
    assert pt == CONTENT and u == {cose.PARTIAL_IV: h("61a7")}
    # a wrong IV size is refused
    assert raises(COSEError, cose.encrypt0, CCM_KEY, CCM_IV[:12], b"")
    # a MAC algorithm is not an AEAD one
    assert raises(COSEError, cose.encrypt0, CCM_KEY, CCM_IV, b"", cose.HMAC_256_256)


def test_encrypt0_flipped_bits():
    msg = h(CCM_ENC_01)
    assert _all_flips_rejected(lambda m: cose.decrypt0(CCM_KEY, m), msg) is None


# ---- COSE_Mac0 -----------------------------------------------------------------------

def test_mac0_vectors():
    assert cose.mac0(HMAC_KEY, CONTENT) == h(HMAC_ENC_01)
    assert cose.mac0(HMAC_KEY, CONTENT, cose.HMAC_256_64) == h(HMAC_ENC_05)
    assert cose.verify_mac0(HMAC_KEY, h(HMAC_ENC_01)) == ({cose.ALG: 5}, {}, CONTENT)
    assert cose.verify_mac0(HMAC_KEY, h(HMAC_ENC_05))[0] == {cose.ALG: 4}
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY, h(HMAC_ENC_04))
    # an empty protected map sent as h'a0' enters MAC_structure as h''
    assert cose.verify_mac0(HMAC_KEY, h(MAC_PASS_01)) == ({}, {cose.ALG: 5}, CONTENT)
    assert cose.verify_mac0(HMAC_KEY, h(MAC_PASS_02), MAC_PASS_02_AAD)[2] == CONTENT
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY, h(MAC_PASS_02))
    assert cose.verify_mac0(HMAC_KEY, h(MAC_PASS_03))[2] == CONTENT
    # an h'' protected bucket is encoded as h'' (RFC 9052 §3)
    assert cose.mac0(HMAC_KEY, CONTENT, unprotected={cose.ALG: 5},
                     external_aad=MAC_PASS_02_AAD) == h(MAC_PASS_02)


def test_mac0_round_trip_detached_and_keys():
    key = cose.symmetric_key(HMAC_KEY, kid=b"our-secret")
    for alg in (cose.HMAC_256_64, cose.HMAC_256_256):
        msg = cose.mac0(key, b"payload", alg, unprotected={cose.KID: b"our-secret"},
                        external_aad=b"e", tagged=False, detached=True)
        assert msg[0] == 0x84
        p, u, payload = cose.verify_mac0(key, msg, b"e", payload=b"payload")
        assert p == {cose.ALG: alg} and payload == b"payload"
        assert raises(COSEError, cose.verify_mac0, key, msg, b"e")  # detached, no payload
        assert raises(COSEError, cose.verify_mac0, key, msg, b"e", None, b"payloaD")
        assert raises(COSEError, cose.verify_mac0, HMAC_KEY[1:] + HMAC_KEY[:1], msg, b"e", None,
                      b"payload")
        other = cose.symmetric_key(HMAC_KEY, kid=b"another")
        assert raises(COSEError, cose.verify_mac0, other, msg, b"e", None, b"payload")
        assert raises(COSEError, cose.verify_mac0, key, msg, b"e", 4 if alg == 5 else 5,
                      b"payload")
    # a key whose alg is HMAC 256/64 refuses a 256/256 message
    assert raises(COSEError, cose.verify_mac0, cose.symmetric_key(HMAC_KEY, alg=4),
                  h(HMAC_ENC_01))
    # an OKP key is no MAC key; an AEAD algorithm no MAC algorithm
    assert raises(COSEError, cose.mac0, _ed_key(), b"")
    assert raises(COSEError, cose.mac0, HMAC_KEY, b"", cose.AES_CCM_16_64_128)


def test_mac0_flipped_bits():
    # kid protected: the unprotected bucket is, by design, not covered by the tag
    msg = cose.mac0(HMAC_KEY, b"abc", cose.HMAC_256_64, protected={cose.KID: b"k"},
                    external_aad=b"x")
    assert _all_flips_rejected(lambda m: cose.verify_mac0(HMAC_KEY, m, b"x"), msg) is None


# ---- headers -------------------------------------------------------------------------

def test_header_rules():
    # a label in both buckets
    assert raises(COSEError, cose.mac0, HMAC_KEY, b"", 5, {cose.KID: b"a"}, {cose.KID: b"a"})
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY,
                  h("d18443a10105a1010540" "4820dd0b3e1a4cd7f2"))
    # alg given twice differently
    assert raises(COSEError, cose.mac0, HMAC_KEY, b"", 5, {cose.ALG: 4})
    # crit: must be protected, non-empty, and list only understood labels that are present
    m = cose.mac0(HMAC_KEY, b"", 5, {cose.CRIT: [cose.KID], cose.KID: b"k"})
    assert cose.verify_mac0(HMAC_KEY, m)[0][cose.CRIT] == [cose.KID]
    assert raises(COSEError, cose.mac0, HMAC_KEY, b"", 5, {cose.CRIT: [99], 99: 1})
    assert raises(COSEError, cose.mac0, HMAC_KEY, b"", 5, {cose.CRIT: [cose.KID]})
    assert raises(COSEError, cose.mac0, HMAC_KEY, b"", 5, None, {cose.CRIT: [cose.ALG]})
    assert raises(COSEError, cose.mac0, HMAC_KEY, b"", 5, {cose.CRIT: []})
    # parameter types; IV with Partial IV
    assert raises(COSEError, cose.mac0, HMAC_KEY, b"", 5, None, {cose.KID: "text"})
    assert raises(COSEError, cose.encrypt0, CCM_KEY, CCM_IV, b"", 10, None,
                  {cose.PARTIAL_IV: b"\x01"})
    # protected bucket not a map, unprotected not a map, wrong array sizes, CBOR garbage,
    # another tag
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY, h("d1844201054040" "40"))
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY, h("d1844080404040"))
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY, h("d18340a040"))
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY, h("d18443a101"))
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY, b"")
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY, h("d83d8440a04040"))
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY, "not bytes")
    # unsupported algorithms
    assert raises(COSEError, cose.mac0, HMAC_KEY, b"", 6)
    assert raises(COSEError, cose.verify_mac0, HMAC_KEY, h("d18443a10106a0404040"))
    # unverified_headers reads all three kinds, tagged or not
    assert cose.unverified_headers(h(C_2_1)) == ({cose.ALG: -7}, {cose.KID: b"11"})
    assert cose.unverified_headers(h(MAC_PASS_03)) == ({}, {cose.ALG: 5})
    assert cose.unverified_headers(h(C_4_1))[1][cose.IV] == h("89f52f65a1c580933b5261a78c")
    assert raises(COSEError, cose.unverified_headers, h("d8618540a0404040"))


def test_kid_and_x5t_select_the_key():
    # the recipient picks its key by kid, or by x5t over the certificates it knows
    cert = h(CERT_R)
    keys = {b"our-secret": HMAC_KEY, b"other": HMAC_KEY[1:] + HMAC_KEY[:1]}
    msg = cose.mac0(HMAC_KEY, b"m", unprotected={cose.KID: b"our-secret"})
    p, u = cose.unverified_headers(msg)
    assert cose.verify_mac0(keys[u[cose.KID]], msg)[2] == b"m"
    msg = cose.mac0(HMAC_KEY, b"m", protected={cose.X5T: cose.x5t(cert, cose.SHA_256_64)})
    p, u = cose.unverified_headers(msg)
    assert cose.x5t_matches(p[cose.X5T], cert)
    assert not cose.x5t_matches(p[cose.X5T], cert[:-1] + b"\x00")
    assert cose.verify_mac0(HMAC_KEY, msg)[0][cose.X5T] == [-15, h("79f2a41b510c1f9b")]


# ---- x5t, x5chain --------------------------------------------------------------------

def test_x5t_rfc9529():
    cert = h(CERT_R)
    t = cose.x5t(cert, cose.SHA_256_64)
    assert t == [-15, h("79f2a41b510c1f9b")]
    # ID_CRED_R of RFC 9529 §2 is exactly {34: x5t}
    from imprint import cbor
    assert cbor.dumps({cose.X5T: t}) == h(ID_CRED_R_X5T)
    idc = cbor.loads(h(ID_CRED_R_X5T))
    assert cose.x5t_matches(idc[cose.X5T], cert)
    full = cose.x5t(cert)
    assert full[0] == cose.SHA_256 and len(full[1]) == 32 and full[1][:8] == t[1]
    assert cose.x5t_matches(full, cert)
    assert not cose.x5t_matches([-16, full[1][:8]], cert)
    assert not cose.x5t_matches(t, cert + b"\x00")
    assert raises(COSEError, cose.x5t, cert, -14)  # SHA-1: not supported
    assert raises(COSEError, cose.x5t_matches, [-14, b"12345678"], cert)
    assert raises(COSEError, cose.x5t_matches, [-15], cert)


def test_x5chain():
    a, b = h(CERT_R), b"\x30\x03\x02\x01\x01"
    assert cose.x5chain(a) == a and cose.x5chain([a]) == a
    assert cose.x5chain([a, b]) == [a, b]
    assert cose.x5chain_certs(a) == [a] and cose.x5chain_certs([a, b]) == [a, b]
    for bad in ([], [a, 1], 7, "x"):
        assert raises(COSEError, cose.x5chain_certs, bad)
    msg = cose.mac0(HMAC_KEY, b"", unprotected={cose.X5CHAIN: cose.x5chain([a, b])})
    assert cose.x5chain_certs(cose.verify_mac0(HMAC_KEY, msg)[1][cose.X5CHAIN]) == [a, b]
    assert raises(COSEError, cose.mac0, HMAC_KEY, b"", 5, None, {cose.X5CHAIN: [a, 3]})
    assert raises(COSEError, cose.mac0, HMAC_KEY, b"", 5, None, {cose.X5T: [-16]})


# ---- COSE_Key and CCS ----------------------------------------------------------------

def test_cose_key_encodings():
    ed = _ed_key()
    enc = cose.key_encode(ed)
    assert enc == h("a50101024231312006215820") + ED_X + h("235820") + ED_D
    assert cose.key_decode(enc) == ed
    assert cose.key_public(ed) == (cose.CRV_ED25519, ED_X)
    # RFC 7748 §6.1 Alice: X25519 public key computed from d
    xk = cose.okp_key(cose.CRV_X25519,
                      d=h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
    assert xk[cose.X] == h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    sym = cose.symmetric_key(CCM_KEY, kid=b"k", alg=10)
    assert cose.key_encode(sym) == h("a4010402416b030a2050") + CCM_KEY
    assert cose.key_decode(cose.key_encode(sym)) == sym
    # EC2: x and y; a compressed point's y is its sign bit (RFC 9053 §7.1.1)
    pub = b"\x04" + P256_X + P256_Y
    ec = cose.ec2_key(pub, kid=b"11")
    assert cose.key_encode(ec) == h("a50102024231312001215820") + P256_X + h("225820") + P256_Y
    comp = cose.ec2_key((b"\x03" if P256_Y[-1] & 1 else b"\x02") + P256_X)
    assert comp[cose.Y] is bool(P256_Y[-1] & 1)
    dec = cose.key_decode(cose.key_encode(comp))
    assert cose.key_public(dec) == (cose.CRV_P256, pub)
    # malformed keys
    for bad in ("a10103",                      # kty 3: unsupported
                "a201012006",                  # OKP with neither x nor d
                "a3010120062140",              # x of 0 bytes
                "a301022001215820" + "00" * 32,  # EC2 with x and no y
                "a2010220" "06",               # EC2 on Ed25519
                "a201042040",                  # empty k
                "a2010420f6",                  # k null
                "a301040260204100",            # kid as text
                "80", "ff"):
        assert raises(COSEError, cose.key_decode, h(bad)), bad
    assert raises(COSEError, cose.key_public, sym)
    assert raises(COSEError, cose.ec2_key, P256_X)
    assert raises(COSEError, cose.okp_key, 5, ED_X)


def test_ccs_rfc9529():
    cred = h(CRED_R)
    claims = cose.ccs_decode(cred)
    assert claims[cose.CWT_SUB] == "example.edu"
    key = cose.ccs_key(cred)
    assert key[cose.KTY] == cose.KTY_EC2 and key[cose.KEY_KID] == b"\x32"
    from imprint import cbor
    assert cbor.dumps(claims) == cred  # re-encodes byte for byte
    assert cose.ccs("example.edu", key) == cred
    crv, pub = cose.ccs_public_key(cred)
    assert crv == cose.CRV_P256 and pub == h(
        "04bbc34960526ea4d32e940cad2a234148ddc21791a12afbcbac93622046dd44f0"
        "4519e257236b2a0ce2023f0931f1f386ca7afda64fcde0108c224c51eabf6072")
    assert cose.ccs_public_key(claims) == (crv, pub)
    cred_i = h(CRED_I)
    assert cose.ccs("42-50-31-FF-EF-37-32-39", cose.ccs_key(cred_i)) == cred_i
    assert cose.ccs_key(cred_i)[cose.KEY_KID] == b"\x2b"


def test_ccs_from_private_key():
    # built from SK_R alone (one P-256 base multiplication): same bytes, d left out
    key = cose.ec2_key(d=SK_R)
    assert cose.D in key
    assert cose.ccs("example.edu", key, kid=b"\x32") == h(CRED_R)
    ed = cose.ccs("dev", _ed_key(), claims={cose.CWT_ISS: "me"})
    k = cose.ccs_key(ed)
    assert cose.D not in k and k[cose.X] == ED_X and cose.ccs_decode(ed)[cose.CWT_ISS] == "me"
    for bad in ("a0",                          # no cnf
                "a10801",                      # cnf not a map
                "a108a0",                      # cnf without COSE_Key
                "a108a101a0",                  # COSE_Key without kty
                "a2020108a101a20104204100",    # sub not text
                "80"):
        assert raises(COSEError, cose.ccs_decode, h(bad)), bad
    assert raises(COSEError, cose.ccs, 7, key)
