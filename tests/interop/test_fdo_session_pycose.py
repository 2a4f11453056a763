"""The FDO TO2 session (imprint.methods.fdo_to2, the device's) against third-party code: its
COSE_Encrypt0 (AES-CCM-64-128-128 and -256, COSE algorithms 32 and 33) opens with pycose both
ways, and its KDF equals cryptography's NIST SP 800-108 KBKDFHMAC in counter mode, as FDO 1.1
§3.6.4 specifies it (r = 8, [L]_2, label "FIDO-KDF", context "AutomaticOnboardTunnel")."""

from __future__ import annotations

import os

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode
from pycose import headers
from pycose.algorithms import AESCCM64128128, AESCCM64128256
from pycose.keys import SymmetricKey
from pycose.messages import Enc0Message

from imprint.methods import fdo_to2

ALGS = {32: (AESCCM64128128, 16), 33: (AESCCM64128256, 32)}


def _enc0(data: bytes) -> Enc0Message:
    # pycose needs a list with a dict inside the tag; cbor2 decodes a tag's content immutable
    obj = cbor2.loads(data)
    assert obj.tag == 16
    obj = list(obj.value)
    obj[1] = dict(obj[1])
    return Enc0Message.from_cose_obj(obj, True)


@pytest.mark.parametrize("alg", sorted(ALGS))
def test_session_messages_both_ways_with_pycose(alg):
    cls, n = ALGS[alg]
    for size in (0, 1, 100, 1300):
        shse = os.urandom(32 + 32)
        sek = fdo_to2.kdf(shse, n)
        ref = KBKDFHMAC(hashes.SHA256(), Mode.CounterMode, n, rlen=1, llen=2,
                        location=CounterLocation.BeforeFixed, label=b"FIDO-KDF",
                        context=b"AutomaticOnboardTunnel", fixed=None).derive(shse)
        assert sek == ref
        pt = os.urandom(size)
        msg = _enc0(fdo_to2.seal(sek, alg, pt))
        msg.key = SymmetricKey(k=sek)
        assert msg.get_attr(headers.Algorithm) == cls and len(msg.get_attr(headers.IV)) == 7
        assert msg.decrypt() == pt
        iv = os.urandom(7)
        theirs = Enc0Message(phdr={headers.Algorithm: cls}, uhdr={headers.IV: iv}, payload=pt,
                             key=SymmetricKey(k=sek)).encode(tag=True)
        assert fdo_to2.unseal(sek, alg, theirs, "pycose") == pt
        with pytest.raises(fdo_to2.FDOError, match="MAC failure"):
            fdo_to2.unseal(bytes(a ^ 1 for a in sek), alg, theirs, "pycose")
