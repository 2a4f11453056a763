"""The provisioning station end to end on virtual boards: `imprint factory provision` on two
boards at once, every IDevID checked with openssl and cryptography, proof of possession,
vouchers checked on the device and extended; the private key never on the line; power cuts
at each step, then a re-run that completes without duplicates; bad input refused."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from imprint import store as dev_store
from imprint_host import deploy, link
from imprint_host.board import profiles
from imprint_host.board.virtual import VirtualBoard
from imprint_host.factory import fdo
from imprint_host.factory.agent_client import AgentCallError, AgentClient
from imprint_host.factory.ca import IssuingCA
from imprint_host.factory.records import Records
from imprint_host.factory.station import STEPS, Station

IMPRINT = [sys.executable, "-m", "imprint_host.cli"]


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> IssuingCA:
    return IssuingCA.create(tmp_path_factory.mktemp("ca") / "ca", org="imprint test factory")


def new_board(tmp: Path, name: str) -> VirtualBoard:
    vb = VirtualBoard(profiles.load("nrf52840-dk"), flash=tmp / f"flash-{name}", serial=name)
    vb.start()
    deploy.deploy(vb.port, port="virtual")
    return vb


def board_store(vb: VirtualBoard) -> dev_store.Store:
    # the board's store read from its flash directory on the host (what a lab could dump)
    return dev_store.Store(dev_store.DirFS(str(vb.flash / "imprint-store")))


def station(ca: IssuingCA, db: Path, out: Path, **kw) -> Station:
    point = ca.fdo_public_key.public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    return Station(ca=ca, records=Records(str(db)), out_dir=out,
                   make_manufacturer=lambda: fdo.Manufacturer(ca.fdo_key, fdo.rendezvous("http://127.0.0.1:8080")),
                   authority=point, **kw)


def p256_verify(pub: ec.EllipticCurvePublicKey, msg: bytes, sig: bytes) -> None:
    der_sig = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    pub.verify(der_sig, msg, ec.ECDSA(hashes.SHA256()))


def test_two_boards_in_parallel_end_to_end(ca, tmp_path):
    boards = [new_board(tmp_path, n) for n in ("0000000000000a01", "0000000000000a02")]
    try:
        db, out = tmp_path / "factory.db", tmp_path / "out"
        cmd = IMPRINT + ["factory", "provision", "--ca", str(ca.directory), "--db", str(db),
                         "--out", str(out)] + [a for vb in boards for a in ("--port", vb.port)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        serials = sorted(p.name for p in out.iterdir())
        assert len(serials) == 2
        rec = Records(str(db))
        for vb, serial in zip(boards, serials):
            d = out / serial
            ok = subprocess.run(["openssl", "verify", "-CAfile", str(ca.directory / "root.pem"),
                                 "-untrusted", str(ca.directory / "issuing.pem"), str(d / "idevid.pem")],
                                capture_output=True, text=True)
            assert ok.returncode == 0 and ": OK" in ok.stdout, ok.stdout + ok.stderr
            cert = x509.load_pem_x509_certificate((d / "idevid.pem").read_bytes())
            idevid = ca.verify_idevid(cert, serial)
            assert idevid.hw_serial == serial.encode() or idevid.serial == serial
            row = rec.board(serial)
            assert row["status"] == "provisioned" and row["voucher"] == (d / "voucher.fdo").read_bytes()
            voucher = (d / "voucher.fdo").read_bytes()
            fdo.verify(voucher)
            owner = ec.generate_private_key(ec.SECP256R1())
            extended = fdo.extend(voucher, owner.public_key(), ca.fdo_key)
            fdo.verify(extended)
            with AgentClient(vb.port) as agent:
                challenge = os.urandom(32)
                p256_verify(cert.public_key(), challenge, bytes(agent.call("sign", challenge)))
                assert agent.call("fdo_check", voucher) is True
                assert agent.call("fdo_check", extended) is True
                ident = agent.call("identify")
                assert ident["lifecycle"] == "provisioned" and ident["serial"] == serial
        other = (out / serials[1] / "voucher.fdo").read_bytes()
        with AgentClient(boards[0].port) as agent:  # a voucher for another GUID
            assert agent.call("fdo_check", other) is False
        report = subprocess.run(IMPRINT + ["factory", "report", "--db", str(db)], capture_output=True,
                                text=True, timeout=60)
        assert "boards: 2 (provisioned 2)" in report.stdout
    finally:
        for vb in boards:
            vb.stop()


def test_one_board_recorded_in_postgresql(ca, tmp_path, postgres_url):
    # `--db postgresql://...`: the record several stations share, on a real PostgreSQL server
    import uuid

    import psycopg
    name = "station_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    vb = new_board(tmp_path, "0000000000000a11")
    try:
        out = tmp_path / "out"
        cmd = IMPRINT + ["factory", "provision", "--ca", str(ca.directory), "--db", url, "--out", str(out),
                         "--station", "line-pg", "--port", vb.port]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        (serial,) = [p.name for p in out.iterdir()]
        with psycopg.connect(url) as c:
            rows = c.execute("SELECT serial, status, station, idevid, fdo_guid, voucher, seconds "
                             "FROM boards").fetchall()
            events = c.execute("SELECT event FROM audit WHERE serial = %s ORDER BY at", (serial,)).fetchall()
        assert len(rows) == 1
        got_serial, status, station_name, idevid, guid, voucher, seconds = rows[0]
        assert (got_serial, status, station_name) == (serial, "provisioned", "line-pg")
        assert idevid == (out / serial / "idevid.pem").read_text()
        assert bytes(voucher) == (out / serial / "voucher.fdo").read_bytes() and seconds > 0
        assert fdo.parse(bytes(voucher)) is not None and len(guid) == 32
        assert [e[0] for e in events] == ["start", "voucher", "provisioned"]
        with AgentClient(vb.port) as agent:
            assert bytes(agent.call("identify")["fdo_guid"]).hex() == guid
        report = subprocess.run(IMPRINT + ["factory", "report", "--db", url], capture_output=True,
                                text=True, timeout=60)
        assert "boards: 1 (provisioned 1)" in report.stdout and "line-pg" in report.stdout
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)  # done: refused
        assert again.returncode != 0 and "provisioned already" in again.stderr
    finally:
        vb.stop()


def frames(transcript: bytes) -> list[bytes]:
    s = link.Splitter()
    return [f.body for f in s.feed(transcript) if isinstance(f, link.Frame)]


def test_private_key_never_on_the_line(ca, tmp_path):
    vb = new_board(tmp_path, "0000000000000b01")
    try:
        st = station(ca, tmp_path / "f.db", tmp_path / "out")
        assert st.provision(vb.port).ok
        key = board_store(vb).get("idevid_key")
        secret = board_store(vb).get("fdo_cred")[2]
        line = st.transcripts[vb.port]
        bodies = frames(line)
        assert len(bodies) >= 8
        for needle in (key, secret):
            assert len(needle) == 32
            assert needle not in line
            assert all(needle not in b for b in bodies)
    finally:
        vb.stop()


@pytest.mark.parametrize("delay", [0.0, 0.004], ids=["after the step", "during the next"])
@pytest.mark.parametrize("cut_at", ["identify", "key", "csr", "certificate", "install", "fdo", "commit"])
def test_power_cut_at_each_step_then_resume(ca, tmp_path, cut_at, delay):
    # The power goes when the station has finished step cut_at (the board has written what
    # that step writes), or a few ms later, while the board works on the next request.
    vb = new_board(tmp_path, "0000000000000c01")
    try:
        st = station(ca, tmp_path / "f.db", tmp_path / "out")

        def cut(port: str, step: str) -> None:
            if step == cut_at:
                threading.Timer(delay, vb.power_cut).start() if delay else vb.power_cut()

        first = st.provision(vb.port, cut)
        vb.wait_booted()
        if first.ok:  # the cut came after the board's last write (commit): the run is complete
            assert cut_at in ("fdo", "commit"), first
            serial = first.serial
        else:
            second = st.provision(vb.port)
            assert second.ok, second.error
            serial = second.serial
        rows = list(st.records.boards())
        assert [r["serial"] for r in rows] == [serial] and rows[0]["status"] == "provisioned"
        s = board_store(vb)
        leaf = x509.load_der_x509_certificate(s.get("idevid_chain")[0])
        assert leaf.public_key().public_bytes(serialization.Encoding.X962,
                                              serialization.PublicFormat.UncompressedPoint) == \
            ec.derive_private_key(int.from_bytes(s.get("idevid_key"), "big"), ec.SECP256R1()) \
            .public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        assert s.get("lifecycle") == "provisioned" and s.get("fdo_cred") is not None
        assert fdo.parse(rows[0]["voucher"]) is not None
    finally:
        vb.stop()


def test_line_noise_changes_nothing_and_bad_requests_get_error_frames(ca, tmp_path):
    vb = new_board(tmp_path, "0000000000000d01")
    try:
        with AgentClient(vb.port) as agent:
            before = agent.call("identify")
            good = link.encode(link.Channel.AGENT, 9, cbor2.dumps([77, "keygen", {"serial": "X"}]))
            agent._ser.write(b"\x00\xffgarbage\r\n" + good[:20] + b"\n" + good[:-6] + b"AAAA\n")
            agent._ser.write(b"~~" + b"QUJD" * 3 + b"\n")
            with pytest.raises(AgentCallError) as e:
                agent.call("no-such-request")
            assert e.value.code == 1
            with pytest.raises(AgentCallError) as e:
                agent.call("keygen", ["not", "a", "map"])
            assert e.value.code == 1
            after = agent.call("identify")
            assert after["idevid"] is None and after == before | {"heap_free": after["heap_free"]}
    finally:
        vb.stop()


def test_bad_input_refused(ca, tmp_path):
    vb = new_board(tmp_path, "0000000000000e01")
    try:
        st = station(ca, tmp_path / "f.db", tmp_path / "out", lock=True)
        res = st.provision(vb.port)
        assert res.ok, res.error
        vb.wait_booted()  # lock restarts the board into its locked boot
        with AgentClient(vb.port) as agent:  # no REPL now: the client finds the agent running
            with pytest.raises(AgentCallError, match="closed"):
                agent.call("keygen", {"serial": res.serial})
        again = st.provision(vb.port)
        assert not again.ok and "locked" in again.error
        # the record refuses a finished serial unless told to re-provision
        assert st.records.board(res.serial)["status"] == "locked"
    finally:
        vb.stop()


def test_certificate_for_another_key_refused(ca, tmp_path):
    vb = new_board(tmp_path, "0000000000000f01")
    try:
        with AgentClient(vb.port) as agent:
            agent.call("keygen", {"serial": "IMP-F01"})
            other = ec.generate_private_key(ec.SECP256R1())
            csr = (x509.CertificateSigningRequestBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.SERIAL_NUMBER, "IMP-F01")]))
                   .sign(other, hashes.SHA256()))
            cert = ca.issue_idevid(csr.public_bytes(serialization.Encoding.DER), "IMP-F01")
            with pytest.raises(AgentCallError, match="another key"):
                agent.call("install", {"chain": [cert] + ca.chain_der(), "authority": b"\x04" + bytes(64)})
            assert agent.call("identify")["lifecycle"] == "manufactured"
    finally:
        vb.stop()


def authority_sig(ca: IssuingCA, op: str, uid: bytes, nonce: bytes) -> bytes:
    r, s = utils.decode_dss_signature(ca.fdo_key.sign(op.encode() + uid + nonce, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_locked_board_has_no_repl_until_an_authenticated_unlock(ca, tmp_path):
    from imprint_host.board.serial_board import SerialBoard, SerialBoardError

    vb = new_board(tmp_path, "0000000000000e02")
    try:
        st = station(ca, tmp_path / "f.db", tmp_path / "out", lock=True)
        res = st.provision(vb.port)
        assert res.ok, res.error
        vb.wait_booted()  # lock restarted the board into its locked boot
        with pytest.raises(SerialBoardError):  # no raw REPL for mpremote: the agent has the console
            SerialBoard(vb.port).close()
        agent = AgentClient(vb.port, start=False)
        try:
            ident = agent.call("identify")
            assert ident["lifecycle"] == "locked"
            uid = bytes(ident["uid"])
            with pytest.raises(AgentCallError, match="closed"):
                agent.call("keygen", {"serial": res.serial})
            nonce = bytes(agent.call("nonce"))
            other = ec.generate_private_key(ec.SECP256R1())
            forged = other.sign(b"unlock" + uid + nonce, ec.ECDSA(hashes.SHA256()))
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
        board = SerialBoard(vb.port)  # the REPL is back
        try:
            assert "provisioned" in board.exec("import imprint_port\nprint(imprint_port.store().get('lifecycle'))")
        finally:
            board.close()
        assert board_store(vb).get("idevid_key") is not None  # nothing lost
    finally:
        vb.stop()


def test_authenticated_factory_reset_keeps_identity(ca, tmp_path):
    vb = new_board(tmp_path, "0000000000000e03")
    try:
        st = station(ca, tmp_path / "f.db", tmp_path / "out")
        assert st.provision(vb.port).ok
        with AgentClient(vb.port) as agent:
            uri = agent.call("dpp_uri")
            assert uri.startswith("DPP:K:") and uri.endswith(";;")
            ident = agent.call("identify")
            uid = bytes(ident["uid"])
            with pytest.raises(AgentCallError, match="nonce"):
                agent.call("reset", {"sig": bytes(64)})
            nonce = bytes(agent.call("nonce"))
            agent.call("reset", {"sig": authority_sig(ca, "reset", uid, nonce)})
            after = agent.call("identify")
        assert after["idevid"] == ident["idevid"] and after["fdo_guid"] == ident["fdo_guid"]
        assert after["lifecycle"] == "provisioned"
        import base64
        spki = base64.b64decode(uri[len("DPP:K:"):-2])
        assert serialization.load_der_public_key(spki).curve.name == "secp256r1"
    finally:
        vb.stop()
