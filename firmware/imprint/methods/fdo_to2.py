# FIDO Device Onboard 1.1, device side of TO2 (HelloDevice 60 .. Done2 71): the owner proves
# the voucher, the device proves its key, both agree an ECDH256 session (AES-CCM-64-128-128 or
# -256, COSE_Encrypt0), the owner sets up the next credential (new GUID, RV info and owner key;
# the device makes a new HMAC secret) and ServiceInfo runs: devmod, and the `imprint` module
# that delivers operational credentials. Nothing is written until Done2: then the new
# DeviceCredential and what the modules got go to the store in one update.
# Part of the FDO method (imprint.methods.fdo); a separate file so that DI alone stays small.
from imprint import cbor, crypto
from imprint.cose_structures import sig_structure
from imprint.methods import fdo
from imprint.methods.fdo import FDOError

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

MSG_HELLO_DEVICE = const(60)
MSG_PROVE_OVHDR = const(61)
MSG_GET_OVNEXT_ENTRY = const(62)
MSG_OVNEXT_ENTRY = const(63)
MSG_PROVE_DEVICE = const(64)
MSG_SETUP_DEVICE = const(65)
MSG_DEVICE_SVI_READY = const(66)
MSG_OWNER_SVI_READY = const(67)
MSG_DEVICE_SVI = const(68)
MSG_OWNER_SVI = const(69)
MSG_DONE = const(70)
MSG_DONE2 = const(71)
KEX = "ECDH256"               # FDO 1.1 key exchange: P-256 ECDH, 16 random bytes a side
CIPHERS = {32: 16, 33: 32}    # COSE AES-CCM-64-128-128 / -256 -> SEK bytes (tag 16, nonce 7)
_CUPH_NONCE = const(256)       # ProveOVHdr unprotected: NonceTO2ProveDv
_CUPH_OWNER_KEY = const(257)   # ProveOVHdr unprotected: the owner's PublicKey
_EAT_NONCE = const(10)         # EAT claims: nonce, UEID (RAND || GUID), FDO [xBKeyExchange]
_EAT_UEID = const(256)
_EAT_FDO = const(-257)
_EUPH_NONCE = const(-259)      # ProveDevice unprotected: NonceTO2SetupDv
_NONCE = const(16)
_RAND = const(16)             # ECDH256 DeviceRandom / OwnerRandom
MAX_MESSAGE = const(8192)     # maxDeviceMessageSize: what http_post reads at most
MAX_SVI = const(1300)         # maxOwnerServiceInfoSz (FDO 1.1 default MTU)
_MAX_ROUNDS = const(32)       # ServiceInfo exchanges at most
_ENC0 = const(16)             # COSE_Encrypt0 tag
_INVALID_MESSAGE = const(101)  # FDO 1.1 Error Code Values: INVALID_MESSAGE_ERROR


# --- key exchange and the session ----------------------------------------------------------

# FDO 1.1 key exchange ECDH256: xAKeyExchange / xBKeyExchange = bstr: len(x) x len(y) y len(r) r,
# lengths as 2-byte big-endian
def kex_param(point, rand):
    return (b"\x00\x20" + point[1:33] + b"\x00\x20" + point[33:65]
            + len(rand).to_bytes(2, "big") + rand)


def kex_parse(b):
    # -> (65-byte point, random)
    out = []
    pos = 0
    if type(b) is not bytes:
        raise FDOError("ProveOVHdr: xAKeyExchange must be a bstr")
    try:
        for _ in range(3):
            n = (b[pos] << 8) | b[pos + 1]
            out.append(bytes(b[pos + 2:pos + 2 + n]))
            pos += 2 + n
    except IndexError:
        pos = -1
    if pos != len(b) or len(out[0]) != 32 or len(out[1]) != 32 or len(out[2]) != _RAND:
        raise FDOError("ProveOVHdr: xAKeyExchange is not an ECDH256 parameter")
    return b"\x04" + out[0] + out[1], out[2]


# FDO 1.1 key derivation: NIST SP 800-108 counter mode, HMAC-SHA256, r = 8:
#   K(1) = HMAC(ShSe, 0x01 || "FIDO-KDF" || 0x00 || "AutomaticOnboardTunnel" || [L]_2)
def kdf(shse, n):
    return crypto.hmac_sha256(shse, b"\x01FIDO-KDF\x00AutomaticOnboardTunnel"
                              + (n * 8).to_bytes(2, "big"))[:n]


# FDO 1.1 §4.4 EMBlock: COSE_Encrypt0 (RFC 9052 §5.2) = [protected {1: alg}, {5: IV}, ciphertext];
# AAD = Enc_structure ["Encrypt0", protected, h'']
def _prot(alg):
    return cbor.dumps({1: alg})


def seal(sek, alg, plaintext, rand=crypto.random_bytes):
    prot = _prot(alg)
    iv = bytes(rand(7))
    ct = crypto.aes_ccm_encrypt(sek, iv, plaintext, cbor.dumps(["Encrypt0", prot, b""]), 16)
    return cbor.dumps(cbor.Tag(_ENC0, [prot, {5: iv}, ct]))


def unseal(sek, alg, data, what):
    try:
        e = cbor.loads(data)
    except ValueError as x:
        raise FDOError("%s: malformed CBOR (%s)" % (what, x))
    if isinstance(e, cbor.Tag) and e.tag == _ENC0:
        e = e.value
    if (type(e) is not list or len(e) != 3 or type(e[0]) is not bytes or type(e[1]) is not dict
            or type(e[2]) is not bytes):
        raise FDOError("%s: not a COSE_Encrypt0 (the session is encrypted)" % what)
    if e[0] != _prot(alg):
        raise FDOError("%s: encrypted with another algorithm than the session's" % what)
    iv = e[1].get(5)
    if type(iv) is not bytes or len(iv) != 7:
        raise FDOError("%s: the IV must be 7 bytes" % what)
    try:
        return crypto.aes_ccm_decrypt(sek, iv, e[2], cbor.dumps(["Encrypt0", e[0], b""]), 16)
    except ValueError:  # CryptoError
        raise FDOError("%s: does not decrypt with the session key (MAC failure)" % what)


# --- helpers ---------------------------------------------------------------------------------

def _items(data, n, what):
    # a CBOR array of n items -> [(item, its encoded bytes), ...]
    if type(data) is not bytes or not data or data[0] != 0x80 + n:
        raise FDOError("%s: must be an array of %d items" % (what, n))
    out = []
    pos = 1
    try:
        for _ in range(n):
            item, end = cbor.decode(data, pos)
            out.append((item, data[pos:end]))
            pos = end
    except ValueError as x:
        raise FDOError("%s: malformed CBOR (%s)" % (what, x))
    if pos != len(data):
        raise FDOError("%s: bytes after the array" % what)
    return out


class OwnerRefused(FDOError):
    # the owner sent an FDO Error: the run is over on both sides
    pass


def _reply(got, want, what):
    t, body = got
    if t == fdo.MSG_ERROR:
        raise OwnerRefused("the owner refused %s: %s" % (what, fdo._error_text(body)))
    if t != want:
        raise FDOError("message %r after %s (want %d)" % (t, what, want))
    return body


def _signed(body, what):
    # a COSE_Sign1 message body -> its four items
    try:
        return fdo._sign1(cbor.loads(body), what)
    except ValueError as x:
        raise FDOError("%s: malformed CBOR (%s)" % (what, x))


def _verify(key, s1, what):
    if not crypto.p256_verify(key, sig_structure(s1[0], b"", s1[2]), s1[3]):
        raise FDOError("%s: the signature does not verify" % what)


def _nonce(x, what):
    if type(x) is not bytes or len(x) != _NONCE:
        raise FDOError("%s: a nonce must be 16 bytes" % what)
    return x


# --- ServiceInfo ---------------------------------------------------------------------------
# FDO 1.1 §3.8 ServiceInfo = [* [ServiceInfoKey: tstr "module:message", ServiceInfoVal:
# bstr .cbor any]]. The device offers devmod (the mandatory module) and imprint; an owner activates a
# module with "name:active" = true.

def devmod(info, modules):
    # the devmod messages of a device: info has os, arch, version, device, sn (optional)
    out = [["devmod:active", cbor.dumps(True)]]
    for k in ("os", "arch", "version", "device", "sn"):
        if info.get(k) is not None:
            out.append(["devmod:" + k, cbor.dumps(info[k])])
    out.append(["devmod:sep", cbor.dumps(":")])
    out.append(["devmod:bin", cbor.dumps(info.get("bin", info.get("arch")))])
    out.append(["devmod:nummodules", cbor.dumps(len(modules))])
    out.append(["devmod:modules", cbor.dumps([0, len(modules)] + list(modules))])
    return out


# The imprint module (ours): operational credentials for an EDHOC/OSCORE management endpoint.
#   owner  imprint:active = true       device  imprint:pubkey = COSE_Key {1: 2, -1: 1, -2: x,
#                                              -3: y} of a key pair it makes now (P-256)
#   owner  imprint:credentials = {"ccs": the device's CCS, "kid": bstr, "peer_ccs": the
#          endpoint's CCS, "peer_kid": bstr, "uri": tstr, ...}  (the CCS must hold that key)
# After Done2 the store has "op_key" (the private key, never sent) and "op_creds".
def _imprint(msg, val, st, out):
    if msg == "active":
        if val is not True:
            st["imprint"] = None
            return
        d, pub = crypto.p256_keypair()
        st["imprint"] = [d, pub]
        out.append(["imprint:pubkey", cbor.dumps({1: 2, -1: 1, -2: pub[1:33], -3: pub[33:]})])
        return
    keys = st.get("imprint")
    if msg != "credentials":
        raise FDOError("imprint:%s is not a message of the imprint module" % msg)
    if not keys:
        raise FDOError("imprint:credentials before imprint:active")
    if (type(val) is not dict or type(val.get("ccs")) is not bytes
            or type(val.get("uri")) is not str):
        raise FDOError("imprint:credentials must be a map with ccs (bstr) and uri (tstr)")
    pub = keys[1]
    try:
        k = cbor.loads(val["ccs"])[8][1]     # RFC 8747 §3.1 cnf / COSE_Key
        ok = k[1] == 2 and k[-1] == 1 and k[-2] == pub[1:33] and k[-3] == pub[33:]
    except (ValueError, TypeError, KeyError, IndexError):
        ok = False
    if not ok:
        raise FDOError("imprint:credentials: the CCS is not for the key this device made")
    st["updates"]["op_key"] = keys[0]
    st["updates"]["op_creds"] = val


def _owner_svi(svi, st, out):
    # the owner's ServiceInfo -> the device's answers appended to out
    if type(svi) is not list:
        raise FDOError("OwnerServiceInfo: ServiceInfo must be an array")
    for kv in svi:
        if (type(kv) is not list or len(kv) != 2 or type(kv[0]) is not str
                or type(kv[1]) is not bytes):
            raise FDOError("OwnerServiceInfo: a ServiceInfoKV must be [tstr, bstr]")
        i = kv[0].find(":")
        mod, msg = kv[0][:i], kv[0][i + 1:]
        try:
            val = cbor.loads(kv[1])
        except ValueError:
            raise FDOError("OwnerServiceInfo: %s: the value is not CBOR" % kv[0])
        if mod == "imprint" and i > 0:
            _imprint(msg, val, st, out)
        elif mod == "devmod" and msg == "active":
            pass
        elif msg == "active" and val is True:
            # FDO 1.1 §3.8: activating a module the device lacks -> "name:active" = false
            out.append([mod + ":active", cbor.dumps(False)])
        # messages of modules this device does not have are ignored


def _svi_chunks(kvs, mtu):
    # split the device's ServiceInfo into messages of at most mtu bytes of ServiceInfo
    msgs = [[]]
    size = 0
    for kv in kvs:
        n = len(cbor.dumps(kv))
        if n > mtu:
            raise FDOError("ServiceInfo %s is larger than the owner accepts (%d)" % (kv[0], mtu))
        if size + n > mtu:
            msgs.append([])
            size = 0
        msgs[-1].append(kv)
        size += n
    return msgs


# --- TO2 ---------------------------------------------------------------------------------------

def to2(store, send, to1d=None, info=None, cipher=32, rand=crypto.random_bytes):
    # TO2 with the owner reached through send(msg_type, body) -> (msg_type, body)
    # (fdo.http_sender, fdo.coap_sender). to1d: the RVRedirect body from TO1 (its owner
    # signature is checked against the voucher), None when TO1 was bypassed. info: devmod
    # values (os, arch, version, device, sn). -> the new GUID. Raises FDOError (the store
    # is then untouched) or the transport's errors.
    last = [0]

    def tracked(t, body):
        r = send(t, body)
        last[0] = r[0]
        return r
    try:
        return _to2(store, tracked, to1d, info, cipher, rand)
    except OwnerRefused:
        raise
    except FDOError as e:
        # FDO 1.1 §5.1.1 Error (255) = [EMErrorCode, EMPrevMsgID, EMErrorStr, EMErrorTs,
        #   EMErrorCID]: tell the owner the run is over (best effort; not encrypted)
        try:
            send(fdo.MSG_ERROR, cbor.dumps([_INVALID_MESSAGE, last[0], str(e)[:120], None,
                                            None]))
        except Exception:
            pass
        raise


def _to2(store, send, to1d, info, cipher, rand):
    if cipher not in CIPHERS:
        raise FDOError("cipher suite %r is not one this device runs (%r)" % (cipher,
                                                                            list(CIPHERS)))
    cred = fdo._cred(store)
    dkey = store.get("idevid_key")
    if not cred[fdo.DC_ACTIVE] or dkey is None:
        raise FDOError("TO2 needs an active FDO device credential and the IDevID key")
    # the AES tables (4 x 1 KB) now, before P-256 work leaves no 1 KB hole in the heap
    crypto.aes_prepare()
    guid = cred[fdo.DC_GUID]
    # FDO 1.1 TO2.HelloDevice (60) = [maxDeviceMessageSize, Guid, NonceTO2ProveOV,
    #   kexSuiteName, cipherSuiteName, eASigInfo]
    n_ov = bytes(rand(_NONCE))
    hello = cbor.dumps([MAX_MESSAGE, guid, n_ov, KEX, cipher, [fdo.ES256, b""]])
    body = _reply(send(MSG_HELLO_DEVICE, hello), MSG_PROVE_OVHDR, "HelloDevice")
    # TO2.ProveOVHdr (61) = COSE_Sign1 (owner key) of [bstr .cbor OVHeader, NumOVEntries,
    #   HMac, NonceTO2ProveOV, eBSigInfo, xAKeyExchange, helloDeviceHash, maxOwnerMessageSize],
    #   unprotected {CUPHNonce: NonceTO2ProveDv, CUPHOwnerPubKey: PublicKey}
    w = "ProveOVHdr"
    s1 = _signed(body, w)
    owner = fdo._point(s1[1].get(_CUPH_OWNER_KEY), w + " CUPHOwnerPubKey")
    _verify(owner, s1, w)
    n_dv = _nonce(s1[1].get(_CUPH_NONCE), w + " CUPHNonce")
    p = _items(s1[2], 8, w + " payload")
    if p[3][0] != n_ov:
        raise FDOError(w + ": NonceTO2ProveOV is not the one sent in HelloDevice")
    if p[6][0] != [fdo.SHA256, crypto.sha256(hello)]:
        raise FDOError(w + ": helloDeviceHash is not the hash of HelloDevice")
    if p[4][0] != [fdo.ES256, b""]:
        raise FDOError(w + ": eBSigInfo is not ES256")
    header = p[0][0]
    if type(header) is not bytes:
        raise FDOError(w + ": the OVHeader must be a bstr")
    f, key, prev, hinfo = fdo.header_check(cred, header, p[2][0], p[2][1], w)
    n = p[1][0]
    if type(n) is not int or not 0 < n < 256:
        raise FDOError(w + ": NumOVEntries must be 1..255")
    # TO2.GetOVNextEntry (62) = [OVEntryNum] -> TO2.OVNextEntry (63) = [OVEntryNum, OVEntry]
    for i in range(n):
        e = _reply(send(MSG_GET_OVNEXT_ENTRY, cbor.dumps([i])), MSG_OVNEXT_ENTRY,
                   "GetOVNextEntry")
        e = _items(e, 2, "OVNextEntry")
        if e[0][0] != i:
            raise FDOError("OVNextEntry: entry %r sent for %d" % (e[0][0], i))
        key, prev = fdo.entry_check(e[1][1], i, key, prev, hinfo, f[4])
    if key != owner:
        raise FDOError(w + ": not signed by the voucher's owner (the last entry's key)")
    if to1d is not None:
        t1 = _signed(to1d, "to1d")
        _verify(owner, t1, "to1d (the RVRedirect blob, signed by the owner)")
    xa, owner_rand = kex_parse(p[5][0])
    # FDO 1.1 key exchange: ShSe = ECDH(x) || DeviceRandom || OwnerRandom -> SEK
    d, pub = crypto.p256_keypair()
    dev_rand = bytes(rand(_RAND))
    xb = kex_param(pub, dev_rand)
    sek = kdf(crypto.p256_ecdh(d, xa) + dev_rand + owner_rand, CIPHERS[cipher])
    d = None
    # TO2.ProveDevice (64) = EAT (device key): {EAT-NONCE: NonceTO2ProveDv, EAT-UEID: RAND ||
    #   Guid, EAT-FDO: [xBKeyExchange]}, unprotected {EUPHNonce: NonceTO2SetupDv}
    n_setup = bytes(rand(_NONCE))
    payload = cbor.dumps({_EAT_NONCE: n_dv, _EAT_UEID: b"\x01" + guid, _EAT_FDO: [xb]})
    sig = crypto.p256_sign(dkey, sig_structure(fdo._ES256_HDR, b"", payload))
    eat = cbor.dumps(cbor.Tag(18, [fdo._ES256_HDR, {_EUPH_NONCE: n_setup}, payload, sig]))
    payload = sig = None

    def call(t, body, want, what):
        # one encrypted exchange of the session
        got = send(t, seal(sek, cipher, body, rand))
        r = _reply(got, want, what)
        return unseal(sek, cipher, r, "the reply to " + what)

    # TO2.SetupDevice (65), encrypted = COSE_Sign1 (Owner2Key) of [RendezvousInfo, Guid,
    #   NonceTO2SetupDv, Owner2Key]
    w = "SetupDevice"
    got = send(MSG_PROVE_DEVICE, eat)
    s1 = _signed(unseal(sek, cipher, _reply(got, MSG_SETUP_DEVICE, "ProveDevice"), w), w)
    p = _items(s1[2], 4, w + " payload")
    if p[2][0] != n_setup:
        raise FDOError(w + ": NonceTO2SetupDv is not the one sent in ProveDevice")
    owner2 = p[3][0]
    if (type(owner2) is not list or len(owner2) != 3 or owner2[0] != f[4][0]
            or owner2[1] != f[4][1]):
        raise FDOError(w + ": Owner2Key must have the voucher key's type and encoding")
    _verify(fdo._point(owner2, w + " Owner2Key"), s1, w)
    new_guid = p[1][0]
    if type(new_guid) is not bytes or len(new_guid) != 16:
        raise FDOError(w + ": the replacement GUID must be 16 bytes")
    if not fdo._rv_ok(p[0][0]):
        raise FDOError(w + ": the replacement RendezvousInfo is malformed")
    if new_guid == guid:
        # FDO 1.1 Credential Reuse protocol: not offered by this device
        raise FDOError(w + ": the owner asks for credential reuse (same GUID), which this "
                       "device does not support")
    # the replacement OVHeader: [OVHProtVer, new GUID, new RV info, DeviceInfo, Owner2Key,
    # OVDevCertChainHash], made of the items as sent, HMAC'd with a new secret
    h = _items(header, 6, "OVHeader")
    new_header = (b"\x86" + h[0][1] + cbor.dumps(new_guid) + p[0][1] + h[3][1] + p[3][1]
                  + h[5][1])
    secret = bytes(rand(32))
    new_cred = [True, fdo.PROTVER, secret, f[3], new_guid, p[0][0],
                [fdo.SHA256, crypto.sha256(p[3][1])]]
    s1 = p = None
    # TO2.DeviceServiceInfoReady (66) = [ReplacementHMac, maxOwnerServiceInfoSz]
    #   -> TO2.OwnerServiceInfoReady (67) = [maxDeviceServiceInfoSz / null]
    r = call(MSG_DEVICE_SVI_READY,
             cbor.dumps([[fdo.HMAC_SHA256, crypto.hmac_sha256(secret, new_header)], MAX_SVI]),
             MSG_OWNER_SVI_READY, "DeviceServiceInfoReady")
    r = _items(r, 1, "OwnerServiceInfoReady")[0][0]
    mtu = MAX_SVI if r is None else r
    if type(mtu) is not int or mtu < 256:
        raise FDOError("OwnerServiceInfoReady: maxDeviceServiceInfoSz %r is too small" % (mtu,))
    # TO2.DeviceServiceInfo (68) = [IsMoreServiceInfo, ServiceInfo]
    #   -> TO2.OwnerServiceInfo (69) = [IsMoreServiceInfo, IsDone, ServiceInfo]
    st = {"updates": {}}
    queue = _svi_chunks(devmod(info or {}, ("devmod", "imprint")), mtu - 16)
    done = False
    for _ in range(_MAX_ROUNDS):
        part = queue.pop(0) if queue else []
        r = call(MSG_DEVICE_SVI, cbor.dumps([len(queue) > 0, part]), MSG_OWNER_SVI,
                 "DeviceServiceInfo")
        r = _items(r, 3, "OwnerServiceInfo")
        more, done = r[0][0], r[1][0]
        if type(more) is not bool or type(done) is not bool:
            raise FDOError("OwnerServiceInfo: IsMoreServiceInfo and IsDone must be booleans")
        out = []
        _owner_svi(r[2][0], st, out)
        if out:
            queue.extend(_svi_chunks(out, mtu - 16))
        if done:
            if queue:
                raise FDOError("OwnerServiceInfo: IsDone while the device has ServiceInfo left")
            break
    if not done:
        raise FDOError("ServiceInfo did not finish within %d rounds" % _MAX_ROUNDS)
    # TO2.Done (70) = [NonceTO2ProveDv] -> TO2.Done2 (71) = [NonceTO2SetupDv]
    r = call(MSG_DONE, cbor.dumps([n_dv]), MSG_DONE2, "Done")
    if _items(r, 1, "Done2")[0][0] != n_setup:
        raise FDOError("Done2: NonceTO2SetupDv is not this session's")
    upd = st["updates"]
    upd["fdo_cred"] = new_cred
    store.update(upd)
    return new_guid
