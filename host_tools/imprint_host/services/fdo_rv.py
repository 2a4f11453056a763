"""FDO 1.1 rendezvous server over HTTP: TO0 (an owner registers where its device finds it) and
TO1 (a device proves itself and learns where its owner waits). Standard library + cbor2 +
cryptography; the HTTP transport and bearer sessions are fdo_http.FDOHTTPServer's.

    TO0  Hello 20 []                      -> HelloAck 21 [NonceTO0Sign]
         OwnerSign 22 [to0d: bstr .cbor [OwnershipVoucher, WaitSeconds, NonceTO0Sign],
                       to1d: COSE_Sign1 (owner key) of [RVTO2Addr, to1dTo0dHash: Hash]]
                                          -> AcceptOwner 23 [WaitSeconds]
    TO1  HelloRV 30 [Guid, eASigInfo]     -> HelloRVAck 31 [NonceTO1Proof, eBSigInfo]
         ProveToRV 32 EAT: COSE_Sign1 (device key) of {10 nonce: NonceTO1Proof,
                                                       256 ueid: 0x01 || Guid}
                                          -> RVRedirect 33 to1d (as the owner signed it)

TO0 is accepted only for a voucher whose entry chain verifies (factory.fdo.verify) and has at
least one entry, whose device certificate chain is present (TO1 needs the device key), with the
session's nonce, and with a to1d signed by the voucher's current owner key over the hash of
exactly this to0d. The time to live is min(WaitSeconds, max_ttl). `accept(parsed_voucher)` may
add a policy (trusted manufacturer keys, allowed owners).

State lives in an `RVStore`: `MemoryRVStore` (in memory) or `SQLRVStore(url)` (SQLite file or
PostgreSQL, registrations survive a restart); both offer put / get / delete / purge (expired
rows go when a lookup meets them and at every accepted TO0).

Error codes (FDO 1.1 Error Code Values): 2 INVALID_OWNERSHIP_VOUCHER, 3 INVALID_OWNER_SIGN_BODY
(to1d: signature, hash or shape), 6 RESOURCE_NOT_FOUND (no live registration for the GUID),
100 MESSAGE_BODY_ERROR, 101 INVALID_MESSAGE_ERROR (nonce, EAT signature, policy refusal),
1 INVALID_JWT_TOKEN (no or unknown session), 500 INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import hmac
import io
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ..factory import fdo
from ..sqlstore import Database
from ..factory.fdo import FDOHostError
from .fdo_http import (FDOHTTPServer, FDOMessageError, INTERNAL_SERVER_ERROR,
                       INVALID_JWT_TOKEN, INVALID_MESSAGE_ERROR, MESSAGE_BODY_ERROR, MSG_ERROR,
                       RESOURCE_NOT_FOUND, Reply, _error)

log = logging.getLogger(__name__)

MSG_TO0_HELLO, MSG_TO0_HELLO_ACK, MSG_TO0_OWNER_SIGN, MSG_TO0_ACCEPT_OWNER = 20, 21, 22, 23
MSG_TO1_HELLO_RV, MSG_TO1_HELLO_RV_ACK, MSG_TO1_PROVE_TO_RV, MSG_TO1_RV_REDIRECT = 30, 31, 32, 33
# FDO 1.1 Error Code Values (the ones fdo_http does not name)
INVALID_OWNERSHIP_VOUCHER = 2
INVALID_OWNER_SIGN_BODY = 3
ES256 = fdo.ES256
EAT_NONCE, EAT_UEID, EAT_RAND = 10, 256, 0x01     # EAT claim keys; UEID type RAND
NONCE_LEN = 16
MAX_WAIT = 0xFFFFFFFF                               # WaitSeconds: uint32
TRANSPORTS = {"tcp": 1, "tls": 2, "http": 3, "coap": 4, "https": 5, "coaps": 6}


class RVError(FDOMessageError):
    """A refused rendezvous message."""


@dataclass
class Registration:
    """One accepted TO0: what TO1 needs for the GUID."""
    guid: bytes
    voucher: bytes           # the OwnershipVoucher CBOR as the owner sent it
    to1d: bytes              # the owner's COSE_Sign1 (tagged), returned as RVRedirect
    device_key: bytes        # SubjectPublicKeyInfo DER of the device (OVDevCertChain leaf)
    owner_key: bytes         # SubjectPublicKeyInfo DER of the voucher's current owner
    expires: float           # Unix time


class MemoryRVStore:
    """The rendezvous server's state in memory; a database store offers the same methods."""

    def __init__(self):
        self._regs: dict[bytes, Registration] = {}
        self._lock = threading.Lock()

    def put(self, reg: Registration) -> None:
        with self._lock:
            self._regs[reg.guid] = reg

    def get(self, guid: bytes, now: float) -> Registration | None:
        """The live registration of a GUID (an expired one is forgotten)."""
        with self._lock:
            reg = self._regs.get(guid)
            if reg is not None and reg.expires <= now:
                del self._regs[guid]
                reg = None
            return reg

    def delete(self, guid: bytes) -> None:
        with self._lock:
            self._regs.pop(guid, None)

    def purge(self, now: float) -> int:
        """Forget every expired registration -> how many."""
        with self._lock:
            gone = [g for g, r in self._regs.items() if r.expires <= now]
            for g in gone:
                del self._regs[g]
            return len(gone)

    def __len__(self) -> int:
        return len(self._regs)


class RVStoreError(RuntimeError):
    """The rendezvous database failed (connection, SQL)."""


RV_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS rv_registrations (
        guid        BYTEA PRIMARY KEY,       -- 16 bytes
        voucher     BYTEA NOT NULL,          -- OwnershipVoucher CBOR
        to1d        BYTEA NOT NULL,          -- the owner's COSE_Sign1, tagged
        device_key  BYTEA NOT NULL,          -- SubjectPublicKeyInfo DER
        owner_key   BYTEA NOT NULL,          -- SubjectPublicKeyInfo DER
        expires     DOUBLE PRECISION NOT NULL  -- Unix time
    )""",
]
RV_SCHEMA_LOCK = 0x696D7276  # PostgreSQL advisory lock for creating the table ("imrv")
_RV_COLUMNS = "guid, voucher, to1d, device_key, owner_key, expires"


class SQLRVStore:
    """The rendezvous server's state in a database: SQLRVStore(url) with url a file path or
    ``sqlite:///path`` (SQLite) or ``postgresql://...`` (PostgreSQL, psycopg). Same methods as
    MemoryRVStore; database errors come out as RVStoreError."""

    def __init__(self, url: str):
        self.url = url
        self._sql = Database(url, RV_SCHEMA, error=RVStoreError, what="rendezvous store",
                             schema_lock=RV_SCHEMA_LOCK)

    def put(self, reg: Registration) -> None:
        """Store reg, replacing any registration of the same GUID."""
        with self._sql.tx() as tx:
            tx.execute(f"INSERT INTO rv_registrations ({_RV_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT (guid) DO UPDATE SET voucher = excluded.voucher, "
                       "to1d = excluded.to1d, device_key = excluded.device_key, "
                       "owner_key = excluded.owner_key, expires = excluded.expires",
                       (bytes(reg.guid), bytes(reg.voucher), bytes(reg.to1d),
                        bytes(reg.device_key), bytes(reg.owner_key), float(reg.expires)))

    def get(self, guid: bytes, now: float) -> Registration | None:
        """The live registration of a GUID (an expired one is deleted)."""
        guid = bytes(guid)
        with self._sql.tx() as tx:
            row = tx.execute(f"SELECT {_RV_COLUMNS} FROM rv_registrations WHERE guid = ?",
                             (guid,)).fetchone()
            if row is not None and row[5] <= now:
                tx.execute("DELETE FROM rv_registrations WHERE guid = ? AND expires <= ?",
                           (guid, float(now)))
                row = None
        if row is None:
            return None
        return Registration(*(bytes(x) for x in row[:5]), float(row[5]))

    def delete(self, guid: bytes) -> None:
        with self._sql.tx() as tx:
            tx.execute("DELETE FROM rv_registrations WHERE guid = ?", (bytes(guid),))

    def purge(self, now: float) -> int:
        """Delete every expired registration -> how many."""
        with self._sql.tx() as tx:
            return tx.execute("DELETE FROM rv_registrations WHERE expires <= ?",
                              (float(now),)).rowcount

    def __len__(self) -> int:
        """The registrations stored (expired ones included until a get drops them)."""
        with self._sql.tx() as tx:
            return int(tx.execute("SELECT COUNT(*) FROM rv_registrations").fetchone()[0])

    def close(self) -> None:
        self._sql.close()


# --- shapes -------------------------------------------------------------------------------

def _spki(pub) -> bytes:
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def raw_items(data: bytes, what: str) -> list[bytes]:
    """The encoded items of a definite-length CBOR array, byte for byte (hashes are over them)."""
    if not data or data[0] >> 5 != 4 or (data[0] & 31) > 23:
        raise RVError(MESSAGE_BODY_ERROR, f"{what}: not a short CBOR array")
    fp = io.BytesIO(data)
    fp.seek(1)
    out = []
    try:
        for _ in range(data[0] & 31):
            start = fp.tell()
            cbor2.CBORDecoder(fp).decode()
            out.append(data[start:fp.tell()])
    except Exception as e:
        raise RVError(MESSAGE_BODY_ERROR, f"{what}: malformed CBOR ({e})") from None
    if fp.tell() != len(data):
        raise RVError(MESSAGE_BODY_ERROR, f"{what}: bytes after the array")
    return out


def _loads(data: bytes, what: str, code: int = MESSAGE_BODY_ERROR):
    try:
        return cbor2.loads(data)
    except Exception as e:
        raise RVError(code, f"{what}: malformed CBOR ({e})") from None


# RFC 9052 §4.2 COSE_Sign1 = [protected: bstr .cbor {1: ES256}, unprotected, payload, signature]
def parse_sign1(obj, what: str, code: int) -> tuple[bytes, bytes, bytes]:
    """(protected, payload, signature) of a COSE_Sign1 (tag 18 or untagged) with ES256."""
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != fdo.COSE_SIGN1_TAG:
            raise RVError(code, f"{what}: CBOR tag {obj.tag} is not COSE_Sign1 (18)")
        obj = obj.value
    if (not isinstance(obj, (list, tuple)) or len(obj) != 4 or not isinstance(obj[0], bytes)
            or not isinstance(obj[1], Mapping) or not isinstance(obj[2], bytes)
            or not isinstance(obj[3], bytes)):
        raise RVError(code, f"{what}: not a COSE_Sign1 [protected, unprotected, payload, "
                            "signature] with an attached payload")
    prot = _loads(obj[0], f"{what} protected header", code) if obj[0] else {}
    if not isinstance(prot, Mapping) or prot.get(1) != ES256 or 1 in obj[1]:
        raise RVError(code, f"{what}: the protected header must name ES256 (-7)")
    if len(obj[3]) != 64:
        raise RVError(code, f"{what}: an ES256 signature is 64 bytes")
    return obj[0], obj[2], obj[3]


def es256_ok(pub: ec.EllipticCurvePublicKey, protected: bytes, payload: bytes,
             sig: bytes) -> bool:
    # RFC 9052 §4.4: ES256 over Sig_structure ["Signature1", protected, h'', payload]
    try:
        pub.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                        int.from_bytes(sig[32:], "big")),
                   cbor2.dumps(["Signature1", protected, b"", payload]),
                   ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


# FDO 1.1 CDDL RVTO2AddrEntry = [RVIP: IPAddress / null, RVDNS: DNSAddress / null,
#                                RVPort: Port, RVProtocol: TransportProtocol]
def check_rvto2addr(addrs, code: int = INVALID_OWNER_SIGN_BODY) -> list:
    if not isinstance(addrs, list) or not addrs:
        raise RVError(code, "RVTO2Addr must be a non-empty array of RVTO2AddrEntry")
    for a in addrs:
        if (not isinstance(a, list) or len(a) != 4
                or not (a[0] is None or (isinstance(a[0], bytes) and len(a[0]) in (4, 16)))
                or not (a[1] is None or (isinstance(a[1], str) and a[1]))
                or (a[0] is None and a[1] is None)
                or type(a[2]) is not int or not 0 < a[2] < 65536
                or type(a[3]) is not int or a[3] not in TRANSPORTS.values()):
            raise RVError(code, f"RVTO2AddrEntry {a!r} is not [IP bstr(4/16) / null, DNS tstr "
                                "/ null (not both null), port 1-65535, protocol 1-6]")
    return addrs


# --- the server -----------------------------------------------------------------------------

class RVServer(FDOHTTPServer):
    """The rendezvous server, TO0 and TO1 over FDO HTTP.

    RVServer(store=None, *, max_ttl=86400*30, accept=None, now=time.time, **options)
      store    an RVStore (MemoryRVStore() by default)
      max_ttl  the longest registration accepted (AcceptOwner's WaitSeconds is
               min(requested, max_ttl))
      accept   accept(parsed voucher: factory.fdo.verify's dict) -> bool: a policy (trusted
               manufacturers, allowed owners); refused -> INVALID_MESSAGE_ERROR
      now      the wall clock registrations expire by
      options  as for fdo_http.FDOHTTPServer (host, port, session_ttl, max_sessions, ...)
    """

    name = "RV"

    def __init__(self, store=None, *, max_ttl: int = 86400 * 30,
                 accept: Callable[[dict], bool] | None = None,
                 now: Callable[[], float] = time.time, **options):
        super().__init__(**options)
        self.store = store if store is not None else MemoryRVStore()
        self.max_ttl = max(0, min(int(max_ttl), MAX_WAIT))
        self.accept = accept
        self.now = now
        self.registered = 0        # TO0 runs accepted
        self.redirected = 0        # TO1 runs answered

    # FDO 1.1 §4.3: a message POSTed to /fdo/101/msg/{type} -> the reply message or an Error
    def handle(self, msg_type: int, body: bytes, authorization: str | None = None) -> Reply:
        handlers = {MSG_TO0_HELLO: self._hello, MSG_TO0_OWNER_SIGN: self._owner_sign,
                    MSG_TO1_HELLO_RV: self._hello_rv, MSG_TO1_PROVE_TO_RV: self._prove_to_rv}
        if msg_type == MSG_ERROR:
            return self._peer_error(body, authorization)
        token, _ = self._take_token(authorization)
        fn = handlers.get(msg_type)
        try:
            if fn is None:
                raise RVError(MESSAGE_BODY_ERROR, f"message {msg_type} is not one a rendezvous "
                                                  "server answers (TO0 20, 22; TO1 30, 32)")
            return fn(body, token)
        except RVError as e:
            self._drop(token)       # an Error ends the run (FDO 1.1 §5.1.1)
            self._bump_failed()
            log.info("FDO RV: message %d refused: %s", msg_type, e)
            return _error(e.code, msg_type, str(e))
        except Exception as e:
            self._drop(token)
            log.exception("FDO RV: message %d failed", msg_type)
            self._bump_failed()
            return _error(INTERNAL_SERVER_ERROR, msg_type, f"internal error ({type(e).__name__})")

    def _start(self, state: dict, reply_type: int, reply: list) -> Reply:
        token = self._open(state)
        if token is None:
            raise RVError(INTERNAL_SERVER_ERROR,
                          f"too many sessions open ({self.max_sessions}); retry later")
        return Reply(200, reply_type, cbor2.dumps(reply), {"Authorization": "Bearer " + token})

    def _state(self, token: str | None, kind: str, msg: str) -> dict:
        sess = self._session(token) if token else None
        if sess is None or sess.state.get("kind") != kind:
            raise RVError(INVALID_JWT_TOKEN, f"{msg} needs the session token of its "
                                             f"{'Hello' if kind == 'to0' else 'HelloRV'}")
        self._drop(token)   # one message finishes a session: its nonce is used once
        return sess.state

    # FDO 1.1 TO0.Hello (20) = [] -> TO0.HelloAck (21) = [NonceTO0Sign]
    def _hello(self, body: bytes, token: str | None) -> Reply:
        self._drop(token)
        if _loads(body, "TO0.Hello") != []:
            raise RVError(MESSAGE_BODY_ERROR, "TO0.Hello must be an empty array")
        nonce = os.urandom(NONCE_LEN)
        return self._start({"kind": "to0", "nonce": nonce}, MSG_TO0_HELLO_ACK, [nonce])

    # FDO 1.1 TO0.OwnerSign (22) = [to0d: bstr .cbor To0d, to1d: COSE_Sign1 of To1dBlobPayload]
    #   To0d = [OwnershipVoucher, WaitSeconds: uint32, NonceTO0Sign]
    #   To1dBlobPayload = [to1dRV: RVTO2Addr, to1dTo0dHash: Hash] -> TO0.AcceptOwner (23)
    def _owner_sign(self, body: bytes, token: str | None) -> Reply:
        state = self._state(token, "to0", "TO0.OwnerSign")
        msg = _loads(body, "TO0.OwnerSign")
        if not isinstance(msg, list) or len(msg) != 2 or not isinstance(msg[0], bytes):
            raise RVError(MESSAGE_BODY_ERROR, "TO0.OwnerSign must be [to0d bstr, to1d]")
        to0d_bytes = msg[0]
        items = raw_items(to0d_bytes, "to0d")
        if len(items) != 3:
            raise RVError(MESSAGE_BODY_ERROR, "to0d must be [OwnershipVoucher, WaitSeconds, "
                                              "NonceTO0Sign]")
        voucher, wait, nonce = items[0], cbor2.loads(items[1]), cbor2.loads(items[2])
        if type(wait) is not int or not 0 <= wait <= MAX_WAIT:
            raise RVError(MESSAGE_BODY_ERROR, "to0d WaitSeconds must be a uint32")
        if not isinstance(nonce, bytes) or not hmac.compare_digest(nonce, state["nonce"]):
            raise RVError(INVALID_MESSAGE_ERROR, "to0d NonceTO0Sign is not this session's nonce")
        # the voucher: its entry chain up to the current owner, and the device key it carries
        try:
            v = fdo.verify(voucher)
        except FDOHostError as e:
            raise RVError(INVALID_OWNERSHIP_VOUCHER, f"ownership voucher refused: {e}") from None
        if not v["entries"]:
            raise RVError(INVALID_OWNERSHIP_VOUCHER, "the voucher has no entries: it was never "
                                                     "extended to an owner")
        if not v["chain"]:
            raise RVError(INVALID_OWNERSHIP_VOUCHER, "the voucher carries no device certificate "
                                                     "chain (TO1 needs the device key)")
        try:
            device_key = fdo.public_key([fdo.PK_SECP256R1, fdo.PK_ENC_X5CHAIN, v["chain"]])
        except FDOHostError as e:
            raise RVError(INVALID_OWNERSHIP_VOUCHER, f"device certificate: {e}") from None
        # to1d: signed by that owner key, over this very to0d
        prot, payload, sig = parse_sign1(msg[1], "to1d", INVALID_OWNER_SIGN_BODY)
        blob = _loads(payload, "to1d payload", INVALID_OWNER_SIGN_BODY)
        if not isinstance(blob, list) or len(blob) != 2:
            raise RVError(INVALID_OWNER_SIGN_BODY, "to1d payload must be [RVTO2Addr, Hash]")
        check_rvto2addr(blob[0])
        h = blob[1]
        if (not isinstance(h, list) or len(h) != 2 or h[0] not in (fdo.SHA256, -43)
                or not isinstance(h[1], bytes)
                or not hmac.compare_digest(h[1], fdo.digest(h[0], to0d_bytes))):
            raise RVError(INVALID_OWNER_SIGN_BODY, "to1dTo0dHash is not the hash of to0d")
        if not es256_ok(v["owner_key"], prot, payload, sig):
            raise RVError(INVALID_OWNER_SIGN_BODY, "to1d is not signed by the voucher's current "
                                                   "owner key")
        if self.accept is not None and not self.accept(v):
            raise RVError(INVALID_MESSAGE_ERROR, "this rendezvous server does not serve this "
                                                 "voucher (policy)")
        ttl = min(wait, self.max_ttl)
        self.store.purge(self.now())      # each accepted TO0 also clears what has expired
        to1d = cbor2.dumps(cbor2.CBORTag(fdo.COSE_SIGN1_TAG, [prot, {}, payload, sig]))
        self.store.put(Registration(v["guid"], voucher, to1d, _spki(device_key),
                                    _spki(v["owner_key"]), self.now() + ttl))
        with self._lock:
            self.registered += 1
        log.info("FDO RV: TO0 for GUID %s accepted for %d s", v["guid"].hex(), ttl)
        return Reply(200, MSG_TO0_ACCEPT_OWNER, cbor2.dumps([ttl]))

    # FDO 1.1 TO1.HelloRV (30) = [Guid, eASigInfo] -> TO1.HelloRVAck (31) = [NonceTO1Proof,
    #   eBSigInfo]; SigInfo = [sgType, Info: bstr]
    def _hello_rv(self, body: bytes, token: str | None) -> Reply:
        self._drop(token)
        msg = _loads(body, "TO1.HelloRV")
        if (not isinstance(msg, list) or len(msg) != 2 or not isinstance(msg[0], bytes)
                or len(msg[0]) != 16 or not isinstance(msg[1], list) or len(msg[1]) != 2
                or type(msg[1][0]) is not int or not isinstance(msg[1][1], bytes)):
            raise RVError(MESSAGE_BODY_ERROR, "TO1.HelloRV must be [Guid (16 bytes), "
                                              "[sgType, Info bstr]]")
        guid, siginfo = msg
        if siginfo[0] != ES256:
            raise RVError(MESSAGE_BODY_ERROR, f"eASigInfo sgType {siginfo[0]} is not supported "
                                              "(ES256 -7 only)")
        if self.store.get(guid, self.now()) is None:
            raise RVError(RESOURCE_NOT_FOUND, f"no owner registered for GUID {guid.hex()}")
        nonce = os.urandom(NONCE_LEN)
        return self._start({"kind": "to1", "guid": guid, "nonce": nonce}, MSG_TO1_HELLO_RV_ACK,
                           [nonce, siginfo])

    # FDO 1.1 TO1.ProveToRV (32) = EAToken: COSE_Sign1 of {EAT-NONCE: NonceTO1Proof,
    #   EAT-UEID: EAT-RAND || Guid} -> TO1.RVRedirect (33) = to1d
    def _prove_to_rv(self, body: bytes, token: str | None) -> Reply:
        state = self._state(token, "to1", "TO1.ProveToRV")
        prot, payload, sig = parse_sign1(_loads(body, "TO1.ProveToRV"), "TO1.ProveToRV",
                                         MESSAGE_BODY_ERROR)
        eat = _loads(payload, "EAT payload")
        if not isinstance(eat, Mapping):
            raise RVError(MESSAGE_BODY_ERROR, "the EAT payload must be a claims map")
        nonce, ueid = eat.get(EAT_NONCE), eat.get(EAT_UEID)
        if not isinstance(nonce, bytes) or not hmac.compare_digest(nonce, state["nonce"]):
            raise RVError(INVALID_MESSAGE_ERROR, "the EAT nonce is not this session's "
                                                 "NonceTO1Proof")
        if ueid != bytes([EAT_RAND]) + state["guid"]:
            raise RVError(INVALID_MESSAGE_ERROR, "the EAT UEID is not RAND || the HelloRV GUID")
        reg = self.store.get(state["guid"], self.now())
        if reg is None:
            raise RVError(RESOURCE_NOT_FOUND, "the registration expired")
        pub = serialization.load_der_public_key(reg.device_key)
        if not es256_ok(pub, prot, payload, sig):
            raise RVError(INVALID_MESSAGE_ERROR, "the EAT is not signed by the device key of "
                                                 "the voucher")
        with self._lock:
            self.redirected += 1
        log.info("FDO RV: TO1 for GUID %s redirected", state["guid"].hex())
        return Reply(200, MSG_TO1_RV_REDIRECT, reg.to1d)


def serve(host: str = "127.0.0.1", port: int = 8041, *, store=None,
          ready: Callable[[RVServer], None] | None = None, **options) -> None:
    """Serve TO0/TO1 over HTTP in this thread until KeyboardInterrupt or server.stop()."""
    RVServer(store, host=host, port=port, **options).run("FDO rendezvous", ready)
