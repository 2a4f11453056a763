"""Helpers the FDO tests share (not a test module): an in-memory flash for imprint.store and
small X.509 certificates made with cryptography."""

from __future__ import annotations

import datetime
import sys
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "device"))
from vectors import MemFS  # noqa: E402,F401  (the device tests' in-RAM flash)


def _cert(subject, pub, issuer, key, ca=False):
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])  # noqa: E731
    t = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
         .public_key(pub).serial_number(x509.random_serial_number()).not_valid_before(t)
         .not_valid_after(t.replace(year=9999))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def raw_key(key) -> bytes:
    """A P-256 private key as the device stores it: 32 bytes."""
    return key.private_numbers().private_value.to_bytes(32, "big")


def device_store(keys, serial="SN-1", device="device"):
    """A device store as the factory leaves it before FDO DI: serial, IDevID chain and key."""
    from imprint.store import Store
    chain = [_cert(serial, keys[device].public_key(), "root", keys["root"]),
             _cert("root", keys["root"].public_key(), "root", keys["root"], ca=True)]
    st = Store(MemFS())
    st.update({"serial": serial, "idevid_chain": chain, "idevid_key": raw_key(keys[device])})
    return st


def di(keys, serial="SN-1", device="device", rv="http://127.0.0.1:8041"):
    """FDO DI in-process (the firmware's DeviceInit against the host's Manufacturer) ->
    (device store, voucher)."""
    from imprint.methods import fdo as dev
    from imprint_host.factory import fdo
    st = device_store(keys, serial, device)
    d, m = dev.DeviceInit(st, serial, "nrf52840-dk"), fdo.Manufacturer(keys["mfg"], rv)
    t, body = m.di(10, d.app_start())
    t, body = m.di(*d.handle(t, body))
    assert d.handle(t, body) is None
    return st, m.voucher


@contextmanager
def running(proc):
    """A started subprocess, killed (if still running) and its pipes closed at the end."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


def wait_started(proc, timeout: float = 30) -> str:
    """A service's stderr up to its start-up line (" on http://..."): what it printed first."""
    import time
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if " on http://" in line:
            return "".join(lines)
    proc.kill()
    raise AssertionError("the service did not start: " + "".join(lines) + proc.stderr.read())
