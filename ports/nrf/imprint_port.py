# Port: MicroPython's nrf port on the nRF52840 DK (boards/nrf52840-dk: PCA10056, no SoftDevice).
# The same interface as ports/virtual: the stack is handed this module and asks it, never
# sys.platform, for the console, the store, the unique id, the crypto natives and the network.
# The board has no IP stack: peers are reached through the host's serial relay (imprint relay).
from imprint import portkit

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
uart_read = portkit.stdio_read
uart_write = portkit.stdio_write


def unique_id():
    # The 8 bytes of FICR DEVICEID[0..1] in memory order (machine.unique_id() is empty on nrf).
    # machine.mem32 returns a register's value as a signed int: mask it to 32 bits.
    import machine
    out = b""
    for i in (0, 1):
        out += (machine.mem32[_FICR_DEVICEID + 4 * i] & 0xFFFFFFFF).to_bytes(4, "little")
    return out


# The link on the console, the relay over it, the credential store in /flash/imprint-store on
# the littlefs (a directory named "imprint" in /flash, which is on sys.path, would shadow the
# imprint package).
_glue = portkit.Glue(uart_read, uart_write, _FLASH + "/imprint-store")
link = _glue.link
relay = _glue.relay
store = _glue.store
datagram = _glue.datagram
stream = _glue.stream


def locked_boot(on):
    # A locked board boots into imprint: /flash/main.py runs the agent, never a REPL.
    portkit.locked_boot(_FLASH + "/main.py", on)


def reset():
    import machine
    machine.reset()


def no_interrupt():
    # Ctrl-C on the console is data, not an interrupt.
    import micropython
    micropython.kbd_intr(-1)
