"""FDO 1.1 TO2, the owner's side, transport-independent: one `TO2Run` per device session takes
the device's messages in order and returns the owner's replies (cbor2 + cryptography).

    HelloDevice 60          -> ProveOVHdr 61      (COSE_Sign1, owner key; xAKeyExchange)
    GetOVNextEntry 62 [i]   -> OVNextEntry 63 [i, OVEntry]
    ProveDevice 64 (EAT)    -> SetupDevice 65     from here on COSE_Encrypt0, AES-CCM-64-128
    DeviceServiceInfoReady 66 -> OwnerServiceInfoReady 67
    DeviceServiceInfo 68    -> OwnerServiceInfo 69   (as many rounds as ServiceInfo needs)
    Done 70                 -> Done2 71           the replacement voucher is recorded first

Key exchange ECDH256 (FDO 1.1 key exchange): ShSe = ECDH x || DeviceRandom || OwnerRandom, SEK =
HMAC-SHA256(ShSe, 0x01 "FIDO-KDF" 0x00 "AutomaticOnboardTunnel" [L]_2) (SP 800-108 counter
mode, one block). Cipher suites AES-CCM-64-128-128 (32) and AES-CCM-64-128-256 (33): the ones a
MicroPython board runs with its AES-CCM.

Credential replacement (resale): the device gets a fresh GUID, this owner's rendezvous info and
this owner's key as Owner2Key; it answers with the HMAC (under a new secret) of the replacement
OVHeader, and at Done the owner records the replacement voucher (no entries; the owner extends it
to sell the device on). The device commits its new credential when Done2 arrives.

ServiceInfo: the device sends devmod; when devmod:modules names `imprint` the owner sends
imprint:active, the device answers imprint:pubkey (a key it made), and the owner sends
imprint:credentials = issue(DeviceInfo) (see `CredentialIssuer`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable, Protocol

import cbor2
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode

from ..factory import fdo
from ..factory.fdo import FDOHostError
from .fdo_http import FDOMessageError
from .fdo_rv import es256_ok, parse_sign1, raw_items

log = logging.getLogger(__name__)

(MSG_HELLO_DEVICE, MSG_PROVE_OVHDR, MSG_GET_OVNEXT_ENTRY, MSG_OVNEXT_ENTRY, MSG_PROVE_DEVICE,
 MSG_SETUP_DEVICE, MSG_DEVICE_SVI_READY, MSG_OWNER_SVI_READY, MSG_DEVICE_SVI, MSG_OWNER_SVI,
 MSG_DONE, MSG_DONE2) = range(60, 72)
MSG_ERROR = 255
# FDO 1.1 Error Code Values
INVALID_JWT_TOKEN, RESOURCE_NOT_FOUND = 1, 6
MESSAGE_BODY_ERROR, INVALID_MESSAGE_ERROR, CRED_REUSE_ERROR = 100, 101, 102
INTERNAL_SERVER_ERROR = 500

KEX = "ECDH256"
CIPHERS = {32: 16, 33: 32}        # AES-CCM-64-128-128 / -256 -> key bytes; tag 16, nonce 7
CUPH_NONCE, CUPH_OWNER_KEY = 256, 257
EAT_NONCE, EAT_UEID, EAT_FDO, EUPH_NONCE = 10, 256, -257, -259
NONCE_LEN = 16
RAND_LEN = 16
ENCRYPT0_TAG = 16
MAX_OWNER_MESSAGE = 65535
DEFAULT_MTU = 1300


class TO2Error(FDOMessageError):
    """A refused TO2 message (the run is then over)."""


@dataclass
class OwnerVoucher:
    """What the owner holds for one device: the voucher (its current owner key is ours)."""
    guid: bytes
    voucher: bytes


class VoucherStore(Protocol):
    def get_voucher(self, guid: bytes) -> OwnerVoucher | None: ...
    def replace_voucher(self, old_guid: bytes, new_guid: bytes, voucher: bytes,
                        info: dict) -> None: ...


class MemoryVoucherStore:
    """Vouchers in memory (tests); the owner service keeps them in a database."""

    def __init__(self, vouchers=()):
        self.vouchers: dict[bytes, bytes] = {}
        self.replaced: dict[bytes, bytes] = {}      # old GUID -> new GUID
        self.onboarded: dict[bytes, dict] = {}      # new GUID -> what TO2 learned
        for v in vouchers:
            self.add(v)

    def add(self, voucher: bytes) -> bytes:
        guid = fdo.parse(voucher)["guid"]
        self.vouchers[guid] = bytes(voucher)
        return guid

    def get_voucher(self, guid: bytes) -> OwnerVoucher | None:
        v = self.vouchers.get(bytes(guid))
        return None if v is None else OwnerVoucher(bytes(guid), v)

    def replace_voucher(self, old_guid: bytes, new_guid: bytes, voucher: bytes,
                        info: dict) -> None:
        self.vouchers[new_guid] = voucher
        self.replaced[old_guid] = new_guid
        self.onboarded[new_guid] = info


# issue(devmod values, device operational public key, new GUID) -> imprint:credentials map
CredentialIssuer = Callable[[dict, ec.EllipticCurvePublicKey, bytes], dict]


# --- helpers ------------------------------------------------------------------------------

def _loads(data: bytes, what: str):
    try:
        return cbor2.loads(data)
    except Exception as e:
        raise TO2Error(MESSAGE_BODY_ERROR, f"{what}: malformed CBOR ({e})") from None


def _raw_items(data: bytes, n: int, what: str) -> list[bytes]:
    """The encoded items of a CBOR array of n items (hashes and HMACs are over them)."""
    try:
        items = raw_items(data, what)
    except FDOMessageError as e:
        raise TO2Error(e.code, str(e)) from None
    if len(items) != n:
        raise TO2Error(MESSAGE_BODY_ERROR, f"{what}: not an array of {n} items")
    return items


def kex_param(pub: ec.EllipticCurvePublicKey, rand: bytes) -> bytes:
    # FDO 1.1 key exchange ECDH256 parameter: 2-byte lengths before x, y and the random
    n = pub.public_numbers()
    x, y = n.x.to_bytes(32, "big"), n.y.to_bytes(32, "big")
    return b"\x00\x20" + x + b"\x00\x20" + y + len(rand).to_bytes(2, "big") + rand


def kex_parse(b) -> tuple[ec.EllipticCurvePublicKey, bytes]:
    parts, pos = [], 0
    try:
        for _ in range(3):
            n = int.from_bytes(b[pos:pos + 2], "big")
            if pos + 2 + n > len(b):
                raise ValueError
            parts.append(bytes(b[pos + 2:pos + 2 + n]))
            pos += 2 + n
        if pos != len(b) or len(parts[0]) != 32 or len(parts[1]) != 32 \
                or len(parts[2]) != RAND_LEN:
            raise ValueError
        pub = ec.EllipticCurvePublicNumbers(int.from_bytes(parts[0], "big"),
                                            int.from_bytes(parts[1], "big"),
                                            ec.SECP256R1()).public_key()
    except (ValueError, TypeError):
        raise TO2Error(INVALID_MESSAGE_ERROR, "xBKeyExchange is not an ECDH256 parameter") \
            from None
    return pub, parts[2]


def kdf(shse: bytes, n: int) -> bytes:
    # FDO 1.1 key derivation: NIST SP 800-108 counter mode, HMAC-SHA256, r = 8, [L]_2, label
    # "FIDO-KDF", context "AutomaticOnboardTunnel" (no ContextRand for ECDH)
    return KBKDFHMAC(hashes.SHA256(), Mode.CounterMode, n, rlen=1, llen=2,
                     location=CounterLocation.BeforeFixed, label=b"FIDO-KDF",
                     context=b"AutomaticOnboardTunnel", fixed=None).derive(shse)


def _enc_structure(protected: bytes) -> bytes:
    return cbor2.dumps(["Encrypt0", protected, b""])


def seal(sek: bytes, alg: int, plaintext: bytes) -> bytes:
    """RFC 9052 §5.2 COSE_Encrypt0 (tag 16): [{1: alg}, {5: IV (7 bytes)}, ciphertext]."""
    protected = cbor2.dumps({1: alg})
    iv = os.urandom(7)
    ct = AESCCM(sek, tag_length=16).encrypt(iv, plaintext, _enc_structure(protected))
    return cbor2.dumps(cbor2.CBORTag(ENCRYPT0_TAG, [protected, {5: iv}, ct]))


def unseal(sek: bytes, alg: int, data: bytes, what: str) -> bytes:
    e = _loads(data, what)
    if isinstance(e, cbor2.CBORTag) and e.tag == ENCRYPT0_TAG:
        e = e.value
    if (not isinstance(e, (list, tuple)) or len(e) != 3 or not isinstance(e[0], bytes)
            or not isinstance(e[1], Mapping) or not isinstance(e[2], bytes)):
        raise TO2Error(MESSAGE_BODY_ERROR, f"{what}: not a COSE_Encrypt0 (this part of TO2 is "
                                           "encrypted)")
    if e[0] != cbor2.dumps({1: alg}):
        raise TO2Error(INVALID_MESSAGE_ERROR, f"{what}: not encrypted with the session's "
                                              "algorithm")
    iv = e[1].get(5)
    if not isinstance(iv, bytes) or len(iv) != 7:
        raise TO2Error(MESSAGE_BODY_ERROR, f"{what}: the IV must be 7 bytes")
    try:
        return AESCCM(sek, tag_length=16).decrypt(iv, e[2], _enc_structure(e[0]))
    except InvalidTag:
        raise TO2Error(INVALID_MESSAGE_ERROR, f"{what}: does not decrypt with the session key "
                                              "(MAC failure)") from None


def sign1(key: ec.EllipticCurvePrivateKey, payload: bytes, unprotected: dict) -> bytes:
    # RFC 9052 §4.2 COSE_Sign1 (tag 18), ES256, §4.4 Sig_structure
    protected = cbor2.dumps({1: fdo.ES256})
    r, s = decode_dss_signature(key.sign(cbor2.dumps(["Signature1", protected, b"", payload]),
                                         ec.ECDSA(hashes.SHA256())))
    return cbor2.dumps(cbor2.CBORTag(fdo.COSE_SIGN1_TAG, [
        protected, unprotected, payload, r.to_bytes(32, "big") + s.to_bytes(32, "big")]))


def _svi_value(kv, what: str):
    if (not isinstance(kv, list) or len(kv) != 2 or not isinstance(kv[0], str)
            or not isinstance(kv[1], bytes)):
        raise TO2Error(MESSAGE_BODY_ERROR, f"{what}: a ServiceInfoKV must be [tstr, bstr]")
    return kv[0], _loads(kv[1], f"{what} {kv[0]}")


def _svi_size(kvs: list) -> int:
    return len(cbor2.dumps(kvs))


# --- one run --------------------------------------------------------------------------------

@dataclass
class TO2Run:
    """The owner's state for one device's TO2, message by message: handle(type, body) ->
    (reply type, reply body). Raises TO2Error (the run is then over)."""
    store: VoucherStore
    owner_key: ec.EllipticCurvePrivateKey
    rv_info: list                      # the RendezvousInfo the device gets for next time
    issue: CredentialIssuer | None = None
    done: bool = False
    expect: int = MSG_HELLO_DEVICE
    v: dict = field(default_factory=dict)
    s: dict = field(default_factory=dict)

    def handle(self, t: int, body: bytes) -> tuple[int, bytes]:
        fn = {MSG_HELLO_DEVICE: self._hello, MSG_GET_OVNEXT_ENTRY: self._next_entry,
              MSG_PROVE_DEVICE: self._prove_device, MSG_DEVICE_SVI_READY: self._svi_ready,
              MSG_DEVICE_SVI: self._svi, MSG_DONE: self._done}.get(t)
        if fn is None:
            raise TO2Error(MESSAGE_BODY_ERROR, f"message {t} is not a TO2 device message")
        allowed = {self.expect}
        if self.expect == MSG_PROVE_DEVICE:
            allowed.add(MSG_GET_OVNEXT_ENTRY)
        if self.expect == MSG_DONE:
            allowed.add(MSG_DEVICE_SVI)
        if self.done or t not in allowed:
            raise TO2Error(MESSAGE_BODY_ERROR, f"TO2 message {t} out of order (expecting "
                                               f"{self.expect})")
        return fn(body)

    # FDO 1.1 TO2.HelloDevice (60) = [maxDeviceMessageSize, Guid, NonceTO2ProveOV,
    #   kexSuiteName, cipherSuiteName, eASigInfo] -> TO2.ProveOVHdr (61)
    def _hello(self, body: bytes) -> tuple[int, bytes]:
        m = _loads(body, "HelloDevice")
        if (not isinstance(m, list) or len(m) != 6 or type(m[0]) is not int
                or not isinstance(m[1], bytes) or len(m[1]) != 16
                or not isinstance(m[2], bytes) or len(m[2]) != NONCE_LEN
                or not isinstance(m[3], str) or type(m[4]) is not int
                or not isinstance(m[5], list) or len(m[5]) != 2):
            raise TO2Error(MESSAGE_BODY_ERROR, "HelloDevice must be [maxDeviceMessageSize, "
                                               "Guid, Nonce, kexSuiteName, cipherSuite, "
                                               "eASigInfo]")
        max_msg, guid, nonce, kex, cipher, siginfo = m
        if kex != KEX:
            raise TO2Error(MESSAGE_BODY_ERROR, f"key exchange {kex!r} unsupported ({KEX} only)")
        if cipher not in CIPHERS:
            raise TO2Error(MESSAGE_BODY_ERROR, f"cipher suite {cipher} unsupported "
                                               f"({sorted(CIPHERS)})")
        if siginfo != [fdo.ES256, b""]:
            raise TO2Error(MESSAGE_BODY_ERROR, "eASigInfo must be [ES256 (-7), h'']")
        ov = self.store.get_voucher(guid)
        if ov is None:
            raise TO2Error(RESOURCE_NOT_FOUND, f"no voucher for GUID {guid.hex()} here")
        try:
            v = fdo.verify(ov.voucher)
        except FDOHostError as e:
            raise TO2Error(INTERNAL_SERVER_ERROR, f"the stored voucher is broken: {e}") from None
        if not v["entries"]:
            raise TO2Error(RESOURCE_NOT_FOUND, "the voucher has no entries (it was never "
                                               "extended to an owner)")
        if fdo.key_id(v["owner_key"]) != fdo.key_id(self.owner_key.public_key()):
            raise TO2Error(RESOURCE_NOT_FOUND, "the voucher's owner is not this service's key")
        if not v["chain"]:
            raise TO2Error(INTERNAL_SERVER_ERROR, "the voucher has no device certificate chain")
        self.v = v
        eph = ec.generate_private_key(ec.SECP256R1())
        owner_rand = os.urandom(RAND_LEN)
        xa = kex_param(eph.public_key(), owner_rand)
        n_dv = os.urandom(NONCE_LEN)
        self.s.update(guid=guid, eph=eph, owner_rand=owner_rand, n_dv=n_dv, cipher=cipher,
                      n_entries=len(v["entries"]), max_msg=max_msg or 1300)
        payload = cbor2.dumps([v["header_bytes"], len(v["entries"]), v["hmac"], nonce,
                               siginfo, xa, [fdo.SHA256, fdo.sha256(body)], MAX_OWNER_MESSAGE])
        owner_pk = fdo.public_key_struct(self.owner_key.public_key(), v["pubkey"][1]
                                         if v["pubkey"][1] != fdo.PK_ENC_X5CHAIN
                                         else fdo.PK_ENC_X509)
        self.expect = MSG_PROVE_DEVICE
        return MSG_PROVE_OVHDR, sign1(self.owner_key, payload,
                                      {CUPH_NONCE: n_dv, CUPH_OWNER_KEY: owner_pk})

    # FDO 1.1 TO2.GetOVNextEntry (62) = [OVEntryNum] -> TO2.OVNextEntry (63) = [num, OVEntry]
    def _next_entry(self, body: bytes) -> tuple[int, bytes]:
        m = _loads(body, "GetOVNextEntry")
        if not isinstance(m, list) or len(m) != 1 or type(m[0]) is not int \
                or not 0 <= m[0] < self.s["n_entries"]:
            raise TO2Error(MESSAGE_BODY_ERROR, f"GetOVNextEntry must be [OVEntryNum 0.."
                                               f"{self.s['n_entries'] - 1}]")
        i = m[0]
        return MSG_OVNEXT_ENTRY, b"\x82" + cbor2.dumps(i) + self.v["entries"][i]["raw"]

    # FDO 1.1 TO2.ProveDevice (64) = EAT (device key) -> TO2.SetupDevice (65), encrypted
    def _prove_device(self, body: bytes) -> tuple[int, bytes]:
        w = "ProveDevice"
        obj = _loads(body, w)
        try:
            prot, payload, sig = parse_sign1(obj, w, INVALID_MESSAGE_ERROR)
        except FDOMessageError as e:
            raise TO2Error(e.code, str(e)) from None
        unprot = obj.value[1] if isinstance(obj, cbor2.CBORTag) else obj[1]
        n_setup = unprot.get(EUPH_NONCE)
        if not isinstance(n_setup, bytes) or len(n_setup) != NONCE_LEN:
            raise TO2Error(MESSAGE_BODY_ERROR, f"{w}: EUPHNonce (NonceTO2SetupDv) missing")
        dev_key = fdo.public_key([fdo.PK_SECP256R1, fdo.PK_ENC_X5CHAIN, self.v["chain"]])
        if not es256_ok(dev_key, prot, payload, sig):
            raise TO2Error(INVALID_MESSAGE_ERROR, f"{w}: the EAT is not signed by the device "
                                                  "key of the voucher")
        eat = _loads(payload, f"{w} EAT")
        if not isinstance(eat, dict) or eat.get(EAT_NONCE) != self.s["n_dv"]:
            raise TO2Error(INVALID_MESSAGE_ERROR, f"{w}: the EAT nonce is not this session's "
                                                  "NonceTO2ProveDv")
        if eat.get(EAT_UEID) != b"\x01" + self.s["guid"]:
            raise TO2Error(INVALID_MESSAGE_ERROR, f"{w}: the EAT UEID is not RAND || GUID")
        claim = eat.get(EAT_FDO)
        if not isinstance(claim, list) or len(claim) != 1 or not isinstance(claim[0], bytes):
            raise TO2Error(MESSAGE_BODY_ERROR, f"{w}: the EAT-FDO claim must be [xBKeyExchange]")
        peer, dev_rand = kex_parse(claim[0])
        shx = self.s.pop("eph").exchange(ec.ECDH(), peer)
        self.s["sek"] = kdf(shx + dev_rand + self.s.pop("owner_rand"), CIPHERS[self.s["cipher"]])
        self.s["n_setup"] = n_setup
        # FDO 1.1 TO2.SetupDevice = COSE_Sign1 (Owner2Key) of [RendezvousInfo, Guid,
        #   NonceTO2SetupDv, Owner2Key]; Owner2Key: this owner's key, encoded as the voucher's
        new_guid = os.urandom(16)
        pk_enc = self.v["pubkey"][1]
        owner2 = fdo.public_key_struct(self.owner_key.public_key(),
                                       pk_enc if pk_enc != fdo.PK_ENC_X5CHAIN
                                       else fdo.PK_ENC_X509)
        if owner2[1] != pk_enc:
            raise TO2Error(INTERNAL_SERVER_ERROR, "the voucher's key encoding is X5CHAIN, which "
                                                  "this owner cannot give as Owner2Key")
        setup = cbor2.dumps([self.rv_info, new_guid, n_setup, owner2])
        self.s.update(new_guid=new_guid, setup=setup)
        self.expect = MSG_DEVICE_SVI_READY
        return MSG_SETUP_DEVICE, self._seal(sign1(self.owner_key, setup, {}))

    def _seal(self, data: bytes) -> bytes:
        return seal(self.s["sek"], self.s["cipher"], data)

    def _open(self, body: bytes, what: str):
        return _loads(unseal(self.s["sek"], self.s["cipher"], body, what), what)

    # FDO 1.1 TO2.DeviceServiceInfoReady (66) = [ReplacementHMac / null, maxOwnerServiceInfoSz
    #   / null] -> TO2.OwnerServiceInfoReady (67) = [maxDeviceServiceInfoSz / null]
    def _svi_ready(self, body: bytes) -> tuple[int, bytes]:
        w = "DeviceServiceInfoReady"
        m = self._open(body, w)
        if not isinstance(m, list) or len(m) != 2:
            raise TO2Error(MESSAGE_BODY_ERROR, f"{w} must be [ReplacementHMac, "
                                               "maxOwnerServiceInfoSz]")
        mac, mtu = m
        if (not isinstance(mac, list) or len(mac) != 2 or mac[0] != fdo.HMAC_SHA256
                or not isinstance(mac[1], bytes) or len(mac[1]) != 32):
            raise TO2Error(CRED_REUSE_ERROR if mac is None else MESSAGE_BODY_ERROR,
                           f"{w}: ReplacementHMac must be [HMAC-SHA256, 32 bytes] (this owner "
                           "replaces the credential)")
        if mtu is not None and (type(mtu) is not int or mtu < 256):
            raise TO2Error(MESSAGE_BODY_ERROR, f"{w}: maxOwnerServiceInfoSz {mtu!r} too small")
        self.s.update(replacement_hmac=mac, mtu=mtu or DEFAULT_MTU, devmod={}, out=[],
                      stage="devmod")
        self.expect = MSG_DEVICE_SVI
        return MSG_OWNER_SVI_READY, self._seal(cbor2.dumps([DEFAULT_MTU]))

    # FDO 1.1 TO2.DeviceServiceInfo (68) = [IsMoreServiceInfo, ServiceInfo]
    #   -> TO2.OwnerServiceInfo (69) = [IsMoreServiceInfo, IsDone, ServiceInfo]
    def _svi(self, body: bytes) -> tuple[int, bytes]:
        w = "DeviceServiceInfo"
        m = self._open(body, w)
        if not isinstance(m, list) or len(m) != 2 or not isinstance(m[0], bool) \
                or not isinstance(m[1], list):
            raise TO2Error(MESSAGE_BODY_ERROR, f"{w} must be [IsMoreServiceInfo, ServiceInfo]")
        more, svi = m
        s = self.s
        s["rounds"] = s.get("rounds", 0) + 1
        if s["rounds"] > 64:
            raise TO2Error(MESSAGE_BODY_ERROR, "ServiceInfo takes more than 64 rounds")
        for kv in svi:
            key, val = _svi_value(kv, w)
            mod, _, msg = key.partition(":")
            if mod == "devmod":
                s["devmod"][msg] = val
            elif key == "imprint:pubkey":
                s["device_pub"] = self._cose_pub(val)
            elif key == "imprint:active" and val is False:
                s["stage"] = "refused"
        out: list = []
        if not more:
            out = self._next_owner_svi()
        self.expect = MSG_DONE
        done = not more and not out and s["stage"] in ("done", "refused", "none")
        return MSG_OWNER_SVI, self._seal(cbor2.dumps([False, done, out]))

    @staticmethod
    def _cose_pub(val) -> ec.EllipticCurvePublicKey:
        if (not isinstance(val, dict) or val.get(1) != 2 or val.get(-1) != 1
                or not isinstance(val.get(-2), bytes) or not isinstance(val.get(-3), bytes)):
            raise TO2Error(MESSAGE_BODY_ERROR, "imprint:pubkey must be a P-256 COSE_Key")
        try:
            return ec.EllipticCurvePublicNumbers(int.from_bytes(val[-2], "big"),
                                                 int.from_bytes(val[-3], "big"),
                                                 ec.SECP256R1()).public_key()
        except ValueError:
            raise TO2Error(INVALID_MESSAGE_ERROR, "imprint:pubkey is not on P-256") from None

    def _next_owner_svi(self) -> list:
        # the owner's side of the imprint module, one step per round the device finishes
        s = self.s
        if s["stage"] == "devmod":
            mods = s["devmod"].get("modules")
            if "active" not in s["devmod"] or not isinstance(mods, list):
                raise TO2Error(MESSAGE_BODY_ERROR, "the device sent no devmod (devmod:active, "
                                                   "devmod:modules are mandatory)")
            if self.issue is None or "imprint" not in mods[2:]:
                s["stage"] = "none"
                return []
            s["stage"] = "active"
            return [["imprint:active", cbor2.dumps(True)]]
        if s["stage"] == "active":
            pub = s.get("device_pub")
            if pub is None:
                raise TO2Error(MESSAGE_BODY_ERROR, "imprint:active was not answered with "
                                                   "imprint:pubkey")
            creds = self.issue(dict(s["devmod"]), pub, s["new_guid"])
            kv = [["imprint:credentials", cbor2.dumps(creds)]]
            if _svi_size(kv) > s["mtu"]:
                raise TO2Error(INTERNAL_SERVER_ERROR, "imprint:credentials is larger than the "
                                                      f"device accepts ({s['mtu']} bytes)")
            s["stage"] = "done"
            s["credentials"] = creds
            return kv
        return []

    # FDO 1.1 TO2.Done (70) = [NonceTO2ProveDv] -> TO2.Done2 (71) = [NonceTO2SetupDv]
    def _done(self, body: bytes) -> tuple[int, bytes]:
        m = self._open(body, "Done")
        s = self.s
        if not isinstance(m, list) or len(m) != 1 or m[0] != s["n_dv"]:
            raise TO2Error(INVALID_MESSAGE_ERROR, "Done: NonceTO2ProveDv is not this session's")
        if s["stage"] not in ("done", "refused", "none"):
            raise TO2Error(MESSAGE_BODY_ERROR, "Done before ServiceInfo finished")
        voucher = self.replacement_voucher()
        self.store.replace_voucher(s["guid"], s["new_guid"], voucher, {
            "devmod": s["devmod"], "credentials": s.get("credentials")})
        self.done = True
        log.info("FDO owner: TO2 done for GUID %s, now %s", s["guid"].hex(),
                 s["new_guid"].hex())
        return MSG_DONE2, self._seal(cbor2.dumps([s["n_setup"]]))

    def replacement_voucher(self) -> bytes:
        """The voucher for the device's next credential: OVHeader [OVHProtVer, new GUID,
        RendezvousInfo, DeviceInfo, Owner2Key, OVDevCertChainHash] with the items as the
        device HMAC'd them, the ReplacementHMac, the same device chain, no entries."""
        s, v = self.s, self.v
        old = _raw_items(v["header_bytes"], 6, "OVHeader")
        setup = _raw_items(s["setup"], 4, "SetupDevice payload")
        header = b"\x86" + old[0] + setup[1] + setup[0] + old[3] + setup[3] + old[5]
        return cbor2.dumps([fdo.PROTVER, header, s["replacement_hmac"], v["chain"], []])
