"""The owner's device-management endpoint: an aiocoap server speaking EDHOC (RFC 9528, method 3,
suite 2) and OSCORE (RFC 8613) with the devices an EndpointIssuer gave credentials to during FDO
TO2. One resource for now, GET /mgmt/hello -> CBOR {"hello": device subject, "n": requests}.

    issuer = EndpointIssuer(endpoint.uri, endpoint.key)   # hand it to the owner service
    with ManagementEndpoint(key) as ep:                   # ep.uri: coap://127.0.0.1:PORT
        ep.allow(issuer)          # after onboarding: accept every device issued so far
"""

from __future__ import annotations

import threading

import aiocoap
import aiocoap.resource as resource
import cbor2
from aiocoap.credentials import CredentialsMap
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper
from cryptography.hazmat.primitives.asymmetric import ec

from .credentials import EDHOC_METHOD, EDHOC_SUITE, EndpointIssuer, ccs
from .fdo_coap import CoAPThread


class _Hello(resource.Resource):
    def __init__(self, ep: "ManagementEndpoint") -> None:
        super().__init__()
        self.ep = ep

    async def render_get(self, request):
        with self.ep._lock:
            self.ep.requests += 1
            n = self.ep.requests
        claims = getattr(request.remote, "authenticated_claims", None) or []
        who = next((c for c in claims if isinstance(c, str)), "a device")
        return aiocoap.Message(payload=cbor2.dumps({"hello": who, "n": n}),
                               content_format=60)


class ManagementEndpoint(CoAPThread):
    """ManagementEndpoint(key, host="127.0.0.1", port=0, kid=b"\\x0a"): key is the endpoint's
    P-256 private key; its CCS (subject "imprint-mgmt") is what issuers hand to devices."""

    name = "mgmt-endpoint"

    def __init__(self, key: ec.EllipticCurvePrivateKey, host: str = "127.0.0.1", port: int = 0,
                 kid: bytes = b"\x0a", subject: str = "imprint-mgmt") -> None:
        self.key, self.kid, self.subject = key, kid, subject
        self.requests = 0
        self._lock = threading.Lock()
        creds = CredentialsMap()
        root = resource.Site()
        root.add_resource(["mgmt", "hello"], _Hello(self))
        super().__init__(OscoreSiteWrapper(root, creds), host, port, creds)
        d = key.private_numbers().private_value.to_bytes(32, "big")
        creds.load_from_dict({f"coap://{host}:{self.port}/*": {"edhoc-oscore": {
            "suite": EDHOC_SUITE, "method": EDHOC_METHOD, "own_cred_style": "by-key-id",
            "own_cred": {14: cbor2.loads(self.ccs)}, "private_key": {1: 2, -1: 1, -4: d}}}})

    @property
    def uri(self) -> str:
        return self.url

    @property
    def ccs(self) -> bytes:
        return ccs(self.subject, self.kid, self.key.public_key())

    def issuer(self) -> EndpointIssuer:
        """An issuer of credentials for this endpoint (give it to the owner service)."""
        return EndpointIssuer(self.uri, self.key, self.kid, self.subject)

    def allow(self, issuer: EndpointIssuer) -> None:
        """Accept the devices `issuer` has given credentials to (call after onboarding)."""
        self.credentials.load_from_dict(issuer.peer_config())
