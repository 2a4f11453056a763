# Milliseconds for timeouts, on MicroPython (ticks_ms, wraps) and CPython (monotonic).
import time

if hasattr(time, "ticks_ms"):
    ms = time.ticks_ms
    diff = time.ticks_diff  # diff(a, b): milliseconds from b to a

    def since(start):
        # milliseconds from start (a ms() value) to now
        return time.ticks_diff(time.ticks_ms(), start)

else:
    def ms():
        return int(time.monotonic() * 1000)  # type: ignore[attr-defined]  # CPython only

    def diff(a, b):
        return a - b

    def since(start):
        return int(time.monotonic() * 1000) - start  # type: ignore[attr-defined]
