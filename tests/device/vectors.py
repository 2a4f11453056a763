# Helpers the device tests share: hex in and out, vector tables, expected exceptions.
# Deployed beside the tests (it is not a test module); MicroPython and CPython alike.
import sys
from binascii import hexlify, unhexlify

MICROPYTHON = sys.implementation.name == "micropython"


def h(s):
    return unhexlify(s)


def hx(b):
    return hexlify(b).decode()


def rows(table):
    # the vectors of a table: a list of fields per line, hex-decoded ("-" is empty)
    return [[b"" if f == "-" else unhexlify(f) for f in line.split()]
            for line in table.split("\n") if line]


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc:
        return True
    return False
