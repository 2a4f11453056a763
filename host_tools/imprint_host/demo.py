"""`imprint demo` (`make demo`): the whole story on one virtual board, each stage timed.

 1. a virtual board boots; the firmware is deployed (.mpy, hashes checked)
 2. the board reports itself
 3. the factory provisions it: key made on the board, IDevID, FDO DI (the voucher)
 4. the device is sold: the manufacturer extends the voucher to the owner's key
 5. the owner registers with the rendezvous server (TO0) and waits (TO2), with a
    device-management endpoint (EDHOC + OSCORE) whose credentials it hands out
 6. power-up in the field: the board finds its owner (TO1) and onboards (TO2) through the
    serial relay; it gets a new FDO credential and its operational credentials
 7. the board opens EDHOC + OSCORE to the management endpoint with them and makes a request
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from . import deploy as deploy_mod
from . import relay as relay_mod
from .board import profiles
from .board.serial_board import connect
from .board.virtual import VirtualBoard

Echo = Callable[[str], None]


class DemoError(RuntimeError):
    pass


def _run(port: str, code: str, what: str, timeout: float = 300) -> list[str]:
    out, err = relay_mod.run_program(port, code, timeout=timeout)
    if err:
        raise DemoError(f"{what} failed on the board:\n{err.strip()}")
    return out.strip().splitlines()


_ONBOARD = """
import imprint_port
from imprint.methods import fdo
st = imprint_port.store()
g = fdo.onboard(st, imprint_port.stream, {info!r})
c = st.get("op_creds")
print(g.hex())
print(c["uri"])
print(c["kid"].hex())
"""

_MANAGE = """
import imprint_port, time
from imprint import cbor, mgmt
t0 = time.ticks_ms()
s = mgmt.connect(imprint_port.store(), imprint_port.datagram)
t1 = time.ticks_ms()
r = s.get("mgmt/hello")
print(time.ticks_diff(t1, t0), time.ticks_diff(time.ticks_ms(), t1))
print(r.code, cbor.loads(r.payload))
"""


def run(profile: str = "nrf52840-dk", echo: Echo = print,
        progress: Callable | None = None) -> dict:
    """The story; echo(line) for each line printed. -> the figures (seconds per stage)."""
    from .factory import fdo
    from .factory.ca import IssuingCA
    from .factory.records import Records
    from .factory.station import Station
    from .services import fdo_owner
    from .services.endpoint import ManagementEndpoint
    from .services.fdo_rv import RVServer
    from .services.owner_store import SQLVoucherStore

    times: dict[str, float] = {}
    prof = profiles.load(profile)
    start = time.monotonic()
    with VirtualBoard(prof) as vb, tempfile.TemporaryDirectory(prefix="imprint-demo-") as tmp, \
            RVServer() as rv:
        t0 = time.monotonic()
        echo(f"1. virtual board {prof.name} on {vb.port}")
        files = deploy_mod.deploy(vb.port, port="virtual", progress=progress)
        times["deploy"] = time.monotonic() - t0
        echo(f"   deployed {len(files)} files (.mpy, SHA-256 verified) in "
             f"{times['deploy']:.1f} s")
        with connect(vb.port) as b:
            out = b.exec("import imprint_port, imprint.selftest\n"
                         "imprint.selftest.main(imprint_port)")
        echo("2. the board's self-report:")
        for line in out.strip().splitlines():
            echo(f"     {line}")

        # 3. the factory
        t0 = time.monotonic()
        ca = IssuingCA.create(Path(tmp) / "ca", org="imprint demo factory")
        point = ca.fdo_public_key.public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
        station = Station(ca=ca, records=Records(str(Path(tmp) / "factory.db"), station="demo"),
                          out_dir=Path(tmp) / "issued", authority=point,
                          make_manufacturer=lambda: fdo.Manufacturer(ca.fdo_key, rv.url))
        echo(f"3. factory: CA made in {time.monotonic() - t0:.1f} s; provisioning the board "
             f"(rendezvous server {rv.url})")
        res = station.provision(vb.port, lambda port, step: echo(f"     {step}"))
        if not res.ok:
            raise DemoError(f"provisioning failed: {res.error}")
        times["factory"] = res.seconds
        issued = Path(tmp) / "issued" / res.serial
        cert = x509.load_pem_x509_certificate((issued / "idevid.pem").read_bytes())
        voucher = (issued / "voucher.fdo").read_bytes()
        guid0 = fdo.parse(voucher)["guid"]
        echo(f"   {res.serial} provisioned in {res.seconds:.2f} s: IDevID "
             f"{cert.subject.rfc4514_string()}, FDO GUID {guid0.hex()}; the private key never "
             "left the board")

        # 4. the sale
        t0 = time.monotonic()
        owner_key = ec.generate_private_key(ec.SECP256R1())
        sold = fdo.extend(voucher, owner_key.public_key(), ca.fdo_key)
        times["sale"] = time.monotonic() - t0
        echo(f"4. sold: the voucher is extended to the owner's key "
             f"(sha256 {fdo.key_id(owner_key.public_key())[:16]}...) in {times['sale']:.2f} s")

        # 5. the owner
        t0 = time.monotonic()
        store = SQLVoucherStore(str(Path(tmp) / "owner.db"))
        ep = ManagementEndpoint(ec.generate_private_key(ec.SECP256R1())).start()
        issuer = ep.issuer()
        owner = fdo_owner.OwnerServer(store, owner_key, [rv.url], issue=issuer).start()
        try:
            store.add(sold)
            ok, bad = fdo_owner.register_pending(store, rv.url, owner_key,
                                                 fdo_owner.rvto2addr(owner.url), 3600)
            if bad or not ok:
                raise DemoError("TO0 with the rendezvous server failed")
            times["to0"] = time.monotonic() - t0
            echo(f"5. owner: onboarding service on {owner.url}, management endpoint "
                 f"{ep.uri}; TO0 registered the device in {times['to0']:.2f} s")

            # 6. power-up in the field
            vb.power_cut()
            vb.wait_booted()
            t0 = time.monotonic()
            info = {"os": "MicroPython", "arch": prof.micropython.get("march", "wasm"),
                    "version": "1.27.0", "device": prof.name, "sn": res.serial}
            g, uri, kid = _run(vb.port, _ONBOARD.format(info=info), "onboarding")[-3:]
            times["onboard"] = time.monotonic() - t0
            echo(f"6. power-up: TO1 found the owner, TO2 onboarded the board in "
                 f"{times['onboard']:.1f} s (through the serial relay); new GUID {g}, "
                 f"management credentials for {uri} (kid {kid})")
            if store.row(guid0).replaced_by != bytes.fromhex(g):
                raise DemoError("the owner did not record the replacement voucher")

            # 7. management over EDHOC + OSCORE
            ep.allow(issuer)
            t0 = time.monotonic()
            lines = _run(vb.port, _MANAGE, "the management request")
            times["manage"] = time.monotonic() - t0
            edhoc_ms, get_ms = (int(x) for x in lines[-2].split())
            echo(f"7. EDHOC + OSCORE to {uri}: handshake {edhoc_ms} ms, GET /mgmt/hello "
                 f"{get_ms} ms on the board; the endpoint answered {lines[-1]}")
        finally:
            owner.stop()
            ep.stop()
            store.close()
    times["total"] = time.monotonic() - start
    echo(f"done in {times['total']:.1f} s: factory -> sale -> TO0 -> TO1/TO2 -> EDHOC + OSCORE")
    return times
