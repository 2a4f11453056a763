"""Factory agent conformance (firmware/imprint/agent.py) through the station's own client
(factory.agent_client) and station (factory.station): identify; keygen and CSR; a certificate
for another key refused; provisioning by the station with a throwaway CA (IDevID issued and
installed, FDO DI, commit); proof of possession; lock, then only an authenticated unlock
opens the board; an authenticated factory reset keeps the identity.

All but identify rewrite the board's identity: they run on a virtual board the suite started,
or on a real board with --imprint-destructive, and need a blank board (lifecycle
"manufactured", no key)."""

from __future__ import annotations

import os
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from imprint_host.factory import fdo
from imprint_host.factory.agent_client import AgentCallError, AgentClient, AgentTimeout
from imprint_host.factory.records import Records
from imprint_host.factory.station import SERIAL_OID, Station

LIFECYCLES = ("manufactured", "provisioned", "locked")


def test_identify_describes_the_board(board):
    with AgentClient(board.port) as agent:
        ident = agent.call("identify")
    assert ident["board"] == board.profile.name
    assert len(bytes(ident["uid"])) == board.profile.unique_id_bytes
    assert ident["lifecycle"] in LIFECYCLES and ident["version"]
    assert isinstance(ident["heap_free"], int) and ident["heap_free"] > 0
    assert ident["idevid"] is None or len(bytes(ident["idevid"])) == 65


@pytest.fixture(scope="module")
def blank(board) -> dict:
    """The board's identify answer, when it is blank (else the test is skipped: provisioning
    conformance needs a board without an identity)."""
    with AgentClient(board.port) as agent:
        ident = agent.call("identify")
    if ident["lifecycle"] != "manufactured" or ident["idevid"] is not None:
        pytest.skip(f"the board is not blank (lifecycle {ident['lifecycle']}, key "
                    f"{'present' if ident['idevid'] else 'none'}): agent provisioning needs a blank board")
    return ident


def serial_of(ident: dict) -> str:
    return f"IMP-{bytes(ident['uid']).hex().upper()}"


def p256_verify(pub: ec.EllipticCurvePublicKey, msg: bytes, sig: bytes) -> None:
    der_sig = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    pub.verify(der_sig, msg, ec.ECDSA(hashes.SHA256()))


def point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


@pytest.mark.writes_identity
def test_keygen_csr_and_a_certificate_for_another_key_refused(board, blank, ca, authority):
    serial = serial_of(blank)
    with AgentClient(board.port) as agent:
        public = bytes(agent.call("keygen", {"serial": serial}))
        assert len(public) == 65 and public[0] == 4
        assert bytes(agent.call("keygen", {"serial": serial})) == public  # the same key again
        with pytest.raises(AgentCallError, match="already has serial"):
            agent.call("keygen", {"serial": serial + "-other"})
        csr = x509.load_der_x509_csr(bytes(agent.call("csr", [[SERIAL_OID, serial]])))
        assert csr.is_signature_valid and point(csr.public_key()) == public
        assert csr.subject.get_attributes_for_oid(x509.oid.NameOID.SERIAL_NUMBER)[0].value == serial
        with pytest.raises(AgentCallError, match="serial"):
            agent.call("csr", [["2.5.4.3", "no serial"]])
        other = ec.generate_private_key(ec.SECP256R1())
        other_csr = (x509.CertificateSigningRequestBuilder()
                     .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.SERIAL_NUMBER, serial)]))
                     .sign(other, hashes.SHA256()))
        cert = ca.issue_idevid(other_csr.public_bytes(serialization.Encoding.DER), serial)
        with pytest.raises(AgentCallError, match="another key") as e:
            agent.call("install", {"chain": [cert] + ca.chain_der(), "authority": authority})
        assert e.value.code == 2
        after = agent.call("identify")
    assert after["lifecycle"] == "manufactured" and bytes(after["idevid"]) == public


@pytest.fixture(scope="module")
def provisioned(board, blank, ca, authority, tmp_path_factory):
    """The station provisions the board: (station, result)."""
    tmp = tmp_path_factory.mktemp("station")
    st = Station(ca=ca, records=Records(str(tmp / "factory.db")), out_dir=tmp / "out",
                 make_manufacturer=lambda: fdo.Manufacturer(ca.fdo_key, fdo.rendezvous("http://127.0.0.1:8080")),
                 authority=authority)
    return st, st.provision(board.port)


@pytest.mark.writes_identity
def test_station_provisions_the_board(board, provisioned, ca):
    st, res = provisioned
    assert res.ok, res.error
    idevid = (st.out_dir / res.serial / "idevid.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(idevid)
    ca.verify_idevid(cert, res.serial)
    voucher = (st.out_dir / res.serial / "voucher.fdo").read_bytes()
    fdo.verify(voucher)
    with AgentClient(board.port) as agent:
        challenge = os.urandom(32)
        p256_verify(cert.public_key(), challenge, bytes(agent.call("sign", challenge)))  # possession
        assert agent.call("fdo_check", voucher) is True
        ident = agent.call("identify")
    assert ident["lifecycle"] == "provisioned" and ident["serial"] == res.serial
    assert bytes(ident["idevid"]) == point(cert.public_key())
    assert st.records.board(res.serial)["status"] == "provisioned"
    print(f"provisioned {res.serial} in {res.seconds:.2f} s: "
          + ", ".join(f"{k} {v:.2f}" for k, v in res.timings.items()))


def authority_sig(ca, op: str, uid: bytes, nonce: bytes) -> bytes:
    r, s = utils.decode_dss_signature(ca.fdo_key.sign(op.encode() + uid + nonce, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def running_agent(port: str, timeout: float = 30) -> AgentClient:
    """A client for the agent a locked board boots into, once it answers."""
    deadline = time.monotonic() + timeout
    while True:
        agent = AgentClient(port, start=False, timeout=2)
        try:
            agent.call("identify")
            return agent
        except (AgentCallError, AgentTimeout):
            agent._ser.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.writes_identity
def test_lock_then_only_an_authenticated_unlock(board, provisioned, ca):
    st, res = provisioned
    assert res.ok, res.error
    with AgentClient(board.port) as agent:
        agent.call("lock")
        agent.expect_reset()  # it restarts into the locked boot
    agent = running_agent(board.port)
    try:
        ident = agent.call("identify")
        assert ident["lifecycle"] == "locked"
        uid = bytes(ident["uid"])
        with pytest.raises(AgentCallError, match="closed"):
            agent.call("keygen", {"serial": res.serial})
        nonce = bytes(agent.call("nonce"))
        forged = ec.generate_private_key(ec.SECP256R1()).sign(b"unlock" + uid + nonce, ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(forged)
        with pytest.raises(AgentCallError, match="does not verify"):
            agent.call("unlock", {"sig": r.to_bytes(32, "big") + s.to_bytes(32, "big")})
        with pytest.raises(AgentCallError, match="nonce"):  # a nonce serves one attempt
            agent.call("unlock", {"sig": authority_sig(ca, "unlock", uid, nonce)})
        agent.call("bye")  # ignored by a locked board
        assert agent.call("identify")["lifecycle"] == "locked"
        nonce = bytes(agent.call("nonce"))
        agent.call("unlock", {"sig": authority_sig(ca, "unlock", uid, nonce)})
    finally:
        agent._ser.close()
    board.wait_ready()  # the REPL is back
    assert board.exec("import imprint_port\nprint(imprint_port.store().get('lifecycle'))").strip() == "provisioned"


@pytest.mark.writes_identity
def test_authenticated_factory_reset_keeps_the_identity(board, provisioned, ca):
    st, res = provisioned
    assert res.ok, res.error
    with AgentClient(board.port) as agent:
        before = agent.call("identify")
        uid = bytes(before["uid"])
        with pytest.raises(AgentCallError, match="nonce"):
            agent.call("reset", {"sig": bytes(64)})
        nonce = bytes(agent.call("nonce"))
        with pytest.raises(AgentCallError, match="does not verify"):
            agent.call("reset", {"sig": authority_sig(ca, "unlock", uid, nonce)})  # signed for another op
        nonce = bytes(agent.call("nonce"))
        agent.call("reset", {"sig": authority_sig(ca, "reset", uid, nonce)})
        after = agent.call("identify")
    assert after["idevid"] == before["idevid"] and after["fdo_guid"] == before["fdo_guid"]
    assert after["serial"] == before["serial"] and after["lifecycle"] == "provisioned"
