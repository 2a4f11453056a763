# Inverse modulo a prime: pow(x, -1, m) where the interpreter computes it (CPython 3.8+,
# several times faster than exponentiation), else Fermat's little theorem, x**(m-2).
# Both give 0 for x = 0 mod m. Chosen by what pow answers, not by platform: MicroPython
# 1.27 returns 0 for pow(3, -1, 7) rather than raising, so the answer itself is checked.


def _fermat(x, m):
    return pow(x, m - 2, m)


def _native(x, m):
    x %= m
    return pow(x, -1, m) if x else 0


try:
    inv = _native if pow(3, -1, 7) == 5 else _fermat
except (ValueError, TypeError):
    inv = _fermat
