"""FDO onboarding benchmark: power-up to credentials on a virtual board at the profile's baud.

    .venv/bin/python bench/fdo.py [--runs 5] [--profile nrf52840-dk] [--output FILE]

One virtual board (profile nrf52840-dk, its console paced at the profile's 115200 baud 8N1 by
the keeper) and, in this process, a rendezvous server and an owner server (HTTP, and each also
on CoAP). For every run, per transport (HTTP, then CoAP):

- a fresh device credential: an IDevID key and chain made here and FDO DI run in-process
  (imprint.methods.fdo.DeviceInit against factory.fdo.Manufacturer, as the tests do), its
  RendezvousInfo naming the in-process rendezvous server (http:// or coap://);
- the voucher extended to the owner's key, added to the owner's store, TO0 with the
  rendezvous server naming the owner's address (http:// or coap://);
- the credential loaded into the board's store (a program through the relay); then
  power-up: vb.power_cut(), vb.wait_booted(), and a program that runs
  `fdo.onboard(store, imprint_port.stream, info[, datagram_factory=imprint_port.datagram])`
  through the serial relay (`imprint relay`'s run_program): TO1, then TO2 with the owner.

Measured, per run:
- total: on the board, ticks_us from the program's start (after its START mark and a pause
  that lets the host read the keeper's counters; its imports included) to the return of
  fdo.onboard (the new credential and the delivered ones are in the store);
- device crypto: on the board, the time inside imprint.crypto's p256_*, aes_*, sha*, hmac_*
  and hkdf* functions (each wrapped by the program; a call inside another one counts once);
- line: the bytes on the line both ways in that interval, counted by the virtual board's
  keeper (as bench/factory.py counts them; the text the program prints is taken out) ÷
  (baud/10);
- host: the time inside the rendezvous and owner servers' handle() calls (wrapped here);
- rest: total - crypto - line - host (the board's protocol code: CBOR, HTTP or CoAP, the
  relay's framing; the host's HTTP/CoAP servers and relay; waits).
floor = line + device crypto, and the ratio total/floor. FDO message bytes per message type
are recorded at the servers (request and reply bodies as handle() sees them).

The virtual board runs MicroPython's webassembly build on this machine's CPU: its crypto
times are this CPU's, far below an nRF52840's at 64 MHz; the line times are the real board's.
Peak heap during TO2 comes from bench/heap_peak.py (row fdo-to2).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host_tools"))
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT / "bench"))

import host_machine as bench_machine  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from imprint.methods import fdo as dev_fdo  # noqa: E402
from imprint_host import deploy, relay  # noqa: E402
from imprint_host.board import profiles  # noqa: E402
from imprint_host.board.serial_board import connect  # noqa: E402
from imprint_host.board.virtual import VirtualBoard  # noqa: E402
from imprint_host.factory import fdo  # noqa: E402
from imprint_host.services import fdo_coap, fdo_owner, fdo_to2  # noqa: E402
from imprint_host.services.credentials import EndpointIssuer  # noqa: E402
from imprint_host.services.fdo_http import Reply  # noqa: E402
from imprint_host.services.fdo_rv import RVServer  # noqa: E402

MESSAGES = {
    30: "TO1.HelloRV", 31: "TO1.HelloRVAck", 32: "TO1.ProveToRV", 33: "TO1.RVRedirect",
    60: "TO2.HelloDevice", 61: "TO2.ProveOVHdr", 62: "TO2.GetOVNextEntry",
    63: "TO2.OVNextEntry", 64: "TO2.ProveDevice", 65: "TO2.SetupDevice",
    66: "TO2.DeviceServiceInfoReady", 67: "TO2.OwnerServiceInfoReady",
    68: "TO2.DeviceServiceInfo", 69: "TO2.OwnerServiceInfo", 70: "TO2.Done", 71: "TO2.Done2",
    255: "Error",
}
NAMES = {"http": "HTTP", "coap": "CoAP"}
START, END = "FDO-BENCH-START", "FDO-BENCH-END"

# The program on the board. It prints START and waits (so that the host has taken the
# keeper's counters before any frame), then starts the clock; the crypto facade's functions,
# the console UART and the relay's sockets are wrapped before their first use (the link is
# made on the relay's first frame), then onboard runs; END is printed once the store holds
# the result, and nothing else is printed until the host has taken the counters again.
PROGRAM = """\
import time
print({start!r})
time.sleep_ms(200)
_t0 = time.ticks_us()
import imprint_port
from imprint import crypto
from imprint.methods import fdo
_acc = {{}}
_inside = [0]
def _timed(name, f):
    def w(*a, **k):
        if _inside[0]:
            return f(*a, **k)
        _inside[0] = 1
        t = time.ticks_us()
        try:
            return f(*a, **k)
        finally:
            _inside[0] = 0
            n, us = _acc.get(name, (0, 0))
            _acc[name] = (n + 1, us + time.ticks_diff(time.ticks_us(), t))
    return w
for _n in dir(crypto):
    if _n.startswith("p256_") or _n.startswith("aes_") or _n.startswith("sha") \\
            or _n.startswith("hmac_") or _n.startswith("hkdf"):
        setattr(crypto, _n, _timed(_n, getattr(crypto, _n)))
_io = [0, 0]
_uread, _uwrite = imprint_port.uart_read, imprint_port.uart_write
def _read(n, t):
    b = _uread(n, t)
    _io[0] += len(b)
    return b
def _write(d):
    _io[1] += len(d)
    _uwrite(d)
imprint_port.uart_read, imprint_port.uart_write = _read, _write
_payload = [0]
def _counted(sock):
    send, recv = sock.send, sock.recv
    def counted_send(d):
        _payload[0] += len(d)
        return send(d)
    def counted_recv(*a):
        b = recv(*a)
        if b:
            _payload[0] += len(b)
        return b
    sock.send, sock.recv = counted_send, counted_recv
    return sock
def _stream(host, port):
    return _counted(imprint_port.stream(host, port))
def _datagram(host, port):
    return _counted(imprint_port.datagram(host, port))
st = imprint_port.store()
g = fdo.onboard(st, _stream, {info!r}{extra})
_t1 = time.ticks_us()
print({end!r})
time.sleep_ms(300)
c = st.get("op_creds")
print(repr({{"us": time.ticks_diff(_t1, _t0), "crypto": _acc, "link_rx": _io[0],
            "link_tx": _io[1], "payload": _payload[0], "guid": g, "stored": st.get("fdo_cred")[4] == g,
            "uri": c["uri"], "op_key": len(st.get("op_key"))}}))
"""

LOAD = """\
import imprint_port
imprint_port.store().update({state!r})
print("loaded")
"""


# --- the device's factory state, made here (DI in-process) ---------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


# RFC 5280 certificate: a small one for the IDevID chain (leaf, then the root)
def _cert(subject: str, pub, issuer: str, key, ca: bool) -> bytes:
    t = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(pub).serial_number(x509.random_serial_number()).not_valid_before(t)
         .not_valid_after(t.replace(year=9999))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _raw(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_numbers().private_value.to_bytes(32, "big")


class DictStore:
    """The store interface DeviceInit uses (get, update), in a dict."""

    def __init__(self, state: dict):
        self.state = dict(state)

    def get(self, name: str, default=None):
        return self.state.get(name, default)

    def update(self, changes: dict) -> None:
        for k, v in changes.items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v


@dataclass
class Keys:
    root: ec.EllipticCurvePrivateKey
    root_cert: bytes
    mfg: ec.EllipticCurvePrivateKey
    owner: ec.EllipticCurvePrivateKey

    @classmethod
    def make(cls, new_key: Callable[[str], ec.EllipticCurvePrivateKey] | None = None) -> "Keys":
        """Fresh keys, or new_key(label) for each (label: root, mfg, owner)."""
        new_key = new_key or (lambda label: ec.generate_private_key(ec.SECP256R1()))
        root = new_key("root")
        return cls(root, _cert("imprint bench root", root.public_key(), "imprint bench root",
                               root, True), new_key("mfg"), new_key("owner"))


def device_di(keys: Keys, serial: str, rv_url: str, model: str,
              key: ec.EllipticCurvePrivateKey | None = None) -> tuple[dict, bytes]:
    """A device (its IDevID key, fresh unless given, and chain), then FDO DI in-process.
    -> (the store state the factory leaves on the board, the DI voucher)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    chain = [_cert(serial, key.public_key(), "imprint bench root", keys.root, False),
             keys.root_cert]
    st = DictStore({"serial": serial, "idevid_chain": chain, "idevid_key": _raw(key)})
    d, m = dev_fdo.DeviceInit(st, serial, model), fdo.Manufacturer(keys.mfg, rv_url)
    t, body = m.di(dev_fdo.MSG_APP_START, d.app_start())
    t, body = m.di(*d.handle(t, body))
    if d.handle(t, body) is not None:
        raise SystemExit("DI did not finish")
    return st.state, m.voucher


# --- the host side, timed -----------------------------------------------------------------

@dataclass
class HostLog:
    """What the servers' handle() calls took and carried (one run at a time)."""
    seconds: float = 0.0
    calls: int = 0
    sizes: dict[int, list[int]] = field(default_factory=dict)  # msg type -> body sizes
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.seconds, self.calls, self.sizes = 0.0, 0, {}

    def add(self, t: int, body: bytes, r: Reply, dt: float) -> None:
        with self.lock:
            self.seconds += dt
            self.calls += 1
            self.sizes.setdefault(t, []).append(len(body))
            if r.msg_type is not None:
                self.sizes.setdefault(r.msg_type, []).append(len(r.body))


def timed_handle(server, log: HostLog) -> None:
    """Time the server's handle() (HTTP and CoAP both call it): an instance attribute over the
    method, the class is not changed."""
    inner: Callable[..., Reply] = server.handle

    def handle(msg_type: int, body: bytes, authorization: str | None = None) -> Reply:
        t0 = time.perf_counter()
        r = inner(msg_type, body, authorization)
        log.add(msg_type, body, r, time.perf_counter() - t0)
        return r
    server.handle = handle


@dataclass
class Services:
    rv: RVServer
    owner: fdo_owner.OwnerServer
    rv_coap: fdo_coap.FDOCoAPServer
    owner_coap: fdo_coap.FDOCoAPServer
    log: HostLog

    def urls(self, transport: str) -> tuple[str, str]:
        if transport == "http":
            return self.rv.url, self.owner.url
        return self.rv_coap.url, self.owner_coap.url

    def stop(self) -> None:
        for s in (self.owner_coap, self.rv_coap, self.owner, self.rv):
            s.stop()


def start_services(keys: Keys) -> Services:
    log = HostLog()
    rv = RVServer(max_ttl=3600).start()
    issuer = EndpointIssuer("coap://127.0.0.1:5683/.well-known/edhoc",
                            ec.generate_private_key(ec.SECP256R1()))
    owner = fdo_owner.OwnerServer(fdo_to2.MemoryVoucherStore(), keys.owner, [rv.url],
                                  issue=issuer).start()
    for s in (rv, owner):
        timed_handle(s, log)
    return Services(rv, owner, fdo_coap.FDOCoAPServer(rv).start(),
                    fdo_coap.FDOCoAPServer(owner).start(), log)


# --- one run --------------------------------------------------------------------------------

@dataclass
class Run:
    transport: str
    total: float           # board: program start -> credentials stored
    crypto: float          # board: inside imprint.crypto
    crypto_ops: dict[str, tuple[int, float]]  # name -> (calls, seconds)
    line: float
    host: float
    bytes_line: int        # keeper, both ways, the program's text taken out
    bytes_to_board: int    # of which towards the board
    bytes_link: int        # the board's own count of link bytes (UART read + written)
    payload: int           # stream / datagram bytes both ways (HTTP or CoAP messages)
    sizes: dict[int, list[int]]  # FDO message type -> body sizes (at the servers)
    wall: float            # host: power cut -> END seen (boot, raw REPL, upload included)

    @property
    def rest(self) -> float:
        return self.total - self.crypto - self.line - self.host

    @property
    def fdo_bytes(self) -> int:
        return sum(sum(v) for v in self.sizes.values())

    @property
    def floor(self) -> float:
        return self.line + self.crypto


class Watch:
    """on_text for run_program: the keeper's byte counters when START and END arrive, and the
    program's text between them (printed bytes are on the line too, but no part of FDO)."""

    def __init__(self, vb: VirtualBoard):
        self.vb = vb
        self.buf = bytearray()
        self.at: dict[str, tuple[int, int, float]] = {}  # mark -> (rx, tx, when)
        self.text_between = 0

    def __call__(self, b: bytes) -> None:
        if START in self.at and END not in self.at:
            self.text_between += len(b)
        self.buf.extend(b)
        for mark in (START, END):
            if mark not in self.at and mark.encode() in self.buf:
                self.at[mark] = (self.vb.rx_bytes, self.vb.tx_bytes, time.perf_counter())


def one_run(vb: VirtualBoard, svc: Services, keys: Keys, transport: str, i: int,
            info: dict, rate: float) -> Run:
    rv_url, owner_url = svc.urls(transport)
    serial = f"BENCH-{transport.upper()}-{i}"
    state, voucher = device_di(keys, serial, rv_url, info["device"])
    info = {**info, "sn": serial}
    sold = fdo.extend(voucher, keys.owner.public_key(), keys.mfg)
    old_guid = svc.owner.store.add(sold)
    fdo_owner.to0(rv_url, sold, keys.owner, fdo_owner.rvto2addr(owner_url))
    # the factory's state on the board (what a previous run delivered is dropped)
    out, err = relay.run_program(vb.port, LOAD.format(state={**state, "op_creds": None,
                                                              "op_key": None}), timeout=120)
    if err or "loaded" not in out:
        raise SystemExit(f"loading the credential failed: {err.strip()}")
    # power-up, then onboarding through the relay
    extra = ", datagram_factory=_datagram" if transport == "coap" else ""
    code = PROGRAM.format(start=START, end=END, info=info, extra=extra)
    watch = Watch(vb)
    svc.log.reset()
    t_cut = time.perf_counter()
    vb.power_cut()
    vb.wait_booted()
    out, err = relay.run_program(vb.port, code, timeout=600, on_text=watch)
    if err:
        raise SystemExit(f"{transport} run {i}: onboarding failed on the board:\n{err.strip()}")
    res = eval(out.strip().splitlines()[-1])  # noqa: S307 (the board's repr of plain data)
    if not res["stored"] or svc.owner.store.replaced.get(old_guid) != res["guid"]:
        raise SystemExit(f"{transport} run {i}: the owner did not record the board's new GUID")
    if res["op_key"] != 32 or not res["uri"].startswith("coap://"):
        raise SystemExit(f"{transport} run {i}: no operational credentials in the store")
    if START not in watch.at or END not in watch.at:
        raise SystemExit(f"{transport} run {i}: the markers were not seen")
    (rx0, tx0, _), (rx1, tx1, t_end) = watch.at[START], watch.at[END]
    to_board = rx1 - rx0
    nbytes = to_board + tx1 - tx0 - watch.text_between
    with svc.log.lock:
        host, sizes = svc.log.seconds, {k: list(v) for k, v in svc.log.sizes.items()}
    ops = {k: (v[0], v[1] / 1e6) for k, v in res["crypto"].items()}
    return Run(transport, res["us"] / 1e6, sum(s for _, s in ops.values()), ops,
               nbytes / rate, host, nbytes, to_board, res["link_rx"] + res["link_tx"],
               res["payload"], sizes, t_end - t_cut)


# --- the report ---------------------------------------------------------------------------

def micropython_version(port: str) -> str:
    with connect(port) as b:
        return b.exec("import sys; print(sys.version.split('; ')[-1])").strip()


def machine() -> str:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{bench_machine.describe()}, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}, Node {node}"


def _m(runs: list[Run], f: Callable[[Run], float]) -> float:
    return statistics.mean(f(r) for r in runs)


def report(results: dict[str, list[Run]], prof, baud: int, mpy: str, seconds: float) -> str:
    md = [f"# imprint FDO onboarding benchmark ({datetime.date.today().isoformat()})\n",
          f"- machine: {machine()}",
          f"- board: virtual {prof.name}, {mpy} under Node, console {baud} baud 8N1 = "
          f"{baud // 10} B/s each way, paced by the keeper; firmware deployed as .mpy",
          "- per run: a fresh device (IDevID + FDO DI in-process), the voucher extended to the "
          "owner, TO0; then power-up (power cut, boot) and `fdo.onboard` (TO1 + TO2) through "
          "the serial relay to in-process rendezvous and owner servers\n",
          "Seconds per onboarding, mean over the runs (total: on the board, from the program's "
          "start, its imports included, to the credentials stored):\n",
          "| transport | runs | total (min–max) | device crypto | line | host | rest | floor "
          "| total/floor | bytes on line | FDO message bytes |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for tr, runs in results.items():
        fdo_bytes = _m(runs, lambda r: r.fdo_bytes)
        md.append(
            f"| {NAMES[tr]} | {len(runs)} | {_m(runs, lambda r: r.total):.2f} "
            f"({min(r.total for r in runs):.2f}–{max(r.total for r in runs):.2f}) "
            f"| {_m(runs, lambda r: r.crypto):.2f} | {_m(runs, lambda r: r.line):.2f} "
            f"| {_m(runs, lambda r: r.host):.3f} | {_m(runs, lambda r: r.rest):.2f} "
            f"| {_m(runs, lambda r: r.floor):.2f} | {_m(runs, lambda r: r.total / r.floor):.2f} "
            f"| {_m(runs, lambda r: r.bytes_line):,.0f} | {fdo_bytes:,.0f} |")
    md.append("\nfloor = line + device crypto; line = bytes on the line both ways (counted by "
              "the keeper between the program's START and END marks, its printed text taken "
              f"out) ÷ {baud // 10} B/s; host = time inside the rendezvous and owner servers' "
              "handle(); rest = total − crypto − line − host.")
    md.append("\nWhere the bytes on the line come from (mean per onboarding): FDO message "
              "bodies; the HTTP or CoAP around them (the stream / datagram bytes the board "
              "sent and received, less the bodies); the relay's requests and the link's "
              "framing (base64 lines with a check) around those:\n")
    md.append("| transport | bytes on line | to the board | from the board | FDO bodies "
              "| HTTP / CoAP | relay + link | board's own link count | power cut → END (s) |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tr, runs in results.items():
        line, fdo_b = _m(runs, lambda r: r.bytes_line), _m(runs, lambda r: r.fdo_bytes)
        payload = _m(runs, lambda r: r.payload)
        md.append(f"| {NAMES[tr]} | {line:,.0f} | {_m(runs, lambda r: r.bytes_to_board):,.0f} "
                  f"| {line - _m(runs, lambda r: r.bytes_to_board):,.0f} | {fdo_b:,.0f} "
                  f"| {payload - fdo_b:,.0f} | {line - payload:,.0f} "
                  f"| {_m(runs, lambda r: r.bytes_link):,.0f} | {_m(runs, lambda r: r.wall):.2f} |")
    md.append("\nThe board's own link count is what it read from and wrote to its UART; the "
              "keeper's is higher by frames that reached the board after it was done with a "
              "socket (the relay's CLOSED for a stream the board had closed). Power cut → END: "
              "on the host, boot, raw REPL, program upload and the program's 0.2 s pause "
              "after START included.")
    md.append("\nDevice crypto per onboarding (calls, seconds on the board; mean over the runs):\n")
    names = sorted({n for runs in results.values() for r in runs for n in r.crypto_ops})
    md.append("| function | " + " | ".join(f"{NAMES[t]} calls | {NAMES[t]} s"
                                             for t in results) + " |")
    md.append("|---|" + "---:|---:|" * len(results))
    for n in names:
        cells = []
        for runs in results.values():
            cells.append(f"{_m(runs, lambda r: r.crypto_ops.get(n, (0, 0))[0]):.0f}")
            cells.append(f"{_m(runs, lambda r: r.crypto_ops.get(n, (0, 0.0))[1]):.3f}")
        md.append(f"| `crypto.{n}` | " + " | ".join(cells) + " |")
    md.append("\nFDO message bytes (bodies, counted at the servers; messages sent more than "
              "once are summed, × how often):\n")
    md.append("| message | " + " | ".join(f"{NAMES[t]}" for t in results) + " |")
    md.append("|---|" + "---:|" * len(results))
    types = sorted({t for runs in results.values() for r in runs for t in r.sizes})
    for t in types:
        cells = []
        for runs in results.values():
            n = _m(runs, lambda r: len(r.sizes.get(t, [])))
            b = _m(runs, lambda r: sum(r.sizes.get(t, [])))
            cells.append("—" if not n else f"{b:,.0f}" + (f" (× {n:g})" if n != 1 else ""))
        md.append(f"| {t} {MESSAGES.get(t, '?')} | " + " | ".join(cells) + " |")
    md.append(f"\nThe virtual board's CPU is this machine's (webassembly): its crypto and "
              f"protocol times are far below an nRF52840's; the line times are the real "
              f"board's. Peak heap during TO2: bench/heap_peak.py --only fdo-to2.")
    md.append(f"\nbenchmark run time {seconds:.0f} s")
    return "\n".join(md) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="onboardings per transport")
    ap.add_argument("--profile", default="nrf52840-dk")
    ap.add_argument("--transports", default="http,coap")
    ap.add_argument("--output", type=Path, default=None, help="also write the Markdown here")
    args = ap.parse_args()
    prof = profiles.load(args.profile)
    baud = prof.console["baud"]
    transports = [t for t in args.transports.split(",") if t]
    if any(t not in ("http", "coap") for t in transports):
        raise SystemExit("--transports: http and/or coap")
    info = {"os": "MicroPython", "arch": prof.micropython.get("march", "wasm"),
            "version": "1.27.0", "device": prof.name}
    t_all = time.perf_counter()
    keys = Keys.make()
    svc = start_services(keys)
    results: dict[str, list[Run]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="imprint-bench-fdo-") as d:
            flash = Path(d) / "flash"
            # deploying ~90 KB of .mpy at 11.5 KB/s is no part of onboarding: without the limit
            with VirtualBoard(prof, flash=flash, serial="bench-fdo") as vb:
                deploy.deploy(vb.port, port="virtual")
                mpy = micropython_version(vb.port)
            with VirtualBoard(prof, flash=flash, serial="bench-fdo", baud=baud) as vb:
                for tr in transports:
                    results[tr] = []
                    for i in range(args.runs):
                        r = one_run(vb, svc, keys, tr, i, info, baud / 10)
                        print(f"{tr} run {i + 1}/{args.runs}: {r.total:.2f} s, crypto "
                              f"{r.crypto:.2f} s, line {r.line:.2f} s, host {r.host:.3f} s, "
                              f"{r.bytes_line} B", file=sys.stderr)
                        results[tr].append(r)
    finally:
        svc.stop()
    text = report(results, prof, baud, mpy, time.perf_counter() - t_all)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)


if __name__ == "__main__":
    main()
