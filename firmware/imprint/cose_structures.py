# The COSE structures that are signed, MACed or used as AAD (RFC 9052 §4.4, §5.3, §6.3).
# EDHOC and OSCORE need only these; they live apart from imprint.cose (the messages, keys
# and credentials) so that those protocols do not load all of COSE into a board's RAM.
from . import cbor


# RFC 9052 §4.4: Sig_structure = ["Signature1", body_protected, external_aad, payload]
def sig_structure(body_protected, external_aad, payload):
    return cbor.dumps(["Signature1", body_protected, external_aad, payload])


# RFC 9052 §5.3: Enc_structure = ["Encrypt0", protected, external_aad]
def enc_structure(protected, external_aad, context="Encrypt0"):
    return cbor.dumps([context, protected, external_aad])


# RFC 9052 §6.3: MAC_structure = ["MAC0", protected, external_aad, payload]
def mac_structure(protected, external_aad, payload, context="MAC0"):
    return cbor.dumps([context, protected, external_aad, payload])
