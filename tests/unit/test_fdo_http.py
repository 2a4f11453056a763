"""FDO 1.1 DI over HTTP: the host's DI server (imprint_host.services.fdo_http) and the device's
HTTP client (imprint.methods.fdo.di_over_http, firmware code run here on CPython over
transport.SocketStream, and once on a virtual board through `imprint relay`)."""

from __future__ import annotations

import http.client
import socket
import threading
import time

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from imprint import transport
from imprint.methods import fdo as dev
from imprint.store import Store
from fdo_common import MemFS, _cert
from imprint_host.factory import fdo
from imprint_host.services import fdo_http
from imprint_host.services.fdo_http import DIServer

RV = "http://rv.example:8041"


def _raw(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_numbers().private_value.to_bytes(32, "big")


@pytest.fixture(scope="module")
def keys():
    return {n: ec.generate_private_key(ec.SECP256R1()) for n in ("root", "device", "mfg")}


def _board(keys, serial="SN-42"):
    """A device store as the agent leaves it before DI: IDevID key and chain (leaf first)."""
    chain = [_cert(serial, keys["device"].public_key(), "root", keys["root"]),
             _cert("root", keys["root"].public_key(), "root", keys["root"], ca=True)]
    st = Store(MemFS())
    st.update({"serial": serial, "idevid_chain": chain, "idevid_key": _raw(keys["device"])})
    return st


class Recorder:
    def __init__(self, fail=False):
        self.vouchers = []
        self.fail = fail

    def __call__(self, serial, guid, voucher):
        if self.fail:
            raise RuntimeError("database is down")
        self.vouchers.append((serial, guid, voucher))


@pytest.fixture
def server(keys):
    rec = Recorder()
    with DIServer(lambda: fdo.Manufacturer(keys["mfg"], RV), on_voucher=rec) as srv:
        srv.rec = rec
        yield srv


def post(srv, msg_type, body, token=None, *, path=None, headers=None, method="POST"):
    """One request with http.client -> (status, headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    h = {"Content-Type": "application/cbor"}
    if token is not None:
        h["Authorization"] = token
    h.update(headers or {})
    c.request(method, path or f"/fdo/101/msg/{msg_type}", body=body, headers=h)
    r = c.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    c.close()
    return out


def assert_error(reply, code, prev, status=500, match=""):
    status_, h, body = reply
    assert status_ == status, reply
    assert h["message-type"] == "255" and h["content-type"] == "application/cbor"
    e = cbor2.loads(body)
    assert len(e) == 5 and e[0] == code and e[1] == prev and isinstance(e[2], str), e
    assert e[3] is None and e[4] is None    # EMErrorTs, EMErrorCID: null
    assert match in e[2], e[2]
    return e[2]


# --- end to end: the firmware's client against the server ---------------------------------

def test_di_over_http_end_to_end(keys, server):
    st = _board(keys)
    guid = dev.di_over_http(st, "SN-42", "nrf52840-dk", transport.SocketStream, "127.0.0.1",
                            server.port)
    cred = st.get("fdo_cred")
    assert cred[dev.DC_GUID] == guid and len(guid) == 16 and cred[dev.DC_ACTIVE] is True
    # the station got the voucher, once, before the device stored its credential
    [(serial, g, voucher)] = server.rec.vouchers
    assert serial == "SN-42" and g == guid
    v = fdo.verify(voucher, hmac_check=cred[dev.DC_HMAC_SECRET])
    assert v["guid"] == guid and v["device_info"] == "nrf52840-dk"
    assert v["chain"] == st.get("idevid_chain") and v["entries"] == []
    assert fdo.public_key(v["pubkey"]).public_numbers() == \
        keys["mfg"].public_key().public_numbers()
    assert v["rv_info"] == fdo.rendezvous(RV)
    assert server.sessions == 0 and server.completed == 1 and server.failed == 0


def test_several_devices_at_once(keys, server):
    stores = [_board(keys, f"SN-{i}") for i in range(4)]
    guids, errors = {}, []

    def run(i):
        try:
            guids[i] = dev.di_over_http(stores[i], f"SN-{i}", "m", transport.SocketStream,
                                        "127.0.0.1", server.port)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(set(guids.values())) == 4
    by_serial = {s: (g, v) for s, g, v in server.rec.vouchers}
    for i, st in enumerate(stores):
        g, v = by_serial[f"SN-{i}"]
        assert g == guids[i]
        fdo.verify(v, hmac_check=st.get("fdo_cred")[dev.DC_HMAC_SECRET])
    assert server.sessions == 0 and server.completed == 4


def test_the_wire_format(keys, server):
    # what goes over HTTP, message by message, as the FDO HTTP transport has it
    st = _board(keys)
    d = dev.DeviceInit(st, "SN-42", "m")
    status, h, body = post(server, 10, d.app_start())
    assert status == 200 and h["message-type"] == "11" and h["content-type"] == "application/cbor"
    assert h["content-length"] == str(len(body))
    token = h["authorization"]
    assert token.startswith("Bearer ") and len(token) > 40
    assert server.sessions == 1
    t, set_hmac = d.handle(11, body)
    status, h, body = post(server, t, set_hmac, token)
    assert status == 200 and h["message-type"] == "13" and cbor2.loads(body) == []
    assert d.handle(13, body) is None and st.get("fdo_cred") is not None
    assert server.sessions == 0 and len(server.rec.vouchers) == 1
    # a second session gets another token
    status, h2, _ = post(server, 10, dev.DeviceInit(st, "SN-42", "m").app_start())
    assert status == 200 and h2["authorization"] != token


# --- refusals -----------------------------------------------------------------------------

def test_wrong_message_order_is_an_fdo_error(keys, server):
    st = _board(keys)
    d = dev.DeviceInit(st, "SN-42", "m")
    # SetHMAC with no session at all
    assert_error(post(server, 12, cbor2.dumps([[5, bytes(32)]])), 1, 12, match="Authorization")
    # a manufacturer's message sent to the manufacturer, inside a session: the session ends
    _, h, body = post(server, 10, d.app_start())
    token = h["authorization"]
    assert_error(post(server, 11, body, token), 100, 11, match="sent by the manufacturer")
    assert server.sessions == 0
    t, set_hmac = d.handle(11, body)
    assert_error(post(server, 12, set_hmac, token), 1, 12, match="unknown or expired")
    # Done from the device; TO0/TO2 messages; type numbers off the chart
    assert_error(post(server, 13, b"\x80"), 100, 13)
    assert_error(post(server, 20, b"\x80"), 100, 20, match="not a DI message")
    assert_error(post(server, 60, b"\x80"), 100, 60)
    assert_error(post(server, 999, b"\x80"), 100, 0)
    # SetHMAC twice: the first finishes DI, the second finds no session
    d = dev.DeviceInit(st, "SN-42", "m")
    _, h, body = post(server, 10, d.app_start())
    t, set_hmac = d.handle(11, body)
    assert post(server, 12, set_hmac, h["authorization"])[0] == 200
    assert_error(post(server, 12, set_hmac, h["authorization"]), 1, 12)
    assert len(server.rec.vouchers) == 1 and server.sessions == 0


def test_garbage_bodies_are_fdo_errors(keys, server):
    for junk in (b"", b"\xff\x00garbage", b"\x81", cbor2.dumps({"a": 1}), cbor2.dumps([b"x"]),
                 bytes(range(256)) * 4):
        assert_error(post(server, 10, junk), 100, 10, match="AppStart")
    assert server.sessions == 0
    d = dev.DeviceInit(_board(keys), "SN-42", "m")
    for junk in (b"\xff", cbor2.dumps([[5, b"short"]]), cbor2.dumps([[6, bytes(48)]])):
        _, h, _ = post(server, 10, d.app_start())
        assert server.sessions == 1
        assert_error(post(server, 12, junk, h["authorization"]), 100, 12, match="SetHMAC")
        assert server.sessions == 0   # an Error ends the session
    assert server.rec.vouchers == [] and server.completed == 0


def test_unknown_or_expired_token(keys):
    now = [1000.0]
    rec = Recorder()
    with DIServer(lambda: fdo.Manufacturer(keys["mfg"], RV), on_voucher=rec, session_ttl=60,
                  clock=lambda: now[0]) as srv:
        d = dev.DeviceInit(_board(keys), "SN-42", "m")
        _, h, body = post(srv, 10, d.app_start())
        token = h["authorization"]
        t, set_hmac = d.handle(11, body)
        for bad in ("Bearer nonsense", "Bearer ", token.replace("Bearer ", "Basic "),
                    token[:-2], token.replace("Bearer ", "")):
            assert_error(post(srv, 12, set_hmac, bad), 1, 12)
        assert srv.sessions == 1    # guessing does not end someone else's session
        now[0] += 61
        assert srv.sessions == 0
        assert_error(post(srv, 12, set_hmac, token), 1, 12, match="expired")
        assert rec.vouchers == []
        # within the lifetime, the lower-case scheme is accepted (RFC 7235: case-insensitive)
        d = dev.DeviceInit(_board(keys), "SN-42", "m")
        _, h, body = post(srv, 10, d.app_start())
        now[0] += 59
        t, set_hmac = d.handle(11, body)
        assert post(srv, 12, set_hmac, h["authorization"].replace("Bearer", "bearer"))[0] == 200
        assert len(rec.vouchers) == 1


def test_http_level_refusals(keys):
    with DIServer(lambda: fdo.Manufacturer(keys["mfg"], RV), max_body=4096) as srv:
        status, h, _ = post(srv, 10, None, method="GET")
        assert status == 405 and h["allow"] == "POST"
        assert_error(post(srv, 10, b"\x80", path="/fdo/100/msg/10"), 6, 0, status=404)
        assert_error(post(srv, 10, b"\x80", path="/index.html"), 6, 0, status=404)
        assert_error(post(srv, 10, bytes(4097)), 100, 10, match="too large")
        assert_error(post(srv, 10, b"\x80", headers={"Content-Type": "text/plain"}), 100, 10,
                     match="Content-Type")
        # no Content-Length (a raw request: http.client always sends one)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(b"POST /fdo/101/msg/10 HTTP/1.1\r\nHost: x\r\n\r\n")
            r = http.client.HTTPResponse(s)
            r.begin()
            e = cbor2.loads(r.read())
        assert r.status == 500 and r.getheader("Message-Type") == "255" and e[0] == 100
        assert "Content-Length" in e[2]
        assert srv.sessions == 0


def test_session_limit(keys):
    with DIServer(lambda: fdo.Manufacturer(keys["mfg"], RV), max_sessions=2) as srv:
        app_start = dev.DeviceInit(_board(keys), "SN-42", "m").app_start()
        assert post(srv, 10, app_start)[0] == 200
        assert post(srv, 10, app_start)[0] == 200
        assert_error(post(srv, 10, app_start), 500, 10, match="too many")
        assert srv.sessions == 2


def test_voucher_not_recorded_means_no_done(keys):
    # the station could not record the voucher: the device is not told Done, stores nothing
    rec = Recorder(fail=True)
    with DIServer(lambda: fdo.Manufacturer(keys["mfg"], RV), on_voucher=rec) as srv:
        st = _board(keys)
        with pytest.raises(dev.FDOError, match="could not be recorded"):
            dev.di_over_http(st, "SN-42", "m", transport.SocketStream, "127.0.0.1", srv.port)
        assert st.get("fdo_cred") is None and srv.sessions == 0 and srv.completed == 0


class Tamper:
    """A Manufacturer whose SetCredentials header is not for this device (OVHProtVer 100)."""

    def __init__(self, key):
        self.m = fdo.Manufacturer(key, RV)

    def __getattr__(self, name):
        return getattr(self.m, name)

    def di(self, t, body):
        rt, reply = self.m.di(t, body)
        if rt == 11:
            hdr = cbor2.loads(cbor2.loads(reply)[0])
            hdr[0] = 100
            reply = cbor2.dumps([cbor2.dumps(hdr)])
        return rt, reply


def test_device_refusal_is_reported_to_the_server(keys):
    seen = []
    rec = Recorder()
    with DIServer(lambda: Tamper(keys["mfg"]), on_voucher=rec) as srv:
        real = srv.handle

        def spy(t, body, auth=None):
            seen.append((t, body, auth))
            return real(t, body, auth)

        srv.handle = spy
        st = _board(keys)
        with pytest.raises(dev.FDOError, match="OVHProtVer"):
            dev.di_over_http(st, "SN-42", "m", transport.SocketStream, "127.0.0.1", srv.port)
        # the device posted an FDO Error (255) on its session, which ended it
        (t0, _, a0), (t1, err, a1) = seen
        assert t0 == 10 and a0 is None and t1 == 255 and a1 and a1.startswith("Bearer ")
        e = cbor2.loads(err)
        assert e[0] == 100 and e[1] == 11 and "OVHProtVer" in e[2] and e[3] is None
        assert srv.sessions == 0 and rec.vouchers == [] and st.get("fdo_cred") is None


# --- the device's HTTP client against scripted replies -------------------------------------

class Scripted:
    """A stream that answers with fixed bytes, `step` bytes per recv; None: a timeout."""

    def __init__(self, reply, step=1):
        self.reply, self.step, self.sent, self.closed = reply, step, b"", False

    def send(self, data):
        self.sent += bytes(data)

    def recv(self, n, timeout_ms):
        if self.reply is None:
            return None
        out = self.reply[:min(n, self.step)]
        self.reply = self.reply[len(out):]
        return out

    def close(self):
        self.closed = True


def test_device_http_client_parsing():
    ok = (b"HTTP/1.1 200 OK\r\nmessage-type:  11 \r\nAUTHORIZATION: Bearer t0k\r\n"
          b"Content-Length: 3\r\nX-Other: a:b\r\n\r\n\x82\x01\x02")
    s = Scripted(ok, step=1)    # a byte at a time
    assert dev.http_post(s, "10.0.0.1", 8039, 10, b"\x81\x40", "Bearer abc") == \
        (200, 11, "Bearer t0k", b"\x82\x01\x02")
    head, _, body = s.sent.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /fdo/101/msg/10 HTTP/1.1" and body == b"\x81\x40"
    assert {"Host: 10.0.0.1:8039", "Content-Type: application/cbor", "Content-Length: 2",
            "Authorization: Bearer abc", "Connection: close"} <= set(lines[1:])
    assert dev.http_post(Scripted(ok, step=1000), "h", 1, 12, b"")[2] == "Bearer t0k"
    s = Scripted(ok)
    dev.http_post(s, "h", 1, 10, b"")
    assert b"Authorization" not in s.sent
    err = cbor2.dumps([100, 10, "bad", 0, None])
    r = dev.http_post(Scripted(b"HTTP/1.1 500 Internal Server Error\r\nMessage-Type: 255\r\n"
                               b"Content-Length: %d\r\n\r\n" % len(err) + err, 7), "h", 1, 10, b"")
    assert r == (500, 255, None, err)
    bad = [None,                                            # a timeout
           b"",                                             # closed before a reply
           b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",   # closed mid-body
           b"HTTP/1.1 200 OK\r\nMessage-Type: 11\r\n\r\n",       # no Content-Length
           b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nx",
           b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n",
           b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
           b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1\r\n\r\n",
           b"HTTP/1.1 200 OK\r\nX: \xff\xfe\r\n\r\n",
           b"HTTP/1.1 200 OK\r\n" + b"X-Pad: y\r\n" * 400]      # endless headers
    for reply in bad:
        with pytest.raises(dev.FDOError, match="HTTP"):
            dev.http_post(Scripted(reply, 64), "h", 1, 10, b"")


def test_device_client_refuses_bad_replies(keys):
    # an HTTP error without an FDO message, and a 200 without a Message-Type
    for reply, match in ((b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "HTTP 404"),
                         (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "Message-Type")):
        streams = []

        def factory(host, port):
            streams.append(Scripted(reply, 100))
            return streams[-1]

        st = _board(keys)
        with pytest.raises(dev.FDOError, match=match):
            dev.di_over_http(st, "SN-42", "m", factory, "h", 80)
        assert st.get("fdo_cred") is None and all(s.closed for s in streams)
    with pytest.raises(transport.TransportError):   # nobody listening
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        dev.di_over_http(_board(keys), "SN-42", "m", transport.SocketStream, "127.0.0.1", port)


def test_serve_runs_until_stopped(keys):
    got = []
    t = threading.Thread(target=fdo_http.serve, kwargs=dict(
        manufacturer=lambda: fdo.Manufacturer(keys["mfg"], RV), port=0,
        on_voucher=Recorder(), ready=got.append), daemon=True)
    t.start()
    for _ in range(100):
        if got:
            break
        time.sleep(0.05)
    [srv] = got
    assert srv.host == "127.0.0.1" and srv.port > 0
    st = _board(keys)
    dev.di_over_http(st, "SN-42", "m", transport.SocketStream, "127.0.0.1", srv.port)
    assert srv.completed == 1
    srv.stop()
    t.join(5)
    assert not t.is_alive()


# --- a virtual board, through the relay ---------------------------------------------------

def test_virtual_board_di_over_http_through_the_relay(keys, server, tmp_path):
    from imprint_host import deploy, relay
    from imprint_host.board import profiles
    from imprint_host.board.virtual import VirtualBoard

    serial = "NRF-0042"
    dkey = ec.generate_private_key(ec.SECP256R1())
    chain = [_cert(serial, dkey.public_key(), "root", keys["root"]),
             _cert("root", keys["root"].public_key(), "root", keys["root"], ca=True)]
    code = f"""
import imprint_port
from binascii import hexlify
from imprint.methods import fdo
st = imprint_port.store()
st.update({{"serial": {serial!r}, "idevid_key": {_raw(dkey)!r}, "idevid_chain": {chain!r}}})
guid = fdo.di_over_http(st, {serial!r}, "nrf52840-dk", imprint_port.stream, "127.0.0.1",
                        {server.port})
cred = st.get("fdo_cred")
print(hexlify(guid).decode(), hexlify(cred[fdo.DC_HMAC_SECRET]).decode(), cred[fdo.DC_ACTIVE])
"""
    with VirtualBoard(profiles.load("nrf52840-dk"), flash=tmp_path / "flash") as vb:
        deploy.deploy(vb.port, port="virtual")
        out, err = relay.run_program(vb.port, code, timeout=120)
    assert err == "", err
    guid_hex, secret_hex, active = out.split()
    assert active == "True"
    [(got_serial, guid, voucher)] = server.rec.vouchers
    assert got_serial == serial and guid.hex() == guid_hex
    v = fdo.verify(voucher, hmac_check=bytes.fromhex(secret_hex))
    assert v["chain"] == chain and v["device_info"] == "nrf52840-dk"
    assert server.sessions == 0 and server.completed == 1


def test_cli_serve_di_records_each_voucher(keys, tmp_path):
    # `imprint factory serve-di`: the same server from the command line, writing vouchers
    # beside the station's and an audit row per device
    import socket
    import subprocess
    import sys

    from imprint_host.factory.ca import IssuingCA
    from imprint_host.factory.records import Records

    IssuingCA.create(tmp_path / "ca")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cmd = [sys.executable, "-m", "imprint_host.cli", "factory", "serve-di", "--ca", str(tmp_path / "ca"),
           "--db", str(tmp_path / "f.db"), "--out", str(tmp_path / "out"), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        line = proc.stderr.readline()
        assert b"FDO DI over HTTP on" in line, line
        st = _board(keys, "SN-77")
        guid = dev.di_over_http(st, "SN-77", "esp32-devkitc", transport.SocketStream, "127.0.0.1", port)
        voucher = (tmp_path / "out" / "SN-77" / "voucher.fdo").read_bytes()
        assert fdo.verify(voucher, hmac_check=st.get("fdo_cred")[dev.DC_HMAC_SECRET])["guid"] == guid
        events = Records(str(tmp_path / "f.db")).events()
        assert any(e[2] == "SN-77" and e[3] == "voucher" and guid.hex() in e[4] for e in events)
    finally:
        proc.terminate()
        proc.wait(10)
