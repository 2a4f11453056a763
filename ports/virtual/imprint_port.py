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


_relay = None


def relay():
    # The device end of the host's relay, over the console UART (one per board).
    global _relay
    if _relay is None:
        from imprint import link, transport
        _relay = transport.Relay(link.Link(uart_read, uart_write))
    return _relay


def datagram(host, port):
    return relay().datagram(host, port)


def stream(host, port):
    return relay().stream(host, port)
