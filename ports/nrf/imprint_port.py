# Port: MicroPython's nrf port on the nRF52840 DK (boards/nrf52840-dk: PCA10056, no SoftDevice).
# The same interface as ports/virtual: the stack is handed this module and asks it, never
# sys.platform, for the console, the store, the unique id, the crypto natives and the network.
# The board has no IP stack: peers are reached through the host's serial relay (imprint relay).
import sys

name = "nrf"
board = "nrf52840-dk"
heap_budget = 131072  # the linker-guaranteed minimum heap (boards/nrf52840-dk/board.json)
network = None  # no IP: peers are reached through the host's serial relay (imprint relay)

# Natives: none to register. hashlib has sha256 only, which the crypto facade calls itself;
# there is no cryptolib (MICROPY_PY_SSL is off), so AES is imprint's pure-Python cipher;
# os.urandom is the RNG peripheral, the facade's default random source.

# The nrf port mounts the flash's littlefs at /flash, runs boot.py and main.py from there
# (its frozen _boot.py changes into /flash) and puts /flash and /flash/lib on sys.path.
_FLASH = "/flash"

# nRF52840 FICR (Product Specification, FICR registers): DEVICEID[0] at 0x10000060 and
# DEVICEID[1] at 0x10000064, a 64-bit factory-programmed device identifier.
_FICR_DEVICEID = 0x10000060


# The console: the REPL's stdin/stdout, which is the UART to the DK's interface MCU (virtual
# COM port, hardware flow control) and, since MicroPython 1.24, native USB-CDC beside it.
_poll = None


def _console():
    global _poll
    if _poll is None:
        import select
        _poll = select.poll()
        _poll.register(sys.stdin, select.POLLIN)
    return _poll


def uart_read(n, timeout_ms):
    # Up to n bytes from the console, b"" if none came within timeout_ms.
    p = _console()
    if not p.poll(max(timeout_ms, 0)):
        return b""
    out = bytearray()
    read = sys.stdin.buffer.read
    while len(out) < n:
        out += read(1)
        if not p.poll(0):
            break
    return bytes(out)


def uart_write(data):
    # Bytes to the console as they are (sys.stdout.buffer: no "\n" -> "\r\n" translation).
    sys.stdout.buffer.write(data)


def unique_id():
    # The 8 bytes of FICR DEVICEID[0..1] in memory order (machine.unique_id() is empty on nrf).
    # machine.mem32 returns a register's value as a signed int: mask it to 32 bits.
    import machine
    out = b""
    for i in (0, 1):
        out += (machine.mem32[_FICR_DEVICEID + 4 * i] & 0xFFFFFFFF).to_bytes(4, "little")
    return out


_link = None
_relay = None
_store = None


def link():
    # The imprint link on the console (one per board: the agent and the relay share it).
    global _link
    if _link is None:
        from imprint import link as _l
        _link = _l.Link(uart_read, uart_write)
    return _link


def store():
    # The credential store, in /flash/imprint-store on the littlefs (a directory named
    # "imprint" in /flash, which is on sys.path, would shadow the imprint package).
    global _store
    if _store is None:
        from imprint import store as _s
        _store = _s.Store(_s.DirFS(_FLASH + "/imprint-store"))
    return _store


def relay():
    # The device end of the host's relay, over the console.
    global _relay
    if _relay is None:
        from imprint import transport
        _relay = transport.Relay(link())
    return _relay


def datagram(host, port):
    return relay().datagram(host, port)


def stream(host, port):
    return relay().stream(host, port)


_LOCKED_MAIN = b"""# imprint: this board is locked (manufacturing has ended). The factory agent answers on
# the console and there is no REPL; an authenticated unlock (imprint.agent) removes this file.
import imprint_port, imprint.agent
imprint.agent.locked(imprint_port)
"""


def locked_boot(on):
    # A locked board boots into imprint: /flash/main.py runs the agent and never returns to
    # a REPL.
    import os
    path = _FLASH + "/main.py"
    if on:
        with open(path, "wb") as f:
            f.write(_LOCKED_MAIN)
    else:
        try:
            os.remove(path)
        except OSError:
            pass


def reset():
    import machine
    machine.reset()


def no_interrupt():
    # Ctrl-C on the console is data, not an interrupt.
    import micropython
    micropython.kbd_intr(-1)
