# The minimal X.509 DER reader: the RFC 9529 §2 certificates and malformed input.
# Runs on the board and on CPython.
from imprint import der
from vectors import raises
from edhoc_trace2 import T2
from vectors import get


def _flip(b, i):
    b = bytearray(b)
    b[i] ^= 1
    return bytes(b)


def test_der_reader_limits():
    cert = get(T2, "CRED_R")
    assert der.public_key(cert)[0] == "ed25519"
    der.walk(cert)
    for bad in (cert[:-1], cert + b"\x00", b"\x30\x80" + cert[2:], b"\x30\x84\x00\x00\x00\xee",
                b"", b"\x1f\x01\x00", bytes(9000), _flip(cert, 0)):
        assert raises(der.DERError, der.public_key, bad)
    assert raises(der.DERError, der.walk, b"\x30\x02\x30\x00\x00")
    deep = b""
    for _ in range(20):  # nesting over der.MAX_DEPTH
        deep = b"\x30" + bytes((len(deep),)) + deep
    assert raises(der.DERError, der.walk, deep)
    assert issubclass(der.DERError, ValueError)
