"""The factory's IDevID CA (imprint_host.factory.ca) and `imprint factory ca init`: CA creation
once with 0600 keys, 802.1AR device certificates checked with `cryptography` and `openssl`,
and the CSRs it must refuse."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from imprint_host.cli import main as imprint_main
from imprint_host.factory import ca as ca_mod
from imprint_host.factory import cli as factory_cli
from imprint_host.factory.ca import CAError, CAExistsError, IssuingCA

ROOT = Path(__file__).resolve().parents[2]
IMPRINT = ROOT / ".venv" / "bin" / "imprint"
OPENSSL = shutil.which("openssl")
HW_TYPE = "1.3.6.1.4.1.32473.1.1"
HMN = "1.3.6.1.5.5.7.8.4"
DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM


def make_csr(serial: str | None, key=None, cn: str | None = "imprint board") -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    attrs = []
    if serial is not None:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    algo = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, algo)
    return csr.public_bytes(DER)


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("factory") / "ca"
    IssuingCA.create(d, org="ACME Devices")
    return d


@pytest.fixture(scope="module")
def ca(ca_dir) -> IssuingCA:
    return IssuingCA.load(ca_dir)


# --- ca init -------------------------------------------------------------------------------

def test_create_writes_the_files_keys_0600(tmp_path):
    d = tmp_path / "new" / "ca"
    c = IssuingCA.create(d, org="ACME Devices", hw_type="1.3.6.1.4.1.32473.7.42")
    assert sorted(os.listdir(d)) == sorted(ca_mod.FILES)
    for name in ca_mod.KEY_FILES:
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600, name
        key = serialization.load_pem_private_key((d / name).read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    for name in (ca_mod.ROOT_CERT, ca_mod.ISSUING_CERT, ca_mod.FDO_PUB, ca_mod.CONFIG):
        assert not stat.S_IMODE((d / name).stat().st_mode) & 0o022, name
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    config = json.loads((d / "ca.json").read_text())
    assert config["org"] == "ACME Devices" and config["hw_type"] == "1.3.6.1.4.1.32473.7.42"
    assert datetime.fromisoformat(config["created"]).date() == datetime.now(UTC).date()
    assert c.hw_type == "1.3.6.1.4.1.32473.7.42" and c.org == "ACME Devices"
    # the FDO manufacturer key and its public key file agree
    pub = serialization.load_pem_public_key((d / ca_mod.FDO_PUB).read_bytes())
    assert pub.public_numbers() == c.fdo_public_key.public_numbers()


def test_create_makes_a_root_and_an_issuing_ca(ca_dir):
    root = x509.load_pem_x509_certificate((ca_dir / "root.pem").read_bytes())
    issuing = x509.load_pem_x509_certificate((ca_dir / "issuing.pem").read_bytes())
    root.verify_directly_issued_by(root)
    issuing.verify_directly_issued_by(root)
    for cert, pathlen in ((root, 1), (issuing, 0)):
        assert cert.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.ECDSA_WITH_SHA256
        assert cert.public_key().curve.name == "secp256r1"
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical and bc.value.ca and bc.value.path_length == pathlen
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert ku.critical and ku.value.key_cert_sign and not ku.value.digital_signature
        assert cert.not_valid_after_utc.year == 9999
        assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == \
            "ACME Devices"
    aki = issuing.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == \
        root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def test_create_refuses_to_overwrite(ca_dir):
    before = {n: (ca_dir / n).read_bytes() for n in ca_mod.FILES}
    with pytest.raises(CAExistsError, match="already holds a CA.*refusing to overwrite"):
        IssuingCA.create(ca_dir)
    assert {n: (ca_dir / n).read_bytes() for n in ca_mod.FILES} == before


def test_create_refuses_a_partial_ca_and_accepts_an_empty_dir(tmp_path):
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "issuing.key").write_text("x")
    with pytest.raises(CAExistsError, match="issuing.key"):
        IssuingCA.create(tmp_path / "partial")
    assert os.listdir(tmp_path / "partial") == ["issuing.key"]
    (tmp_path / "empty").mkdir()
    IssuingCA.create(tmp_path / "empty")
    IssuingCA.load(tmp_path / "empty")


@pytest.mark.parametrize("oid", ["", "1", "banana", "1.3.6.", "3.1", "1.40.1", "1.3.06.1",
                                 "1.3.6.1 "])
def test_create_refuses_a_bad_hw_type(tmp_path, oid):
    with pytest.raises(CAError, match="OID"):
        IssuingCA.create(tmp_path / "ca", hw_type=oid)
    assert not (tmp_path / "ca").exists()


def test_load_checks_key_permissions_and_completeness(tmp_path):
    d = tmp_path / "ca"
    IssuingCA.create(d)
    (d / "issuing.key").chmod(0o644)
    with pytest.raises(CAError, match=r"issuing.key.*mode 0644.*chmod 600"):
        IssuingCA.load(d)
    IssuingCA.load(d, check_permissions=False)
    (d / "issuing.key").chmod(0o600)
    # the root key may live offline: the issuing CA works without it
    (d / "root.key").unlink()
    IssuingCA.load(d)
    (d / "fdo-manufacturer.key").unlink()
    with pytest.raises(CAError, match="fdo-manufacturer.key is missing"):
        IssuingCA.load(d)
    with pytest.raises(CAError, match="not a directory"):
        IssuingCA.load(tmp_path / "nowhere")


def test_load_refuses_a_foreign_issuing_ca(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    IssuingCA.create(a)
    IssuingCA.create(b)
    shutil.copy(b / "issuing.pem", a / "issuing.pem")
    with pytest.raises(CAError, match="issuing.key is not the key of"):
        IssuingCA.load(a)
    shutil.copy(b / "issuing.key", a / "issuing.key")
    with pytest.raises(CAError, match="not issued by"):
        IssuingCA.load(a)


# --- hardwareModuleName DER ----------------------------------------------------------------

def _oid_der_by_cryptography(dotted: str) -> bytes:
    """The DER of an OID as `cryptography` writes it (inside a one-attribute Name)."""
    name = x509.Name([x509.NameAttribute(ObjectIdentifier(dotted), "x")]).public_bytes()
    start = name.index(b"\x06")
    return name[start:start + 2 + name[start + 1]]


@pytest.mark.parametrize("oid", [HW_TYPE, HMN, "2.999.1", "1.2.840.10045.3.1.7", "0.9.2342",
                                 "1.3.6.1.4.1.4294967295.0.128.16383.16384"])
def test_hardware_module_name_der(oid):
    body = ca_mod.hardware_module_name(oid, b"SN-42")
    oid_der = _oid_der_by_cryptography(oid)
    inner = oid_der + b"\x04\x05SN-42"
    assert body == b"\x30" + bytes([len(inner)]) + inner
    assert ca_mod.parse_hardware_module_name(body) == (oid, b"SN-42")


def test_hardware_module_name_known_bytes():
    # openssl asn1parse reads this as SEQUENCE { OID 1.3.6.1.4.1.32473.1.1, OCTET STRING "SN0001" }
    assert ca_mod.hardware_module_name(HW_TYPE, b"SN0001") == bytes.fromhex(
        "3014060a2b0601040181fd5901010406534e30303031")
    long = ca_mod.hardware_module_name(HW_TYPE, b"x" * 200)
    assert long[:3] == b"\x30\x81\xd7"  # 215 = OID TLV 12 + OCTET STRING header 3 + 200
    assert ca_mod.parse_hardware_module_name(long) == (HW_TYPE, b"x" * 200)


@pytest.mark.parametrize("bad", ["", "3000", "30030601", "3005060100040000",
                                 "300506012b0400ff", "3004040006012b", "30820005060129040100"])
def test_parse_hardware_module_name_refuses_malformed(bad):
    with pytest.raises(CAError):
        ca_mod.parse_hardware_module_name(bytes.fromhex(bad))


# --- issuing -------------------------------------------------------------------------------

def test_issue_idevid_802_1ar_profile(ca):
    key = ec.generate_private_key(ec.SECP256R1())
    der = ca.issue_idevid(make_csr("SN0001", key), "SN0001")
    cert = x509.load_der_x509_certificate(der)
    # issued by the issuing CA, for the CSR's key
    cert.verify_directly_issued_by(ca.issuing_cert)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    # subject: O from config, CN from the CSR, serialNumber
    s = cert.subject
    assert s.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "SN0001"
    assert s.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME Devices"
    assert s.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "imprint board"
    # SAN otherName hardwareModuleName, parsed back
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert not san.critical
    (other,) = san.value
    assert isinstance(other, x509.OtherName) and other.type_id.dotted_string == HMN
    assert ca_mod.parse_hardware_module_name(other.value) == (HW_TYPE, b"SN0001")
    # notAfter 99991231235959Z as a GeneralizedTime (tag 0x18) in the DER
    assert cert.not_valid_after_utc == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert b"\x18\x0f99991231235959Z" in der
    assert cert.not_valid_before_utc <= datetime.now(UTC)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    assert not (ku.value.key_cert_sign or ku.value.crl_sign or ku.value.key_agreement)
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.value.ca is False
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca.issuing_cert.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest
    # random positive 16-byte serial
    assert 2 ** 126 <= cert.serial_number < 2 ** 127
    other_serial = x509.load_der_x509_certificate(
        ca.issue_idevid(make_csr("SN0001"), "SN0001")).serial_number
    assert other_serial != cert.serial_number
    # and the CA's own check agrees
    got = ca.verify_idevid(der, "SN0001")
    assert (got.serial, got.hw_type, got.hw_serial) == ("SN0001", HW_TYPE, b"SN0001")
    assert got.public_key == key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def test_issue_without_cn_and_with_another_hw_type(ca):
    der = ca.issue_idevid(make_csr("B-7", cn=None), "B-7", "1.3.6.1.4.1.32473.9")
    cert = x509.load_der_x509_certificate(der)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
    assert ca_mod.hardware_module_names(cert) == [("1.3.6.1.4.1.32473.9", b"B-7")]
    assert ca.verify_idevid(cert).hw_type == "1.3.6.1.4.1.32473.9"


def test_chain(ca, ca_dir):
    pem = ca.chain_pem()
    certs = x509.load_pem_x509_certificates(pem.encode())
    assert certs == [ca.issuing_cert, ca.root_cert]
    assert pem == (ca_dir / "issuing.pem").read_text() + (ca_dir / "root.pem").read_text()
    assert [x509.load_der_x509_certificate(d) for d in ca.chain_der()] == certs


# --- openssl -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def device_pem(ca, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("device") / "device.pem"
    der = ca.issue_idevid(make_csr("SN-OPENSSL-1"), "SN-OPENSSL-1")
    p.write_bytes(x509.load_der_x509_certificate(der).public_bytes(PEM))
    return p


def _openssl(*args: str) -> str:
    r = subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
def test_openssl_verifies_the_chain(ca_dir, device_pem):
    out = _openssl("verify", "-CAfile", str(ca_dir / "root.pem"),
                   "-untrusted", str(ca_dir / "issuing.pem"), str(device_pem))
    assert out.strip() == f"{device_pem}: OK"


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
def test_openssl_refuses_a_chain_from_another_ca(tmp_path, ca_dir, device_pem):
    other = tmp_path / "other"
    IssuingCA.create(other)
    r = subprocess.run([OPENSSL, "verify", "-CAfile", str(other / "root.pem"),
                        "-untrusted", str(other / "issuing.pem"), str(device_pem)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
def test_openssl_text_shows_hardware_module_name_and_9999(device_pem):
    text = _openssl("x509", "-in", str(device_pem), "-noout", "-text")
    # OpenSSL 3.0 prints the OID; later releases may name it
    assert HMN in text or "hardware module name" in text.lower() \
        or "hardwaremodulename" in text.lower(), text
    assert "Not After : Dec 31 23:59:59 9999 GMT" in text
    assert "serialNumber = SN-OPENSSL-1" in text
    assert "X509v3 Key Usage: critical" in text and "Digital Signature" in text
    assert "CA:FALSE" in text
    assert "X509v3 Subject Key Identifier" in text
    assert "X509v3 Authority Key Identifier" in text
    asn1 = _openssl("asn1parse", "-in", str(device_pem))
    assert "GENERALIZEDTIME   :99991231235959Z" in asn1


# --- refusals ------------------------------------------------------------------------------

def test_refuses_a_bad_csr_signature(ca):
    good = make_csr("SN0001", cn="board-a")
    bad = good.replace(b"board-a", b"board-b")
    assert bad != good and x509.load_der_x509_csr(bad).subject  # still a parsable CSR
    with pytest.raises(CAError, match="signature does not verify.*refusing"):
        ca.issue_idevid(bad, "SN0001")


def test_refuses_a_wrong_serial(ca):
    with pytest.raises(CAError, match="serialNumber 'SN0002' is not the board's serial 'SN0001'"):
        ca.issue_idevid(make_csr("SN0002"), "SN0001")
    with pytest.raises(CAError, match=r"exactly one serialNumber \(2.5.4.5\)"):
        ca.issue_idevid(make_csr(None), "SN0001")


@pytest.mark.parametrize("key", [
    pytest.param(lambda: ec.generate_private_key(ec.SECP384R1()), id="p384"),
    pytest.param(lambda: ec.generate_private_key(ec.SECP256K1()), id="secp256k1"),
    pytest.param(ed25519.Ed25519PrivateKey.generate, id="ed25519"),
    pytest.param(lambda: rsa.generate_private_key(65537, 2048), id="rsa"),
])
def test_refuses_a_key_that_is_not_p256(ca, key):
    with pytest.raises(CAError, match=r"an IDevID key must be P-256"):
        ca.issue_idevid(make_csr("SN0001", key()), "SN0001")


@pytest.mark.parametrize("serial", ["", "x" * 65, "SN_1", "SN\n1", "Sé"])
def test_refuses_a_serial_an_x520_serialnumber_cannot_hold(ca, serial):
    with pytest.raises(CAError, match="serial number"):
        ca.issue_idevid(make_csr("SN0001"), serial)


def test_refuses_garbage(ca):
    for data in (b"", b"\x30\x03\x02\x01\x01", os.urandom(64)):
        with pytest.raises(CAError, match="not a DER PKCS#10"):
            ca.issue_idevid(data, "SN0001")


def test_verify_idevid_refusals(ca, tmp_path):
    der = ca.issue_idevid(make_csr("SN0001"), "SN0001")
    with pytest.raises(CAError, match="for serial 'SN0001', not 'SN0002'"):
        ca.verify_idevid(der, "SN0002")
    other = IssuingCA.create(tmp_path / "other", org="ACME Devices")
    with pytest.raises(CAError, match="signature does not verify"):
        ca.verify_idevid(other.issue_idevid(make_csr("SN0001"), "SN0001"))
    with pytest.raises(CAError, match="not by this CA"):
        ca.verify_idevid(ca.root_cert)
    with pytest.raises(CAError, match="not a certificate"):
        ca.verify_idevid(b"\x30\x00")
    # PEM is accepted too
    assert ca.verify_idevid(x509.load_der_x509_certificate(der).public_bytes(PEM)).serial == \
        "SN0001"


# --- a CSR made by the device code ---------------------------------------------------------

def _device_der():
    from imprint import der
    return der if hasattr(der, "csr") else None


@pytest.mark.skipif(_device_der() is None,
                    reason="imprint.der has no csr() yet (written in parallel for issue 5)")
def test_issue_from_a_device_made_csr(ca, tmp_path):
    from imprint import crypto
    der = _device_der()
    d, pub = crypto.p256_keypair()
    csr = der.csr(pub, lambda tbs: crypto.p256_sign(d, tbs),
                  [("2.5.4.5", "SN-DEV-1"), ("2.5.4.3", "imprint board")])
    parsed = x509.load_der_x509_csr(bytes(csr))
    assert parsed.is_signature_valid
    cert_der = ca.issue_idevid(csr, "SN-DEV-1")
    got = ca.verify_idevid(cert_der, "SN-DEV-1")
    assert got.public_key == bytes(pub) and got.hw_serial == b"SN-DEV-1"
    if OPENSSL:
        p = tmp_path / "device.pem"
        p.write_bytes(x509.load_der_x509_certificate(cert_der).public_bytes(PEM))
        _openssl("verify", "-CAfile", str(ca.directory / "root.pem"),
                 "-untrusted", str(ca.directory / "issuing.pem"), str(p))
    # a device CSR signed by another key, and one for another serial, are refused
    d2, _ = crypto.p256_keypair()
    forged = der.csr(pub, lambda tbs: crypto.p256_sign(d2, tbs), [("2.5.4.5", "SN-DEV-1")])
    with pytest.raises(CAError, match="signature does not verify"):
        ca.issue_idevid(forged, "SN-DEV-1")
    with pytest.raises(CAError, match="not the board's serial"):
        ca.issue_idevid(csr, "SN-DEV-2")


# --- the command line ----------------------------------------------------------------------

def test_cli_defaults_are_the_ca_defaults():
    assert factory_cli._DEFAULT_HW_TYPE == ca_mod.DEFAULT_HW_TYPE
    assert factory_cli._DEFAULT_ORG == ca_mod.DEFAULT_ORG


def test_cli_ca_init_with_clirunner(tmp_path):
    d = tmp_path / "ca"
    runner = CliRunner()
    r = runner.invoke(imprint_main, ["factory", "ca", "init", "--dir", str(d),
                                     "--org", "Widget GmbH", "--hw-type", "1.3.6.1.4.1.32473.5"])
    assert r.exit_code == 0, r.output
    assert "created the IDevID CA of 'Widget GmbH'" in r.output
    assert "1.3.6.1.4.1.32473.5" in r.output
    c = IssuingCA.load(d)
    assert (c.org, c.hw_type) == ("Widget GmbH", "1.3.6.1.4.1.32473.5")
    for name in ca_mod.KEY_FILES:
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600
    before = (d / "root.key").read_bytes()
    r = runner.invoke(imprint_main, ["factory", "ca", "init", "--dir", str(d)])
    assert r.exit_code == 2
    assert "refusing to overwrite" in r.output and "Use --dir with a new or empty" in r.output
    assert (d / "root.key").read_bytes() == before
    r = runner.invoke(imprint_main, ["factory", "ca", "init", "--dir", str(tmp_path / "x"),
                                     "--hw-type", "not-an-oid"])
    assert r.exit_code == 2 and "is not an OID" in r.output
    r = runner.invoke(imprint_main, ["factory", "ca", "show", "--dir", str(d)])
    assert r.exit_code == 0 and "Widget GmbH" in r.output and "SHA-256" in r.output
    r = runner.invoke(imprint_main, ["factory", "ca", "init", "--dir", str(tmp_path / "dflt")])
    assert r.exit_code == 0 and "documentation placeholder" in r.output


@pytest.mark.skipif(not IMPRINT.exists(), reason="the imprint command is not installed in .venv")
def test_installed_imprint_factory_ca_init(tmp_path):
    d = tmp_path / "ca"
    r = subprocess.run([str(IMPRINT), "factory", "ca", "init", "--dir", str(d)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(d)) == sorted(ca_mod.FILES)
    assert json.loads((d / "ca.json").read_text())["hw_type"] == HW_TYPE
    r = subprocess.run([str(IMPRINT), "factory", "ca", "init", "--dir", str(d)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "refusing to overwrite" in r.stderr


def test_imprint_starts_without_importing_cryptography():
    code = "import sys, imprint_host.cli; print('cryptography' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False", r.stderr
