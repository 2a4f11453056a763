"""The operational credentials an owner hands a device in FDO ServiceInfo (`imprint:credentials`):
what the device needs to reach the owner's device-management endpoint with EDHOC (RFC 9528)
and OSCORE (RFC 8613) — its own CCS (RFC 8392 CWT Claims Set with a cnf COSE_Key, RFC 8747)
for the key it made during TO2, the endpoint's CCS, their key ids and the endpoint URI.

    issuer = EndpointIssuer("coap://mgmt.example:5683", endpoint_key)
    creds = issuer(devmod, device_public_key, new_guid)   # the fdo_to2 CredentialIssuer
    issuer.peer_config()   # aiocoap CredentialsMap entries for the devices issued so far
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

EDHOC_SUITE = 2        # RFC 9528 §3.6: AES-CCM-16-64-128, SHA-256, 8, P-256, ES256
EDHOC_METHOD = 3       # static DH both sides


def _xy(pub: ec.EllipticCurvePublicKey) -> tuple[bytes, bytes]:
    n = pub.public_numbers()
    return n.x.to_bytes(32, "big"), n.y.to_bytes(32, "big")


# RFC 8392 §3.1 CWT Claims Set {2 sub, 8 cnf} with RFC 8747 §3.1 cnf {1: COSE_Key}
# (RFC 9053 §7.1.1 EC2, P-256, kid)
def ccs(subject: str, kid: bytes, pub: ec.EllipticCurvePublicKey) -> bytes:
    x, y = _xy(pub)
    return cbor2.dumps({2: subject, 8: {1: {1: 2, 2: kid, -1: 1, -2: x, -3: y}}})


@dataclass
class EndpointIssuer:
    """Issues imprint:credentials for one EDHOC/OSCORE endpoint (its URI and P-256 key).
    Device key ids are fresh random 4-byte values, never the endpoint's."""
    uri: str
    endpoint_key: ec.EllipticCurvePrivateKey
    endpoint_kid: bytes = b"\x0a"
    subject: str = "imprint-mgmt"
    issued: dict[bytes, bytes] = field(default_factory=dict)   # kid -> device CCS
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def endpoint_ccs(self) -> bytes:
        return ccs(self.subject, self.endpoint_kid, self.endpoint_key.public_key())

    def __call__(self, devmod: dict, pub: ec.EllipticCurvePublicKey, guid: bytes) -> dict:
        with self._lock:
            kid = os.urandom(4)
            while kid in self.issued or kid == self.endpoint_kid:
                kid = os.urandom(4)
            name = devmod.get("sn") if isinstance(devmod.get("sn"), str) else guid.hex()
            device = ccs(name, kid, pub)
            self.issued[kid] = device
        return {"ccs": device, "kid": kid, "peer_ccs": self.endpoint_ccs,
                "peer_kid": self.endpoint_kid, "uri": self.uri, "suite": EDHOC_SUITE,
                "method": EDHOC_METHOD}

    def peer_config(self) -> dict:
        """aiocoap CredentialsMap entries (load_from_dict) that let the endpoint accept every
        device issued so far: one ":device-<kid>" entry each."""
        with self._lock:
            return {f":device-{kid.hex()}": {"edhoc-oscore": {
                "suite": EDHOC_SUITE, "method": EDHOC_METHOD,
                "peer_cred": {14: cbor2.loads(c)}}} for kid, c in self.issued.items()}
