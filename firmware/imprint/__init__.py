# imprint: secure bootstrapping for MicroPython devices (device side).
# Runs unchanged on MicroPython and CPython; the port is handed in, never sniffed.
__version__ = "0.1.0"
