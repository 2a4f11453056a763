"""CBOR benchmark: imprint.cbor vs micropython-lib's cbor2 on the virtual board, one run.

    .venv/bin/python bench/cbor.py --mpl-cbor2 PATH/micropython-lib/python-ecosys/cbor2/cbor2

micropython-lib is not on a package registry, so its path is given; without it only imprint's
figures are printed. Nothing of micropython-lib is stored in this repository.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host_tools"))

from imprint_host import deploy  # noqa: E402
from imprint_host.board import profiles  # noqa: E402
from imprint_host.board.serial_board import connect  # noqa: E402
from imprint_host.board.virtual import VirtualBoard  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mpl-cbor2", type=Path, help="micropython-lib's cbor2 package directory")
    ap.add_argument("--profile", default="nrf52840-dk")
    args = ap.parse_args()
    prof = profiles.load(args.profile)
    with VirtualBoard(prof) as vb:
        deploy.deploy(vb.port, port="virtual")
        with connect(vb.port) as b:
            if args.mpl_cbor2:
                b.mkdir("/bench", "/bench/cbor2")
                for f in sorted(args.mpl_cbor2.glob("*.py")):
                    b.transport.fs_writefile(f"/bench/cbor2/{f.name}", f.read_bytes())
                b.exec("import sys\nsys.path.append('/bench')")
            out = b.exec((HERE / "board" / "cbor_bench.py").read_text(), timeout=600)
    print(f"CBOR encode+decode on the virtual board ({prof.name} profile, MicroPython 1.27.0 "
          f"webassembly), {datetime.date.today()}, {platform.machine()} {platform.processor() or ''}".rstrip())
    print()
    print("| payload | bytes | imprint µs | micropython-lib cbor2 µs | speed-up |")
    print("|---|---:|---:|---:|---:|")
    ratios = []
    for line in out.splitlines():
        if not line.startswith("ROW|"):
            continue
        _, name, size, ours, theirs, note = line.split("|")
        ours_f, theirs_f = float(ours), float(theirs)
        if theirs_f > 0 and not note:
            ratio = theirs_f / ours_f
            ratios.append(ratio)
            cell, speed = f"{theirs_f:.0f}", f"{ratio:.2f}×"
        else:
            cell, speed = (note.replace("mpl-fails:", "fails: ") or "not run"), "—"
        print(f"| {name} | {size} | {ours_f:.0f} | {cell} | {speed} |")
    if ratios:
        geo = 1.0
        for r in ratios:
            geo *= r
        print(f"\ngeometric mean speed-up on the payloads both handle: {geo ** (1 / len(ratios)):.2f}×")


if __name__ == "__main__":
    main()
