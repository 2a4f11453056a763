"""The store's power-loss check, board side: a loop that rewrites a store as fast as it can
and prints each update it finished, and a check that the store opens to one whole state.
Each state follows from its number n, so a mix of two states shows."""

from __future__ import annotations

import time

# imprint.store on a directory of its own (not the board's credential store)
LOOP = """
from imprint import store
s = store.Store(store.DirFS({path!r}))
n = s.get('n', 0)
print('start', s.seq, n)
while n < 100000:
    n += 1
    s.update({{'n': n, 'blob': bytes([n & 255]) * (200 + n % 700), 'tag': 'u%d' % n,
              'chain': [b'leaf' * (n % 50), b'ca']}})
    print('ok', n, s.seq)
"""

CHECK = """
from imprint import store
s = store.Store(store.DirFS({path!r}))
n = s.get('n', 0)
if n:
    ok = (s.get('blob') == bytes([n & 255]) * (200 + n % 700) and s.get('tag') == 'u%d' % n
          and s.get('chain') == [b'leaf' * (n % 50), b'ca'] and s.names() == ['blob', 'chain', 'n', 'tag'])
else:
    ok = s.items() == [] and s.seq == 0
print(repr((s.seq, n, ok)))
"""

REMOVE = """
import os
for name in ('a.cbor', 'b.cbor'):
    try:
        os.remove({path!r} + '/' + name)
    except OSError:
        pass
"""


def expected(n: int) -> dict:
    """The state the loop's update n writes."""
    return {"n": n, "blob": bytes([n & 255]) * (200 + n % 700), "tag": f"u{n}",
            "chain": [b"leaf" * (n % 50), b"ca"]}


def read_for(ser, seconds: float) -> bytes:
    """What the port delivers in the next `seconds`."""
    got = b""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        waiting = ser.in_waiting
        if waiting:
            got += ser.read(waiting)
        else:
            time.sleep(0.005)
    return got


def read_until(ser, word: bytes, timeout: float) -> bytes:
    """The port's bytes up to and including `word`; AssertionError after `timeout`."""
    got = b""
    end = time.monotonic() + timeout
    while word not in got and time.monotonic() < end:
        got += ser.read(max(1, ser.in_waiting))
    assert word in got, f"the board did not print {word!r}: {got[-300:]!r}"
    return got


def finished(out: bytes) -> list[int]:
    """The update numbers the loop reported done, in whole lines of its output."""
    lines = out.decode(errors="replace").replace("\r", "").split("\n")[:-1]
    return [int(ln.split()[1]) for ln in lines if ln.startswith("ok ")]
