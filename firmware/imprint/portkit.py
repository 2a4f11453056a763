# What every port module (ports/<port>/imprint_port.py) builds the same way, so that a port
# holds only what differs: the console on the REPL's stdio, the link / relay / store made once
# on first use, and the locked-boot file.
import sys

_poll = None


# The console when it is the REPL's stdin/stdout (a UART or USB-CDC, as the board profile
# says): bytes as they are, sys.stdout.buffer making no "\n" -> "\r\n" translation.
def stdio_read(n, timeout_ms):
    # Up to n bytes from the console, b"" if none came within timeout_ms.
    global _poll
    p = _poll
    if p is None:
        import select
        p = _poll = select.poll()
        p.register(sys.stdin, select.POLLIN)
    if not p.poll(max(timeout_ms, 0)):
        return b""
    out = bytearray()
    read = sys.stdin.buffer.read
    while len(out) < n:
        out += read(1)
        if not p.poll(0):
            break
    return bytes(out)


def stdio_write(data):
    sys.stdout.buffer.write(data)


class Glue:
    # Glue(read, write, store_dir): link() on the console (one per board: the agent and the
    # relay share it), relay() over it, store() in store_dir (never a directory named like a
    # module on sys.path: see store.DirFS), each made on first use.
    def __init__(self, read, write, store_dir):
        self._rw = (read, write)
        self._dir = store_dir
        self._link = self._relay = self._store = None

    def link(self):
        if self._link is None:
            from imprint import link as _l
            self._link = _l.Link(self._rw[0], self._rw[1])
        return self._link

    def relay(self):
        if self._relay is None:
            from imprint import transport
            self._relay = transport.Relay(self.link())
        return self._relay

    def store(self):
        if self._store is None:
            from imprint import store as _s
            self._store = _s.Store(_s.DirFS(self._dir))
        return self._store

    def datagram(self, host, port):
        return self.relay().datagram(host, port)

    def stream(self, host, port):
        return self.relay().stream(host, port)


LOCKED_MAIN = b"""# imprint: this board is locked (manufacturing has ended). The factory agent answers on
# the console and there is no REPL; an authenticated unlock (imprint.agent) removes this file.
import imprint_port, imprint.agent
imprint.agent.locked(imprint_port)
"""


def locked_boot(path, on):
    # A locked board boots into imprint: `path` (the main.py the firmware runs at boot) runs the
    # agent and never returns to a REPL; off removes it.
    import os
    if on:
        with open(path, "wb") as f:
            f.write(LOCKED_MAIN)
    else:
        try:
            os.remove(path)
        except OSError:
            pass
