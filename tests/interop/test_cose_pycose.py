# imprint.cose against pycose 1.1.0 (CPython only), both directions: messages made here
# are verified/decrypted by pycose and pycose's by imprint.cose, for COSE_Sign1 (EdDSA,
# ES256), COSE_Encrypt0 (AES-CCM-16-64-128, AES-CCM-16-128-128) and COSE_Mac0 (HMAC 256/256,
# 256/64), tagged and untagged, with external AAD and detached payloads; COSE_Key encodings
# compared with pycose's; tampered messages rejected here. Keys and payloads are random.
import os
import random

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, \
    PrivateFormat, PublicFormat
from pycose import algorithms, headers
from pycose.keys import CoseKey, EC2Key, OKPKey, SymmetricKey
from pycose.keys.curves import Ed25519, P256, X25519
from pycose.messages import Enc0Message, Mac0Message, Sign1Message

from imprint import cose
from imprint.cose import COSEError

ROUNDS = 20
PYCOSE_SIG = {cose.EDDSA: algorithms.EdDSA, cose.ES256: algorithms.Es256}
PYCOSE_ENC = {cose.AES_CCM_16_64_128: algorithms.AESCCM1664128,
              cose.AES_CCM_16_128_128: algorithms.AESCCM16128128}
PYCOSE_MAC = {cose.HMAC_256_256: algorithms.HMAC256, cose.HMAC_256_64: algorithms.HMAC25664}


def _ed25519():
    sk = ed25519.Ed25519PrivateKey.generate()
    d = sk.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    x = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return (cose.okp_key(cose.CRV_ED25519, x, d, kid=os.urandom(2)),
            OKPKey(crv=Ed25519, x=x, d=d))


def _p256():
    sk = ec.generate_private_key(ec.SECP256R1())
    d = sk.private_numbers().private_value.to_bytes(32, "big")
    pub = sk.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return (cose.ec2_key(pub, d, kid=os.urandom(2)),
            EC2Key(crv=P256, x=pub[1:33], y=pub[33:], d=d))


KEYGEN = {cose.EDDSA: _ed25519, cose.ES256: _p256}


def _decode(data, cls):
    # pycose 1.1.0's CoseMessage.decode needs a list and a dict inside the tag, but cbor2
    # 6.x decodes a tag's content immutable (tuple, frozen map): take the tag off here
    # (checking it is the class's) and hand pycose a list with a dict.
    obj = cbor2.loads(data)
    if isinstance(obj, cbor2.CBORTag):
        assert obj.tag == cls.cbor_tag
        obj = obj.value
    obj = list(obj)
    obj[1] = dict(obj[1])
    return cls.from_cose_obj(obj, True)


def _flip(data, rnd):
    # one random bit flipped (several flips per message over the rounds)
    b = bytearray(data)
    b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
    return bytes(b)


# ---- COSE_Sign1 ----------------------------------------------------------------------

@pytest.mark.parametrize("alg", [cose.EDDSA, cose.ES256])
def test_sign1_imprint_to_pycose(alg):
    rnd = random.Random(alg)
    for i in range(ROUNDS):
        ours, theirs = KEYGEN[alg]()
        payload, aad = os.urandom(rnd.randrange(64)), os.urandom(rnd.randrange(3) * 7)
        tagged, detached = i % 2 == 0, i % 3 == 0
        data = cose.sign1(ours, payload, protected={cose.CONTENT_TYPE: 0},
                          unprotected={cose.KID: ours[cose.KEY_KID]}, external_aad=aad,
                          tagged=tagged, detached=detached)
        msg = _decode(data, Sign1Message)
        msg.key = theirs
        msg.external_aad = aad
        assert msg.get_attr(headers.Algorithm) == PYCOSE_SIG[alg]
        assert msg.get_attr(headers.KID) == ours[cose.KEY_KID]
        assert msg.verify_signature(detached_payload=payload if detached else None)
        if not detached:
            assert msg.payload == payload
        # pycose rejects ours tampered, and so do we
        bad = data[:-1] + bytes([data[-1] ^ 1])
        msg = _decode(bad, Sign1Message)
        msg.key = theirs
        msg.external_aad = aad
        assert not msg.verify_signature(detached_payload=payload if detached else None)
        with pytest.raises(COSEError):
            cose.verify1(ours, bad, aad, payload=payload if detached else None)


@pytest.mark.parametrize("alg", [cose.EDDSA, cose.ES256])
def test_sign1_pycose_to_imprint(alg):
    rnd = random.Random(alg + 100)
    for i in range(ROUNDS):
        ours, theirs = KEYGEN[alg]()
        payload, aad = os.urandom(rnd.randrange(64)), os.urandom(rnd.randrange(3) * 5)
        # kid protected: a flipped bit anywhere must then be caught (the unprotected
        # bucket is not covered by the signature, by design)
        msg = Sign1Message(phdr={headers.Algorithm: PYCOSE_SIG[alg],
                                 headers.KID: ours[cose.KEY_KID]},
                           payload=payload, external_aad=aad, key=theirs)
        data = msg.encode(tag=i % 2 == 0)
        # verify with the COSE_Key, and with the raw public key and an explicit alg
        p, u, got = cose.verify1(ours, data, aad)
        assert got == payload and u == {}
        assert p == {cose.ALG: alg, cose.KID: ours[cose.KEY_KID]}
        raw = cose.key_public(ours)[1]
        assert cose.verify1(raw, data, aad, alg)[2] == payload
        with pytest.raises(COSEError):
            cose.verify1(ours, data, aad + b"x")
        with pytest.raises(COSEError):
            cose.verify1(KEYGEN[alg]()[0], data, aad)  # another key (and kid)
        with pytest.raises(COSEError):
            cose.verify1(raw, _flip(data, rnd), aad, alg)


def test_sign1_pycose_detached_to_imprint():
    ours, theirs = _ed25519()
    msg = Sign1Message(phdr={headers.Algorithm: algorithms.EdDSA}, payload=None, key=theirs)
    data = msg.encode(detached_payload=b"detached")
    assert cose.verify1(ours, data, payload=b"detached")[2] == b"detached"
    with pytest.raises(COSEError):
        cose.verify1(ours, data)


# ---- COSE_Encrypt0 -------------------------------------------------------------------

@pytest.mark.parametrize("alg", [cose.AES_CCM_16_64_128, cose.AES_CCM_16_128_128])
def test_encrypt0_both_ways(alg):
    rnd = random.Random(alg)
    for i in range(ROUNDS):
        k, iv = os.urandom(16), os.urandom(13)
        pt, aad = os.urandom(rnd.randrange(80)), os.urandom(rnd.randrange(20))
        theirs = SymmetricKey(k=k)
        # here -> pycose
        data = cose.encrypt0(cose.symmetric_key(k, alg=alg), iv, pt,
                             unprotected={cose.KID: b"k%d" % i}, external_aad=aad,
                             tagged=i % 2 == 0)
        msg = _decode(data, Enc0Message)
        msg.key = theirs
        msg.external_aad = aad
        assert msg.get_attr(headers.Algorithm) == PYCOSE_ENC[alg]
        assert msg.decrypt() == pt
        # pycose -> here
        msg = Enc0Message(phdr={headers.Algorithm: PYCOSE_ENC[alg]}, uhdr={headers.IV: iv},
                          payload=pt, external_aad=aad, key=theirs)
        data = msg.encode(tag=i % 2 == 1)
        p, u, got = cose.decrypt0(k, data, aad)
        assert got == pt and p == {cose.ALG: alg} and u == {cose.IV: iv}
        with pytest.raises(COSEError):
            cose.decrypt0(k, _flip(data, rnd), aad)
        with pytest.raises(COSEError):
            cose.decrypt0(os.urandom(16), data, aad)
        with pytest.raises(COSEError):
            cose.decrypt0(k, data, aad + b"!")


# ---- COSE_Mac0 -----------------------------------------------------------------------

@pytest.mark.parametrize("alg", [cose.HMAC_256_256, cose.HMAC_256_64])
def test_mac0_both_ways(alg):
    rnd = random.Random(alg)
    for i in range(ROUNDS):
        k = os.urandom(32)
        payload, aad = os.urandom(rnd.randrange(80)), os.urandom(rnd.randrange(20))
        theirs = SymmetricKey(k=k)
        data = cose.mac0(k, payload, alg, external_aad=aad, tagged=i % 2 == 0)
        msg = _decode(data, Mac0Message)
        msg.key = theirs
        msg.external_aad = aad
        assert msg.get_attr(headers.Algorithm) == PYCOSE_MAC[alg]
        assert msg.verify_tag() and msg.payload == payload
        msg = Mac0Message(phdr={headers.Algorithm: PYCOSE_MAC[alg], headers.KID: b"id"},
                          payload=payload, external_aad=aad, key=theirs)
        data = msg.encode(tag=i % 2 == 1)
        p, u, got = cose.verify_mac0(cose.symmetric_key(k, kid=b"id"), data, aad)
        assert got == payload and p == {cose.ALG: alg, cose.KID: b"id"} and u == {}
        with pytest.raises(COSEError):
            cose.verify_mac0(cose.symmetric_key(k, kid=b"other"), data, aad)
        with pytest.raises(COSEError):
            cose.verify_mac0(k, _flip(data, rnd), aad)
        with pytest.raises(COSEError):
            cose.verify_mac0(os.urandom(32), data, aad)


# ---- COSE_Key ------------------------------------------------------------------------

def _same_key(ours, theirs):
    # pycose's encoding is not deterministic; compare maps, and ours with the
    # deterministic re-encoding of pycose's map
    theirs_map = cbor2.loads(theirs.encode())
    assert theirs_map == ours
    assert cose.key_encode(ours) == cbor2.dumps(theirs_map, canonical=True)
    back = CoseKey.decode(cose.key_encode(ours))
    assert cbor2.loads(back.encode()) == ours


def test_cose_key_encodings_match_pycose():
    for _ in range(ROUNDS):
        ours, theirs = _ed25519()
        theirs.kid = ours[cose.KEY_KID]
        _same_key(ours, theirs)
        ours, theirs = _p256()
        theirs.kid = ours[cose.KEY_KID]
        _same_key(ours, theirs)
        k = os.urandom(16)
        _same_key(cose.symmetric_key(k, alg=cose.AES_CCM_16_64_128),
                  SymmetricKey(k=k, optional_params={"ALG": "AES_CCM_16_64_128"}))
        x = os.urandom(32)
        _same_key(cose.okp_key(cose.CRV_X25519, x), OKPKey(crv=X25519, x=x))
        # public halves
        ours, theirs = _p256()
        pub = {l: v for l, v in ours.items() if l != cose.D}
        _same_key(pub, EC2Key(crv=P256, x=ours[cose.X], y=ours[cose.Y],
                              optional_params={"KID": ours[cose.KEY_KID]}))


def test_pycose_generated_keys_decode_here():
    for _ in range(5):
        for theirs in (OKPKey.generate_key(crv=Ed25519), EC2Key.generate_key(crv=P256),
                       SymmetricKey.generate_key(key_len=16)):
            ours = cose.key_decode(theirs.encode())
            assert cbor2.loads(theirs.encode()) == ours
    # and they work: pycose's generated Ed25519 key signs, ours verifies
    theirs = OKPKey.generate_key(crv=Ed25519)
    ours = cose.key_decode(theirs.encode())
    msg = Sign1Message(phdr={headers.Algorithm: algorithms.EdDSA}, payload=b"p", key=theirs)
    assert cose.verify1(ours, msg.encode())[2] == b"p"
    assert cose.verify1(ours, cose.sign1(ours, b"q"))[2] == b"q"
