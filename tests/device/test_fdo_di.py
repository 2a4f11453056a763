# FDO 1.1 Device Initialization, device side (imprint.methods.fdo), driven by a scripted
# manufacturer: fixed CBOR messages built here (expected bytes computed independently with
# cbor2 + hashlib/hmac). No public-key operation runs on the board (DI needs none).
from imprint import cbor, crypto
from imprint.methods import fdo
from vectors import MemFS, h, raises

try:
    from imprint.store import Store
except ImportError:  # until the credential store exists: a dict stand-in (get/update)
    Store = None

SECRET = bytes(range(0x20, 0x40))
GUID = bytes(range(16))
CHAIN = [b"\x30\x03leaf", b"\x30\x03root"]   # opaque to DI: it only hashes them
# SubjectPublicKeyInfo of the P-256 base point: the manufacturer key in OVPubKey
SPKI = h("3059301306072a8648ce3d020106082a8648ce3d030107034200046b17d1f2e12c4247f8bce6e563a440f2"
         "77037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb64068"
         "37bf51f5")
APP_START = h("815825850a0267534e2d303030316a746573742d6d6f64656c824630036c656166463003726f6f74")
HDR = h("86186550000102030405060708090a0b0c0d0e0f818382054b6a72762e6578616d706c65820343191f6982"
        "0c41016a746573742d6d6f64656c830a01585b3059301306072a8648ce3d020106082a8648ce3d0301070342"
        "00046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7"
        "eb4a7c0f9e162bce33576b315ececbb6406837bf51f5822f5820cc2ed27710df70373489fd5908db00f2ae08"
        "12defeefe951edf7dca3dcba77bd")
# [[HMAC-SHA256, HMAC(SECRET, HDR)]]
SET_HMAC = h("818205582028a404b01f6d08cb532454f2b2a22e86ccdf276894e5d6c4d8879745b2785e22")
PK_HASH = h("edb89525a0f5d6044c124afcb628f4e2af65d8cc80f55145c2283c978811e1b1")


class DictStore:
    def __init__(self):
        self.d = {}

    def get(self, name, default=None):
        return self.d.get(name, default)

    def update(self, changes):
        for k in changes:
            if changes[k] is None:
                self.d.pop(k, None)
            else:
                self.d[k] = changes[k]


class Counting:
    # a store that counts its updates and can be told to fail them
    def __init__(self, store):
        self.s = store
        self.updates = 0
        self.fail = False

    def get(self, name, default=None):
        return self.s.get(name, default)

    def update(self, changes):
        if self.fail:
            raise OSError("flash write failed")
        self.updates += 1
        self.s.update(changes)


def _store(chain=CHAIN):
    fs = MemFS()
    s = Store(fs) if Store is not None else DictStore()
    s.update({"serial": "SN-0001", "idevid_key": bytes(range(1, 33)), "idevid_chain": chain})
    return Counting(s), fs


def _rv():
    return [[[5, cbor.dumps("rv.example")], [3, cbor.dumps(8041)], [12, cbor.dumps(1)]]]


def _hdr(i=None, value=None):
    # the OVHeader fields, field i replaced by value
    f = [101, GUID, _rv(), "test-model", [10, 1, SPKI],
         [-16, crypto.sha256(CHAIN[0] + CHAIN[1])]]
    if i is not None:
        f[i] = value
    return cbor.dumps(f)


def _dev(st):
    return fdo.DeviceInit(st, "SN-0001", "test-model", rand=lambda n: SECRET[:n])


def _set_credentials(hdr=HDR):
    return cbor.dumps([hdr])


def test_fdo_app_start():
    st, _ = _store()
    d = _dev(st)
    body = d.app_start()
    assert body == APP_START
    info = cbor.loads(cbor.loads(body)[0])
    assert info == [10, 2, "SN-0001", "test-model", CHAIN]
    assert _hdr() == HDR  # the scripted header is the one whose HMAC was computed
    st2, _ = _store(chain=None)
    assert raises(fdo.FDOError, _dev(st2).app_start)
    assert st.updates == 0


def test_fdo_di_run():
    st, fs = _store()
    d = _dev(st)
    d.app_start()
    before = dict(fs.files)
    t, body = d.handle(11, _set_credentials())
    assert t == 12 and body == SET_HMAC
    assert st.updates == 0 and fs.files == before  # nothing stored before Done
    assert st.get("fdo_cred") is None
    assert d.handle(13, cbor.dumps([])) is None
    assert st.updates == 1
    cred = st.get("fdo_cred")
    assert cred == [True, 101, SECRET, "test-model", GUID, _rv(), [-16, PK_HASH]]
    assert cred[fdo.DC_HMAC_SECRET] == SECRET and cred[fdo.DC_GUID] == GUID
    # the HMAC the manufacturer got is over the OVHeader bytes, keyed by the stored secret
    assert cbor.loads(body)[0][1] == crypto.hmac_sha256(cred[2], HDR)
    if Store is not None:  # and it is on "flash": a fresh load sees it
        assert Store(fs).get("fdo_cred") == cred
    # DI is over: more messages are refused
    assert raises(fdo.FDOError, d.handle, 13, cbor.dumps([]))


def test_fdo_di_order():
    st, _ = _store()
    d = _dev(st)
    assert raises(fdo.FDOError, d.handle, 11, _set_credentials())   # no AppStart
    d.app_start()
    assert raises(fdo.FDOError, d.handle, 13, cbor.dumps([]))       # Done before SetHMAC
    assert raises(fdo.FDOError, d.handle, 11, _set_credentials())   # that ended the run
    d.app_start()
    assert raises(fdo.FDOError, d.handle, 12, SET_HMAC)             # a device message
    d.app_start()
    assert raises(fdo.FDOError, d.handle, 10, APP_START)
    d.app_start()
    err = cbor.dumps([100, 10, "bad DeviceMfgInfo", 0, None])
    try:
        d.handle(255, err)
        assert False
    except fdo.FDOError as e:
        assert "bad DeviceMfgInfo" in str(e)
    d.app_start()
    d.handle(11, _set_credentials())
    assert raises(fdo.FDOError, d.handle, 11, _set_credentials())   # SetCredentials twice
    assert st.updates == 0 and st.get("fdo_cred") is None
    assert issubclass(fdo.FDOError, ValueError)


def test_fdo_di_malformed():
    st, fs = _store()
    before = dict(fs.files)
    d = _dev(st)
    other = [-16, crypto.sha256(b"another device's chain")]
    bad = [b"", b"\x81", b"\xff", cbor.dumps({1: HDR}), cbor.dumps([HDR, HDR]),
           cbor.dumps([cbor.loads(HDR)]),             # the header not wrapped in a bstr
           _set_credentials(HDR[:-1]), _set_credentials(HDR + b"\x00"),
           _set_credentials(b"\x85" + HDR[1:]),
           _set_credentials(_hdr(0, 100)), _set_credentials(_hdr(1, GUID[:15])),
           _set_credentials(_hdr(2, [])), _set_credentials(_hdr(2, [[[5, "rv.example"]]])),
           _set_credentials(_hdr(3, b"test-model")),
           _set_credentials(_hdr(4, [11, 1, SPKI])),  # SECP384R1: not for this device
           _set_credentials(_hdr(4, [10, 9, SPKI])), _set_credentials(_hdr(4, SPKI)),
           _set_credentials(_hdr(5, other)),           # a header made for another device
           _set_credentials(_hdr(5, None))]
    for body in bad:
        d.app_start()
        assert raises(fdo.FDOError, d.handle, 11, body), body
    d.app_start()
    d.handle(11, _set_credentials())
    assert raises(fdo.FDOError, d.handle, 13, cbor.dumps([0]))      # Done has an empty body
    assert raises(fdo.FDOError, d.handle, 13, b"\x80\x80")
    assert st.updates == 0 and fs.files == before


def test_fdo_di_cut():
    # DI cut anywhere before Done (power loss, a dropped link) leaves the store as it was
    st, fs = _store()
    before = dict(fs.files)
    d = _dev(st)
    d.app_start()
    d.handle(11, _set_credentials())
    d = None  # the board resets: the secret and the credential in RAM are gone
    assert st.updates == 0 and fs.files == before and st.get("fdo_cred") is None
    if Store is not None:
        assert Store(fs).get("fdo_cred") is None
    # a failed write at Done: nothing stored, the run is over, DI can start again
    d = _dev(st)
    d.app_start()
    d.handle(11, _set_credentials())
    st.fail = True
    assert raises(OSError, d.handle, 13, cbor.dumps([]))
    assert raises(fdo.FDOError, d.handle, 13, cbor.dumps([]))
    st.fail = False
    assert st.get("fdo_cred") is None
    d.app_start()
    d.handle(11, _set_credentials())
    assert d.handle(13, cbor.dumps([])) is None
    assert st.updates == 1 and st.get("fdo_cred")[2] == SECRET
