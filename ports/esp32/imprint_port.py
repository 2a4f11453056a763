# Port: MicroPython's esp32 port (boards/esp32-devkitc, boards/esp32-s3-devkitc).
# The same interface as ports/virtual: the stack is handed this module and asks it, never
# sys.platform, for the console, the store, the unique id, the crypto natives and the network.
# The board has IP (Wi-Fi): peers are reached over real sockets (imprint.transport).
import sys

from imprint import crypto, portkit

name = "esp32"


def _profile(machine):
    # (board profile, heap budget) from the firmware's machine string, "<board> with <MCU>":
    # "Generic ESP32 module with ESP32", "Generic ESP32S3 module with Octal-SPIRAM with ESP32S3".
    # The budgets are those of boards/*/board.json (the S3 profile is the N8R8 with PSRAM).
    if machine.endswith("ESP32S3"):
        return "esp32-s3-devkitc", 8000000
    return "esp32-devkitc", 100000


board, heap_budget = _profile(getattr(sys.implementation, "_machine", ""))


# The console: the REPL's stdin/stdout, which is the UART (CP210x bridge, esp32-devkitc) or
# USB-CDC beside the UART (esp32-s3-devkitc), as the board profile's "console" says.
uart_read = portkit.stdio_read
uart_write = portkit.stdio_write


def unique_id():
    # The 6-byte factory MAC from eFuse (machine.unique_id on esp32)
    import machine
    return machine.unique_id()


# --- crypto natives: cryptolib's AES (mbedTLS, the chip's AES unit) for the block cipher ---

_ciphers = {}  # type: dict  # key -> encrypt function, for the last few keys (AES-SIV alternates two)


def aes_ecb_encrypt_block(key, block):
    # FIPS 197 AES-Encrypt of one 16-byte block; cryptolib takes 16- and 32-byte keys only,
    # so an AES-192 key goes to imprint's pure-Python cipher.
    k = bytes(key)
    enc = _ciphers.get(k)
    if enc is None:
        if len(_ciphers) >= 4:
            _ciphers.clear()
        if len(k) in (16, 32):
            from cryptolib import aes
            enc = aes(k, 1).encrypt  # mode 1: ECB
        else:
            from imprint.crypto.aes import cipher
            enc = cipher(k)
        _ciphers[k] = enc
    return enc(block)


def _register_natives():
    # hashlib.sha256 needs no registering: the facade calls hashlib itself (and esp32's has
    # no sha512); os.urandom is the hardware RNG, which the facade uses by default.
    try:
        import cryptolib  # noqa: F401  (off in a build without MICROPY_PY_CRYPTOLIB)
    except ImportError:
        return
    crypto.register("aes_ecb_encrypt_block", aes_ecb_encrypt_block)


_register_natives()


# --- the imprint link and the credential store ---

# The link on the console (the agent uses it), the relay over it (a board whose Wi-Fi is not
# configured yet can still reach peers that way: relay().datagram(host, port)), the
# credential store in /imprint-store on the flash's littlefs (mounted at / on esp32; a
# directory named "imprint" in / would shadow the /lib/imprint package).
_glue = portkit.Glue(uart_read, uart_write, "/imprint-store")
link = _glue.link
relay = _glue.relay
store = _glue.store
_wlan = None


# --- the network: Wi-Fi station mode, configured from the store ---

def network(timeout_ms=20000):
    # Bring up the Wi-Fi station with the store's "wifi": {"ssid": str, "password": str} and
    # return the WLAN once it has an address. Raises TransportError when it cannot.
    global _wlan
    import network as _net
    from imprint import clock
    from imprint.transport import TransportError
    w = _wlan
    if w is None:
        w = _net.WLAN(_net.STA_IF)
    w.active(True)  # no-op when it is on
    if w.isconnected():
        _wlan = w
        return w
    cfg = store().get("wifi")
    if type(cfg) is not dict or type(cfg.get("ssid")) is not str:
        raise TransportError("Wi-Fi: no network configured: store 'wifi' as "
                             "{'ssid': str, 'password': str}")
    w.connect(cfg["ssid"], cfg.get("password") or "")
    start = clock.ms()
    while not w.isconnected():
        if clock.since(start) >= timeout_ms:
            status = w.status()
            w.disconnect()
            raise TransportError("Wi-Fi: no connection to %r within %d ms (status %s)"
                                 % (cfg["ssid"], timeout_ms, status))
        import time
        time.sleep_ms(100)
    _wlan = w
    return w


def datagram(host, port):
    # UDP over Wi-Fi (imprint.transport.SocketDatagram on MicroPython's socket module)
    from imprint import transport
    network()
    return transport.SocketDatagram(host, port)


def stream(host, port):
    # TCP over Wi-Fi
    from imprint import transport
    network()
    return transport.SocketStream(host, port)


# --- lifecycle ---

def locked_boot(on):
    # A locked board boots into imprint: /main.py runs the agent, never a REPL.
    portkit.locked_boot("/main.py", on)


def reset():
    import machine
    machine.reset()


def no_interrupt():
    # Ctrl-C on the console is data, not an interrupt.
    import micropython
    micropython.kbd_intr(-1)
