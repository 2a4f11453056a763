# machine for the imprint virtual board: the parts a bootstrapping stack uses.
import binascii
import _vboard


def unique_id():
    # Stable per board: from --serial, or derived from the flash directory.
    return binascii.unhexlify(_vboard.uid())


def reset():
    # Hard reset: the interpreter process ends and the board's supervisor starts a new one.
    _vboard.hard_reset()


def soft_reset():
    raise SystemExit


def reset_cause():
    return 0
