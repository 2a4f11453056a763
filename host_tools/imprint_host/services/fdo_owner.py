"""FDO 1.1 owner side: the TO0 client that registers a device's owner address with a rendezvous
server, and the TO2 server (OwnerServer, on fdo_to2.TO2Run) that onboards the device.

    to0(rv_url, voucher, owner_key, addrs, wait_seconds=3600) -> WaitSeconds the RV accepted
    rvto2addr("http://owner.example:8042", ...) -> RVTO2Addr
    owner_sign(voucher, owner_key, addrs, wait_seconds, nonce) -> TO0.OwnerSign body
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ..factory import fdo
from ..factory.fdo import FDOHostError
from . import fdo_to2
from .fdo_http import (FDOHTTPServer, INTERNAL_SERVER_ERROR, INVALID_JWT_TOKEN, MSG_ERROR, Reply,
                       _error)
from .fdo_rv import (MSG_TO0_ACCEPT_OWNER, MSG_TO0_HELLO, MSG_TO0_HELLO_ACK, MSG_TO0_OWNER_SIGN,
                     NONCE_LEN, TRANSPORTS)

log = logging.getLogger(__name__)


class TO0Error(FDOHostError):
    """TO0 failed; `code` is the rendezvous server's FDO error code (None: not an FDO Error)."""

    def __init__(self, text: str, code: int | None = None):
        super().__init__(text)
        self.code = code


# FDO 1.1 CDDL RVTO2Addr = [+ RVTO2AddrEntry = [RVIP / null, RVDNS / null, RVPort, RVProtocol]]
def rvto2addr(*urls: str) -> list:
    """RVTO2Addr from URLs (scheme tcp, tls, http, coap, https, coaps; an IP literal or a name)."""
    out = []
    for url in urls:
        u = urlsplit(url)
        if u.scheme not in TRANSPORTS or not u.hostname:
            raise FDOHostError(f"owner URL {url!r}: want scheme://host[:port], scheme in "
                               f"{', '.join(TRANSPORTS)}")
        try:
            ip, dns = ipaddress.ip_address(u.hostname).packed, None
        except ValueError:
            ip, dns = None, u.hostname
        port = u.port or {"http": 80, "https": 443, "coap": 5683, "coaps": 5684}.get(u.scheme)
        if port is None:
            raise FDOHostError(f"owner URL {url!r} needs a port")
        out.append([ip, dns, port, TRANSPORTS[u.scheme]])
    if not out:
        raise FDOHostError("RVTO2Addr needs at least one address")
    return out


def _sign1(key: ec.EllipticCurvePrivateKey, payload: bytes) -> cbor2.CBORTag:
    # RFC 9052 §4.2 COSE_Sign1 (tag 18), ES256 in the protected header, §4.4 Sig_structure
    protected = cbor2.dumps({1: fdo.ES256})
    r, s = decode_dss_signature(key.sign(cbor2.dumps(["Signature1", protected, b"", payload]),
                                         ec.ECDSA(hashes.SHA256())))
    return cbor2.CBORTag(fdo.COSE_SIGN1_TAG,
                         [protected, {}, payload, r.to_bytes(32, "big") + s.to_bytes(32, "big")])


# FDO 1.1 TO0.OwnerSign (22) = [to0d: bstr .cbor [OwnershipVoucher, WaitSeconds, NonceTO0Sign],
#   to1d: COSE_Sign1 (owner key) of [RVTO2Addr, to1dTo0dHash: Hash (SHA256 over to0d)]]
def owner_sign(voucher: bytes, owner_key: ec.EllipticCurvePrivateKey, addrs: list,
               wait_seconds: int, nonce: bytes) -> bytes:
    """The OwnerSign body; the voucher's bytes are embedded unchanged (its hashes are over
    them). No check that owner_key owns the voucher: to0() does that."""
    to0d = b"\x83" + bytes(voucher) + cbor2.dumps(wait_seconds) + cbor2.dumps(nonce)
    to1d = _sign1(owner_key, cbor2.dumps([addrs, [fdo.SHA256, fdo.sha256(to0d)]]))
    return cbor2.dumps([to0d, to1d])


def post(host: str, port: int, msg_type: int, body: bytes, token: str | None = None,
         timeout: float = 30.0) -> tuple[int, int | None, str | None, bytes]:
    """FDO 1.1 §4.3 HTTP: POST /fdo/101/msg/{type} -> (status, Message-Type, Authorization,
    body)."""
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        h = {"Content-Type": "application/cbor"}
        if token:
            h["Authorization"] = token
        c.request("POST", f"/fdo/{fdo.PROTVER}/msg/{msg_type}", body=body, headers=h)
        r = c.getresponse()
        mt = r.getheader("Message-Type")
        return r.status, int(mt) if mt and mt.isdigit() else None, \
            r.getheader("Authorization"), r.read()
    finally:
        c.close()


def _reply(got, want: int, what: str):
    status, mtype, _, body = got
    if mtype == 255:
        try:
            e = cbor2.loads(body)
            code, text = e[0], e[2]
        except Exception:
            code, text = None, "(malformed Error message)"
        raise TO0Error(f"the rendezvous server refused {what}: {text} (code {code})", code)
    if status != 200 or mtype != want:
        raise TO0Error(f"{what}: HTTP {status}, Message-Type {mtype} (want {want})")
    try:
        return cbor2.loads(body)
    except Exception as e:
        raise TO0Error(f"{what}: malformed reply ({e})") from None


def to0(rv_url: str, voucher: bytes, owner_key: ec.EllipticCurvePrivateKey, addrs: list,
        wait_seconds: int = 3600, timeout: float = 30.0) -> int:
    """TO0 with the rendezvous server at rv_url (http:// or coap://host:port): register `addrs`
    (RVTO2Addr, see rvto2addr) for the voucher's device. owner_key must be the voucher's
    current owner key. Returns the WaitSeconds the server accepted; raises TO0Error."""
    if fdo.key_id(fdo.owner_key(voucher)) != fdo.key_id(owner_key.public_key()):
        raise TO0Error("owner_key is not the voucher's current owner key")
    u = urlsplit(rv_url)
    if u.scheme not in ("http", "coap") or not u.hostname:
        raise TO0Error(f"rendezvous URL {rv_url!r}: http://host[:port] or coap://host[:port]")
    if u.scheme == "http":
        host, port = u.hostname, u.port or 80

        def send(t: int, body: bytes, token: str | None):
            return post(host, port, t, body, token, timeout=timeout)
    else:
        from . import fdo_coap

        def send(t: int, body: bytes, token: str | None):
            rt, reply, session = fdo_coap.post(rv_url, t, body, token and token[7:], timeout)
            return (200 if rt != 255 else 500), rt, session and "Bearer " + session, reply
    # FDO 1.1 TO0.Hello (20) = [] -> TO0.HelloAck (21) = [NonceTO0Sign]
    got = send(MSG_TO0_HELLO, cbor2.dumps([]), None)
    ack = _reply(got, MSG_TO0_HELLO_ACK, "TO0.Hello")
    if not isinstance(ack, list) or len(ack) != 1 or not isinstance(ack[0], bytes) \
            or len(ack[0]) != NONCE_LEN:
        raise TO0Error("TO0.HelloAck must be [NonceTO0Sign (16 bytes)]")
    body = owner_sign(voucher, owner_key, addrs, wait_seconds, ack[0])
    got = send(MSG_TO0_OWNER_SIGN, body, got[2])
    # FDO 1.1 TO0.AcceptOwner (23) = [WaitSeconds]
    acc = _reply(got, MSG_TO0_ACCEPT_OWNER, "TO0.OwnerSign")
    if not isinstance(acc, list) or len(acc) != 1 or type(acc[0]) is not int or acc[0] < 0:
        raise TO0Error("TO0.AcceptOwner must be [WaitSeconds]")
    return acc[0]


# --- the TO2 server -----------------------------------------------------------------------

class OwnerServer(FDOHTTPServer):
    """The owner's onboarding service over FDO HTTP: TO2 (60-71) for the devices whose vouchers
    `store` holds, each run a fdo_to2.TO2Run keyed by its bearer session.

    OwnerServer(store, owner_key, rv_info, *, issue=None, **options)
      store      a fdo_to2.VoucherStore (MemoryVoucherStore, or the owner database)
      owner_key  the P-256 private key the vouchers were extended to
      rv_info    the RendezvousInfo (or rendezvous URLs) the devices get for their next owner
      issue      issue(devmod, device public key, new GUID) -> imprint:credentials
      options    as for fdo_http.FDOHTTPServer (host, port, session_ttl, ...)
    """

    name = "owner"

    def __init__(self, store, owner_key, rv_info, *, issue=None, **options):
        super().__init__(**options)
        self.store = store
        self.owner_key = fdo._load_private(owner_key)
        if isinstance(rv_info, str):
            rv_info = [rv_info]
        if all(isinstance(u, str) for u in rv_info):
            rv_info = fdo.rendezvous(*rv_info)
        self.rv_info = rv_info
        self.issue = issue
        self.onboarded = 0          # TO2 runs finished

    # FDO 1.1 §4.3: a TO2 message POSTed to /fdo/101/msg/{type} -> the reply or an Error
    def handle(self, msg_type: int, body: bytes, authorization: str | None = None) -> Reply:
        if msg_type == MSG_ERROR:
            return self._peer_error(body, authorization)
        token, _ = self._take_token(authorization)
        try:
            if msg_type == fdo_to2.MSG_HELLO_DEVICE:
                self._drop(token)
                run = fdo_to2.TO2Run(self.store, self.owner_key, self.rv_info, self.issue)
                t, reply = run.handle(msg_type, body)
                token = self._open(run)
                if token is None:
                    raise fdo_to2.TO2Error(INTERNAL_SERVER_ERROR,
                                           f"too many sessions open ({self.max_sessions})")
                return Reply(200, t, reply, {"Authorization": "Bearer " + token})
            sess = self._session(token) if token else None
            if sess is None or not isinstance(sess.state, fdo_to2.TO2Run):
                raise fdo_to2.TO2Error(INVALID_JWT_TOKEN, f"TO2 message {msg_type} needs the "
                                                          "session token of its HelloDevice")
            with sess.lock:
                t, reply = sess.state.handle(msg_type, body)
                if sess.state.done:
                    self._drop(token)
                    with self._lock:
                        self.onboarded += 1
            return Reply(200, t, reply)
        except fdo_to2.TO2Error as e:
            self._drop(token)
            self._bump_failed()
            log.info("FDO owner: message %d refused: %s", msg_type, e)
            return _error(e.code, msg_type, str(e))
        except Exception as e:
            self._drop(token)
            self._bump_failed()
            log.exception("FDO owner: message %d failed", msg_type)
            return _error(INTERNAL_SERVER_ERROR, msg_type, f"internal error ({type(e).__name__})")


# --- the owner's service: import, register, serve -------------------------------------------

def load_private(key):
    """The owner key: a P-256 private key, PEM bytes or a PEM file path."""
    return fdo._load_private(key)


def import_factory(store, factory_url: str, owner_pub, sell_with=None) -> list[bytes]:
    """Vouchers from the factory record (factory.records, SQLite or PostgreSQL) into `store`:
    with `sell_with` (the manufacturer key) each DI voucher is first extended to owner_pub
    (the sale); without it, only vouchers already extended to owner_pub are taken.
    -> the GUIDs imported."""
    from ..factory.records import Records
    rec = Records(factory_url)
    out = []
    try:
        for b in rec.boards():
            voucher = b.get("voucher")
            if voucher is None:
                continue
            if sell_with is not None and not fdo.parse(voucher)["entries"]:
                voucher = fdo.extend(voucher, owner_pub, sell_with)
            if fdo.key_id(fdo.owner_key(voucher)) != fdo.key_id(owner_pub):
                continue
            guid, new = store.add(voucher)
            if new:
                out.append(guid)
    finally:
        rec.close()
    return out


def register_pending(store, rv_url: str, owner_key, addrs: list, wait_seconds: int,
                     margin: float = 0.0, report=None) -> tuple[int, int]:
    """TO0 for every imported voucher whose registration is missing or lapses within
    `margin` seconds. report(guid, accepted_seconds or None, error text or None) per voucher.
    -> (registered, failed)."""
    ok = bad = 0
    for row in store.pending_to0(margin):
        try:
            secs = to0(rv_url, row.voucher, owner_key, addrs, wait_seconds)
        except (FDOHostError, OSError, http.client.HTTPException) as e:
            bad += 1
            if report:
                report(row.guid, None, str(e))
            continue
        store.mark_to0(row.guid, secs)
        ok += 1
        if report:
            report(row.guid, secs, None)
    return ok, bad
