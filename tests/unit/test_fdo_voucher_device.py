"""The device's FDO voucher check (imprint.methods.fdo.voucher_owner, firmware code on CPython)
against the host's (imprint_host.factory.fdo.verify): the same owner key on random vouchers
of 0-3 entries made by a host Manufacturer with the device's DeviceInit and extend, and the
same verdict when one byte of the entry chain is changed."""

from __future__ import annotations

import os
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from imprint.methods import fdo as dev
from imprint_host.factory import fdo
from fdo_common import _cert


class _Store(dict):
    def get(self, name, default=None):
        return dict.get(self, name, default)

    def update(self, changes):
        for k, v in changes.items():
            self[k] = v


def _point(pub) -> bytes:
    return pub.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.UncompressedPoint)


def _voucher(n: int, enc: int):
    dk = ec.generate_private_key(ec.SECP256R1())
    st = _Store(idevid_key=b"\x01" * 32, idevid_chain=[_cert("dev", dk.public_key(), "dev", dk)])
    d = dev.DeviceInit(st, "SN-%d" % n, "model-%d" % n)
    mk = ec.generate_private_key(ec.SECP256R1())
    m = fdo.Manufacturer(mk, "http://rv.example:8041")
    if enc == fdo.PK_ENC_COSEKEY:  # the manufacturer key as a COSE_Key in OVPubKey
        m.key = mk
        orig = fdo.public_key_struct
        fdo.public_key_struct = lambda pub, e=fdo.PK_ENC_COSEKEY: orig(pub, e)
    try:
        t, b = dev.MSG_APP_START, d.app_start()
        while True:
            t, b = m.di(t, b)
            out = d.handle(t, b)
            if out is None:
                break
            t, b = out
    finally:
        if enc == fdo.PK_ENC_COSEKEY:
            fdo.public_key_struct = orig
    v, signer = m.voucher, mk
    for _ in range(n):
        k = ec.generate_private_key(ec.SECP256R1())
        v = fdo.extend(v, k.public_key(), signer)
        signer = k
    return st, v


def _host(v, secret):
    try:
        return _point(fdo.verify(v, secret)["owner_key"])
    except fdo.FDOHostError:
        return None


def _device(st, v):
    try:
        return dev.voucher_owner(st, v)
    except dev.FDOError:
        return None


@pytest.mark.parametrize("seed", range(10))
def test_voucher_owner_matches_host(seed):
    rnd = random.Random(seed)
    n = seed % 4
    enc = fdo.PK_ENC_COSEKEY if seed == 7 else fdo.PK_ENC_X509
    st, v = _voucher(n, enc)
    secret = st["fdo_cred"][dev.DC_HMAC_SECRET]
    owner = _host(v, secret)
    assert owner is not None and dev.voucher_owner(st, v) == owner
    assert len(owner) == 65 and owner[0] == 4
    # one byte of the entry chain changed (or of the header and HMac when there are no
    # entries; not OVDevCertChain: the owner checks that, the device has its own chain)
    p = fdo.parse(v)
    at, end = (p["entries_at"], len(v)) if n else (3, v.index(p["hmac_raw"]) + len(p["hmac_raw"]))
    for _ in range(3):
        i = rnd.randrange(at, end)
        bad = v[:i] + bytes([v[i] ^ (1 << rnd.randrange(8))]) + v[i + 1:]
        assert _device(st, bad) == _host(bad, secret), (seed, i)
    # another device's secret: the host with it and the device with it both refuse
    other = _Store(fdo_cred=list(st["fdo_cred"]))
    other["fdo_cred"][dev.DC_HMAC_SECRET] = os.urandom(32)
    assert _device(other, v) is None and _host(v, other["fdo_cred"][2]) is None
