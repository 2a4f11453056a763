# EDHOC over CoAP for the Initiator as CoAP client (RFC 9528 Appendix A.2), then OSCORE with
# the context EDHOC exports (Appendix A.1); message_3 either alone or riding on the first
# OSCORE request (the EDHOC + OSCORE request of RFC 9668).
from . import coap, coap_client, edhoc, oscore

try:
    from micropython import const
except ImportError:
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

WELL_KNOWN = ".well-known/edhoc"
CF_EDHOC = const(64)  # application/edhoc+cbor-seq (RFC 9528 §10.9)
CF_CID_EDHOC = const(65)  # application/cid-edhoc+cbor-seq
_TRUE = b"\xf5"  # RFC 9528 A.2: message_1 is preceded by CBOR true (no C_x to correlate)


class Session:
    # OSCORE-protected requests over a CoAP client; each block exchange is protected alone.
    def __init__(self, client, ctx):
        self.client = client
        self.ctx = ctx
        self._message_3 = None  # set until the first request carries it (RFC 9668)

    def request(self, code, path, payload=b"", options=()):
        ctx = self.ctx
        state = [None]

        def protect(msg):
            outer, state[0] = oscore.protect_request(ctx, msg)
            if self._message_3 is not None:
                # RFC 9668 §3.2.1: EDHOC option, payload = EDHOC_MSG_3 || OSCORE ciphertext
                outer.add(coap.EDHOC, b"")
                outer.payload = self._message_3 + outer.payload
                self._message_3 = None
            return outer

        def unprotect(msg):
            if msg.get(coap.OSCORE) is None:
                # RFC 8613 §8.2: a server that could not verify answers unprotected
                raise oscore.OSCOREError("unprotected %s answer: %s" % (
                    coap.code_str(msg.code), bytes(msg.payload).decode()), msg.code)
            return oscore.unprotect_response(ctx, msg, state[0])

        return self.client.request(code, path, payload, options, protect=protect,
                                   unprotect=unprotect)

    def get(self, path, options=()):
        return self.request(coap.GET, path, b"", options)

    def post(self, path, payload, options=()):
        return self.request(coap.POST, path, payload, options)


def _edhoc_post(client, path, payload):
    r = client.request(coap.POST, path, payload,
                       [(coap.CONTENT_FORMAT, coap.uint_option(CF_CID_EDHOC))])
    if r.code != coap.CHANGED and not (r.code >= 0x80 and r.payload):
        raise edhoc.EDHOCError("EDHOC responder answered %s" % coap.code_str(r.code))
    return r  # errors carry an EDHOC error message, which the Initiator recognises


# RFC 9528 A.2: the Initiator's EDHOC error message, C_R || error, in a POST; best effort
# (non-confirmable, no wait): the handshake has failed whatever the responder answers
def _report(client, path, initiator, e):
    if e.to_peer is None or initiator.c_r is None:
        return
    msg = coap.Message(coap.POST, client.rand(4), coap_client.uri_options(path) +
                       [(coap.CONTENT_FORMAT, coap.uint_option(CF_CID_EDHOC))],
                       edhoc.encode_id(initiator.c_r) + e.to_peer, coap.NON,
                       client._next_mid())
    try:
        client.t.send(coap.encode(msg))
    except OSError:
        pass


# RFC 9528 A.2: POST true||message_1 -> message_2; POST C_R||message_3 -> (message_4)
def connect(client, initiator, trust, *, combined=False, ead_1=(), ead_3=(), path=WELL_KNOWN):
    # Runs the handshake; returns a Session. With combined=True, message_3 is not sent here
    # but with the Session's first request (RFC 9668), saving a round trip.
    r = _edhoc_post(client, path, _TRUE + initiator.message_1(ead_1))
    try:
        message_3 = initiator.message_3(r.payload, trust, ead_3)
    except edhoc.EDHOCError as e:
        _report(client, path, initiator, e)
        raise
    if combined:
        initiator.complete()
    else:
        r = _edhoc_post(client, path, edhoc.encode_id(initiator.c_r) + message_3)
        initiator.complete(r.payload or None)  # message_4; an EDHOC error message raises
        if r.code != coap.CHANGED:
            raise edhoc.EDHOCError("EDHOC responder answered %s" % coap.code_str(r.code))
    session = Session(client, oscore.Context.from_edhoc(initiator.oscore_context()))
    if combined:
        session._message_3 = message_3
    return session
