# The board's self-report: what `make demo` and the conformance suite print first.
import gc
import sys

import imprint


def mpy_abi(value):
    # sys.implementation._mpy: bits 0-7 .mpy version, 8-9 sub-version, 10+ native arch.
    if value is None:
        return None
    return "%d.%d arch %d" % (value & 0xFF, (value >> 8) & 3, value >> 10)


def report(port=None):
    # port: the ports/<port> object when the stack is running; None reports the bare board.
    gc.collect()
    impl = sys.implementation
    version = ".".join(str(v) for v in impl.version[:3])
    uid = b""
    if port is not None:
        uid = port.unique_id()   # the port knows where (nrf: FICR; machine's is empty there)
    else:
        try:
            import machine
            uid = machine.unique_id()
        except ImportError:
            pass
    info = {
        "micropython": version if impl.name == "micropython" else None,
        "implementation": impl.name,
        "machine": getattr(impl, "_machine", sys.platform),
        "mpy": mpy_abi(getattr(impl, "_mpy", None)),
        "unique_id": uid,
        "heap_used": gc.mem_alloc() if hasattr(gc, "mem_alloc") else None,
        "heap_free": gc.mem_free() if hasattr(gc, "mem_free") else None,
        "imprint": imprint.__version__,
    }
    if port is not None:
        info["board"] = port.board
        info["heap_budget"] = port.heap_budget
        info["heap_free"] = port.heap_budget - info["heap_used"]
    return info


def main(port=None):
    info = report(port)
    for key in sorted(info):
        value = info[key]
        if isinstance(value, bytes):
            value = "".join("%02x" % b for b in value)
        print("%s: %s" % (key, value))
