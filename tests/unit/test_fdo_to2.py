"""FDO 1.1 TO2 over HTTP: the device (imprint.methods.fdo_to2, firmware code run here on
CPython over transport.SocketStream) against the owner service (imprint_host.services
.fdo_owner.OwnerServer on fdo_to2.TO2Run), after TO0/TO1 with the rendezvous server."""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from imprint import transport
from imprint.methods import fdo as dev
from imprint.methods import fdo_to2 as dev2
from fdo_common import _cert, di, raw_key as _raw
from imprint_host.factory import fdo
from imprint_host.services import fdo_owner, fdo_to2
from imprint_host.services.fdo_rv import RVServer

RV = "http://127.0.0.1:8041"
INFO = {"os": "MicroPython", "arch": "armv7emsp", "version": "1.27.0",
        "device": "nrf52840-dk", "sn": "SN-1"}


@pytest.fixture(scope="module")
def keys():
    return {n: ec.generate_private_key(ec.SECP256R1())
            for n in ("root", "device", "mfg", "owner", "owner2", "other")}


def _di(keys, serial="SN-1", device="device", rv=RV):
    return di(keys, serial, device, rv)


def issuer(devmod, pub, guid):
    n = pub.public_numbers()
    ccs = cbor2.dumps({2: devmod.get("sn", guid.hex()),
                       8: {1: {1: 2, 2: b"\x2b", -1: 1, -2: n.x.to_bytes(32, "big"),
                               -3: n.y.to_bytes(32, "big")}}})
    return {"ccs": ccs, "kid": b"\x2b", "uri": "coap://127.0.0.1:5683/.well-known/edhoc",
            "peer_ccs": b"\xa0", "peer_kid": b"\x01"}


@pytest.fixture
def owner(keys):
    srv = fdo_owner.OwnerServer(fdo_to2.MemoryVoucherStore(), keys["owner"],
                                "http://127.0.0.1:8041", issue=issuer)
    with srv:
        yield srv


def _sender(srv):
    return dev.http_sender(transport.SocketStream, "127.0.0.1", srv.port)


def test_to2_delivers_credentials_and_replaces_the_credential(keys, owner):
    st, voucher = _di(keys)
    voucher = fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"])
    old = owner.store.add(voucher)
    cred0 = st.get("fdo_cred")
    new_guid = dev2.to2(st, _sender(owner), info=INFO)
    assert owner.onboarded == 1 and owner.sessions == 0
    cred = st.get("fdo_cred")
    assert new_guid == cred[dev.DC_GUID] != cred0[dev.DC_GUID]
    assert owner.store.replaced[old] == new_guid
    assert cred[dev.DC_HMAC_SECRET] != cred0[dev.DC_HMAC_SECRET]
    # the replacement voucher verifies with the device's new secret and names the owner key
    nv = owner.store.vouchers[new_guid]
    v = fdo.verify(nv, cred[dev.DC_HMAC_SECRET])
    assert v["guid"] == new_guid and v["entries"] == []
    assert fdo.key_id(fdo.public_key(v["pubkey"])) == fdo.key_id(keys["owner"].public_key())
    assert cred[dev.DC_PUBKEY_HASH] == [-16, fdo.sha256(cbor2.dumps(v["pubkey"]))]
    # the operational credentials: the CCS holds the key the device made and kept
    creds = st.get("op_creds")
    k = cbor2.loads(creds["ccs"])[8][1]
    pub = ec.derive_private_key(int.from_bytes(st.get("op_key"), "big"),
                                ec.SECP256R1()).public_key().public_numbers()
    assert (k[-2], k[-3]) == (pub.x.to_bytes(32, "big"), pub.y.to_bytes(32, "big"))
    info = owner.store.onboarded[new_guid]
    assert info["devmod"]["device"] == "nrf52840-dk" and info["devmod"]["modules"] == [
        0, 2, "devmod", "imprint"]
    # the voucher still proves the device for its next owner: extend, then the device
    # verifies the chain to owner2 with its new credential
    nv2 = fdo.extend(nv, keys["owner2"].public_key(), keys["owner"])
    assert dev.voucher_owner(st, nv2)


def _state(st) -> tuple:
    return st.get("fdo_cred"), st.get("op_creds"), st.get("op_key")


@pytest.fixture
def rv():
    with RVServer(max_ttl=3600) as srv:
        yield srv


def _owner(keys, who, rv_url, vouchers=()):
    return fdo_owner.OwnerServer(fdo_to2.MemoryVoucherStore(vouchers), keys[who], rv_url,
                                 issue=issuer).start()


def test_the_whole_path_with_resale(keys, rv):
    """DI -> extend to owner -> TO0 -> the device's TO1 + TO2 -> credentials; then resale:
    owner extends the replacement voucher to owner2, TO0 again, TO2 again; the first owner
    cannot onboard the device any more."""
    st, voucher = _di(keys, rv=rv.url)
    owner1 = _owner(keys, "owner", rv.url, [fdo.extend(voucher, keys["owner"].public_key(),
                                                       keys["mfg"])])
    try:
        fdo_owner.to0(rv.url, owner1.store.vouchers[fdo.parse(voucher)["guid"]], keys["owner"],
                      fdo_owner.rvto2addr(owner1.url))
        g1 = dev.onboard(st, transport.SocketStream, INFO)
        assert rv.redirected == 1 and owner1.onboarded == 1
        assert st.get("op_creds")["uri"].startswith("coap://")
        # the device's next rendezvous is the owner's choice (here the same server)
        assert dev.rv_targets(st.get("fdo_cred")[dev.DC_RVINFO]) == [
            ("127.0.0.1", rv.port, 1, False)]
        # resale: owner1 extends the replacement voucher to owner2
        sold = fdo.extend(owner1.store.vouchers[g1], keys["owner2"].public_key(), keys["owner"])
        owner2 = _owner(keys, "owner2", rv.url, [sold])
        try:
            fdo_owner.to0(rv.url, sold, keys["owner2"], fdo_owner.rvto2addr(owner2.url))
            g2 = dev.onboard(st, transport.SocketStream, INFO)
            assert g2 != g1 and owner2.onboarded == 1 and owner2.store.replaced[g1] == g2
            # the first owner: TO0 with its old vouchers is possible, but the device now has
            # another GUID and secret, so its TO2 cannot start
            before = _state(st)
            with pytest.raises(dev.FDOError, match="code 6 .*no voucher"):
                dev2.to2(st, _sender(owner1), info=INFO)
            assert _state(st) == before
        finally:
            owner2.stop()
    finally:
        owner1.stop()


def _lenient_verify(monkeypatch):
    """A rogue owner: its service does not check the voucher it presents (the device must)."""
    def verify(voucher, hmac_check=None):
        v = fdo.parse(voucher)
        v["owner_key"] = fdo.public_key(v["entries"][-1]["pubkey"] if v["entries"]
                                        else v["pubkey"])
        return v
    monkeypatch.setattr(fdo, "verify", verify)


def _entry_by(voucher: bytes, signer, new_owner) -> bytes:
    """Append an entry signed by any key (extend() refuses a signer that is not the owner)."""
    v = fdo.parse(voucher)
    prev = fdo.sha256(v["entries"][-1]["raw"]) if v["entries"] else fdo.sha256(
        v["header_bytes"], v["hmac_raw"])
    payload = cbor2.dumps([[-16, prev], [-16, fdo.sha256(v["guid"], v["device_info"].encode())],
                           None, fdo.public_key_struct(new_owner.public_key())])
    entry = fdo_to2.sign1(signer, payload, {})
    n = len(v["entries"]) + 1
    return (v["data"][:v["entries_at"]] + bytes([0x80 + n])
            + b"".join(e["raw"] for e in v["entries"]) + entry)


def _run_refused(keys, voucher_for_owner, st, match, who="owner"):
    before = _state(st)
    srv = _owner(keys, who, RV)
    srv.store.vouchers[st.get("fdo_cred")[dev.DC_GUID]] = voucher_for_owner
    try:
        with pytest.raises(dev.FDOError, match=match):
            dev2.to2(st, _sender(srv), info=INFO)
        assert srv.onboarded == 0 and srv.sessions == 0     # the device's Error ended it
    finally:
        srv.stop()
    assert _state(st) == before


def test_refused_a_voucher_extended_by_someone_else(keys, monkeypatch):
    st, voucher = _di(keys)
    v1 = fdo.extend(voucher, keys["owner2"].public_key(), keys["mfg"])
    forged = _entry_by(v1, keys["other"], keys["owner"])     # owner2 is the owner, not other
    _lenient_verify(monkeypatch)
    _run_refused(keys, forged, st, r"entry 1: signature does not verify")


def test_refused_a_tampered_ovheader(keys, monkeypatch):
    st, voucher = _di(keys)
    v = fdo.parse(voucher)
    hdr = cbor2.loads(v["header_bytes"])
    hdr[3] = "another-model"
    tampered = cbor2.dumps([101, cbor2.dumps(hdr), v["hmac"], v["chain"], []])
    tampered = fdo.extend(tampered, keys["owner"].public_key(), keys["mfg"])
    _lenient_verify(monkeypatch)
    _run_refused(keys, tampered, st, r"OVHeaderHMac does not verify")


def test_refused_a_wrong_device_hmac(keys, monkeypatch):
    st, voucher = _di(keys)
    v = fdo.parse(voucher)
    bad = cbor2.dumps([101, v["header_bytes"], [5, bytes(32)], v["chain"], []])
    bad = fdo.extend(bad, keys["owner"].public_key(), keys["mfg"])
    _run_refused(keys, bad, st, r"OVHeaderHMac does not verify")


def test_refused_another_devices_voucher(keys):
    st, _ = _di(keys)
    _, other = _di(keys, "SN-2", "other")
    _run_refused(keys, fdo.extend(other, keys["owner"].public_key(), keys["mfg"]), st,
                 r"GUID is not this device's")


def test_refused_an_owner_without_the_key(keys, monkeypatch):
    """The voucher names owner, the service signs with owner2 (it stole the voucher)."""
    st, voucher = _di(keys)
    _lenient_verify(monkeypatch)
    monkeypatch.setattr(fdo, "key_id", lambda pub: "same")
    _run_refused(keys, fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"]), st,
                 r"not signed by the voucher's owner", who="owner2")


def test_expired_to0_leaves_the_device_as_it_was(keys):
    now = [1_700_000_000.0]
    with RVServer(now=lambda: now[0], max_ttl=3600) as rv:
        st, voucher = _di(keys, rv=rv.url)
        v = fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"])
        owner = _owner(keys, "owner", rv.url, [v])
        try:
            fdo_owner.to0(rv.url, v, keys["owner"], fdo_owner.rvto2addr(owner.url),
                          wait_seconds=60)
            now[0] += 61
            before = _state(st)
            with pytest.raises(dev.FDOError, match=r"code 6 .*no owner registered"):
                dev.onboard(st, transport.SocketStream, INFO)
            assert _state(st) == before and owner.onboarded == 0
            # registered again, the same device onboards
            fdo_owner.to0(rv.url, v, keys["owner"], fdo_owner.rvto2addr(owner.url))
            assert dev.onboard(st, transport.SocketStream, INFO) != before[0][dev.DC_GUID]
        finally:
            owner.stop()


class Recorder:
    """A device-side sender that records every exchange and can alter one."""

    def __init__(self, send, alter=None):
        self.send, self.alter, self.log = send, alter, []

    def __call__(self, t, body):
        rt, reply = self.send(t, body)
        if self.alter is not None:
            rt, reply = self.alter(t, rt, reply)
        self.log.append((t, body, rt, reply))
        return rt, reply


def test_replayed_messages_are_refused(keys, owner):
    st, voucher = _di(keys)
    owner.store.add(fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"]))
    rec = Recorder(_sender(owner))
    g1 = dev2.to2(st, rec, info=INFO)
    old = dict((t, (body, reply)) for t, body, _, reply in rec.log)
    # to the owner: the first run's ProveDevice in a new session (fresh HelloDevice)
    send = _sender(owner)
    t, _ = send(60, old[60][0])
    assert t == 61
    t, body = send(64, old[64][0])
    assert t == 255 and cbor2.loads(body)[0] == 101 and "nonce" in cbor2.loads(body)[2]
    # the whole finished session replayed message by message: the token is gone
    t, body = send(66, old[66][0])
    assert t == 255 and cbor2.loads(body)[0] == 1
    # to the device: an earlier ProveOVHdr answering a new HelloDevice
    st2, voucher2 = _di(keys, "SN-3")
    owner.store.add(fdo.extend(voucher2, keys["owner"].public_key(), keys["mfg"]))
    rec2 = Recorder(_sender(owner))
    dev2.to2(st2, rec2, info=INFO)
    before = _state(st2)
    replay = Recorder(_sender(owner), lambda t, rt, r: (61, rec2.log[0][3]) if t == 60
                      else (rt, r))
    with pytest.raises(dev.FDOError, match="NonceTO2ProveOV is not the one sent"):
        dev2.to2(st2, replay, info=INFO)
    assert _state(st2) == before and g1


def test_a_tampered_encrypted_message_is_a_mac_failure(keys, owner):
    st, voucher = _di(keys)
    owner.store.add(fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"]))
    before = _state(st)

    def flip(t, rt, reply):
        if rt == 65:
            reply = reply[:-3] + bytes([reply[-3] ^ 1]) + reply[-2:]
        return rt, reply
    with pytest.raises(dev.FDOError, match="MAC failure"):
        dev2.to2(st, Recorder(_sender(owner), flip), info=INFO)
    assert _state(st) == before and owner.sessions == 0


def test_cipher_suite_256(keys, owner):
    st, voucher = _di(keys)
    owner.store.add(fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"]))
    assert dev2.to2(st, _sender(owner), info=INFO, cipher=33) == st.get("fdo_cred")[4]
    with pytest.raises(dev.FDOError, match="cipher suite 1 is not one this device runs"):
        dev2.to2(st, _sender(owner), info=INFO, cipher=1)


# --- a virtual board, through the relay ---------------------------------------------------

def test_virtual_board_onboards_and_is_resold(keys, rv, tmp_path):
    """The whole story on a virtual board (nrf52840-dk profile, no network), every device step
    on the board through `imprint relay`: FDO DI with the manufacturer's DI server, then (the
    voucher extended to owner, TO0) TO1 and TO2; then resale to owner2; then the first owner,
    registered again with its old voucher, cannot onboard it."""
    from imprint_host import deploy, relay
    from imprint_host.board import profiles
    from imprint_host.board.virtual import VirtualBoard
    from imprint_host.services.fdo_http import DIServer

    chain = [_cert("SN-VB", keys["device"].public_key(), "root", keys["root"]),
             _cert("root", keys["root"].public_key(), "root", keys["root"], ca=True)]
    vouchers = {}
    owner1 = owner2 = None
    onboard = f"""
import imprint_port, gc
from imprint.methods import fdo
st = imprint_port.store()
gc.collect()
g = fdo.onboard(st, imprint_port.stream, {INFO!r})
c = st.get("op_creds")
print(repr((g, st.get("fdo_cred")[4], c["uri"], c["kid"], len(st.get("op_key")))))
"""
    try:
        with VirtualBoard(profiles.load("nrf52840-dk"), flash=tmp_path / "flash") as vb, \
                DIServer(lambda: fdo.Manufacturer(keys["mfg"], rv.url),
                         on_voucher=lambda sn, g, v: vouchers.update({sn: v})) as di:
            deploy.deploy(vb.port, port="virtual")
            out, err = relay.run_program(vb.port, f"""
import imprint_port
from imprint.methods import fdo
st = imprint_port.store()
st.update({{"idevid_chain": {chain!r}, "idevid_key": {_raw(keys["device"])!r}}})
print(fdo.di_over_http(st, "SN-VB", "nrf52840-dk", imprint_port.stream, "127.0.0.1",
                       {di.port}).hex())
""", timeout=120)
            assert err == "", err
            v0 = vouchers["SN-VB"]
            assert out.strip().splitlines()[-1] == fdo.parse(v0)["guid"].hex()
            v1 = fdo.extend(v0, keys["owner"].public_key(), keys["mfg"])
            owner1 = _owner(keys, "owner", rv.url, [v1])
            fdo_owner.to0(rv.url, v1, keys["owner"], fdo_owner.rvto2addr(owner1.url))
            out, err = relay.run_program(vb.port, onboard, timeout=300)
            assert err == "", err
            g1, stored, uri, kid, n = eval(out.strip().splitlines()[-1])
            assert g1 == stored and owner1.store.replaced[fdo.parse(v1)["guid"]] == g1
            assert uri.startswith("coap://") and kid == b"\x2b" and n == 32
            # resale
            sold = fdo.extend(owner1.store.vouchers[g1], keys["owner2"].public_key(),
                              keys["owner"])
            owner2 = _owner(keys, "owner2", rv.url, [sold])
            fdo_owner.to0(rv.url, sold, keys["owner2"], fdo_owner.rvto2addr(owner2.url))
            out, err = relay.run_program(vb.port, onboard, timeout=300)
            assert err == "", err
            g2 = eval(out.strip().splitlines()[-1])[0]
            assert g2 != g1 and owner2.store.replaced[g1] == g2 and owner2.onboarded == 1
            # the first owner registers its old voucher again: the board cannot be onboarded
            # by it (that registration is for a GUID the board no longer has)
            fdo_owner.to0(rv.url, v1, keys["owner"], fdo_owner.rvto2addr(owner1.url))
            out, err = relay.run_program(vb.port, onboard, timeout=300)
            assert "FDOError" in err and "code 6" in err, (out, err)
            assert owner1.onboarded == 1
    finally:
        for o in (owner1, owner2):
            if o is not None:
                o.stop()


def test_delivered_credentials_open_an_edhoc_oscore_session(keys):
    """After TO2 the device reaches the owner's management endpoint (aiocoap, EDHOC method 3
    + OSCORE) with the credentials the owner delivered (imprint.mgmt on CPython)."""
    from imprint import mgmt
    from imprint_host.services.endpoint import ManagementEndpoint

    with ManagementEndpoint(keys["other"]) as ep:
        iss = ep.issuer()
        srv = fdo_owner.OwnerServer(fdo_to2.MemoryVoucherStore(), keys["owner"], RV,
                                    issue=iss).start()
        try:
            st, voucher = _di(keys)
            srv.store.add(fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"]))
            dev2.to2(st, _sender(srv), info=INFO)
        finally:
            srv.stop()
        ep.allow(iss)
        session = mgmt.connect(st, transport.SocketDatagram)
        r = session.get("mgmt/hello")
        assert r.code == 0x45 and cbor2.loads(r.payload)["n"] == 1
        assert mgmt.endpoint("coap://h:1/x") == ("h", 1) and mgmt.endpoint("coap://h") == (
            "h", 5683)
        # a device that was never issued credentials gets no session
        st2, _ = _di(keys, "SN-9")
        with pytest.raises(mgmt.MgmtError, match="onboard first"):
            mgmt.connect(st2, transport.SocketDatagram)


def test_an_owner_that_never_answers_is_a_timeout(keys, rv):
    """TO1 names an owner address that accepts connections and never replies: onboard gives
    up after its timeout, the device is as it was, and it onboards later with a live owner."""
    import socket
    import threading

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    held = []
    stop = threading.Event()

    def accept():
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                pass
    threading.Thread(target=accept, daemon=True).start()
    st, voucher = _di(keys, rv=rv.url)
    v1 = fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"])
    try:
        fdo_owner.to0(rv.url, v1, keys["owner"],
                      fdo_owner.rvto2addr(f"http://127.0.0.1:{silent.getsockname()[1]}"))
        before = _state(st)
        with pytest.raises(dev.FDOError, match="no reply within 300 ms"):
            dev.onboard(st, transport.SocketStream, INFO, timeout_ms=300)
        assert _state(st) == before
    finally:
        stop.set()
        silent.close()
        for c in held:
            c.close()
    owner = _owner(keys, "owner", rv.url, [v1])
    try:
        fdo_owner.to0(rv.url, v1, keys["owner"], fdo_owner.rvto2addr(owner.url))
        assert dev.onboard(st, transport.SocketStream, INFO) == st.get("fdo_cred")[4]
    finally:
        owner.stop()
