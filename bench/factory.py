"""Factory provisioning benchmark: the station on virtual boards at the profile's baud rate.

    .venv/bin/python bench/factory.py [--profile nrf52840-dk] [--boards 1,2,4]

A CA is made in a temporary directory; for each count N in --boards, N fresh virtual boards
(profile nrf52840-dk, its console at the profile's baud rate, 115200 8N1) are provisioned at
once by Station.provision_all, as `imprint factory provision --port ... --port ...` does.

The firmware is deployed once, to a board without the baud limit (deploying ~90 KB of .mpy
at 11.5 KB/s, with mpremote's overhead, would add ~10 s a board that are no part of
provisioning), and that flash directory is copied for every board; the boards under test then
boot from their copy with the limit on.

Per board the seconds are split by timing every AgentClient exchange on the host (start of the
agent from the raw REPL, each request, the closing) and counting its bytes both ways in the
virtual board's keeper (exact per exchange: a request has reached the board when it answers,
the answer has been read when the call returns):
- keygen, csr: on-device P-256 key generation and CSR signing (the request's time less its
  line time); install: the on-device chain check (two ECDSA verifications, one scalar
  multiplication, the store write), likewise;
- other device: the same for the start (raw-REPL handshake, imports), identify, the three FDO
  DI exchanges, commit and the closing (bye, leaving the raw REPL): device work plus the
  round trips through the keeper and Node;
- line: all bytes both ways ÷ (baud/10);
- host: the rest (CA issuing, the FDO manufacturer, the record, the files).
floor = line + on-device crypto (keygen + csr + install); target: measured ≤ 1.5 × floor.

The virtual board runs MicroPython's webassembly build on the host's CPU: its crypto times are
the host's, far below an nRF52840's at 64 MHz; the line times are the real board's.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host_tools"))
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT / "bench"))

import cbor2  # noqa: E402
import host_machine as bench_machine  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from imprint_host import deploy, link  # noqa: E402
from imprint_host.board import profiles  # noqa: E402
from imprint_host.board.serial_board import connect  # noqa: E402
from imprint_host.board.virtual import VirtualBoard  # noqa: E402
from imprint_host.factory import agent_client, fdo  # noqa: E402
from imprint_host.factory.ca import IssuingCA  # noqa: E402
from imprint_host.factory.records import Records  # noqa: E402
from imprint_host.factory.station import Station  # noqa: E402

CRYPTO_OPS = ("keygen", "csr", "install")


@dataclass
class Exchange:
    what: str  # an agent op, or "start" / "close" (the raw REPL around the agent)
    seconds: float
    line: int  # bytes on the line, both ways, counted by the board's keeper
    framed: int  # of which in agent frames (request frame + what the transcript gained)


BOARDS: dict[str, VirtualBoard] = {}  # port -> the board on it (this run's)
LOGS: dict[str, list[Exchange]] = {}
_LOCK = threading.Lock()


def instrument() -> None:
    """Time every AgentClient exchange and count its bytes (the module is not changed: its
    methods are wrapped). The keeper's counters are exact per exchange: a request's bytes have
    reached the board when it answers, and the answer's have been read when the call returns."""
    cls = agent_client.AgentClient
    call, post_init, close = cls.call, cls.__post_init__, cls.close

    def timed(self, what, fn, framed=lambda: 0):
        vb = BOARDS[self.port]
        n0, t0 = vb.rx_bytes + vb.tx_bytes, time.perf_counter()
        try:
            return fn()
        finally:
            ex = Exchange(what, time.perf_counter() - t0, vb.rx_bytes + vb.tx_bytes - n0, framed())
            with _LOCK:
                LOGS.setdefault(self.port, []).append(ex)

    def timed_call(self, op, arg=None, timeout=None):
        if op == "bye":  # part of the closing
            return call(self, op, arg, timeout)
        sent = len(link.encode(link.Channel.AGENT, self._seq, cbor2.dumps([self._rid + 1, op, arg])))
        n0 = len(self.transcript)
        return timed(self, op, lambda: call(self, op, arg, timeout),
                     lambda: sent + len(self.transcript) - n0)

    def timed_post_init(self):
        BOARDS[self.port]  # noqa: B018 (a port this benchmark started)
        timed(self, "start", lambda: post_init(self))

    def timed_close(self):
        timed(self, "close", lambda: close(self))

    cls.call, cls.__post_init__, cls.close = timed_call, timed_post_init, timed_close


def micropython_version(port: str) -> str:
    with connect(port) as b:
        return b.exec("import sys; print(sys.version.split('; ')[-1])").strip()


def machine() -> str:
    cpu = bench_machine.cpu()
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, Node {node}")


def station(ca: IssuingCA, tmp: Path, n: int) -> Station:
    point = ca.fdo_public_key.public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    return Station(ca=ca, records=Records(str(tmp / f"factory-{n}.db")), out_dir=tmp / f"out-{n}",
                   make_manufacturer=lambda: fdo.Manufacturer(ca.fdo_key, fdo.rendezvous("http://127.0.0.1:8080")),
                   authority=point)


@dataclass
class Row:
    total: float
    line: float
    device: dict[str, float]  # keygen, csr, install, other
    host: float
    floor: float
    bytes_line: int
    bytes_frames: int


def analyse(res, rate: float) -> Row:
    exch = LOGS[res.port]
    nbytes = sum(e.line for e in exch)
    line = nbytes / rate
    device = dict.fromkeys((*CRYPTO_OPS, "other"), 0.0)
    for e in exch:
        key = e.what if e.what in CRYPTO_OPS else "other"
        device[key] += e.seconds - e.line / rate
    host = res.seconds - line - sum(device.values())
    floor = line + sum(device[k] for k in CRYPTO_OPS)
    return Row(res.seconds, line, device, host, floor, nbytes, sum(e.framed for e in exch))


def run(n: int, prof, template: Path, ca: IssuingCA, tmp: Path) -> tuple[float, list[Row]]:
    baud = prof.console["baud"]
    boards = []
    for i in range(n):
        flash = tmp / f"flash-{n}-{i}"
        shutil.copytree(template, flash)
        boards.append(VirtualBoard(prof, flash=flash, serial=f"{n:08x}{i:08x}", baud=baud))
    with ThreadPoolExecutor(len(boards)) as pool:
        list(pool.map(lambda vb: vb.start(), boards))
    try:
        BOARDS.clear()
        BOARDS.update((vb.port, vb) for vb in boards)
        LOGS.clear()
        st = station(ca, tmp, n)
        t0 = time.perf_counter()
        results = st.provision_all([vb.port for vb in boards])
        wall = time.perf_counter() - t0
        for r in results:
            if not r.ok:
                raise SystemExit(f"{r.port}: provisioning failed: {r.error}")
        return wall, [analyse(r, baud / 10) for r in results]
    finally:
        for vb in boards:
            vb.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="nrf52840-dk")
    ap.add_argument("--boards", default="1,2,4")
    args = ap.parse_args()
    counts = [int(x) for x in args.boards.split(",")]
    prof = profiles.load(args.profile)
    baud = prof.console["baud"]
    instrument()
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="imprint-bench-factory-") as d:
        tmp = Path(d)
        ca = IssuingCA.create(tmp / "ca", org="imprint bench factory")
        template = tmp / "flash-template"
        with VirtualBoard(prof, flash=template, serial="template") as vb:  # no baud limit
            deploy.deploy(vb.port, port="virtual")
            mpy = micropython_version(vb.port)
        results = {n: run(n, prof, template, ca, tmp) for n in counts}

    print(f"# imprint factory benchmark ({datetime.date.today().isoformat()})\n")
    print(f"- machine: {machine()}")
    print(f"- board: virtual {prof.name}, {mpy} under Node, "
          f"console {baud} baud 8N1 = {baud // 10} B/s each way, paced by the keeper")
    print("- firmware deployed once without the limit, its flash copied to every board\n")
    print("Seconds per board (mean over the boards of a run; device times are the on-device work "
          "of a request, its line time taken out):\n")
    print("| boards | keygen | csr (sign) | install (chain check) | other device | line | host "
          "| total | floor | total/floor | target ≤ 1.5× | bytes on line | boards/hour |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|")
    for n, (wall, rows) in results.items():
        m = lambda f: statistics.mean(f(r) for r in rows)  # noqa: E731
        ratio = m(lambda r: r.total / r.floor)
        print(f"| {n} | {m(lambda r: r.device['keygen']):.3f} | {m(lambda r: r.device['csr']):.3f} "
              f"| {m(lambda r: r.device['install']):.3f} | {m(lambda r: r.device['other']):.3f} "
              f"| {m(lambda r: r.line):.3f} | {m(lambda r: r.host):.3f} | {m(lambda r: r.total):.3f} "
              f"| {m(lambda r: r.floor):.3f} | {ratio:.2f} | {'yes' if ratio <= 1.5 else 'NO'} "
              f"| {m(lambda r: r.bytes_line):.0f} | {3600 * n / wall:.0f} |")
    print("\nfloor = bytes on the line ÷ (baud/10) + on-device crypto (keygen + csr + install); "
          "boards/hour = N × 3600 ÷ wall time of the parallel run "
          + ", ".join(f"({n}: {w:.2f} s)" for n, (w, _) in results.items()) + ".")
    one = results[counts[0]][1][0]
    print(f"Bytes on the line per board: {one.bytes_line} (agent frames {one.bytes_frames}, "
          f"raw REPL start and close {one.bytes_line - one.bytes_frames}); a request's time on "
          f"the host less its line time is counted as the board's.")
    print(f"\nbenchmark run time {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
