# Port: the imprint virtual board (MicroPython webassembly under Node, behind a pty).
# What differs from a physical board is asked of the board support module `_vboard`.
from binascii import hexlify, unhexlify

import _vboard
from imprint import portkit

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


# The link on the console UART (one per board: the agent and the relay share it), the relay
# over it, the credential store in /imprint-store on the board's flash (a directory named
# "imprint" in / would shadow the /lib/imprint package).
_glue = portkit.Glue(uart_read, uart_write, "/imprint-store")
link = _glue.link
relay = _glue.relay
store = _glue.store
datagram = _glue.datagram
stream = _glue.stream


def unique_id():
    import machine
    return machine.unique_id()


def locked_boot(on):
    # A locked board boots into imprint: /main.py runs the agent, never a REPL.
    portkit.locked_boot("/main.py", on)


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
