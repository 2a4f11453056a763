# FIDO Device Onboard 1.1 (protocol version 101), device side: Device Initialization (DI).
# The manufacturer's station sends SetCredentials (the OVHeader); the device answers with an
# HMAC over it, keyed by a 32-byte secret made here that never leaves the device, and keeps
# its DeviceCredential (store "fdo_cred") in one atomic store.update when DI is Done.
# DeviceMfgInfo is manufacturer-defined (FDO 1.1, DI.AppStart); ours keeps the field order of the
# go-fdo / C / Java clients, [pkType, pkEnc, serialNo, modelNo, certInfo], with certInfo the
# IDevID chain already installed (leaf first, DER) instead of a CSR: pkEnc is X5CHAIN.
from imprint import cbor, crypto
from imprint.cose_structures import sig_structure

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

PROTVER = const(101)
MSG_APP_START = const(10)
MSG_SET_CREDENTIALS = const(11)
MSG_SET_HMAC = const(12)
MSG_DONE = const(13)
MSG_ERROR = const(255)
SHA256 = const(-16)           # FDO 1.1 CDDL hashtype (COSE algorithm ids)
HMAC_SHA256 = const(5)
PK_SECP256R1 = const(10)      # FDO 1.1 CDDL pkType
PK_ENC_X509 = const(1)        # pkEnc: SubjectPublicKeyInfo DER
PK_ENC_X5CHAIN = const(2)
PK_ENC_COSEKEY = const(3)
# FDO 1.1 CDDL DeviceCredential fields (the store's "fdo_cred")
DC_ACTIVE = const(0)
DC_PROTVER = const(1)
DC_HMAC_SECRET = const(2)
DC_DEVICE_INFO = const(3)
DC_GUID = const(4)
DC_RVINFO = const(5)
DC_PUBKEY_HASH = const(6)
_SECRET_LEN = const(32)


class FDOError(ValueError):
    pass


# FDO 1.1 OVDevCertChainHash = Hash [SHA256, SHA-256 over the chain's DER, concatenated]
def chain_hash(chain):
    return [SHA256, crypto.sha256(b"".join(chain))]


def _body(body, n, what):
    # FDO 1.1 message body: one CBOR array (FDO 1.1 CDDL of each message)
    try:
        v = cbor.loads(body)
    except ValueError as e:
        raise FDOError("%s: malformed CBOR (%s)" % (what, e))
    if type(v) is not list or len(v) != n:
        raise FDOError("%s: the body must be an array of %d item(s)" % (what, n))
    return v


# FDO 1.1 CDDL OVHeader = [OVHProtVer, OVGuid, OVRVInfo, OVDeviceInfo, OVPubKey, OVDevCertChainHash]
def _ovheader(data, what="SetCredentials"):
    # -> (the six fields, the encoded OVPubKey as sent: DCPubKeyHash is over those bytes)
    if type(data) is not bytes or len(data) < 2 or data[0] != 0x86:
        raise FDOError("%s: OVHeader must be a bstr holding a CBOR array of 6 items" % what)
    f = []
    pos = 1
    pk = None
    try:
        for i in range(6):
            item, end = cbor.decode(data, pos)
            if i == 4:
                pk = data[pos:end]
            f.append(item)
            pos = end
    except ValueError as e:
        raise FDOError("%s: malformed OVHeader (%s)" % (what, e))
    if pos != len(data):
        raise FDOError("%s: %d bytes after the OVHeader" % (what, len(data) - pos))
    return f, pk


# FDO 1.1 CDDL RendezvousInfo = [+ [+ RendezvousInstr = [RVVariable, ?RVValue: bstr]]]
def _rv_ok(rv):
    if type(rv) is not list or not rv:
        return False
    for d in rv:
        if type(d) is not list or not d:
            return False
        for ins in d:
            if (type(ins) is not list or not 1 <= len(ins) <= 2 or type(ins[0]) is not int
                    or ins[0] < 0 or (len(ins) == 2 and type(ins[1]) is not bytes)):
                return False
    return True


def _check_header(f, own_hash):
    if f[0] != PROTVER or type(f[0]) is not int:
        raise FDOError("SetCredentials: OVHProtVer %r is not %d" % (f[0], PROTVER))
    if type(f[1]) is not bytes or len(f[1]) != 16:
        raise FDOError("SetCredentials: OVGuid must be a 16-byte bstr")
    if not _rv_ok(f[2]):
        raise FDOError("SetCredentials: OVRVInfo is not a RendezvousInfo")
    if type(f[3]) is not str:
        raise FDOError("SetCredentials: OVDeviceInfo must be a text string")
    pk = f[4]
    if type(pk) is not list or len(pk) != 3 or pk[1] not in (PK_ENC_X509, PK_ENC_X5CHAIN,
                                                            PK_ENC_COSEKEY):
        raise FDOError("SetCredentials: OVPubKey is not a PublicKey [pkType, pkEnc, pkBody]")
    if pk[0] != PK_SECP256R1:
        raise FDOError("SetCredentials: manufacturer key type %r unsupported (this device "
                       "verifies SECP256R1 only)" % (pk[0],))
    if f[5] != own_hash:
        raise FDOError("SetCredentials: OVDevCertChainHash does not match this device's "
                       "certificate chain (an OVHeader made for another device or key)")


class DeviceInit:
    # The device side of DI: app_start() -> AppStart body; handle(type, body) -> (type, body)
    # for SetCredentials, None for Done (the DeviceCredential is then in the store).
    def __init__(self, store, serial, model, *, rand=crypto.random_bytes):
        self._store = store
        self.serial = serial
        self.model = model
        self._rand = rand
        self._want = 0      # the message type expected next; 0: no DI running
        self._hash = None   # OVDevCertChainHash of this device
        self._cred = None   # the DeviceCredential, kept in RAM until Done

    # FDO 1.1 DI.AppStart (10) = [DeviceMfgInfo]; DeviceMfgInfo = bstr .cbor
    #   [pkType, pkEnc, serialNo, modelNo, certInfo: [+ bstr] (the IDevID chain, leaf first)]
    def app_start(self):
        self._want = 0
        self._cred = None
        chain = self._store.get("idevid_chain")
        if type(chain) is not list or not chain:
            raise FDOError("DI needs the IDevID certificate chain in the store (idevid_chain)")
        if self._store.get("idevid_key") is None:
            raise FDOError("DI needs the IDevID key in the store (idevid_key)")
        if type(self.serial) is not str or type(self.model) is not str:
            raise FDOError("DI needs the serial number and model as text")
        self._hash = chain_hash(chain)
        info = cbor.dumps([PK_SECP256R1, PK_ENC_X5CHAIN, self.serial, self.model, chain])
        self._want = MSG_SET_CREDENTIALS
        return cbor.dumps([info])

    def handle(self, msg_type, body):
        try:
            return self._handle(msg_type, body)
        except Exception:
            # an error ends the DI run: the store is untouched; AppStart starts again
            self._want = 0
            self._cred = None
            raise

    def _handle(self, t, body):
        if t == MSG_ERROR:
            raise FDOError("the manufacturer reported an error: %s" % _error_text(body))
        if t != self._want:
            if self._want == 0:
                raise FDOError("DI message %r out of order: DI is not running (AppStart first)"
                               % (t,))
            raise FDOError("DI message %r out of order: expecting %d" % (t, self._want))
        if t == MSG_SET_CREDENTIALS:
            return self._set_credentials(body)
        return self._done(body)

    # FDO 1.1 DI.SetCredentials (11) = [bstr .cbor OVHeader] -> DI.SetHMAC (12) = [HMac]
    def _set_credentials(self, body):
        hdr = _body(body, 1, "SetCredentials")[0]
        f, pk = _ovheader(hdr)
        _check_header(f, self._hash)
        secret = self._rand(_SECRET_LEN)
        if len(secret) != _SECRET_LEN:
            raise FDOError("the random source returned %d bytes" % len(secret))
        secret = bytes(secret)
        # DeviceCredential = [DCActive, DCProtVer, DCHmacSecret, DCDeviceInfo, DCGuid,
        #                     DCRVInfo, DCPubKeyHash]
        self._cred = [True, f[0], secret, f[3], f[1], f[2], [SHA256, crypto.sha256(pk)]]
        self._want = MSG_DONE
        # OVHeaderHMac: HMAC-SHA256 keyed by DCHmacSecret over the OVHeader bytes
        return MSG_SET_HMAC, cbor.dumps([[HMAC_SHA256, crypto.hmac_sha256(secret, hdr)]])

    # FDO 1.1 DI.Done (13) = []: the device then persists its DeviceCredential (one update)
    def _done(self, body):
        _body(body, 0, "Done")
        self._store.update({"fdo_cred": self._cred})
        self._want = 0
        self._cred = None
        return None


# FDO 1.1 Error (255) = [EMErrorCode, EMPrevMsgID, EMErrorStr, EMErrorTs, EMErrorCID]
def _error_text(body):
    try:
        e = cbor.loads(body)
        return "code %r after message %r: %s" % (e[0], e[1], e[2])
    except (ValueError, TypeError, IndexError, KeyError):
        return "(malformed error message)"


def _cred(store):
    cred = store.get("fdo_cred")
    if cred is None:
        raise FDOError("no FDO device credential on this device")
    return cred


def _not_mine(cred, header, guid, hmac):
    # -> None if the OVHeader is this device's (GUID, OVHeaderHMac keyed by DCHmacSecret),
    # else why not
    if guid != cred[DC_GUID]:
        return "the voucher's GUID is not this device's"
    if (type(hmac) is not list or len(hmac) != 2 or hmac[0] != HMAC_SHA256
            or type(hmac[1]) is not bytes
            or not crypto.equal(crypto.hmac_sha256(cred[DC_HMAC_SECRET], header), hmac[1])):
        return "OVHeaderHMac does not verify with this device's secret"
    return None


# FDO 1.1 TO2.ProveOVHdr check (device side): the voucher's OVHeader is for this device's
# GUID and its HMAC verifies with the device's secret (OVHeaderHMac = HMAC over OVHeader)
def voucher_is_mine(store, voucher):
    cred = _cred(store)
    try:
        v = cbor.loads(voucher)
        header, hmac = v[1], v[2]
        fields, _ = _ovheader(header)
    except (ValueError, TypeError, IndexError, KeyError):
        raise FDOError("malformed ownership voucher")
    return _not_mine(cred, header, fields[1], hmac) is None


# FDO 1.1 CDDL PublicKey = [pkType, pkEnc, pkBody]: SECP256R1 as X509 (SubjectPublicKeyInfo
# DER), X5CHAIN (the leaf's key) or COSEKEY {1: 2, -1: 1, -2: x, -3: y} -> 65-byte point
def _point(pk, what):
    from imprint import der
    try:
        enc, body = pk[1], pk[2]
        if enc == PK_ENC_X509 and type(body) is bytes:
            alg, key = der.spki_public_key(body)
        elif enc == PK_ENC_X5CHAIN and type(body) is list and body and type(body[0]) is bytes:
            alg, key = der.public_key(body[0])
        elif enc == PK_ENC_COSEKEY and type(body) is dict and body.get(1) == 2 \
                and body.get(-1) == 1 and len(body[-2]) == 32 and len(body[-3]) == 32:
            alg, key = "p256", b"\x04" + body[-2] + body[-3]
        else:
            alg = key = None
        if pk[0] != PK_SECP256R1 or alg != "p256":
            raise ValueError
        key = bytes(key)
        if len(key) == 33:
            key = crypto.p256_decompress(key)
        return key
    except (ValueError, TypeError, IndexError, KeyError):  # DERError, CryptoError too
        raise FDOError("%s: not a supported SECP256R1 PublicKey" % what)


# FDO 1.1 TO2.ProveOVHdr checks of the OVHeader (§5.5.3): this device's GUID and HMAC, and an
# OVPubKey whose hash is DCPubKeyHash
def header_check(cred, header, hmac, hmac_raw, what):
    # header: the OVHeader bytes; hmac: OVHeaderHMac, hmac_raw: its encoded bytes.
    # -> (OVHeader fields, the manufacturer key point, entry 0's prev hash, hinfo)
    f, pk = _ovheader(header, what)
    why = _not_mine(cred, header, f[1], hmac)
    if why:
        raise FDOError(what + ": " + why)
    dc = cred[DC_PUBKEY_HASH]
    if dc[0] != SHA256 or not crypto.equal(crypto.sha256(pk), dc[1]):
        raise FDOError(what + ": the manufacturer key (OVPubKey) does not match DCPubKeyHash")
    if type(f[3]) is not str:
        raise FDOError(what + ": OVDeviceInfo must be a text string")
    return (f, _point(f[4], what + " OVPubKey"), crypto.sha256(header + hmac_raw),
            crypto.sha256(f[1] + f[3].encode()))


# FDO 1.1 OVEntry = COSE_Sign1 of OVEntryPayload = [OVEHashPrevEntry, OVEHashHdrInfo, OVEExtra,
#   OVEPubKey] (§3.4.2): one entry of the chain, as its encoded bytes
def entry_check(raw, i, key, prev, hinfo, mpk):
    # entry i signed by `key` (65-byte point), chained to `prev` (SHA-256 of OVHeader ||
    # OVHeaderHMac for entry 0, else of the entry before) and to hinfo = SHA-256(GUID ||
    # DeviceInfo); its key must have the type and encoding of mpk (OVPubKey).
    # -> (the entry's owner key, SHA-256 of this entry: the next one's prev)
    w = "voucher entry %d" % i
    try:
        e = cbor.loads(raw)
    except ValueError as x:
        raise FDOError("%s: malformed CBOR (%s)" % (w, x))
    e = _sign1(e, w)
    try:
        p = cbor.loads(e[2])
    except ValueError:
        p = None
    if type(p) is not list or len(p) != 4:
        raise FDOError("%s: OVEntryPayload must be an array of 4 items" % w)
    if p[0] != [SHA256, prev]:
        raise FDOError("%s: OVEHashPrevEntry does not match %s" % (
            w, "the header and HMAC" if i == 0 else "entry %d" % (i - 1)))
    if p[1] != [SHA256, hinfo]:
        raise FDOError("%s: OVEHashHdrInfo does not match the GUID and device info" % w)
    if p[2] is not None and type(p[2]) is not bytes:
        raise FDOError("%s: OVEExtra must be null or a bstr" % w)
    if not crypto.p256_verify(key, sig_structure(e[0], b"", e[2]), e[3]):
        raise FDOError("%s: signature does not verify with %s" % (
            w, "the manufacturer key" if i == 0 else "the owner key of entry %d" % (i - 1)))
    q = p[3]
    if type(q) is not list or len(q) != 3 or q[0] != mpk[0] or q[1] != mpk[1]:
        raise FDOError("%s: OVEPubKey must have the manufacturer key's type and encoding" % w)
    return _point(q, w + " OVEPubKey"), crypto.sha256(raw)


# FDO 1.1 CDDL OwnershipVoucher = [OVProtVer, OVHeaderTag, OVHeaderHMac, OVDevCertChain,
#   OVEntryArray: [* OVEntry = COSE_Sign1 of OVEntryPayload = [OVEHashPrevEntry,
#   OVEHashHdrInfo, OVEExtra, OVEPubKey]]] (FDO 1.1 §3.4.2, TO2.ProveOVHdr / OVNextEntry)
def voucher_owner(store, voucher):
    # Verify the voucher on the device -> the current owner's key (65-byte P-256 point):
    # the OVHeader is this device's (GUID, HMAC), its OVPubKey hashes to DCPubKeyHash, and
    # each entry is signed by the key before it (the first by OVPubKey), chained by
    # OVEHashPrevEntry (entry 0: SHA-256 over OVHeader || OVHeaderHMac, then over the previous
    # entry's bytes) and OVEHashHdrInfo = SHA-256(GUID || DeviceInfo). SHA256 hashes only.
    # Raises FDOError naming the failed check; never writes the store.
    cred = _cred(store)
    data = voucher
    if type(data) is not bytes or len(data) < 2 or data[0] != 0x85:
        raise FDOError("voucher: not a CBOR array of 5 items")
    try:
        ver, pos = cbor.decode(data, 1)
        header, pos = cbor.decode(data, pos)
        hs = pos
        hmac, pos = cbor.decode(data, pos)
        he = pos
        pos = cbor.decode(data, pos)[1]      # OVDevCertChain: not needed here
        ib = data[pos]
    except (ValueError, IndexError) as e:
        raise FDOError("voucher: malformed CBOR (%s)" % e)
    if ver != PROTVER or type(ver) is not int:
        raise FDOError("voucher: OVProtVer %r is not %d" % (ver, PROTVER))
    f, key, prev, hinfo = header_check(cred, header, hmac, data[hs:he], "voucher")
    mpk = f[4]
    # OVEntryArray head (major type 4, fewer than 256 entries)
    n = ib & 31
    pos += 1
    if ib >> 5 != 4 or n > 24:
        raise FDOError("voucher: OVEntryArray must be an array of fewer than 256 entries")
    if n == 24:
        if pos >= len(data):
            raise FDOError("voucher: truncated")
        n = data[pos]
        pos += 1
    for i in range(n):
        try:
            end = cbor.decode(data, pos)[1]
        except ValueError as x:
            raise FDOError("voucher entry %d: malformed CBOR (%s)" % (i, x))
        key, prev = entry_check(data[pos:end], i, key, prev, hinfo, mpk)
        pos = end
    if pos != len(data):
        raise FDOError("voucher: %d bytes after the voucher" % (len(data) - pos))
    return key


# --- DI over HTTP, for boards with a network (or the relay's streams) ---------------------
# A minimal HTTP/1.1 client on an imprint stream (send(data), recv(n, timeout_ms) -> bytes,
# b"" at the end, None on a timeout; close()): one connection per message, Connection: close.
_MAX_HEAD = const(2048)   # bytes of status line and headers read at most
_MAX_REPLY = const(8192)  # reply body bytes at most (SetCredentials carries the OVHeader)
MESSAGE_BODY_ERROR = const(100)  # FDO 1.1 Error Code Values: EMErrorCode


def _recv(s, n, timeout_ms):
    b = s.recv(n, timeout_ms)
    if b is None:
        raise FDOError("HTTP: no reply within %d ms" % timeout_ms)
    if not b:
        raise FDOError("HTTP: the connection closed in the middle of the reply")
    return b


# FDO 1.1 §4.3 HTTP transport: POST /fdo/101/msg/{type}, Content-Type application/cbor; the
# reply: 200 + Message-Type, or an Error (255, HTTP 500); Authorization carries the session
def http_post(s, host, port, msg_type, body, token=None, timeout_ms=10000):
    # -> (HTTP status, Message-Type or None, Authorization or None, body) over stream s
    head = ("POST /fdo/%d/msg/%d HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/cbor\r\n"
            "Content-Length: %d\r\nConnection: close\r\n" % (PROTVER, msg_type, host, port,
                                                             len(body)))
    if token:
        head += "Authorization: %s\r\n" % token
    s.send(head.encode() + b"\r\n" + body)
    buf = b""
    end = -1
    while end < 0:
        if len(buf) > _MAX_HEAD:
            raise FDOError("HTTP: reply headers longer than %d bytes" % _MAX_HEAD)
        buf += _recv(s, 512, timeout_ms)
        end = buf.find(b"\r\n\r\n")
    mtype = auth = None
    n = -1
    try:
        lines = buf[:end].decode().split("\r\n")
        status = lines[0].split(" ")
        if len(status) < 2 or not status[0].startswith("HTTP/1."):
            raise ValueError
        status = int(status[1])
        for line in lines[1:]:
            i = line.find(":")
            name = line[:i].strip().lower() if i > 0 else ""
            value = line[i + 1:].strip()
            if name == "content-length":
                n = int(value)
            elif name == "message-type":
                mtype = int(value)
            elif name == "authorization":
                auth = value
            elif name == "transfer-encoding":
                n = -1
                break
    except ValueError:  # UnicodeError too
        raise FDOError("HTTP: malformed reply head: %r" % buf[:60])
    if not 0 <= n <= _MAX_REPLY:
        raise FDOError("HTTP: the reply needs a Content-Length (not chunked) of at most %d"
                       % _MAX_REPLY)
    body = buf[end + 4:]
    while len(body) < n:
        body += _recv(s, n - len(body), timeout_ms)
    return status, mtype, auth, body[:n]


def _exchange(stream_factory, host, port, t, body, token, timeout_ms):
    s = stream_factory(host, port)
    try:
        return http_post(s, host, port, t, body, token, timeout_ms)
    finally:
        s.close()


# FDO 1.1 DI over HTTP: AppStart (10) -> SetCredentials (11), SetHMAC (12) -> Done (13)
def di_over_http(store, serial, model, stream_factory, host, port, timeout_ms=10000,
                 rand=crypto.random_bytes):
    # DI with the manufacturer at http://host:port; stream_factory(host, port) -> a stream
    # (transport.SocketStream, or imprint_port.stream through the relay). Returns the GUID;
    # the DeviceCredential is then in the store. Raises FDOError, or the stream's
    # TransportError / OSError; the store is then untouched.
    d = DeviceInit(store, serial, model, rand=rand)
    t, body = MSG_APP_START, d.app_start()
    token = None
    while True:
        status, rt, auth, reply = _exchange(stream_factory, host, port, t, body, token,
                                            timeout_ms)
        if auth:
            token = auth
        if status != 200 and rt != MSG_ERROR:
            raise FDOError("HTTP %d from the manufacturer for message %d" % (status, t))
        if rt is None:
            raise FDOError("HTTP: the reply to message %d has no Message-Type" % t)
        try:
            out = d.handle(rt, reply)
        except FDOError as e:
            if rt != MSG_ERROR and token:
                _report(stream_factory, host, port, rt, str(e), token, timeout_ms)
            raise
        if out is None:
            return store.get("fdo_cred")[DC_GUID]
        t, body = out


# FDO 1.1 Error (255) = [EMErrorCode, EMPrevMsgID, EMErrorStr, EMErrorTs, EMErrorCID] (nulls)
def _report(stream_factory, host, port, prev, text, token, timeout_ms):
    # tell the manufacturer the run is over (best effort: the error raised is what matters)
    try:
        _exchange(stream_factory, host, port, MSG_ERROR,
                  cbor.dumps([MESSAGE_BODY_ERROR, prev, text[:120], None, None]), token,
                  timeout_ms)
    except Exception:
        pass


# --- TO1: find the owner through the rendezvous server (HTTP) -----------------------------
MSG_HELLO_RV = const(30)
MSG_HELLO_RV_ACK = const(31)
MSG_PROVE_TO_RV = const(32)
MSG_RV_REDIRECT = const(33)
ES256 = const(-7)            # FDO 1.1 DeviceSgType StSECP256R1 (COSE ES256)
_EAT_NONCE = const(10)       # EAT claim keys; UEID = EAT-RAND (1) || GUID
_EAT_UEID = const(256)
_ES256_HDR = b"\xa1\x01\x26"  # bstr .cbor {1: -7}


def _reply(rt, body, want, what):
    if rt == MSG_ERROR:
        raise FDOError("the rendezvous server refused %s: %s" % (what, _error_text(body)))
    if rt != want:
        raise FDOError("message %r after %s (want %d)" % (rt, what, want))


# RFC 9052 §4.2 COSE_Sign1 (tag 18 or untagged) with an ES256 protected header -> its 4 items
def _sign1(obj, what):
    if isinstance(obj, cbor.Tag):
        if obj.tag != 18:
            raise FDOError("%s: CBOR tag %r is not COSE_Sign1" % (what, obj.tag))
        obj = obj.value
    if (type(obj) is not list or len(obj) != 4 or type(obj[0]) is not bytes
            or type(obj[1]) is not dict or type(obj[2]) is not bytes
            or type(obj[3]) is not bytes or len(obj[3]) != 64):
        raise FDOError("%s: not a COSE_Sign1 with a payload and an ES256 signature" % what)
    try:
        p = cbor.loads(obj[0])
    except ValueError:
        p = None
    if type(p) is not dict or p.get(1) != ES256:
        raise FDOError("%s: the protected header must name ES256" % what)
    return obj


# FDO 1.1 CDDL To1dBlobPayload = [to1dRV: RVTO2Addr, to1dTo0dHash: Hash];
#   RVTO2AddrEntry = [RVIP: bstr / null, RVDNS: tstr / null, RVPort: uint16, RVProtocol: uint]
def _to1d_addrs(to1d):
    payload = _sign1(to1d, "RVRedirect")[2]
    try:
        addrs, h = cbor.loads(payload)
    except (ValueError, TypeError):
        raise FDOError("RVRedirect: the to1d payload is not [RVTO2Addr, Hash]")
    if type(h) is not list or len(h) != 2 or type(h[1]) is not bytes:
        raise FDOError("RVRedirect: to1dTo0dHash is not a Hash")
    if type(addrs) is not list or not addrs:
        raise FDOError("RVRedirect: RVTO2Addr is empty")
    for a in addrs:
        if (type(a) is not list or len(a) != 4 or (a[0] is None and a[1] is None)
                or (a[0] is not None and (type(a[0]) is not bytes or len(a[0]) not in (4, 16)))
                or (a[1] is not None and type(a[1]) is not str)
                or type(a[2]) is not int or not 0 < a[2] < 65536
                or type(a[3]) is not int or not 1 <= a[3] <= 6):
            raise FDOError("RVRedirect: malformed RVTO2AddrEntry %r" % (a,))
    return addrs


# FDO 1.1 TO1: HelloRV (30) [Guid, eASigInfo] -> HelloRVAck (31) [NonceTO1Proof, eBSigInfo];
#   ProveToRV (32) EAT (COSE_Sign1, device key) -> RVRedirect (33) to1d
def to1(store, send, raw=False):
    # TO1 with the rendezvous server reached through send(msg_type, body) -> (msg_type, body)
    # (http_sender or coap_sender), signing with the store's idevid_key. -> the RVTO2Addr
    # entries [[ip or None, dns or None, port, protocol], ...] ((entries, to1d) with
    # raw=True; TO2 checks to1d's owner signature against the voucher). Raises FDOError or
    # the transport's errors; the store is never written.
    cred = store.get("fdo_cred")
    key = store.get("idevid_key")
    if cred is None or not cred[DC_ACTIVE] or key is None:
        raise FDOError("TO1 needs an active FDO device credential and the IDevID key")
    guid = cred[DC_GUID]
    rt, body = send(MSG_HELLO_RV, cbor.dumps([guid, [ES256, b""]]))
    _reply(rt, body, MSG_HELLO_RV_ACK, "HelloRV")
    ack = _body(body, 2, "HelloRVAck")
    nonce = ack[0]
    if type(nonce) is not bytes or len(nonce) != 16:
        raise FDOError("HelloRVAck: NonceTO1Proof must be 16 bytes")
    # EAToken = COSE_Sign1 of {EAT-NONCE: NonceTO1Proof, EAT-UEID: EAT-RAND || Guid}
    payload = cbor.dumps({_EAT_NONCE: nonce, _EAT_UEID: b"\x01" + guid})
    sig = crypto.p256_sign(key, sig_structure(_ES256_HDR, b"", payload))
    eat = cbor.dumps(cbor.Tag(18, [_ES256_HDR, {}, payload, sig]))
    rt, body = send(MSG_PROVE_TO_RV, eat)
    _reply(rt, body, MSG_RV_REDIRECT, "ProveToRV")
    try:
        to1d = cbor.loads(body)
    except ValueError as e:
        raise FDOError("RVRedirect: malformed CBOR (%s)" % e)
    addrs = _to1d_addrs(to1d)
    return (addrs, body) if raw else addrs


# --- how messages travel: one send(msg_type, body) -> (msg_type, body) per run ------------

# FDO 1.1 §4.3 HTTP: one connection per message, the session in Authorization
def http_sender(stream_factory, host, port, timeout_ms=10000):
    token = [None]

    def send(t, body):
        status, rt, auth, reply = _exchange(stream_factory, host, port, t, body, token[0],
                                            timeout_ms)
        if auth:
            token[0] = auth
        if status != 200 and rt != MSG_ERROR:
            raise FDOError("HTTP %d from %s:%d for message %d" % (status, host, port, t))
        if rt is None:
            raise FDOError("HTTP: the reply to message %d has no Message-Type" % t)
        return rt, reply
    return send


# FDO over CoAP (RFC 7252, block-wise RFC 7959), as imprint binds it (FDO 1.1 names CoAP as an
# RV and TO2 transport but defines no mapping): POST /fdo/101/msg/{type}, Content-Format 60;
# success 2.01 Created (a session opened: Location-Query "s=<token>", sent back as Uri-Query
# on the next messages) or 2.04 Changed, the reply being message type + 1; an FDO Error comes
# as a 4.xx/5.xx response whose payload is the Error message (255).
_CF_CBOR = b"\x3c"   # Content-Format application/cbor (60)


def coap_sender(datagram_factory, host, port, timeout_ms=10000):
    from imprint import coap, coap_client
    client = coap_client.Client(datagram_factory(host, port),
                                ack_timeout_ms=min(2000, timeout_ms))
    sess = [None]

    def send(t, body):
        path = "/fdo/%d/msg/%d" % (PROTVER, t)
        if sess[0]:
            path += "?s=" + sess[0]
        r = client.post(path, body, options=[(coap.CONTENT_FORMAT, _CF_CBOR)])
        for q in r.get_all(coap.LOCATION_QUERY):
            if q[:2] == b"s=":
                sess[0] = q[2:].decode()
        if r.code in (coap.CREATED, coap.CHANGED):
            return (t + 1 if t != MSG_ERROR else None), r.payload
        if r.code >= 0x80 and r.payload:
            return MSG_ERROR, r.payload
        raise FDOError("CoAP %s from %s:%d for message %d" % (coap.code_str(r.code), host,
                                                             port, t))
    send.close = client.t.close
    return send


# --- onboarding: the method's entry point --------------------------------------------------
RV_DEV_ONLY = const(0)       # FDO 1.1 RVVariable
RV_OWNER_ONLY = const(1)
RV_IP = const(2)
RV_DEV_PORT = const(3)
RV_DNS = const(5)
RV_PROTOCOL = const(12)
RV_BYPASS = const(14)
RV_PROT_HTTP = const(1)      # RVProtocolValue
RV_PROT_COAP = const(6)
TO2_HTTP = const(3)          # TransportProtocol (RVTO2AddrEntry)
TO2_COAP = const(4)


def _host(ip, dns):
    if dns is not None:
        return dns
    if len(ip) == 4:
        return "%d.%d.%d.%d" % tuple(ip)
    return None              # IPv6: not on these boards


# FDO 1.1 §3.7 RendezvousInfo as the device reads it: directives in order, each
#   [+ [RVVariable, RVValue: bstr .cbor]]; owner-only ones are skipped
def rv_targets(rv):
    # -> [(host, port, RVProtocol, bypass), ...]
    out = []
    for d in rv:
        v = {}
        for ins in d:
            try:
                v[ins[0]] = cbor.loads(ins[1]) if len(ins) > 1 else True
            except ValueError:
                v = {RV_OWNER_ONLY: True}
                break
        if RV_OWNER_ONLY in v:
            continue
        ip, dns = v.get(RV_IP), v.get(RV_DNS)
        host = _host(ip, dns) if (type(ip) is bytes or type(dns) is str) else None
        prot = v.get(RV_PROTOCOL, RV_PROT_HTTP)
        port = v.get(RV_DEV_PORT, 80 if prot == RV_PROT_HTTP else 5683)
        if host is not None and type(port) is int:
            out.append((host, port, prot, RV_BYPASS in v))
    return out


def _sender(http, host, port, stream_factory, datagram_factory, timeout_ms):
    if http:
        return http_sender(stream_factory, host, port, timeout_ms)
    return coap_sender(datagram_factory, host, port, timeout_ms)


def _close(send):
    c = getattr(send, "close", None)
    if c:
        c()


def onboard(store, stream_factory, info=None, timeout_ms=10000, datagram_factory=None):
    # FDO onboarding as the lifecycle runs it: TO1 with each rendezvous server of the device
    # credential (HTTP, or CoAP when a datagram_factory is given), then TO2 with each owner
    # address it names (or straight TO2 where the directive says RVBypass). -> the new GUID;
    # the store then holds the new credential and what the owner delivered. Raises FDOError
    # (or the last transport error) when no path worked; the device credential is then
    # untouched and onboard can run again.
    from imprint.methods import fdo_to2
    cred = _cred(store)
    rv_ok = (RV_PROT_HTTP, RV_PROT_COAP) if datagram_factory else (RV_PROT_HTTP,)
    to2_ok = (TO2_HTTP, TO2_COAP) if datagram_factory else (TO2_HTTP,)
    err = FDOError("no usable rendezvous directive (%s) in the device credential"
                   % ("HTTP or CoAP" if datagram_factory else "HTTP"))
    for host, port, prot, bypass in rv_targets(cred[DC_RVINFO]):
        if prot not in rv_ok:
            continue
        try:
            if bypass:
                addrs = [[None, host, port, TO2_HTTP if prot == RV_PROT_HTTP else TO2_COAP]]
                to1d = None
            else:
                send = _sender(prot == RV_PROT_HTTP, host, port, stream_factory,
                               datagram_factory, timeout_ms)
                try:
                    addrs, to1d = to1(store, send, raw=True)
                finally:
                    _close(send)
        except (FDOError, OSError) as e:
            err = e
            continue
        for a in addrs:
            h = _host(a[0], a[1]) if a[0] is not None or a[1] is not None else None
            if a[3] not in to2_ok or h is None:
                continue
            send = _sender(a[3] == TO2_HTTP, h, a[2], stream_factory, datagram_factory,
                           timeout_ms)
            try:
                return fdo_to2.to2(store, send, to1d, info)
            except (FDOError, OSError) as e:
                err = e
            finally:
                _close(send)
    raise err
