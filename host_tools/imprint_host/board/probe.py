"""Identify the MicroPython on a serial port, and say whether imprint can run on it.

``probe(port)`` reaches a REPL (Ctrl-C, then the raw REPL's Ctrl-A; a board that never shows
the raw REPL but shows the friendly ``>>>`` prompt is asked through that), runs one small
script that works back to MicroPython 1.9 (no f-strings, a few hundred bytes of heap) and
returns a ``BoardIdentity``. Every wait is bounded by the caller's ``timeout``: a port where
no REPL answers raises ``ProbeError`` rather than hanging.

``supported(identity, profile)`` lists why imprint cannot run there (empty: it can), against a
board profile's figures (nrf52840-dk by default); ``unsupported_message`` words that for a CLI.
"""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass

import serial

from . import profiles
from .profiles import BoardProfile

DEFAULT_PROFILE = "nrf52840-dk"
# imprint's .mpy files are bytecode only: MicroPython loads them where the .mpy major version
# matches (the sub-version is checked for native code only; py/persistentcode.c).
MPY_MAJOR = 6
# Ports whose GC heap grows on demand (esp32: MICROPY_GC_SPLIT_HEAP_AUTO, see
# boards/esp32-devkitc/board.json), so gc.mem_free() + gc.mem_alloc() is only what is
# allocated so far, not what a program can get: no heap verdict there.
GROWING_HEAP_PLATFORMS = frozenset({"esp32"})

RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
FRIENDLY_PROMPT = b">>> "
MARK = "IMPRINT-PROBE:"
CHUNK = 64  # bytes written at a time: a small board's UART receive buffer is not large
CHUNK_PAUSE = 0.01

# What runs on the board. MicroPython 1.9 syntax (no f-strings), tiny heap; one printed line.
BOARD_SCRIPT = """\
import sys,gc
def _h(m,a):
 try:
  o=__import__(m)
 except ImportError:
  return 0
 return 2 if a and hasattr(o,a) else 1
i=sys.implementation
r={'n':i.name,'v':tuple(i.version),'y':getattr(i,'_mpy',None),'c':getattr(i,'_machine',None),'p':sys.platform}
try:
 import os
 u=os.uname()
 r['u']=(u.release,u.version,u.machine)
except Exception:
 r['u']=None
try:
 gc.collect()
 r['f']=gc.mem_free()
 r['a']=gc.mem_alloc()
except Exception:
 r['f']=r['a']=None
r['h']=_h('hashlib','sha256')
r['o']=_h('os','urandom')
r['m']=_h('machine',None)
r['k']=_h('micropython','const')
print('%s'+repr(r))
del _h,i,r
""" % MARK


class ProbeError(RuntimeError):
    """No MicroPython REPL could be reached, or it answered something unreadable."""


@dataclass(frozen=True)
class BoardIdentity:
    port: str
    implementation: str  # sys.implementation.name: "micropython", "circuitpython", ...
    version: tuple[int, ...]  # sys.implementation.version: (major, minor, micro)
    mpy: int | None  # sys.implementation._mpy (absent before MicroPython 1.12 and in some builds)
    platform: str  # sys.platform
    machine: str  # sys.implementation._machine, else os.uname().machine, else ""
    build: str  # os.uname().version: the release, git describe and date of the build
    heap_free: int | None  # gc.mem_free() after a collection
    heap_alloc: int | None  # gc.mem_alloc() after it
    hashlib: bool
    sha256: bool  # hashlib.sha256
    urandom: bool  # os.urandom
    machine_module: bool
    const: bool  # micropython.const
    repl: str  # "raw" or "friendly": how the probe reached it

    @property
    def heap_size(self) -> int | None:
        """The GC heap: free + allocated (what a program can have, on a fixed heap)."""
        if self.heap_free is None or self.heap_alloc is None:
            return None
        return self.heap_free + self.heap_alloc

    @property
    def version_str(self) -> str:
        return ".".join(str(p) for p in self.version)

    @property
    def mpy_version(self) -> tuple[int, int] | None:
        """(major, sub) of the .mpy files this build loads: byte 0 of ``_mpy`` is the
        version, bits 8-9 the sub-version (bits 10+ the native architecture)."""
        if self.mpy is None:
            return None
        return self.mpy & 0xFF, (self.mpy >> 8) & 3

    def describe(self) -> str:
        mpy = self.mpy_version
        heap = f"{self.heap_size:,} B" if self.heap_size is not None else "unknown"
        name = {"micropython": "MicroPython", "circuitpython": "CircuitPython"}.get(
            self.implementation, self.implementation)
        return (f"{name} {self.version_str} on {self.platform}"
                + (f" ({self.machine})" if self.machine else "")
                + f", .mpy {'%d.%d' % mpy if mpy else 'not reported'}, heap {heap}")


# -- the serial side -------------------------------------------------------------------------

class _Port:
    """A serial port whose every read and write is bounded by one deadline."""

    def __init__(self, port: str, deadline: float, baudrate: int) -> None:
        self.deadline = deadline
        try:
            self.s = serial.Serial(port, baudrate, timeout=0.05, write_timeout=2)
        except (serial.SerialException, OSError) as e:
            raise ProbeError(f"cannot open {port}: {e}") from None
        self.seen = bytearray()  # everything the board sent, for error messages

    def close(self) -> None:
        self.s.close()

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def write(self, data: bytes, chunk: int = CHUNK) -> None:
        for i in range(0, len(data), chunk):
            if self.left() <= 0:
                raise TimeoutError
            try:
                self.s.write(data[i:i + chunk])
            except serial.SerialTimeoutException:
                raise TimeoutError from None
            if len(data) > chunk:
                time.sleep(CHUNK_PAUSE)

    def read_until(self, *markers: bytes, within: float | None = None) -> bytes:
        """Read until one of ``markers`` has come (returned with it), or until ``within``
        seconds (and never past the deadline) have gone: then return what came, unmatched."""
        end = self.deadline if within is None else min(self.deadline, time.monotonic() + within)
        got = bytearray()
        while time.monotonic() < end:
            data = self.s.read(max(1, self.s.in_waiting))
            if data:
                got += data
                self.seen += data
                if any(m in got for m in markers):
                    break
        return bytes(got)

    def drain(self, within: float) -> None:
        """Take what the board still sends within ``within`` s (a late echo, a second prompt)."""
        self.read_until(within=within)


def _enter_repl(p: _Port) -> str:
    """Stop what runs and reach a REPL: "raw" when the raw REPL answers, "friendly" when only
    the ``>>>`` prompt does. Retries while the deadline allows (a board may still be booting)."""
    friendly = False
    while p.left() > 0:
        p.write(b"\r\x03\x03")  # Ctrl-C twice: interrupt a running program
        got = p.read_until(FRIENDLY_PROMPT, RAW_PROMPT, within=0.5)
        friendly |= FRIENDLY_PROMPT in got
        p.write(b"\x01")  # Ctrl-A: the raw REPL (also re-prompts one already in it)
        got = p.read_until(RAW_PROMPT, within=1.5)
        if RAW_PROMPT in got:
            p.drain(0.1)
            return "raw"
        friendly |= FRIENDLY_PROMPT in got
        if friendly:
            # An answer, but no raw REPL: leave whatever half-state Ctrl-A left and use >>>.
            p.write(b"\x02\r")
            if FRIENDLY_PROMPT in p.read_until(FRIENDLY_PROMPT, within=1.0):
                return "friendly"
    raise TimeoutError


def _run_raw(p: _Port, code: str) -> str:
    """Raw REPL: send, Ctrl-D; the board answers OK, stdout, 0x04, stderr, 0x04, '>'."""
    p.write(code.encode())
    p.write(b"\x04")
    head = p.read_until(b"OK", b"\x04", within=5)
    if b"OK" not in head:
        if p.left() <= 0:
            raise TimeoutError
        raise ProbeError(f"the raw REPL on {p.s.port} did not accept the probe (it answered {head[-200:]!r})")
    rest = head[head.index(b"OK") + 2:]
    while rest.count(b"\x04") < 2 and p.left() > 0:
        rest += p.read_until(b"\x04")
    if rest.count(b"\x04") < 2:
        raise TimeoutError
    out, err, tail = rest.split(b"\x04", 2)
    if b">" not in tail:
        p.read_until(b">", within=0.5)  # the raw prompt that follows every answer
    if err.strip():
        raise ProbeError(f"the probe failed on the board at {p.s.port}:\n{err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


def _run_friendly(p: _Port, code: str) -> str:
    """Friendly REPL: the script as one line, exec() of its text; output until the prompt."""
    p.write(f"exec({code!r})\r".encode())
    out = p.read_until(FRIENDLY_PROMPT)  # the echo, the answer, then the next prompt
    if FRIENDLY_PROMPT not in out:
        raise TimeoutError
    return out.decode(errors="replace")


def _parse(port: str, text: str, repl: str) -> BoardIdentity:
    line = next((ln for ln in text.replace("\r", "\n").split("\n") if ln.startswith(MARK)), None)
    if line is None:
        raise ProbeError(f"{port}: the board ran the probe but printed no answer: {text[-300:]!r}")
    try:
        r = ast.literal_eval(line[len(MARK):].strip())
    except (ValueError, SyntaxError):
        raise ProbeError(f"{port}: unreadable probe answer {line!r}") from None
    uname = r.get("u") or ("", "", "")
    return BoardIdentity(
        port=port,
        implementation=str(r["n"]),
        version=tuple(v for v in r["v"] if isinstance(v, int))[:3],  # 1.20+ adds a release level
        mpy=r.get("y"),
        platform=str(r["p"]),
        machine=str(r.get("c") or uname[2] or ""),
        build=str(uname[1] or ""),
        heap_free=r.get("f"),
        heap_alloc=r.get("a"),
        hashlib=r["h"] >= 1,
        sha256=r["h"] == 2,
        urandom=r["o"] == 2,
        machine_module=r["m"] >= 1,
        const=r["k"] == 2,
        repl=repl,
    )


def probe(port: str, timeout: float = 10, baudrate: int = 115200) -> BoardIdentity:
    """Identify the MicroPython on ``port``, all within ``timeout`` seconds."""
    p = _Port(port, time.monotonic() + timeout, baudrate)
    repl = None
    try:
        try:
            repl = _enter_repl(p)
        except TimeoutError:
            heard = bytes(p.seen[-120:])
            raise ProbeError(f"no MicroPython REPL answered on {port} within {timeout:g} s"
                             + (f" (it sent {heard!r})" if heard else " (it sent nothing)")) from None
        try:
            text = _run_raw(p, BOARD_SCRIPT) if repl == "raw" else _run_friendly(p, BOARD_SCRIPT)
        except TimeoutError:
            raise ProbeError(f"the MicroPython REPL on {port} did not finish the probe within "
                             f"{timeout:g} s (it sent {bytes(p.seen[-120:])!r})") from None
        return _parse(port, text, repl)
    except (serial.SerialException, OSError) as e:  # the port went away (unplugged, QEMU ended)
        raise ProbeError(f"{port}: the serial port failed during the probe: {e}") from None
    finally:
        if repl == "raw":
            try:
                p.deadline = time.monotonic() + 1
                p.write(b"\x02")  # Ctrl-B: back to the friendly REPL, as the board was
            except (TimeoutError, serial.SerialException, OSError):
                pass
        p.close()


# -- the verdict -----------------------------------------------------------------------------

def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:3])


def supported(identity: BoardIdentity, profile: BoardProfile | str | None = None) -> list[str]:
    """Why imprint cannot run on this board, against ``profile``'s figures (default
    nrf52840-dk): its heap budget, its oldest MicroPython and .mpy version. Empty: it can."""
    prof = profiles.load(profile or DEFAULT_PROFILE) if not isinstance(profile, BoardProfile) else profile
    reasons: list[str] = []
    if identity.implementation != "micropython":
        reasons.append(f"it runs {identity.implementation}, not MicroPython: imprint's .mpy files "
                       "and port glue are for MicroPython")
    oldest = prof.micropython.get("min", "1.23.0")
    mpy_text = prof.mpy_version
    if identity.version < _version_tuple(oldest):
        reasons.append(f"MicroPython {identity.version_str} is older than {oldest}, the oldest imprint "
                       f"supports (its precompiled files are .mpy {mpy_text})")
    else:
        mpy = identity.mpy_version
        if mpy is None:
            reasons.append(f"it does not report the .mpy version it loads (no sys.implementation._mpy): "
                           f"imprint deploys .mpy {mpy_text}")
        elif mpy[0] != int(mpy_text.split(".")[0]):
            reasons.append(f"it loads .mpy {mpy[0]}.{mpy[1]}, imprint deploys .mpy {mpy_text}")
    heap = identity.heap_size
    if heap is None:
        reasons.append("it does not report its heap (no gc.mem_free / gc.mem_alloc)")
    elif heap < prof.heap_budget and identity.platform not in GROWING_HEAP_PLATFORMS:
        reasons.append(f"its heap is {heap:,} B; imprint needs {prof.heap_budget:,} B "
                       f"(the {prof.name} profile's heap budget)")
    if not identity.hashlib:
        reasons.append("it has no hashlib module: imprint needs hashlib.sha256")
    elif not identity.sha256:
        reasons.append("its hashlib has no sha256: imprint needs hashlib.sha256")
    if not identity.urandom:
        reasons.append("it has no os.urandom: imprint needs a random source for its keys and nonces")
    return reasons


def unsupported_message(identity: BoardIdentity, reasons: list[str]) -> str:
    """What a CLI prints: the board, then each reason on its own line (or that it is fine)."""
    head = f"{identity.port}: {identity.describe()}"
    if not reasons:
        return f"{head}\nsupported: imprint can run on this board"
    lines = [f"{head}", f"unsupported: imprint cannot run on this board:"]
    lines += [f"  - {r}" for r in reasons]
    return "\n".join(lines)
