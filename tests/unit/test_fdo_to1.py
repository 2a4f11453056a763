"""FDO 1.1 TO0 and TO1 over HTTP: the rendezvous server (imprint_host.services.fdo_rv), the
owner's TO0 client (fdo_owner) and the device's TO1 client (imprint.methods.fdo.to1, firmware
code run here on CPython over transport.SocketStream, and once on a virtual board through
`imprint relay`)."""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from imprint import transport
from imprint.methods import fdo as dev
from imprint.store import Store
from fdo_common import MemFS, di, raw_key as _raw
from imprint_host.factory import fdo
from imprint_host.services import fdo_owner
from imprint_host.services.fdo_owner import TO0Error
from imprint_host.services.fdo_rv import RVServer, es256_ok

RV = "http://127.0.0.1:8041"
OWNER_URL = "http://owner.example:8042"


@pytest.fixture(scope="module")
def keys():
    return {n: ec.generate_private_key(ec.SECP256R1())
            for n in ("root", "device", "mfg", "owner", "owner2", "other")}


def _di(keys, serial="SN-1", device="device"):
    """DI in-process (DeviceInit against Manufacturer) -> (device store, voucher)."""
    return di(keys, serial, device, RV)


@pytest.fixture(scope="module")
def board(keys):
    st, voucher = _di(keys)
    return st, fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"])


@pytest.fixture
def rv():
    now = [1_700_000_000.0]
    with RVServer(now=lambda: now[0], max_ttl=3600) as srv:
        srv.clock = now
        yield srv


def _to1(st, srv):
    return dev.to1(st, dev.http_sender(transport.SocketStream, "127.0.0.1", srv.port))


# --- the whole path ----------------------------------------------------------------------

def test_to0_then_to1(keys, board, rv):
    st, voucher = board
    addrs = fdo_owner.rvto2addr(OWNER_URL, "https://10.0.0.7:8443")
    assert addrs == [[None, "owner.example", 8042, 3], [bytes([10, 0, 0, 7]), None, 8443, 5]]
    assert fdo_owner.to0(rv.url, voucher, keys["owner"], addrs, wait_seconds=600) == 600
    assert rv.registered == 1 and rv.sessions == 0
    got, to1d = dev.to1(st, dev.http_sender(transport.SocketStream, "127.0.0.1", rv.port), raw=True)
    assert got == addrs and rv.redirected == 1 and rv.sessions == 0
    # RVRedirect is the owner's to1d: signed by the voucher's owner key, hashing to0d
    t = cbor2.loads(to1d)
    assert t.tag == 18 and cbor2.loads(t.value[0]) == {1: -7}
    payload = cbor2.loads(t.value[2])
    assert payload[0] == addrs and payload[1][0] == -16 and len(payload[1][1]) == 32
    assert es256_ok(keys["owner"].public_key(), t.value[0], t.value[2], t.value[3])
    # TO1 again works while the registration lives; the TTL was bounded by max_ttl
    assert fdo_owner.to0(rv.url, voucher, keys["owner"], addrs, wait_seconds=10**6) == 3600
    assert _to1(st, rv) == addrs


def test_the_wire_format(keys, board, rv):
    st, voucher = board
    fdo_owner.to0(rv.url, voucher, keys["owner"], fdo_owner.rvto2addr(OWNER_URL))
    guid = st.get("fdo_cred")[dev.DC_GUID]
    status, mt, token, body = fdo_owner.post("127.0.0.1", rv.port, 30,
                                             cbor2.dumps([guid, [-7, b""]]))
    ack = cbor2.loads(body)
    assert status == 200 and mt == 31 and token.startswith("Bearer ")
    assert len(ack) == 2 and len(ack[0]) == 16 and ack[1] == [-7, b""]
    status, mt, _, body = fdo_owner.post("127.0.0.1", rv.port, 20, cbor2.dumps([]))
    assert status == 200 and mt == 21 and len(cbor2.loads(body)[0]) == 16


# --- refusals, each an FDO Error -----------------------------------------------------------

def test_expired_registration(keys, board, rv):
    st, voucher = board
    assert fdo_owner.to0(rv.url, voucher, keys["owner"], fdo_owner.rvto2addr(OWNER_URL),
                         wait_seconds=60) == 60
    rv.clock[0] += 61
    with pytest.raises(dev.FDOError, match=r"code 6 .*no owner registered"):
        _to1(st, rv)
    assert len(rv.store) == 0


def test_unknown_guid(keys, rv):
    st, _ = _di(keys, "SN-2")      # never registered
    with pytest.raises(dev.FDOError, match=r"code 6 after message 30"):
        _to1(st, rv)


def test_prove_to_rv_signed_by_another_key(keys, board, rv):
    st, voucher = board
    fdo_owner.to0(rv.url, voucher, keys["owner"], fdo_owner.rvto2addr(OWNER_URL))
    impostor = Store(MemFS())
    impostor.update({"fdo_cred": st.get("fdo_cred"), "idevid_key": _raw(keys["other"])})
    with pytest.raises(dev.FDOError, match=r"code 101 after message 32.*device key"):
        _to1(impostor, rv)
    assert rv.redirected == 0 and rv.sessions == 0


def test_to1d_not_signed_by_the_owner(keys, board, rv):
    _, voucher = board
    # the owner-key check in to0() is skipped by speaking the messages directly
    _, _, token, body = fdo_owner.post("127.0.0.1", rv.port, 20, cbor2.dumps([]))
    nonce = cbor2.loads(body)[0]
    bad = fdo_owner.owner_sign(voucher, keys["other"], fdo_owner.rvto2addr(OWNER_URL), 60, nonce)
    status, mt, _, body = fdo_owner.post("127.0.0.1", rv.port, 22, bad, token)
    e = cbor2.loads(body)
    assert (status, mt, e[0], e[1]) == (500, 255, 3, 22) and "owner key" in e[2]
    assert len(rv.store) == 0
    # and the client refuses to try with a key that does not own the voucher
    with pytest.raises(TO0Error, match="current owner"):
        fdo_owner.to0(rv.url, voucher, keys["other"], fdo_owner.rvto2addr(OWNER_URL))


def test_voucher_extended_by_someone_else(keys, board, rv):
    _, voucher = board
    # "other" (not the owner) signs an entry handing the voucher to owner2: same payload as
    # the owner's own extension, "other"'s signature -- the entry chain breaks at entry 1
    v = fdo.parse(voucher)
    honest = fdo.parse(fdo.extend(voucher, keys["owner2"].public_key(), keys["owner"]))
    e = honest["entries"][1]
    r, s_ = decode_dss_signature(keys["other"].sign(
        cbor2.dumps(["Signature1", e["protected"], b"", e["payload_bytes"]]),
        ec.ECDSA(hashes.SHA256())))
    entry = cbor2.dumps(cbor2.CBORTag(18, [e["protected"], {}, e["payload_bytes"],
                                           r.to_bytes(32, "big") + s_.to_bytes(32, "big")]))
    bad = voucher[:v["entries_at"]] + b"\x82" + v["entries"][0]["raw"] + entry
    with pytest.raises(fdo.FDOHostError, match="entry 1: signature"):
        fdo.verify(bad)
    _, _, token, body = fdo_owner.post("127.0.0.1", rv.port, 20, cbor2.dumps([]))
    nonce = cbor2.loads(body)[0]
    msg = fdo_owner.owner_sign(bad, keys["owner2"], fdo_owner.rvto2addr(OWNER_URL), 60, nonce)
    status, mt, _, body = fdo_owner.post("127.0.0.1", rv.port, 22, msg, token)
    e = cbor2.loads(body)
    assert (status, mt, e[0], e[1]) == (500, 255, 2, 22) and "entry 1" in e[2]
    assert len(rv.store) == 0


def test_unextended_voucher_and_session_rules(keys, rv):
    st, voucher = _di(keys, "SN-3")    # no entries: the manufacturer never sold it
    _, _, token, body = fdo_owner.post("127.0.0.1", rv.port, 20, cbor2.dumps([]))
    nonce = cbor2.loads(body)[0]
    msg = fdo_owner.owner_sign(voucher, keys["mfg"], fdo_owner.rvto2addr(OWNER_URL), 60, nonce)
    status, mt, _, body = fdo_owner.post("127.0.0.1", rv.port, 22, msg, token)
    assert cbor2.loads(body)[0] == 2 and "no entries" in cbor2.loads(body)[2]
    # a nonce from another session, no session, a TO1 token for TO0, a DI message
    voucher = fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"])
    _, _, t1, body = fdo_owner.post("127.0.0.1", rv.port, 20, cbor2.dumps([]))
    msg = fdo_owner.owner_sign(voucher, keys["owner"], fdo_owner.rvto2addr(OWNER_URL), 60,
                               bytes(16))
    assert cbor2.loads(fdo_owner.post("127.0.0.1", rv.port, 22, msg, t1)[3])[0] == 101
    assert cbor2.loads(fdo_owner.post("127.0.0.1", rv.port, 22, msg)[3])[0] == 1
    assert cbor2.loads(fdo_owner.post("127.0.0.1", rv.port, 10, b"\x80")[3])[0] == 100
    assert cbor2.loads(fdo_owner.post("127.0.0.1", rv.port, 20, b"\xa0")[3])[0] == 100
    assert rv.sessions == 0 and len(rv.store) == 0 and rv.failed >= 5


def test_device_refuses_a_bad_redirect():
    # a scripted rendezvous server: HelloRVAck, then an RVRedirect that is no to1d
    class Scripted:
        replies = []

        def __init__(self, host, port):
            self.out = Scripted.replies.pop(0)

        def send(self, data):
            pass

        def recv(self, n, timeout_ms):
            b, self.out = self.out[:n], self.out[n:]
            return b

        def close(self):
            pass

    def reply(t, body):
        return (b"HTTP/1.1 200 OK\r\nMessage-Type: %d\r\nContent-Length: %d\r\n\r\n"
                % (t, len(body)) + body)

    st = Store(MemFS())
    st.update({"fdo_cred": [True, 101, bytes(32), "m", bytes(16), [], [-16, bytes(32)]],
               "idevid_key": _raw(ec.generate_private_key(ec.SECP256R1()))})
    ack = reply(31, cbor2.dumps([bytes(16), [-7, b""]]))
    for bad, match in ((cbor2.dumps([1, 2]), "COSE_Sign1"),
                       (cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -7}), {},
                                                       cbor2.dumps([[], [-16, b""]]),
                                                       bytes(64)])), "RVTO2Addr is empty"),
                       (cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -7}), {},
                                                       cbor2.dumps([[[None, None, 1, 3]],
                                                                    [-16, b""]]),
                                                       bytes(64)])), "RVTO2AddrEntry")):
        Scripted.replies = [ack, reply(33, bad)]
        with pytest.raises(dev.FDOError, match=match):
            dev.to1(st, dev.http_sender(Scripted, "h", 1))


# --- a virtual board, through the relay ---------------------------------------------------

def test_virtual_board_to1_through_the_relay(keys, board, rv, tmp_path):
    from imprint_host import deploy, relay
    from imprint_host.board import profiles
    from imprint_host.board.virtual import VirtualBoard

    st, voucher = board
    addrs = fdo_owner.rvto2addr(OWNER_URL)
    fdo_owner.to0(rv.url, voucher, keys["owner"], addrs)
    code = f"""
import imprint_port
from imprint.methods import fdo
st = imprint_port.store()
st.update({{"fdo_cred": {st.get("fdo_cred")!r}, "idevid_key": {st.get("idevid_key")!r}}})
print(repr(fdo.to1(st, fdo.http_sender(imprint_port.stream, "127.0.0.1", {rv.port}))))
"""
    with VirtualBoard(profiles.load("nrf52840-dk"), flash=tmp_path / "flash") as vb:
        deploy.deploy(vb.port, port="virtual")
        out, err = relay.run_program(vb.port, code, timeout=120)
    assert err == "", err
    assert out.strip() == repr(addrs)
    assert rv.redirected == 1 and rv.sessions == 0
