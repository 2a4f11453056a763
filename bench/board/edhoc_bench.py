# Board side of bench/edhoc.py (also run under CPython): EDHOC handshakes per method and
# cipher suite, milliseconds spent on each side, message sizes; OSCORE protect times.
# Prints one "ROW|..." line per measurement.
import time

from imprint import cbor, coap, crypto, edhoc, oscore

try:
    _us = time.ticks_us
    _diff = time.ticks_diff
except AttributeError:  # CPython
    def _us():
        return int(time.perf_counter() * 1000000)

    def _diff(a, b):
        return a - b


def party(suite, signs, name, kid):
    # (private key, CCS) for a party that signs or does static DH in this suite
    if suite == 2:
        priv, pub = crypto.p256_keypair()
        key = {1: 2, 2: kid, -1: 1, -2: pub[1:33], -3: pub[33:]}
    elif signs:
        priv = crypto.random_bytes(32)
        key = {1: 1, 2: kid, -1: 6, -2: crypto.ed25519_public(priv)}
    else:
        priv = crypto.random_bytes(32)
        key = {1: 1, 2: kid, -1: 4, -2: crypto.x25519_base(priv)}
    return priv, cbor.dumps({2: name, 8: {1: key}})


def handshake(method, suite, i, r, clock):
    # One handshake; clock[0] += initiator µs, clock[1] += responder µs. Returns the messages.
    # trust_i: what the initiator trusts (the responder's CCS), trust_r the other way
    def trust_i(id_cred):
        return r[1]

    def trust_r(id_cred):
        return i[1]

    t = _us()
    ini = edhoc.Initiator(i[0], i[1], method=method, suites=(suite,), id_cred={4: b"\x2b"})
    m1 = ini.message_1()
    t1 = _us()
    resp = edhoc.Responder(r[0], r[1], method=method, suites=(suite,), id_cred={4: b"\x0a"})
    m2 = resp.message_2(m1)
    t2 = _us()
    m3 = ini.message_3(m2, trust_i)
    t3 = _us()
    resp.verify_message_3(m3, trust_r)
    m4 = resp.message_4()
    t4 = _us()
    ini.complete(m4)
    t5 = _us()
    if ini.exporter(0, b"", 16) != resp.exporter(0, b"", 16):
        raise AssertionError("the two sides disagree")
    clock[0] += _diff(t1, t) + _diff(t3, t2) + _diff(t5, t4)
    clock[1] += _diff(t2, t1) + _diff(t4, t3)
    return m1, m2, m3, m4


def run(repeat):
    for suite in (2, 0):
        for method in (3, 0, 1, 2):
            i = party(suite, method in (0, 1), "initiator", b"\x2b")
            r = party(suite, method in (0, 2), "responder", b"\x0a")
            clock = [0, 0]
            for _ in range(repeat):
                msgs = handshake(method, suite, i, r, clock)
            print("ROW|hs|%d|%d|%.2f|%.2f|%s" % (method, suite, clock[0] / repeat / 1000,
                                                 clock[1] / repeat / 1000,
                                                 ",".join(str(len(m)) for m in msgs)))
    ctx = oscore.derive(bytes(range(16)), b"\x9e\x7c\xa9\x22\x23\x78\x63\x40", b"", b"\x01")
    for size in (20, 1024):
        msg = coap.Message(coap.POST, b"\x01\x02", [(coap.URI_PATH, b"data")], bytes(size))
        n = 0
        t = _us()
        while n < 20 or _diff(_us(), t) < 300000:
            oscore.protect_request(ctx, msg)
            n += 1
        print("ROW|oscore|%d|%.3f" % (size, _diff(_us(), t) / n / 1000))


run(REPEAT)  # noqa: F821 (set by bench/edhoc.py)
