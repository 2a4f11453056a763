"""Helpers the FDO tests share (not a test module): an in-memory flash for imprint.store and
small X.509 certificates made with cryptography."""

from __future__ import annotations

import datetime
import sys
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
