# The device's management session after onboarding: EDHOC (RFC 9528) over CoAP, then OSCORE
# (RFC 8613), with the endpoint whose credentials the owner delivered in FDO ServiceInfo
# (store "op_key": the device's private key, made on the device; "op_creds": its CCS and key
# id, the endpoint's CCS and key id, the endpoint URI).
from imprint import coap_client, edhoc, edhoc_coap


class MgmtError(ValueError):
    pass


def endpoint(uri):
    # "coap://host[:port][/...]" -> (host, port)
    if type(uri) is not str or not uri.startswith("coap://"):
        raise MgmtError("the endpoint URI must be coap://host[:port]")
    hp = uri[7:].split("/", 1)[0]
    i = hp.rfind(":")
    if i < 0:
        return hp, 5683
    try:
        return hp[:i], int(hp[i + 1:])
    except ValueError:
        raise MgmtError("the endpoint URI has a bad port: %r" % uri)


def connect(store, datagram_factory, combined=False, ack_timeout_ms=2000):
    # -> an edhoc_coap.Session: .get(path) / .post(path, payload) protected with OSCORE
    c = store.get("op_creds")
    key = store.get("op_key")
    if type(c) is not dict or key is None:
        raise MgmtError("no operational credentials in the store: onboard first")
    host, port = endpoint(c.get("uri"))
    peer = {4: c["peer_kid"]}

    def trust(id_cred):
        if id_cred == peer:
            return c["peer_ccs"]
        raise MgmtError("the endpoint presented a credential the owner did not deliver")
    client = coap_client.Client(datagram_factory(host, port), ack_timeout_ms=ack_timeout_ms)
    ini = edhoc.Initiator(key, c["ccs"], id_cred={4: c["kid"]})
    return edhoc_coap.connect(client, ini, trust, combined=combined)
