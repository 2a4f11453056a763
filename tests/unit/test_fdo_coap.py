"""FDO over CoAP: the rendezvous and owner services on aiocoap (services.fdo_coap), the
owner's TO0 over CoAP, and the device's TO1 + TO2 (fdo.coap_sender on imprint's CoAP client,
block-wise) from CPython and from a virtual board through the relay's datagrams."""

from __future__ import annotations

import cbor2
import pytest

from imprint import transport
from imprint.methods import fdo as dev
from imprint_host.factory import fdo
from imprint_host.services import fdo_coap, fdo_owner, fdo_to2
from imprint_host.services.fdo_rv import RVServer
from test_fdo_to2 import INFO, _di, _state, issuer, keys  # noqa: F401  (fixture)


@pytest.fixture
def rv():
    with RVServer(max_ttl=3600) as srv, fdo_coap.FDOCoAPServer(srv) as coap:
        srv.coap = coap
        yield srv


def _owner(keys, who, rv_url, vouchers=()):
    srv = fdo_owner.OwnerServer(fdo_to2.MemoryVoucherStore(vouchers), keys[who], rv_url,
                                issue=issuer)
    return srv, fdo_coap.FDOCoAPServer(srv).start()


def _onboard(st):
    return dev.onboard(st, transport.SocketStream, INFO,
                       datagram_factory=transport.SocketDatagram)


def test_the_whole_path_over_coap_with_resale(keys, rv):
    st, voucher = _di(keys, rv=rv.coap.url)
    assert dev.rv_targets(st.get("fdo_cred")[dev.DC_RVINFO]) == [
        ("127.0.0.1", rv.coap.port, 6, False)]
    v1 = fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"])
    owner1, coap1 = _owner(keys, "owner", rv.coap.url, [v1])
    owner2 = coap2 = None
    try:
        assert fdo_owner.to0(rv.coap.url, v1, keys["owner"],
                             fdo_owner.rvto2addr(coap1.url)) == 3600
        assert rv.registered == 1
        g1 = _onboard(st)
        assert owner1.onboarded == 1 and rv.redirected == 1 and st.get("op_creds")
        assert owner1.sessions == 0 and rv.sessions == 0
        # the new RV info is the owner's: CoAP again
        assert dev.rv_targets(st.get("fdo_cred")[dev.DC_RVINFO])[0][2] == 6
        sold = fdo.extend(owner1.store.vouchers[g1], keys["owner2"].public_key(),
                          keys["owner"])
        owner2, coap2 = _owner(keys, "owner2", rv.coap.url, [sold])
        fdo_owner.to0(rv.coap.url, sold, keys["owner2"], fdo_owner.rvto2addr(coap2.url))
        g2 = _onboard(st)
        assert g2 != g1 and owner2.store.replaced[g1] == g2
        # the first owner's old voucher, registered again, leads nowhere
        fdo_owner.to0(rv.coap.url, v1, keys["owner"], fdo_owner.rvto2addr(coap1.url))
        before = _state(st)
        with pytest.raises(dev.FDOError, match="code 6"):
            _onboard(st)
        assert _state(st) == before and owner1.onboarded == 1
    finally:
        coap1.stop()
        if coap2 is not None:
            coap2.stop()


def test_errors_are_coap_error_codes_with_the_fdo_error(rv):
    t, body, s = fdo_coap.post(rv.coap.url, 30, cbor2.dumps([b"\x01" * 16, [-7, b""]]))
    err = cbor2.loads(body)
    assert t == 255 and err[0] == 6 and err[1] == 30 and s is None
    # a session message without its session: 4.01, INVALID_JWT_TOKEN
    t, body, _ = fdo_coap.post(rv.coap.url, 32, b"\xa0")
    assert t == 255 and cbor2.loads(body)[0] == 1
    # TO0.Hello opens a session (2.01 + Location-Query), used by the next message
    t, body, s = fdo_coap.post(rv.coap.url, 20, cbor2.dumps([]))
    assert t == 21 and len(cbor2.loads(body)[0]) == 16 and s and rv.sessions == 1
    t, body, _ = fdo_coap.post(rv.coap.url, 22, cbor2.dumps([b"", b""]), session=s)
    assert t == 255 and cbor2.loads(body)[0] == 100 and rv.sessions == 0


def test_device_coap_client_against_raw_replies():
    """The device's CoAP sender maps 2.01 / 2.04 / 4.xx as the binding says."""
    import asyncio
    import threading

    import aiocoap
    import aiocoap.resource as resource
    seen = []

    class Echo(resource.Resource, resource.PathCapable):
        async def render(self, request):
            seen.append((request.opt.uri_path, list(request.opt.uri_query),
                         request.opt.content_format, request.payload))
            t = int(request.opt.uri_path[-1])
            if t == 30:
                m = aiocoap.Message(code=aiocoap.CREATED, payload=b"\x80")
                m.opt.location_query = ["s=abc"]
                return m
            if t == 32:
                return aiocoap.Message(code=aiocoap.CHANGED, payload=b"\x81\x01")
            return aiocoap.Message(code=aiocoap.NOT_FOUND, payload=b"\x85\x06\x18\x22")

    site = resource.Site()
    site.add_resource(["fdo", "101", "msg"], Echo())
    port = fdo_coap.free_udp_port()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def create():
        return await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port))
    ctx = asyncio.run_coroutine_threadsafe(create(), loop).result(10)
    try:
        send = dev.coap_sender(transport.SocketDatagram, "127.0.0.1", port)
        assert send(30, b"\x01") == (31, b"\x80")
        assert send(32, b"\x02") == (33, b"\x81\x01")
        assert send(60, b"\x03") == (255, b"\x85\x06\x18\x22")
        send.close()
    finally:
        asyncio.run_coroutine_threadsafe(ctx.shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    assert seen[0] == (("30",), [], 60, b"\x01")
    assert seen[1][1] == ["s=abc"] and seen[2][1] == ["s=abc"]


def test_virtual_board_over_coap_through_the_relay(keys, rv, tmp_path):
    from imprint_host import deploy, relay
    from imprint_host.board import profiles
    from imprint_host.board.virtual import VirtualBoard

    st, voucher = _di(keys, rv=rv.coap.url)
    v1 = fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"])
    owner1, coap1 = _owner(keys, "owner", rv.coap.url, [v1])
    try:
        fdo_owner.to0(rv.coap.url, v1, keys["owner"], fdo_owner.rvto2addr(coap1.url))
        with VirtualBoard(profiles.load("esp32-devkitc"), flash=tmp_path / "flash") as vb:
            deploy.deploy(vb.port, port="virtual")
            code = f"""
import imprint_port
from imprint.methods import fdo
st = imprint_port.store()
st.update({{"fdo_cred": {st.get("fdo_cred")!r}, "idevid_key": {st.get("idevid_key")!r}}})
g = fdo.onboard(st, imprint_port.stream, {INFO!r}, datagram_factory=imprint_port.datagram)
print(repr((g, st.get("op_creds")["uri"])))
"""
            out, err = relay.run_program(vb.port, code, timeout=300)
        assert err == "", err
        g, uri = eval(out.strip().splitlines()[-1])
        assert owner1.store.replaced[fdo.parse(v1)["guid"]] == g and uri.startswith("coap://")
        assert rv.redirected == 1 and owner1.onboarded == 1
    finally:
        coap1.stop()


def test_cli_services_on_coap(keys, tmp_path):
    """`imprint serve rendezvous --coap-port` and `imprint serve owner --coap-port` with TO0
    over CoAP; the device reaches both over CoAP only."""
    import signal

    from test_fdo_owner_service import _pem, _wait
    from test_fdo_rv_store import _imprint

    rv_port, owner_port = fdo_coap.free_udp_port(), fdo_coap.free_udp_port()
    rv_url = f"coap://127.0.0.1:{rv_port}"
    procs = [_imprint("serve", "rendezvous", "--db", str(tmp_path / "rv.db"), "--port", "0",
                      "--coap-port", str(rv_port))]
    try:
        assert f"and CoAP on {rv_url}" in _wait(procs[0])
        st, voucher = _di(keys, "SN-COAP-CLI", rv=rv_url)
        vfile = tmp_path / "v.ov"
        vfile.write_bytes(fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"]))
        procs.append(_imprint("serve", "owner", "--key", _pem(keys["owner"], tmp_path / "o.pem"),
                              "--db", str(tmp_path / "owner.db"), "--voucher", str(vfile),
                              "--rv", rv_url, "--port", "0", "--coap-port", str(owner_port),
                              "--address", f"coap://127.0.0.1:{owner_port}"))
        head = _wait(procs[1])
        assert "registered for" in head and f"CoAP on coap://127.0.0.1:{owner_port}" in head

        def no_stream(host, port):
            raise AssertionError("no HTTP expected")
        g = dev.onboard(st, no_stream, INFO, datagram_factory=transport.SocketDatagram)
        assert st.get("fdo_cred")[dev.DC_GUID] == g
        for p in procs:
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=15) == 0
        assert "1 device(s) onboarded" in procs[1].stderr.read()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
