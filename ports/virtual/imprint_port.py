# Port: the imprint virtual board (MicroPython webassembly under Node, behind a pty).
# What differs from a physical board is asked of the board support module `_vboard`.
from binascii import hexlify, unhexlify

import _vboard

name = "virtual"
board = _vboard.board()
heap_budget = _vboard.heap()
network = None  # no IP: peers are reached through the host's serial relay (imprint relay)


def uart_read(n, timeout_ms):
    # Up to n bytes from the console UART, b"" if none came within timeout_ms.
    return unhexlify(_vboard.uart_read(n, timeout_ms))


def uart_write(data):
    # Bytes to the console UART as they are (no line-end translation).
    _vboard.uart_write(hexlify(data).decode())


_link = None
_relay = None
_store = None


def unique_id():
    import machine
    return machine.unique_id()


def link():
    # The imprint link on the console UART (one per board: the agent and the relay share it).
    global _link
    if _link is None:
        from imprint import link as _l
        _link = _l.Link(uart_read, uart_write)
    return _link


def store():
    # The credential store, in /imprint-store on the board's flash (a directory named
    # "imprint" in / would shadow the /lib/imprint package).
    global _store
    if _store is None:
        from imprint import store as _s
        _store = _s.Store(_s.DirFS("/imprint-store"))
    return _store


_LOCKED_MAIN = b"""# imprint: this board is locked (manufacturing has ended). The factory agent answers on
# the console and there is no REPL; an authenticated unlock (imprint.agent) removes this file.
import imprint_port, imprint.agent
imprint.agent.locked(imprint_port)
"""


def locked_boot(on):
    # A locked board boots into imprint: /main.py runs the agent and never returns to a REPL.
    import os
    if on:
        with open("/main.py", "wb") as f:
            f.write(_LOCKED_MAIN)
    else:
        try:
            os.remove("/main.py")
        except OSError:
            pass


def reset():
    import machine
    machine.reset()


def no_interrupt():
    # Ctrl-C on the console is data, not an interrupt (a board: micropython.kbd_intr(-1)).
    try:
        import micropython
        micropython.kbd_intr(-1)
    except (ImportError, AttributeError):
        pass


def relay():
    # The device end of the host's relay, over the console UART.
    global _relay
    if _relay is None:
        from imprint import transport
        _relay = transport.Relay(link())
    return _relay


def datagram(host, port):
    return relay().datagram(host, port)


def stream(host, port):
    return relay().stream(host, port)
