"""FIDO Device Onboard 1.1 (protocol version 101), manufacturer side.

`Manufacturer` is the DI server (AppStart 10 -> SetCredentials 11, SetHMAC 12 -> Done 13)
that makes the ownership voucher; `extend`, `verify`, `show`, `armor` / `unarmor` work on
vouchers. Shapes (FDO 1.1 CDDL):

    OwnershipVoucher = [OVProtVer, OVHeaderTag: bstr .cbor OVHeader, OVHeaderHMac: HMac,
                        OVDevCertChain: [+ bstr] / null, OVEntryArray: [* OVEntry]]
    OVHeader = [OVHProtVer, OVGuid, OVRVInfo, OVDeviceInfo, OVPubKey, OVDevCertChainHash]
    OVEntry = COSE_Sign1 (tag 18, ES256) of OVEntryPayload =
              [OVEHashPrevEntry, OVEHashHdrInfo, OVEExtra, OVEPubKey]
    PublicKey = [pkType, pkEnc, pkBody]; Hash / HMac = [hashtype, bstr]

DeviceMfgInfo is manufacturer-defined. Ours keeps the field order of the go-fdo, C and Java
clients, bstr .cbor [pkType, pkEnc, serialNo, modelNo, certInfo], with certInfo the device's
IDevID chain ([+ bstr], leaf first, pkEnc X5CHAIN). A CSR there (a bstr, as those clients send)
is accepted when the Manufacturer is given `issue(csr_der, serial) -> [DER, ...]`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import ipaddress
import os
import uuid
from collections.abc import Mapping
from typing import Callable
from urllib.parse import urlsplit

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)

PROTVER = 101
MSG_APP_START, MSG_SET_CREDENTIALS, MSG_SET_HMAC, MSG_DONE = 10, 11, 12, 13
SHA256, HMAC_SHA256 = -16, 5                      # FDO hashtype (COSE algorithm ids)
PK_SECP256R1 = 10                                 # FDO pkType
PK_ENC_X509, PK_ENC_X5CHAIN, PK_ENC_COSEKEY = 1, 2, 3
ES256 = -7
COSE_SIGN1_TAG = 18
ARMOR = "OWNERSHIP VOUCHER"

RV_VARIABLES = {0: "dev-only", 1: "owner-only", 2: "ip", 3: "dev-port", 4: "owner-port",
                5: "dns", 6: "sv-cert-hash", 7: "cl-cert-hash", 8: "user-input",
                9: "wifi-ssid", 10: "wifi-pw", 11: "medium", 12: "protocol", 13: "delay-sec",
                14: "bypass", 15: "ext-rv"}
RV_PROTOCOLS = {"rest": 0, "http": 1, "https": 2, "tcp": 3, "tls": 4, "coap+tcp": 5, "coap": 6}
_HASH_NAMES = {SHA256: "SHA256", -43: "SHA384", HMAC_SHA256: "HMAC-SHA256", 6: "HMAC-SHA384"}
_HASHES = {SHA256: hashlib.sha256, -43: hashlib.sha384}
_HMACS = {HMAC_SHA256: hashlib.sha256, 6: hashlib.sha384}
_ENC_NAMES = {0: "crypto", PK_ENC_X509: "X509", PK_ENC_X5CHAIN: "X5CHAIN",
              PK_ENC_COSEKEY: "COSEKEY"}


class FDOHostError(ValueError):
    """A DI message or an ownership voucher that is wrong, with the reason."""


VoucherError = FDOHostError


def sha256(*parts: bytes) -> bytes:
    """SHA-256 over the concatenated parts (FDO's default hash)."""
    return digest(SHA256, *parts)


def digest(alg: int, *parts: bytes) -> bytes:
    """FDO hashtype -> digest of the concatenated parts (SHA384 is read, never written, here)."""
    if alg not in _HASHES:
        raise FDOHostError(f"hash type {alg!r} is not supported (SHA256, SHA384)")
    h = _HASHES[alg]()
    for p in parts:
        h.update(p)
    return h.digest()


def _dumps(obj) -> bytes:
    return cbor2.dumps(obj, canonical=True)


def _loads(data: bytes, what: str):
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, EOFError) as e:
        raise FDOHostError(f"{what}: malformed CBOR ({e})") from None


def _is_bytes(x) -> bool:
    return isinstance(x, (bytes, bytearray))


# --- keys -----------------------------------------------------------------------------------

def _load_private(key) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a key, PEM text/bytes, a PEM file path or an object holding one
    as `fdo_key` (factory.ca.IssuingCA)."""
    for attr in ("fdo_key", "mfg_key", "manufacturer_key"):
        if hasattr(key, attr):
            key = getattr(key, attr)
            break
    if isinstance(key, os.PathLike) or (isinstance(key, str) and "-----BEGIN" not in key):
        with open(key, "rb") as f:
            key = f.read()
    if isinstance(key, str):
        key = key.encode()
    if isinstance(key, (bytes, bytearray)):
        key = serialization.load_pem_private_key(bytes(key), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise FDOHostError("the FDO manufacturer key must be a P-256 (secp256r1) private key")
    return key


def _p256(pub, what: str) -> ec.EllipticCurvePublicKey:
    if not isinstance(pub, ec.EllipticCurvePublicKey) or pub.curve.name != "secp256r1":
        raise FDOHostError(f"{what} must be a P-256 (secp256r1) public key")
    return pub


def _spki(pub) -> bytes:
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


# FDO 1.1 CDDL PublicKey = [pkType, pkEnc, pkBody]: SECP256R1, X509 (SubjectPublicKeyInfo DER)
# or COSEKEY ({1: 2, -1: 1, -2: x, -3: y})
def public_key_struct(pub, enc: int = PK_ENC_X509) -> list:
    _p256(pub, "the key")
    if enc == PK_ENC_X509:
        return [PK_SECP256R1, PK_ENC_X509, _spki(pub)]
    if enc == PK_ENC_COSEKEY:
        n = pub.public_numbers()
        return [PK_SECP256R1, PK_ENC_COSEKEY,
                {1: 2, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")}]
    raise FDOHostError(f"cannot encode a bare public key as pkEnc {enc!r}")


# FDO 1.1 CDDL PublicKey = [pkType, pkEnc, pkBody] -> the key (X509, X5CHAIN leaf, COSEKEY)
def public_key(pk) -> ec.EllipticCurvePublicKey:
    if not isinstance(pk, (list, tuple)) or len(pk) != 3:
        raise FDOHostError("a PublicKey must be [pkType, pkEnc, pkBody]")
    typ, enc, body = pk
    if typ != PK_SECP256R1:
        raise FDOHostError(f"public key type {typ!r} is not supported (SECP256R1 only)")
    try:
        if enc == PK_ENC_X509 and _is_bytes(body):
            pub = serialization.load_der_public_key(bytes(body))
        elif enc == PK_ENC_X5CHAIN and isinstance(body, (list, tuple)) and body:
            pub = x509.load_der_x509_certificate(bytes(body[0])).public_key()
        elif enc == PK_ENC_COSEKEY and isinstance(body, Mapping):
            if body.get(1) != 2 or body.get(-1) != 1:
                raise FDOHostError("COSEKEY public key is not EC2 / P-256")
            pub = ec.EllipticCurvePublicNumbers(int.from_bytes(body[-2], "big"),
                                                int.from_bytes(body[-3], "big"),
                                                ec.SECP256R1()).public_key()
        else:
            raise FDOHostError(f"public key encoding {enc!r} with this body is not supported")
    except (ValueError, KeyError, TypeError, UnsupportedAlgorithm) as e:
        if isinstance(e, FDOHostError):
            raise
        raise FDOHostError(f"malformed or unsupported public key ({e})") from None
    return _p256(pub, "a voucher key")


def key_id(pub) -> str:
    """SHA-256 of the key's SubjectPublicKeyInfo, hex: how keys are named in show()."""
    return hashlib.sha256(_spki(pub)).hexdigest()


# --- rendezvous info ------------------------------------------------------------------------

# FDO 1.1 CDDL RendezvousDirective = [+ RendezvousInstr = [RVVariable, RVValue: bstr .cbor]]
def rv_directive(url: str) -> list:
    """One RendezvousDirective from a URL: scheme -> RVProtocol, host -> RVDns or RVIPAddress,
    port -> RVDevPort and RVOwnerPort."""
    u = urlsplit(url)
    if u.scheme not in RV_PROTOCOLS or not u.hostname:
        raise FDOHostError(f"rendezvous URL {url!r}: want scheme://host[:port] with scheme in "
                           f"{', '.join(RV_PROTOCOLS)}")
    try:
        ip = ipaddress.ip_address(u.hostname)
    except ValueError:
        ip = None
    out = [[2, _dumps(ip.packed)] if ip else [5, _dumps(u.hostname)]]
    port = u.port or {"https": 443, "http": 80}.get(u.scheme, 8041)
    out += [[3, _dumps(port)], [4, _dumps(port)], [12, _dumps(RV_PROTOCOLS[u.scheme])]]
    return out


# FDO 1.1 CDDL RendezvousInfo = [+ RendezvousDirective]
def rendezvous(*urls: str) -> list:
    """A RendezvousInfo with one directive per URL (see rv_directive)."""
    if not urls:
        raise FDOHostError("RendezvousInfo needs at least one directive")
    return [rv_directive(u) for u in urls]


def _check_rv(rv) -> list:
    ok = isinstance(rv, (list, tuple)) and len(rv) > 0 and all(
        isinstance(d, (list, tuple)) and len(d) > 0 and all(
            isinstance(i, (list, tuple)) and 1 <= len(i) <= 2 and isinstance(i[0], int)
            and i[0] >= 0 and (len(i) == 1 or _is_bytes(i[1])) for i in d) for d in rv)
    if not ok:
        raise FDOHostError("RendezvousInfo must be [+ [+ [RVVariable, ?RVValue bstr]]]")
    return [[list(i) for i in d] for d in rv]


def _rv_text(rv) -> list[str]:
    out = []
    for n, d in enumerate(rv):
        parts = []
        for ins in d:
            name = RV_VARIABLES.get(ins[0], f"var{ins[0]}")
            if len(ins) == 1:
                parts.append(name)
                continue
            try:
                v = cbor2.loads(ins[1])
            except Exception:
                v = ins[1]
            if ins[0] == 2 and _is_bytes(v):
                try:
                    v = str(ipaddress.ip_address(bytes(v)))
                except ValueError:
                    v = bytes(v).hex()
            elif ins[0] == 12:
                v = {c: k for k, c in RV_PROTOCOLS.items()}.get(v, v)
            elif _is_bytes(v):
                v = bytes(v).hex()
            parts.append(f"{name}={v}")
        out.append(f"directive {n + 1}: " + ", ".join(parts))
    return out


# --- the DI server --------------------------------------------------------------------------

def _body(body: bytes, n: int | None, what: str) -> list:
    v = _loads(bytes(body), what)
    if not isinstance(v, list) or (n is not None and len(v) != n):
        raise FDOHostError(f"{what}: the body must be an array of {n} item(s)")
    return v


class Manufacturer:
    """The DI server for one device at a time: di(type, body) -> (type, body).

    Manufacturer(key, rv_info=None, *, device_info=None, issue=None, guid=None)
      key          the FDO manufacturer key: a P-256 private key, PEM, a PEM file path, or an
                   object with it as `fdo_key` (factory.ca.IssuingCA)
      rv_info      a RendezvousInfo list, a URL or a list of URLs (default http://localhost:8041)
      device_info  OVDeviceInfo (default: the model the device sends)
      issue        issue(csr_der, serial) -> [DER, ...]: for devices that send a CSR
      guid         fixed 16-byte GUID (tests); default a fresh random one per DI
    After Done: .voucher (CBOR bytes), .guid, .serial, .model, .chain, .header.
    """

    def __init__(self, key, rv_info=None, *, device_info: str | None = None,
                 issue: Callable[[bytes, str], list] | None = None, guid: bytes | None = None):
        self.key = _load_private(key)
        if rv_info is None:
            rv_info = "http://localhost:8041"
        if isinstance(rv_info, str):
            rv_info = [rv_info]
        if all(isinstance(u, str) for u in rv_info):
            rv_info = rendezvous(*rv_info)
        self.rv_info = _check_rv(rv_info)
        self.device_info = device_info
        self.issue = issue
        self._fixed_guid = guid
        self._next = MSG_APP_START
        self.guid = self.serial = self.model = self.chain = self.header = self.voucher = None

    def di(self, msg_type: int, body: bytes) -> tuple[int, bytes]:
        if msg_type == MSG_APP_START:   # AppStart always starts a new DI run
            return self._app_start(body)
        if msg_type != self._next:
            expect = "AppStart (10)" if self._next == MSG_APP_START else f"{self._next}"
            raise FDOHostError(f"DI message {msg_type!r} out of order: expecting {expect}")
        return self._set_hmac(body)

    # FDO 1.1 DI.AppStart (10) = [DeviceMfgInfo] -> DI.SetCredentials (11) = [bstr .cbor OVHeader]
    def _app_start(self, body: bytes) -> tuple[int, bytes]:
        self._next = MSG_APP_START
        self.guid = self.serial = self.model = self.chain = self.header = self.voucher = None
        info = _body(body, 1, "AppStart")[0]
        if not _is_bytes(info):
            raise FDOHostError("AppStart: DeviceMfgInfo must be a bstr holding CBOR")
        mfg = _loads(bytes(info), "AppStart DeviceMfgInfo")
        if not isinstance(mfg, list) or len(mfg) < 5:
            raise FDOHostError("AppStart: DeviceMfgInfo must be "
                               "[pkType, pkEnc, serialNo, modelNo, certInfo, ...]")
        key_type, _enc, serial, model, cert_info = mfg[:5]
        if key_type != PK_SECP256R1:
            raise FDOHostError(f"AppStart: device key type {key_type!r} is not SECP256R1")
        if not isinstance(serial, str) or not isinstance(model, str):
            raise FDOHostError("AppStart: serialNo and modelNo must be text strings")
        if isinstance(cert_info, list) and cert_info and all(_is_bytes(c) for c in cert_info):
            chain = [bytes(c) for c in cert_info]
        elif _is_bytes(cert_info) and self.issue is not None:
            chain = [bytes(c) for c in self.issue(bytes(cert_info), serial)]
        else:
            raise FDOHostError("AppStart: certInfo must be the device certificate chain "
                               "([+ bstr], leaf first)")
        try:
            leaf_key = x509.load_der_x509_certificate(chain[0]).public_key()
        except (ValueError, UnsupportedAlgorithm) as e:
            raise FDOHostError(f"AppStart: the device certificate does not parse ({e})") from None
        _p256(leaf_key, "the device certificate's key")
        guid = self._fixed_guid if self._fixed_guid is not None else os.urandom(16)
        header = [PROTVER, guid, self.rv_info, self.device_info or model,
                  public_key_struct(self.key.public_key()), [SHA256, sha256(*chain)]]
        self.header = _dumps(header)
        self.guid, self.serial, self.model, self.chain = guid, serial, model, chain
        self._next = MSG_SET_HMAC
        return MSG_SET_CREDENTIALS, _dumps([self.header])

    # FDO 1.1 DI.SetHMAC (12) = [HMac] -> DI.Done (13) = []; the voucher gets zero entries
    def _set_hmac(self, body: bytes) -> tuple[int, bytes]:
        self._next = MSG_APP_START
        mac = _body(body, 1, "SetHMAC")[0]
        if (not isinstance(mac, list) or len(mac) != 2 or mac[0] != HMAC_SHA256
                or not _is_bytes(mac[1]) or len(mac[1]) != 32):
            raise FDOHostError("SetHMAC: HMac must be [HMAC-SHA256 (5), 32-byte bstr]")
        self.voucher = _dumps([PROTVER, self.header, [HMAC_SHA256, bytes(mac[1])],
                               self.chain, []])
        return MSG_DONE, _dumps([])


# --- vouchers -------------------------------------------------------------------------------

def _head(data: bytes, pos: int) -> tuple[int, int, int]:
    """(major type, argument, position after the head) of the CBOR item at pos."""
    ib = data[pos]
    major, ai = ib >> 5, ib & 31
    if ai < 24:
        return major, ai, pos + 1
    if ai > 27:
        raise FDOHostError("voucher: indefinite-length or reserved CBOR item")
    n = 1 << (ai - 24)
    return major, int.from_bytes(data[pos + 1:pos + 1 + n], "big"), pos + 1 + n


def _item_end(data: bytes, pos: int) -> int:
    fp = io.BytesIO(data)
    fp.seek(pos)
    try:
        cbor2.CBORDecoder(fp).decode()
    except Exception as e:
        raise FDOHostError(f"voucher: malformed CBOR at offset {pos} ({e})") from None
    return fp.tell()


def _array_head(n: int) -> bytes:
    return _dumps([None] * n)[: -n] if n else b"\x80"


# FDO 1.1 CDDL OwnershipVoucher = [OVProtVer, OVHeaderTag, OVHeaderHMac, OVDevCertChain,
#                                  OVEntryArray]
def parse(voucher: bytes) -> dict:
    """The fields of a voucher, with the raw bytes of each entry (hash chaining is over them)."""
    data = bytes(voucher)
    if not data or data[0] != 0x85:
        raise FDOHostError("voucher: not a CBOR array of 5 items")
    pos = 1
    spans = []
    for _ in range(4):
        end = _item_end(data, pos)
        spans.append((pos, end))
        pos = end
    try:
        major, n, p = _head(data, pos)
    except IndexError:
        raise FDOHostError("voucher: truncated") from None
    if major != 4:
        raise FDOHostError("voucher: OVEntryArray must be an array")
    entries_at = pos
    raws = []
    for _ in range(n):
        end = _item_end(data, p)
        raws.append(data[p:end])
        p = end
    if p != len(data):
        raise FDOHostError(f"voucher: {len(data) - p} bytes after the voucher")
    protver, hdr_bytes, mac, chain = (_loads(data[a:b], "voucher") for a, b in spans)
    if protver != PROTVER:
        raise FDOHostError(f"voucher: OVProtVer {protver!r} is not {PROTVER}")
    if not _is_bytes(hdr_bytes):
        raise FDOHostError("voucher: OVHeaderTag must be a bstr holding the OVHeader")
    hdr = _loads(bytes(hdr_bytes), "voucher OVHeader")
    if not isinstance(hdr, list) or len(hdr) != 6:
        raise FDOHostError("voucher: OVHeader must be an array of 6 items")
    if hdr[0] != PROTVER:
        raise FDOHostError(f"voucher: OVHProtVer {hdr[0]!r} is not {PROTVER}")
    if not _is_bytes(hdr[1]) or len(hdr[1]) != 16:
        raise FDOHostError("voucher: OVGuid must be 16 bytes")
    if not isinstance(hdr[3], str):
        raise FDOHostError("voucher: OVDeviceInfo must be a text string")
    _check_rv(hdr[2])
    if not isinstance(mac, list) or len(mac) != 2 or not _is_bytes(mac[1]):
        raise FDOHostError("voucher: OVHeaderHMac must be [hashtype, bstr]")
    if _is_bytes(chain):
        chain = [chain]
    if chain is not None and not (isinstance(chain, list) and chain
                                  and all(_is_bytes(c) for c in chain)):
        raise FDOHostError("voucher: OVDevCertChain must be [+ bstr] or null")
    entries = [_entry(raw, i) for i, raw in enumerate(raws)]
    return {"protver": protver, "header_bytes": bytes(hdr_bytes), "guid": bytes(hdr[1]),
            "rv_info": hdr[2], "device_info": hdr[3], "pubkey": hdr[4],
            "chain_hash": hdr[5], "hmac": mac, "hmac_raw": data[spans[2][0]:spans[2][1]],
            "chain": None if chain is None else [bytes(c) for c in chain],
            "entries": entries, "entries_at": entries_at, "data": data}


# RFC 9052 §4.2 COSE_Sign1 = [protected bstr, unprotected map, payload bstr, signature]
# carrying FDO 1.1 OVEntryPayload = [OVEHashPrevEntry, OVEHashHdrInfo, OVEExtra, OVEPubKey]
def _entry(raw: bytes, i: int) -> dict:
    v = _loads(raw, f"voucher entry {i}")
    if isinstance(v, cbor2.CBORTag):
        if v.tag != COSE_SIGN1_TAG:
            raise FDOHostError(f"voucher entry {i}: tag {v.tag} is not COSE_Sign1 (18)")
        v = v.value
    if (not isinstance(v, (list, tuple)) or len(v) != 4 or not _is_bytes(v[0])
            or not isinstance(v[1], Mapping) or not _is_bytes(v[2]) or not _is_bytes(v[3])):
        raise FDOHostError(f"voucher entry {i}: not a COSE_Sign1 with a payload")
    prot = _loads(bytes(v[0]), f"voucher entry {i} protected header") if v[0] else {}
    payload = _loads(bytes(v[2]), f"voucher entry {i} payload")
    if not isinstance(payload, (list, tuple)) or len(payload) != 4:
        raise FDOHostError(f"voucher entry {i}: OVEntryPayload must be an array of 4 items")
    return {"raw": raw, "protected": bytes(v[0]), "alg": prot.get(1) if isinstance(prot, Mapping)
            else None, "payload_bytes": bytes(v[2]), "signature": bytes(v[3]),
            "prev_hash": payload[0], "hdr_hash": payload[1], "extra": payload[2],
            "pubkey": payload[3]}


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    # RFC 9052 §4.4 Sig_structure = ["Signature1", body_protected, external_aad, payload]
    return _dumps(["Signature1", protected, b"", payload])


def _hmac_ok(hmac_check, header_bytes: bytes, mac) -> bool:
    if callable(hmac_check):
        return bool(hmac_check(header_bytes, mac))
    if mac[0] not in _HMACS:
        return False
    want = hmac.new(bytes(hmac_check), header_bytes, _HMACS[mac[0]]).digest()
    return hmac.compare_digest(want, bytes(mac[1]))


def verify(voucher: bytes, hmac_check=None) -> dict:
    """Check a voucher: its structure, the device chain hash, and the entry chain (each
    COSE_Sign1 signed by the previous owner key, OVEHashPrevEntry / OVEHashHdrInfo chained).
    hmac_check: the device's DCHmacSecret (bytes), or a callable(header_bytes, HMac) -> bool,
    also checks OVHeaderHMac. Returns parse(voucher) with "owner_key" (the current owner)."""
    v = parse(voucher)
    if hmac_check is not None and not _hmac_ok(hmac_check, v["header_bytes"], v["hmac"]):
        raise FDOHostError("voucher: OVHeaderHMac does not verify with the device secret")
    ch = v["chain_hash"]
    if v["chain"] is None or ch is None:
        if (v["chain"] is None) != (ch is None):
            raise FDOHostError("voucher: OVDevCertChain and OVDevCertChainHash must be both "
                               "present or both null")
    elif (not isinstance(ch, list) or len(ch) != 2 or not _is_bytes(ch[1])
          or not hmac.compare_digest(bytes(ch[1]), digest(ch[0], *v["chain"]))):
        raise FDOHostError("voucher: OVDevCertChain does not match OVDevCertChainHash")
    mfg_pk = v["pubkey"]
    key = public_key(mfg_pk)
    # every entry hashes with the first one's OVEHashPrevEntry hashtype (SHA256 when we extend)
    alg = _entry_alg(v)
    hdr_hash = [alg, digest(alg, v["guid"], v["device_info"].encode())]
    # the first entry chains to hash(OVHeader || OVHeaderHMac), each next one to the entry before
    prev = [alg, digest(alg, v["header_bytes"], v["hmac_raw"])]
    for i, e in enumerate(v["entries"]):
        if e["alg"] != ES256:
            raise FDOHostError(f"voucher entry {i}: signature algorithm {e['alg']!r} is not "
                               "ES256")
        sig = e["signature"]
        if len(sig) != 64:
            raise FDOHostError(f"voucher entry {i}: an ES256 signature is 64 bytes")
        try:
            key.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                            int.from_bytes(sig[32:], "big")),
                       _sig_structure(e["protected"], e["payload_bytes"]),
                       ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            who = "the manufacturer key" if i == 0 else f"the owner key of entry {i - 1}"
            raise FDOHostError(f"voucher entry {i}: signature does not verify with {who}") \
                from None
        if list(e["prev_hash"]) != prev:
            raise FDOHostError(f"voucher entry {i}: OVEHashPrevEntry does not match the "
                               + ("header and HMAC" if i == 0 else f"entry {i - 1}"))
        if list(e["hdr_hash"]) != hdr_hash:
            raise FDOHostError(f"voucher entry {i}: OVEHashHdrInfo does not match the GUID and "
                               "device info")
        if e["extra"] is not None and not _is_bytes(e["extra"]):
            raise FDOHostError(f"voucher entry {i}: OVEExtra must be null or a bstr")
        pk = e["pubkey"]
        if not isinstance(pk, (list, tuple)) or len(pk) != 3 or pk[0] != mfg_pk[0] \
                or pk[1] != mfg_pk[1]:
            raise FDOHostError(f"voucher entry {i}: OVEPubKey must have the manufacturer key's "
                               "type and encoding")
        key = public_key(pk)
        prev = [alg, digest(alg, e["raw"])]
    v["owner_key"] = key
    return v


def _entry_alg(v: dict) -> int:
    if not v["entries"]:
        return SHA256
    ph = v["entries"][0]["prev_hash"]
    return ph[0] if isinstance(ph, (list, tuple)) and len(ph) == 2 else SHA256


def extend(voucher: bytes, owner_pub, signer_key, extra: dict | None = None) -> bytes:
    """Append an OVEntry handing the voucher to owner_pub, signed (ES256) by signer_key, which
    must be the current owner's key (the manufacturer key while the voucher has no entries).
    extra: OVEExtra, {int: bytes}. The voucher is verified first; earlier bytes are kept."""
    v = verify(voucher)
    owner_pub = _p256(owner_pub, "the new owner key")
    if not isinstance(signer_key, ec.EllipticCurvePrivateKey):
        raise FDOHostError("the signer must be a P-256 private key")
    if _spki(signer_key.public_key()) != _spki(v["owner_key"]):
        raise FDOHostError("the signer key is not the voucher's current owner key "
                           f"(sha256 {key_id(v['owner_key'])[:16]}...)")
    if extra is not None and not (isinstance(extra, dict) and all(
            isinstance(k, int) and _is_bytes(b) for k, b in extra.items())):
        raise FDOHostError("OVEExtra must be {int: bytes}")
    entries = v["entries"]
    alg = _entry_alg(v)
    prev = (digest(alg, entries[-1]["raw"]) if entries
            else digest(alg, v["header_bytes"], v["hmac_raw"]))
    payload = _dumps([[alg, prev],
                      [alg, digest(alg, v["guid"], v["device_info"].encode())],
                      None if extra is None else _dumps(extra),
                      public_key_struct(owner_pub, v["pubkey"][1])])
    protected = _dumps({1: ES256})
    r, s = decode_dss_signature(signer_key.sign(_sig_structure(protected, payload),
                                                ec.ECDSA(hashes.SHA256())))
    entry = _dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload,
                                                  r.to_bytes(32, "big") + s.to_bytes(32, "big")]))
    data = v["data"]
    return (data[:v["entries_at"]] + _array_head(len(entries) + 1)
            + b"".join(e["raw"] for e in entries) + entry)


def owner_key(voucher: bytes) -> ec.EllipticCurvePublicKey:
    """The current owner's public key (after verifying the entry chain)."""
    return verify(voucher)["owner_key"]


def show(voucher: bytes) -> str:
    """A voucher, readably, with the outcome of verify() (the HMAC needs the device secret)."""
    v = parse(voucher)
    guid = v["guid"]
    out = [f"FDO ownership voucher (protocol {v['protver']}, {len(v['data'])} bytes)",
           f"  GUID              {guid.hex()} ({uuid.UUID(bytes=guid)})",
           f"  device info       {v['device_info']}"]
    rv = _rv_text(v["rv_info"])
    out.append(f"  rendezvous        {rv[0]}")
    out += [f"                    {line}" for line in rv[1:]]
    try:
        mk = public_key(v["pubkey"])
        out.append(f"  manufacturer key  SECP256R1 {_ENC_NAMES.get(v['pubkey'][1])} "
                   f"sha256:{key_id(mk)}")
    except FDOHostError as e:
        out.append(f"  manufacturer key  unreadable: {e}")
    mac = v["hmac"]
    out.append(f"  header HMAC       {_HASH_NAMES.get(mac[0], mac[0])} {bytes(mac[1]).hex()}")
    ch = v["chain_hash"]
    if ch is not None:
        out.append(f"  cert chain hash   {_HASH_NAMES.get(ch[0], ch[0])} {bytes(ch[1]).hex()}")
    if v["chain"] is None:
        out.append("  device chain      none")
    else:
        out.append(f"  device chain      {len(v['chain'])} certificate(s)")
        for n, der in enumerate(v["chain"]):
            try:
                c = x509.load_der_x509_certificate(der)
                out.append(f"    [{n}] {c.subject.rfc4514_string()}  "
                           f"(issuer {c.issuer.rfc4514_string()})")
            except ValueError:
                out.append(f"    [{n}] unparsable certificate, {len(der)} bytes")
    out.append(f"  entries           {len(v['entries'])}")
    for n, e in enumerate(v["entries"]):
        try:
            k = f"sha256:{key_id(public_key(e['pubkey']))}"
        except FDOHostError as err:
            k = f"unreadable ({err})"
        extra = "" if e["extra"] is None else f", extra {len(e['extra'])} bytes"
        out.append(f"    [{n}] to owner key {k}{extra}")
    try:
        res = verify(voucher)
        out.append("  verification      entry chain OK; current owner "
                   f"sha256:{key_id(res['owner_key'])} (HMAC not checked: needs the device)")
    except FDOHostError as e:
        out.append(f"  verification      FAILED: {e}")
    return "\n".join(out) + "\n"


def armor(voucher: bytes) -> str:
    """PEM-style text: -----BEGIN OWNERSHIP VOUCHER----- / base64 of the CBOR / -----END..."""
    b64 = base64.b64encode(bytes(voucher)).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {ARMOR}-----\n" + "\n".join(lines) + f"\n-----END {ARMOR}-----\n"


def unarmor(text) -> bytes:
    """The voucher CBOR from armored text (the first OWNERSHIP VOUCHER block)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("ascii", "replace")
    begin, end = f"-----BEGIN {ARMOR}-----", f"-----END {ARMOR}-----"
    i = text.find(begin)
    j = text.find(end, i + len(begin)) if i >= 0 else -1
    if i < 0 or j < 0:
        raise FDOHostError(f"no {begin} ... {end} block")
    try:
        return base64.b64decode("".join(text[i + len(begin):j].split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise FDOHostError(f"armored voucher: bad base64 ({e})") from None


def load(data: bytes) -> bytes:
    """Voucher bytes from a file's content: armored text or CBOR."""
    data = bytes(data)
    if data.lstrip().startswith(b"-----BEGIN"):
        return unarmor(data)
    return data
