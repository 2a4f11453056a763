"""FDO 1.1 onboarding on the board against the host's services, every device step on the board
through the serial relay: DI with the manufacturer's DI server (services.fdo_http.DIServer),
the voucher extended to an owner and registered (TO0) with the rendezvous server, then the
board's TO1 and TO2 with the owner service; the owner's old voucher, registered again, cannot
onboard the board any more (its credential was replaced).

The board's device credential lives in a scratch store (/conformance-fdo), not in its
credential store; its IDevID comes from the run's throwaway CA."""

from __future__ import annotations

import ast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from imprint_host import relay
from imprint_host.conformance import powerloss
from imprint_host.factory import fdo
from imprint_host.services import fdo_owner, fdo_to2
from imprint_host.services.credentials import EndpointIssuer
from imprint_host.services.fdo_http import DIServer
from imprint_host.services.fdo_rv import RVServer

pytestmark = pytest.mark.requires_relay

STORE = "/conformance-fdo"
SERIAL = "CONF-FDO-1"


def idevid(ca) -> tuple[list[bytes], bytes]:
    """(chain, raw private key) for the scratch store: an IDevID from the run's CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.SERIAL_NUMBER, SERIAL)]))
           .sign(key, hashes.SHA256()))
    leaf = ca.issue_idevid(csr.public_bytes(serialization.Encoding.DER), SERIAL)
    return [leaf] + ca.chain_der(), key.private_numbers().private_value.to_bytes(32, "big")


def onboard_program(board) -> str:
    info = {"os": "MicroPython", "arch": board.profile.micropython.get("march", "unknown"),
            "version": "1.27.0", "device": board.name, "sn": SERIAL}
    return f"""
import imprint_port, gc
from imprint import store
from imprint.methods import fdo
st = store.Store(store.DirFS({STORE!r}))
gc.collect()
g = fdo.onboard(st, imprint_port.stream, {info!r})
c = st.get("op_creds")
print(repr((g, st.get("fdo_cred")[4], c["uri"], c["kid"], len(st.get("op_key")))))
"""


def test_fdo_di_to0_to1_to2_through_the_relay(board, ca):
    chain, key = idevid(ca)
    owner_key = ec.generate_private_key(ec.SECP256R1())
    vouchers: dict[str, bytes] = {}
    board.exec(powerloss.REMOVE.format(path=STORE))
    with RVServer(max_ttl=3600) as rv, \
            DIServer(lambda: fdo.Manufacturer(ca.fdo_key, rv.url),
                     on_voucher=lambda sn, g, v: vouchers.update({sn: v})) as di:
        # DI: the board against the manufacturer's DI server
        out, err = relay.run_program(board.port, f"""
from imprint import store
from imprint.methods import fdo
import imprint_port
st = store.Store(store.DirFS({STORE!r}))
st.update({{"serial": {SERIAL!r}, "idevid_chain": {chain!r}, "idevid_key": {key!r}}})
print(fdo.di_over_http(st, {SERIAL!r}, {board.name!r}, imprint_port.stream, "127.0.0.1", {di.port}).hex())
""", timeout=120)
        assert err == "", err
        v0 = vouchers[SERIAL]
        assert out.strip().splitlines()[-1] == fdo.parse(v0)["guid"].hex()
        fdo.verify(v0)
        # the voucher to the owner, TO0, then the board's TO1 + TO2
        v1 = fdo.extend(v0, owner_key.public_key(), ca.fdo_key)
        issuer = EndpointIssuer("coap://127.0.0.1:5683", ec.generate_private_key(ec.SECP256R1()))
        owner = fdo_owner.OwnerServer(fdo_to2.MemoryVoucherStore([v1]), owner_key, rv.url,
                                      issue=issuer).start()
        try:
            fdo_owner.to0(rv.url, v1, owner_key, fdo_owner.rvto2addr(owner.url))
            out, err = relay.run_program(board.port, onboard_program(board), timeout=300)
            assert err == "", err
            guid, stored, uri, kid, n = ast.literal_eval(out.strip().splitlines()[-1])
            assert guid == stored and owner.store.replaced[fdo.parse(v1)["guid"]] == guid
            assert uri == issuer.uri and kid in issuer.issued and n == 32
            assert rv.redirected == 1 and owner.onboarded == 1
            assert owner.store.onboarded[guid]["devmod"]["device"] == board.name
            # the old voucher registered again: the board has another GUID and secret now
            fdo_owner.to0(rv.url, v1, owner_key, fdo_owner.rvto2addr(owner.url))
            out, err = relay.run_program(board.port, onboard_program(board), timeout=300)
            assert "FDOError" in err and "code 6" in err, (out, err)
            assert owner.onboarded == 1
        finally:
            owner.stop()
    board.exec(powerloss.REMOVE.format(path=STORE))
