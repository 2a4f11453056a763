# Milliseconds for timeouts, on MicroPython (ticks_ms, wraps) and CPython (monotonic).
import time

if hasattr(time, "ticks_ms"):
    ms = time.ticks_ms

    def since(start):
        # milliseconds from start (a ms() value) to now
        return time.ticks_diff(time.ticks_ms(), start)

    sleep_ms = time.sleep_ms
else:
    def ms():
        return int(time.monotonic() * 1000)

    def since(start):
        return int(time.monotonic() * 1000) - start

    def sleep_ms(n):
        time.sleep(n / 1000)
