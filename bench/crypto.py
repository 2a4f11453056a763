"""Crypto benchmark, one run: CPython ratios against pure-Python peers, then the virtual board.

    .venv/bin/python bench/crypto.py        (needs the `bench` extra: ecdsa, x25519)

Under CPython: P-256 ECDH and ECDSA sign/verify against python-ecdsa (pure Python), X25519
against the pure-Python `x25519` package. On the virtual board (nrf52840-dk profile):
milliseconds per operation, the heap each allocates, and the .mpy size of cbor and crypto.
"""

from __future__ import annotations

import datetime
import hashlib
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT / "host_tools"))

import ecdsa  # noqa: E402
import x25519  # noqa: E402

from imprint import crypto  # noqa: E402
from imprint_host import deploy  # noqa: E402
from imprint_host.board import profiles  # noqa: E402
from imprint_host.board.serial_board import connect  # noqa: E402
from imprint_host.board.virtual import VirtualBoard  # noqa: E402

HERE = Path(__file__).resolve().parent


def per_call(fn, min_s=1.0) -> float:
    fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= min_s and n >= 3:
            return dt / n


def cpython_rows() -> list[tuple[str, float, float, str]]:
    priv, pub = crypto.p256_keypair()
    peer_priv, peer_pub = crypto.p256_keypair()
    msg = b"imprint benchmark message"
    sig = crypto.p256_sign(priv, msg)
    sk = ecdsa.SigningKey.from_string(priv, curve=ecdsa.NIST256p, hashfunc=hashlib.sha256)
    vk = sk.get_verifying_key()
    esig = sk.sign_deterministic(msg)
    peer_vk = ecdsa.VerifyingKey.from_string(peer_pub, curve=ecdsa.NIST256p)
    ecdh = ecdsa.ECDH(curve=ecdsa.NIST256p, private_key=sk, public_key=peer_vk)
    scalar, u = bytes(range(1, 33)), x25519.scalar_base_mult(bytes(range(7, 39)))
    assert ecdh.generate_sharedsecret_bytes() == crypto.p256_ecdh(priv, peer_pub)
    assert crypto.x25519(scalar, u) == x25519.scalar_mult(scalar, u)
    return [
        ("P-256 ECDH", per_call(lambda: crypto.p256_ecdh(priv, peer_pub)),
         per_call(lambda: ecdh.generate_sharedsecret_bytes()), "python-ecdsa 0.19"),
        ("ECDSA P-256 sign", per_call(lambda: crypto.p256_sign(priv, msg)),
         per_call(lambda: sk.sign_deterministic(msg)), "python-ecdsa 0.19"),
        ("ECDSA P-256 verify", per_call(lambda: crypto.p256_verify(pub, msg, sig)),
         per_call(lambda: vk.verify(esig, msg)), "python-ecdsa 0.19"),
        ("X25519", per_call(lambda: crypto.x25519(scalar, u)),
         per_call(lambda: x25519.scalar_mult(scalar, u)), "x25519 0.0.2"),
    ]


def mpy_sizes() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        files = deploy.plan(Path(tmp), source=False, port=None)
        sizes = {"imprint.cbor": 0, "imprint.crypto": 0}
        for f in files:
            if f.remote.endswith("/cbor.mpy"):
                sizes["imprint.cbor"] += f.local.stat().st_size
            elif "/crypto/" in f.remote:
                sizes["imprint.crypto"] += f.local.stat().st_size
        return sizes


def board_rows(profile: str) -> list[list[str]]:
    prof = profiles.load(profile)
    with VirtualBoard(prof) as vb:
        deploy.deploy(vb.port, port="virtual")
        with connect(vb.port) as b:
            out = b.exec((HERE / "board" / "crypto_bench.py").read_text(), timeout=1200)
    return [line.split("|")[1:] for line in out.splitlines() if line.startswith("ROW|")]


def main() -> None:
    print(f"Measured {datetime.date.today()} on {platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}, MicroPython 1.27.0 webassembly under Node "
          f"{subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}.")
    print("\nCPython, pure Python on both sides:\n")
    print("| operation | imprint ms | peer ms | peer | imprint speed-up |")
    print("|---|---:|---:|---|---:|")
    for name, ours, theirs, peer in cpython_rows():
        print(f"| {name} | {ours * 1e3:.2f} | {theirs * 1e3:.2f} | {peer} | {theirs / ours:.2f}× |")
    print("\nVirtual board (nrf52840-dk profile):\n")
    print("| operation | ms | heap allocated B (upper bound of the peak) |")
    print("|---|---:|---:|")
    for name, ms, alloc, _n in board_rows("nrf52840-dk"):
        print(f"| {name} | {float(ms):.2f} | {int(alloc):,} |")
    sizes = mpy_sizes()
    print("\n.mpy size: " + ", ".join(f"{k} {v:,} B" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
