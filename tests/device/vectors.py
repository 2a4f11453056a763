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


def get(table, name):
    # the bytes of `name` in a trace table
    i = table.index("\n" + name + " ") + len(name) + 2
    j = i
    n = len(table)
    while True:
        j = table.find("\n", j)
        if j < 0 or j + 1 >= n or table[j + 1] != " ":
            break
        j += 1
    return unhexlify(table[i:j if j >= 0 else n].replace(" ", "").replace("\n", ""))


class MemFS:
    # imprint.store's flash interface, in RAM
    def __init__(self):
        self.files = {}

    def read(self, name):
        return self.files.get(name)

    def write(self, name, parts):
        self.files[name] = b"".join(parts)
