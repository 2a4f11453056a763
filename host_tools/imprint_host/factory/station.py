"""The provisioning station: gives boards on serial ports their identity, several at once.

Per board: identify → on-device P-256 key (keygen) → CSR → IDevID issued by the CA → chain
installed → FDO Device Initialization (the voucher is recorded before the board is told DI
is done) → commit (→ lock). Every step is idempotent on the board, so a run that was cut
(board reset, station killed) is resumed by running the station again; the record keeps one
row per serial and refuses a provisioned serial unless told to re-provision.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .agent_client import AgentCallError, AgentClient
from .records import Records

SERIAL_OID = "2.5.4.5"
STEPS = ("connect", "identify", "key", "csr", "certificate", "install", "fdo", "commit", "lock", "done")

Progress = Callable[[str, str], None]  # (port, step)


class StationError(RuntimeError):
    pass


@dataclass
class BoardResult:
    port: str
    serial: str = ""
    ok: bool = False
    error: str = ""
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def _public_point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


@dataclass
class Station:
    ca: object  # factory.ca.IssuingCA
    records: Records
    out_dir: Path
    make_manufacturer: Callable[[], object]  # -> factory.fdo.Manufacturer
    authority: bytes  # the key that may unlock / factory-reset boards (P-256, 65 B)
    serial_prefix: str = "IMP"
    lock: bool = False
    reprovision: bool = False
    start_agent: bool | None = None  # AgentClient's start: None finds out
    transcripts: dict[str, bytes] = field(default_factory=dict)  # per port: what the board sent

    def provision(self, port: str, progress: Progress = lambda p, s: None) -> BoardResult:
        res = BoardResult(port)
        t0 = last = time.monotonic()

        def step(name: str) -> None:
            nonlocal last
            now = time.monotonic()
            res.timings[name] = res.timings.get(name, 0.0) + now - last
            last = now
            progress(port, name)

        serial = ""
        claimed = False  # this run holds the serial's row in the record
        try:
            step("connect")
            with AgentClient(port, start=self.start_agent) as agent:
                ident = agent.call("identify")
                step("identify")
                uid = bytes(ident["uid"]).hex()
                serial = ident["serial"] or f"{self.serial_prefix}-{uid.upper()}"
                res.serial = serial
                if ident["lifecycle"] == "locked":
                    raise StationError(f"{serial} is locked: unlock it (authenticated) before provisioning again")
                self.records.start(serial, uid, ident["board"], reprovision=self.reprovision)
                claimed = True
                public = bytes(agent.call("keygen", {"serial": serial}))
                step("key")
                csr = bytes(agent.call("csr", [[SERIAL_OID, serial]]))
                step("csr")
                cert_der = self.ca.issue_idevid(csr, serial)
                cert = x509.load_der_x509_certificate(cert_der)
                if _public_point(cert.public_key()) != public:
                    raise StationError(f"{serial}: the CSR's key is not the key the board reported")
                step("certificate")
                chain = [cert_der] + self.ca.chain_der()
                agent.call("install", {"chain": chain, "authority": self.authority})
                step("install")
                voucher, guid = self._fdo(agent, serial, ident)
                step("fdo")
                agent.call("commit")
                step("commit")
                status = "provisioned"
                if self.lock:
                    agent.call("lock")
                    agent.expect_reset()  # it restarts into the locked boot
                    status = "locked"
                    step("lock")
                self.transcripts[port] = bytes(agent.transcript)
            pem = cert.public_bytes(serialization.Encoding.PEM).decode()
            self._write(serial, pem, voucher)
            res.seconds = time.monotonic() - t0
            self.records.finish(serial, status, idevid=pem, fdo_guid=guid, voucher=voucher,
                                seconds=res.seconds)
            res.ok = True
            step("done")
        except Exception as e:  # one board's failure is recorded; the others go on
            res.error = f"{type(e).__name__}: {e}"
            res.seconds = time.monotonic() - t0
            try:
                if claimed:
                    self.records.finish(serial, "failed", seconds=res.seconds, detail=res.error)
                elif serial:  # refused before it started: the board's row stays as it was
                    self.records.audit(serial, "refused", res.error)
            except Exception:
                pass
            progress(port, "failed")
        return res

    def _fdo(self, agent: AgentClient, serial: str, ident: dict) -> tuple[bytes, str]:
        if ident["fdo_guid"] is not None:
            row = self.records.board(serial)
            guid = bytes(ident["fdo_guid"]).hex()
            if row is None or row["voucher"] is None or row["fdo_guid"] != guid:
                raise StationError(f"{serial} has an FDO credential (GUID {guid}) whose voucher is "
                                   "not in the record")
            return bytes(row["voucher"]), guid
        mfg = self.make_manufacturer()
        msg_type, body = agent.call("fdo")
        while True:
            reply_type, reply = mfg.di(msg_type, bytes(body))
            if reply_type == 13:  # the voucher is complete: record it before the board commits
                self.records.save_voucher(serial, mfg.guid.hex(), mfg.voucher)
            out = agent.call("fdo", [reply_type, reply])
            if out is None:
                return mfg.voucher, mfg.guid.hex()
            msg_type, body = out

    def _write(self, serial: str, pem: str, voucher: bytes) -> None:
        d = self.out_dir / serial
        d.mkdir(parents=True, exist_ok=True)
        (d / "idevid.pem").write_text(pem)
        (d / "chain.pem").write_text(self.ca.chain_pem())
        (d / "voucher.fdo").write_bytes(voucher)

    def provision_all(self, ports: list[str], progress: Progress = lambda p, s: None) -> list[BoardResult]:
        with ThreadPoolExecutor(max_workers=max(1, len(ports))) as pool:
            return list(pool.map(lambda p: self.provision(p, progress), ports))
