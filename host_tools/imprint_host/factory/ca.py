"""The IDevID certificate authority of the factory (IEEE 802.1AR-2018), on `cryptography`.

A CA directory is created once by `IssuingCA.create` (`imprint factory ca init`) and holds:

    root.key                  manufacturer root CA private key (P-256, PEM PKCS#8, mode 0600)
    root.pem                  manufacturer root CA certificate (self-signed, ECDSA-SHA256)
    issuing.key               IDevID issuing CA private key (P-256, PEM PKCS#8, mode 0600)
    issuing.pem               IDevID issuing CA certificate, signed by the root
    fdo-manufacturer.key      FDO manufacturer key (P-256, PEM PKCS#8, mode 0600)
    fdo-manufacturer.pub.pem  its public key (PEM SubjectPublicKeyInfo)
    ca.json                   {"format": 1, "org": ..., "hw_type": "<OID>", "created": ISO 8601}

`IssuingCA.load` needs everything but root.key: the root key may be moved offline once the
issuing CA exists. Device certificates (`issue_idevid`) follow IEEE 802.1AR §8: subject
serialNumber (+ O, + CN when the CSR has one), subjectAltName otherName hardwareModuleName
(RFC 4108 §5) carrying the manufacturer's hwType OID and the serial, notAfter
99991231235959Z, keyUsage digitalSignature, authority and subject key identifiers. They are
issued only for a CSR whose signature verifies with its own P-256 key (proof of possession)
and whose subject serialNumber is the board's serial.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

# RFC 4108 §5: id-on-hardwareModuleName (the otherName type-id of 802.1AR's SAN)
HARDWARE_MODULE_NAME_OID = "1.3.6.1.5.5.7.8.4"

# The default hwType: an arc under Private Enterprise Number 32473, which IANA reserves for
# documentation and examples (RFC 5612). It is a placeholder: a manufacturer passes an OID
# under its own PEN with --hw-type.
DEFAULT_HW_TYPE = "1.3.6.1.4.1.32473.1.1"
DEFAULT_ORG = "Example Manufacturer"

# RFC 5280 §4.1.2.5 / IEEE 802.1AR §8.5: "no well-defined expiration date" is notAfter
# 99991231235959Z, a GeneralizedTime (cryptography writes GeneralizedTime from 2050 on).
NOT_AFTER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

ROOT_KEY = "root.key"
ROOT_CERT = "root.pem"
ISSUING_KEY = "issuing.key"
ISSUING_CERT = "issuing.pem"
FDO_KEY = "fdo-manufacturer.key"
FDO_PUB = "fdo-manufacturer.pub.pem"
CONFIG = "ca.json"
KEY_FILES = (ROOT_KEY, ISSUING_KEY, FDO_KEY)
FILES = (ROOT_KEY, ROOT_CERT, ISSUING_KEY, ISSUING_CERT, FDO_KEY, FDO_PUB, CONFIG)
CONFIG_FORMAT = 1

# X.520 ub-serial-number; PrintableString's alphabet (X.680 §41.4)
MAX_SERIAL = 64
_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]+")
_OID = re.compile(r"(0|1|2)(\.(0|[1-9][0-9]*))+")


class CAError(ValueError):
    """Anything the CA refuses or cannot do; the message says what and why."""


class CAExistsError(CAError):
    """`create` found (part of) a CA in the directory and will not overwrite it."""


# --- hand-built DER for HardwareModuleName -------------------------------------------------

def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def check_oid(dotted: str) -> str:
    """`dotted` if it is a well-formed OID in dotted-decimal form, else CAError."""
    if not isinstance(dotted, str) or not _OID.fullmatch(dotted):
        raise CAError(f"{dotted!r} is not an OID in dotted-decimal form (e.g. {DEFAULT_HW_TYPE})")
    arcs = [int(a) for a in dotted.split(".")]
    if arcs[0] < 2 and arcs[1] >= 40:
        raise CAError(f"{dotted!r} is not a valid OID: under arc {arcs[0]} the second arc must be < 40")
    return dotted


# X.690 §8.19: OBJECT IDENTIFIER contents
def _oid_body(dotted: str) -> bytes:
    arcs = [int(a) for a in check_oid(dotted).split(".")]
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def _oid_from_body(body: bytes) -> str:
    if not body or body[-1] & 0x80:
        raise CAError("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    v = 0
    for i, b in enumerate(body):
        if v == 0 and b == 0x80 and (i == 0 or not body[i - 1] & 0x80):
            raise CAError("malformed OBJECT IDENTIFIER (non-minimal arc)")
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(v)
            v = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def _read_tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER TLV at pos; single-byte tags only."""
    if pos + 2 > end:
        raise CAError("truncated DER")
    tag, n = data[pos], data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > end or data[pos] == 0:
            raise CAError("bad DER length")
        n = int.from_bytes(data[pos:pos + k], "big")
        if n < 0x80:
            raise CAError("non-minimal DER length")
        pos += k
    if pos + n > end:
        raise CAError("truncated DER")
    return tag, pos, pos + n


# RFC 4108 §5: HardwareModuleName ::= SEQUENCE { hwType OBJECT IDENTIFIER, hwSerialNum OCTET STRING }
def hardware_module_name(hw_type: str, hw_serial: bytes) -> bytes:
    """DER of a HardwareModuleName (the value of the otherName, without its [0] wrapper)."""
    return _tlv(0x30, _tlv(0x06, _oid_body(hw_type)) + _tlv(0x04, bytes(hw_serial)))


def parse_hardware_module_name(der: bytes) -> tuple[str, bytes]:
    """(hwType dotted OID, hwSerialNum bytes) from the DER of a HardwareModuleName."""
    tag, s, e = _read_tlv(der, 0, len(der))
    if tag != 0x30 or e != len(der):
        raise CAError("HardwareModuleName is not one SEQUENCE")
    tag, os_, oe = _read_tlv(der, s, e)
    if tag != 0x06:
        raise CAError("HardwareModuleName.hwType is not an OBJECT IDENTIFIER")
    tag, ss, se = _read_tlv(der, oe, e)
    if tag != 0x04 or se != e:
        raise CAError("HardwareModuleName.hwSerialNum is not a final OCTET STRING")
    return _oid_from_body(der[os_:oe]), der[ss:se]


def hardware_module_names(cert: x509.Certificate) -> list[tuple[str, bytes]]:
    """Every hardwareModuleName in the certificate's subjectAltName: [(hwType, hwSerialNum)]."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [parse_hardware_module_name(n.value) for n in san.get_values_for_type(x509.OtherName)
            if n.type_id.dotted_string == HARDWARE_MODULE_NAME_OID]


# --- helpers ------------------------------------------------------------------------------

def check_serial(serial: str) -> str:
    """`serial` if it can be an X.520 serialNumber (PrintableString, 1..64 chars), else CAError."""
    if not isinstance(serial, str) or not serial:
        raise CAError("the serial number is empty")
    if len(serial) > MAX_SERIAL:
        raise CAError(f"the serial number {serial!r} is longer than {MAX_SERIAL} characters")
    if not _PRINTABLE.fullmatch(serial):
        raise CAError(f"the serial number {serial!r} has characters a PrintableString cannot hold "
                      "(allowed: A-Z a-z 0-9 space ' ( ) + , - . / : = ?)")
    return serial


def _cert_serial() -> int:
    """A random positive 16-byte certificate serial (RFC 5280 §4.1.2.2: ≤ 20 octets, > 0)."""
    b = bytearray(secrets.token_bytes(16))
    b[0] = (b[0] & 0x7F) | 0x40  # positive, exactly 16 octets in DER, never zero
    return int.from_bytes(b, "big")


def _is_p256(key: object) -> bool:
    return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)


def _key_name(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"an EC key on {key.curve.name}"
    return f"a key of type {type(key).__name__.removesuffix('PublicKey').lstrip('_') or '?'}"


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create path (never overwrite) with exactly `mode`, write data and sync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _ski(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value


def _ca_cert(subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey,
             signer: ec.EllipticCurvePrivateKey, path_length: int, now: datetime,
             issuer_cert: x509.Certificate | None) -> x509.Certificate:
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(issuer).public_key(public)
         .serial_number(_cert_serial()).not_valid_before(now).not_valid_after(NOT_AFTER)
         .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                      key_encipherment=False, data_encipherment=False,
                                      key_agreement=False, key_cert_sign=True, crl_sign=True,
                                      encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))
    if issuer_cert is not None:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski(issuer_cert)),
            critical=False)
    return b.sign(signer, hashes.SHA256())


def _load_pem_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CAError(f"{path} is missing: {what} ({path.parent} is not a complete CA "
                      "directory; make one with `imprint factory ca init --dir DIR`)") from None


def _load_key(path: Path, what: str, check_permissions: bool) -> ec.EllipticCurvePrivateKey:
    data = _load_pem_file(path, what)
    if check_permissions:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise CAError(f"{path} ({what}) is readable or writable by group or others "
                          f"(mode {mode:04o}); run `chmod 600 {path}`")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise CAError(f"{path} is not an unencrypted PEM private key ({what}): {e}") from None
    if not (isinstance(key, ec.EllipticCurvePrivateKey) and _is_p256(key.public_key())):
        raise CAError(f"{path} ({what}) is not a P-256 key")
    return key


def _load_cert(path: Path, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_load_pem_file(path, what))
    except ValueError as e:
        raise CAError(f"{path} is not a PEM certificate ({what}): {e}") from None


def _same_key(a: ec.EllipticCurvePublicKey, b: object) -> bool:
    return isinstance(b, ec.EllipticCurvePublicKey) and a.public_numbers() == b.public_numbers()


@dataclass(frozen=True)
class IDevID:
    """What `verify_idevid` checked, read back from a device certificate."""
    serial: str                # subject serialNumber (= hwSerialNum)
    hw_type: str               # hardwareModuleName hwType OID
    hw_serial: bytes           # hardwareModuleName hwSerialNum
    subject: str               # RFC 4514 string
    public_key: bytes          # 65-byte uncompressed P-256 point
    not_after: datetime
    certificate: x509.Certificate


class IssuingCA:
    """The IDevID issuing CA of one CA directory (see the module docstring)."""

    def __init__(self, directory: Path, config: dict, root_cert: x509.Certificate,
                 issuing_cert: x509.Certificate, issuing_key: ec.EllipticCurvePrivateKey,
                 fdo_key: ec.EllipticCurvePrivateKey) -> None:
        self.directory = directory
        self.config = config
        self.root_cert = root_cert
        self.issuing_cert = issuing_cert
        self._issuing_key = issuing_key
        self.fdo_key = fdo_key

    @property
    def org(self) -> str:
        return self.config["org"]

    @property
    def hw_type(self) -> str:
        return self.config["hw_type"]

    @property
    def created(self) -> str:
        return self.config["created"]

    @property
    def fdo_public_key(self) -> ec.EllipticCurvePublicKey:
        return self.fdo_key.public_key()

    # -- creation and loading --------------------------------------------------------------

    @classmethod
    def create(cls, directory: str | os.PathLike, org: str = DEFAULT_ORG,
               hw_type: str = DEFAULT_HW_TYPE) -> IssuingCA:
        """Create a CA in `directory` (made if absent): root, issuing CA, FDO manufacturer key.
        Refuses (CAExistsError) if any CA file is already there; never overwrites."""
        d = Path(directory)
        check_oid(hw_type)
        if not isinstance(org, str) or not org.strip():
            raise CAError("the organization name is empty")
        if d.exists() and not d.is_dir():
            raise CAError(f"{d} exists and is not a directory")
        present = [n for n in FILES if (d / n).exists()]
        if present:
            raise CAExistsError(f"{d} already holds a CA ({', '.join(present)}); "
                                "refusing to overwrite it")
        if not d.exists():
            d.mkdir(mode=0o700, parents=True)
            d.chmod(0o700)  # whatever the umask

        now = datetime.now(UTC).replace(microsecond=0)
        root_key = ec.generate_private_key(ec.SECP256R1())
        issuing_key = ec.generate_private_key(ec.SECP256R1())
        fdo_key = ec.generate_private_key(ec.SECP256R1())
        o = x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)
        root_name = x509.Name([o, x509.NameAttribute(NameOID.COMMON_NAME, f"{org} IDevID Root CA")])
        issuing_name = x509.Name([o, x509.NameAttribute(NameOID.COMMON_NAME,
                                                        f"{org} IDevID Issuing CA")])
        root = _ca_cert(root_name, root_name, root_key.public_key(), root_key, 1, now, None)
        issuing = _ca_cert(issuing_name, root_name, issuing_key.public_key(), root_key, 0, now,
                           root)
        config = {"format": CONFIG_FORMAT, "org": org, "hw_type": hw_type,
                  "created": now.isoformat().replace("+00:00", "Z")}

        pem = serialization.Encoding.PEM
        # O_EXCL on every file; ca.json last, so a directory without it is an unfinished CA.
        _write_new(d / ROOT_KEY, _private_pem(root_key), 0o600)
        _write_new(d / ISSUING_KEY, _private_pem(issuing_key), 0o600)
        _write_new(d / FDO_KEY, _private_pem(fdo_key), 0o600)
        _write_new(d / ROOT_CERT, root.public_bytes(pem), 0o644)
        _write_new(d / ISSUING_CERT, issuing.public_bytes(pem), 0o644)
        _write_new(d / FDO_PUB, fdo_key.public_key().public_bytes(
            pem, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
        _write_new(d / CONFIG, (json.dumps(config, indent=2) + "\n").encode(), 0o644)
        return cls(d, config, root, issuing, issuing_key, fdo_key)

    @classmethod
    def load(cls, directory: str | os.PathLike, *, check_permissions: bool = True) -> IssuingCA:
        """Load the CA in `directory`; checks that its keys match its certificates, that the
        root signed the issuing CA and (by default) that no key file is open to group/others."""
        d = Path(directory)
        if not d.is_dir():
            raise CAError(f"{d} is not a directory (make a CA with "
                          f"`imprint factory ca init --dir {d}`)")
        try:
            config = json.loads(_load_pem_file(d / CONFIG, "the CA configuration"))
        except json.JSONDecodeError as e:
            raise CAError(f"{d / CONFIG} is not JSON: {e}") from None
        if not isinstance(config, dict) or config.get("format") != CONFIG_FORMAT:
            raise CAError(f"{d / CONFIG}: unknown format (expected \"format\": {CONFIG_FORMAT})")
        for k in ("org", "hw_type", "created"):
            if not isinstance(config.get(k), str):
                raise CAError(f"{d / CONFIG}: {k!r} is missing or not a string")
        check_oid(config["hw_type"])
        if check_permissions and (d / ROOT_KEY).exists():
            _load_key(d / ROOT_KEY, "the root CA key", True)
        root = _load_cert(d / ROOT_CERT, "the root CA certificate")
        issuing = _load_cert(d / ISSUING_CERT, "the issuing CA certificate")
        issuing_key = _load_key(d / ISSUING_KEY, "the issuing CA key", check_permissions)
        fdo_key = _load_key(d / FDO_KEY, "the FDO manufacturer key", check_permissions)
        if not _same_key(issuing_key.public_key(), issuing.public_key()):
            raise CAError(f"{d / ISSUING_KEY} is not the key of {d / ISSUING_CERT}")
        try:
            root.verify_directly_issued_by(root)
            issuing.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature) as e:
            raise CAError(f"{d / ISSUING_CERT} is not issued by {d / ROOT_CERT} "
                          f"(or the root is not self-signed): {e or 'bad signature'}") from None
        return cls(d, config, root, issuing, issuing_key, fdo_key)

    # -- issuing -----------------------------------------------------------------------------

    def issue_idevid(self, csr_der: bytes, serial: str, hw_type_oid: str | None = None) -> bytes:
        """An 802.1AR IDevID certificate (DER) for the key of a PKCS#10 CSR (DER).

        Refused (CAError) unless the CSR's signature verifies with its own key, that key is
        P-256, and the CSR subject's serialNumber is `serial`. hwType defaults to the CA's."""
        check_serial(serial)
        hw_type = check_oid(hw_type_oid or self.hw_type)
        try:
            csr = x509.load_der_x509_csr(bytes(csr_der))
        except (ValueError, TypeError) as e:
            raise CAError(f"not a DER PKCS#10 certification request: {e}") from None
        try:
            signed = csr.is_signature_valid
            public = csr.public_key()
        except (ValueError, UnsupportedAlgorithm) as e:
            raise CAError(f"the CSR's key or signature algorithm is not supported: {e}") from None
        if not signed:
            raise CAError("the CSR's signature does not verify with the public key it carries: "
                          "possession of the key is not proven, refusing to certify it")
        if not _is_p256(public):
            raise CAError(f"the CSR carries {_key_name(public)}; an IDevID key must be P-256 "
                          "(secp256r1)")
        sn = csr.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        if len(sn) != 1:
            raise CAError("the CSR's subject must hold exactly one serialNumber (2.5.4.5); "
                          f"it holds {len(sn)}")
        if sn[0].value != serial:
            raise CAError(f"the CSR's subject serialNumber {sn[0].value!r} is not the board's "
                          f"serial {serial!r}")

        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.org)]
        cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if cn:
            attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, str(cn[0].value)))
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
        hmn = x509.OtherName(ObjectIdentifier(HARDWARE_MODULE_NAME_OID),
                             hardware_module_name(hw_type, serial.encode()))
        now = datetime.now(UTC).replace(microsecond=0)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name(attrs))
                .issuer_name(self.issuing_cert.subject)
                .public_key(public)
                .serial_number(_cert_serial())
                .not_valid_before(now)
                .not_valid_after(NOT_AFTER)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                # 802.1AR §8.10.4: non-critical, the subject is not empty
                .add_extension(x509.SubjectAlternativeName([hmn]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    _ski(self.issuing_cert)), critical=False)
                .sign(self._issuing_key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.DER)

    # -- chain and checks --------------------------------------------------------------------

    def chain_der(self) -> list[bytes]:
        """[issuing CA, root] as DER (append to the device certificate, leaf first)."""
        return [c.public_bytes(serialization.Encoding.DER)
                for c in (self.issuing_cert, self.root_cert)]

    def chain_pem(self) -> str:
        """The issuing CA then the root, PEM."""
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode()
                       for c in (self.issuing_cert, self.root_cert))

    def verify_idevid(self, cert: bytes | x509.Certificate, serial: str | None = None) -> IDevID:
        """Check that `cert` (DER, PEM or parsed) is an IDevID this CA issued, shaped per
        802.1AR as `issue_idevid` makes them (and for `serial` if given); CAError otherwise."""
        if not isinstance(cert, x509.Certificate):
            try:
                data = bytes(cert)
                cert = (x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----")
                        else x509.load_der_x509_certificate(data))
            except ValueError as e:
                raise CAError(f"not a certificate: {e}") from None
        if cert.issuer != self.issuing_cert.subject:
            raise CAError(f"issued by {cert.issuer.rfc4514_string()!r}, not by this CA's "
                          f"{self.issuing_cert.subject.rfc4514_string()!r}")
        try:
            cert.verify_directly_issued_by(self.issuing_cert)
            self.issuing_cert.verify_directly_issued_by(self.root_cert)
        except (ValueError, TypeError, InvalidSignature) as e:
            raise CAError(f"the certificate's signature does not verify with the issuing CA: "
                          f"{e or 'bad signature'}") from None
        public = cert.public_key()
        if not _is_p256(public):
            raise CAError(f"the certificate carries {_key_name(public)}, not a P-256 key")
        ext = cert.extensions
        try:
            bc = ext.get_extension_for_class(x509.BasicConstraints)
            ku = ext.get_extension_for_class(x509.KeyUsage)
            aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
            ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
        except x509.ExtensionNotFound as e:
            raise CAError(f"the certificate lacks an extension an IDevID needs: {e}") from None
        if bc.value.ca:
            raise CAError("the certificate is a CA certificate (basicConstraints CA:TRUE)")
        if not (ku.critical and ku.value.digital_signature):
            raise CAError("the certificate's keyUsage is not a critical digitalSignature")
        if aki.key_identifier != _ski(self.issuing_cert).digest:
            raise CAError("the authorityKeyIdentifier is not the issuing CA's key identifier")
        if ski.digest != x509.SubjectKeyIdentifier.from_public_key(public).digest:
            raise CAError("the subjectKeyIdentifier does not match the certificate's key")
        if cert.not_valid_after_utc != NOT_AFTER:
            raise CAError(f"notAfter is {cert.not_valid_after_utc:%Y%m%d%H%M%SZ}, "
                          "not 99991231235959Z")
        if cert.not_valid_before_utc > datetime.now(UTC):
            raise CAError(f"the certificate is not valid before {cert.not_valid_before_utc}")
        sn = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        if len(sn) != 1:
            raise CAError("the subject must hold exactly one serialNumber")
        subject_serial = str(sn[0].value)
        hmns = hardware_module_names(cert)
        if len(hmns) != 1:
            raise CAError(f"the subjectAltName holds {len(hmns)} hardwareModuleName(s), not one")
        hw_type, hw_serial = hmns[0]
        if hw_serial != subject_serial.encode():
            raise CAError(f"hardwareModuleName hwSerialNum {hw_serial!r} is not the subject "
                          f"serialNumber {subject_serial!r}")
        if serial is not None and subject_serial != serial:
            raise CAError(f"the certificate is for serial {subject_serial!r}, not {serial!r}")
        point = public.public_bytes(serialization.Encoding.X962,
                                    serialization.PublicFormat.UncompressedPoint)
        return IDevID(subject_serial, hw_type, hw_serial, cert.subject.rfc4514_string(), point,
                      cert.not_valid_after_utc, cert)
