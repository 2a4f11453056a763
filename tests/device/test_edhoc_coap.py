# EDHOC over CoAP (RFC 9528 App. A.2) and the EDHOC + OSCORE request (RFC 9668) from the
# Initiator's side, against an in-memory CoAP server built from imprint's own Responder and
# OSCORE server side. Runs on the board and on CPython (the live peers are in tests/interop).
from imprint import cbor, coap, crypto, edhoc, edhoc_coap, oscore
from imprint.coap_client import Client


def party(name, kid):
    priv, pub = crypto.p256_keypair()
    return priv, cbor.dumps({2: name, 8: {1: {1: 2, 2: kid, -1: 1, -2: pub[1:33], -3: pub[33:]}}})


DEVICE = party("device", b"\x2b")
SERVER = party("server", b"\x0a")


class Server:
    # A CoAP server on a datagram "transport": /.well-known/edhoc (EDHOC responder) and an
    # OSCORE-protected resource /hello. requests: what it received, as (path, has EDHOC
    # option, payload) tuples.
    def __init__(self, trusted=DEVICE[1]):
        self.trusted = trusted
        self.out = []
        self.requests = []
        self.sessions = {}  # C_R -> Responder
        self.ctx = None

    def trust(self, id_cred):
        if id_cred == {4: b"\x2b"} and self.trusted is not None:
            return self.trusted
        raise ValueError("unknown device")

    def send(self, data):
        req = coap.decode(data)
        self.requests.append((req.path(), req.get(coap.EDHOC) is not None, req.payload))
        if req.type == coap.NON:
            return
        try:
            code, payload, opts = self.handle(req)
        except edhoc.EDHOCError as e:
            code, payload, opts = 0x80, e.to_peer or b"", []
        self.out.append(coap.encode(coap.Message(code, req.token, opts, payload, coap.ACK,
                                                 req.mid)))

    def recv(self, timeout_ms):
        return self.out.pop(0) if self.out else None

    def handle(self, req):
        if req.path() == ".well-known/edhoc" and req.payload[:1] == b"\xf5":
            r = edhoc.Responder(SERVER[0], SERVER[1], id_cred={4: b"\x0a"})
            m2 = r.message_2(req.payload[1:])
            self.sessions[r.c_r] = r
            return coap.CHANGED, m2, []
        if req.path() == ".well-known/edhoc":
            c_r, pos = cbor.decode(req.payload, 0)
            r = self.sessions[cbor.dumps(c_r) if type(c_r) is int else c_r]
            return coap.CHANGED, self.finish(r, req.payload[pos:]), []
        if req.get(coap.EDHOC) is not None:  # RFC 9668 §3.3.1: message_3, then OSCORE
            _, kid, _ = oscore.decode_option(req.get(coap.OSCORE))
            _, pos = cbor.decode(req.payload, 0)
            self.finish(self.sessions[kid], req.payload[:pos])
            req.remove(coap.EDHOC)
            req.payload = req.payload[pos:]
        inner, state = oscore.unprotect_request(self.ctx, req)
        assert inner.path() == "hello" and inner.code == coap.GET
        resp = oscore.protect_response(self.ctx, coap.Message(coap.CONTENT, payload=b"hi there"),
                                       state)
        return resp.code, resp.payload, resp.options

    def finish(self, r, message_3):
        r.verify_message_3(message_3, self.trust)
        self.ctx = oscore.Context.from_edhoc(r.oscore_context())
        return r.message_4()


def trust_server(id_cred):
    if id_cred == {4: b"\x0a"}:
        return SERVER[1]
    raise ValueError("unknown server")


def connect(server, **kw):
    ini = edhoc.Initiator(DEVICE[0], DEVICE[1], id_cred={4: b"\x2b"})
    return edhoc_coap.connect(Client(server, ack_timeout_ms=10), ini, trust_server, **kw), ini


def test_message_3_alone_then_oscore():
    s = Server()
    session, ini = connect(s)
    assert ini.ead_4 == []  # message_4 came and verified
    r = session.get("hello")
    assert r.code == coap.CONTENT and r.payload == b"hi there"
    paths = [p for p, _, _ in s.requests]
    assert paths == [".well-known/edhoc", ".well-known/edhoc", ""]  # the OSCORE request's
    assert s.requests[0][2][:1] == b"\xf5"  # Uri-Path is inside the ciphertext


def test_combined_request_saves_a_round_trip():
    s = Server()
    session, _ = connect(s, combined=True)
    assert len(s.requests) == 1  # message_3 not sent yet
    r = session.get("hello")
    assert r.payload == b"hi there"
    assert [e for _, e, _ in s.requests] == [False, True]
    r = session.get("hello")  # later requests: plain OSCORE, no EDHOC option
    assert r.payload == b"hi there" and s.requests[-1][1] is False


def test_untrusted_server_gets_an_error_message():
    s = Server()
    ini = edhoc.Initiator(DEVICE[0], DEVICE[1], id_cred={4: b"\x2b"})

    def nobody(id_cred):
        raise ValueError("not trusted")

    try:
        edhoc_coap.connect(Client(s, ack_timeout_ms=10), ini, nobody)
    except edhoc.EDHOCError:
        pass
    else:
        raise AssertionError("an untrusted server was accepted")
    path, _, payload = s.requests[-1]
    c_r, pos = cbor.decode(payload, 0)
    err_code, pos = cbor.decode(payload, pos)
    assert path == ".well-known/edhoc" and err_code == 1  # C_R || EDHOC error message


def test_server_rejecting_the_device_fails_the_handshake():
    s = Server(trusted=None)
    try:
        connect(s)
    except edhoc.EDHOCError as e:
        assert e.err_code == 1  # the responder's EDHOC error message, from a 4.00
    else:
        raise AssertionError("the handshake succeeded with a server that rejected us")
