"""The MicroPython unix port, v1.27.0, built for heap measurements (bench/heap_peak.py).

    .venv/bin/python bench/unix_micropython.py            # build if missing, print what it is
    .venv/bin/python bench/unix_micropython.py --force    # rebuild
    .venv/bin/python bench/unix_micropython.py --source-tree ~/src/micropython-1.27.0

The virtual board (MicroPython's webassembly build) cannot collect garbage while Python code
runs, so it cannot show the PEAK heap of an operation; the unix port has a real, conservative
mark-and-sweep GC over a fixed heap set with `-X heapsize=N`, like a board's.

The binary goes to build/micropython-unix/micropython. It is a 32-bit build (`-m32`, object
sizes and 16-byte GC blocks as on the nRF52840 and ESP32) where the C compiler can link
32-bit programs (Debian: `apt-get install gcc-multilib`), else a 64-bit one, whose heap
figures are about 1.5-2x a board's (8-byte words, 32-byte GC blocks): `--bits` chooses.
The variant ("imprint", written into the source tree) is the unix "standard" feature set
(ROM level EXTRA_FEATURES, double floats, mpz long ints, hashlib, binascii, struct, json, os,
time) without the parts that need git submodules or are not on a board: no frozen
manifest, ffi, btree, ssl, socket, threads, termios, readline, FAT or littlefs.

The source is MicroPython's tag v1.27.0, taken from a git directory (`--source-git`, default
the local mirror; `git archive`, so no work tree is needed) or an extracted tree
(`--source-tree`). Submodules are not needed. Everything is kept in build/micropython-unix/
(src/, build.log, build-info.json); a second call with nothing changed does nothing.

`run(binary, script, heap_bytes, path_dirs)` runs a script under that binary.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE_DIR = ROOT / "firmware"
BUILD_DIR = ROOT / "build" / "micropython-unix"
BINARY = BUILD_DIR / "micropython"
SRC_DIR = BUILD_DIR / "src"
INFO_FILE = BUILD_DIR / "build-info.json"
LOG_FILE = BUILD_DIR / "build.log"

DEFAULT_SOURCE_GIT = Path("/work/.mirror/micropython+micropython/repo")
TAG = "v1.27.0"
VERSION = (1, 27, 0)
VARIANT = "imprint"

VARIANT_H = """\
// imprint's heap-measurement build: the unix "standard" feature level.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)
#include "../mpconfigvariant_common.h"
"""

# Everything that needs a git submodule (or is not on a board) is off.
VARIANT_MK = """\
# imprint's heap-measurement build: no submodules needed.
FROZEN_MANIFEST =
MICROPY_PY_BTREE = 0
MICROPY_PY_FFI = 0
MICROPY_PY_SOCKET = 0
MICROPY_PY_THREAD = 0
MICROPY_PY_TERMIOS = 0
MICROPY_PY_SSL = 0
MICROPY_USE_READLINE = 0
MICROPY_VFS_FAT = 0
MICROPY_VFS_LFS1 = 0
MICROPY_VFS_LFS2 = 0
"""

# Bump when the variant or the make line changes: the binary is rebuilt.
RECIPE = 2

Progress = Callable[[str], None]


class BuildError(RuntimeError):
    """The unix port could not be built; the message says what to do."""


def _say(msg: str) -> None:
    print(f"[unix-micropython] {msg}", file=sys.stderr, flush=True)


def can_build_32bit() -> bool:
    """True if `gcc -m32` links a program here (Debian: the gcc-multilib package)."""
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        return False
    with tempfile.TemporaryDirectory(prefix="m32-probe-") as tmp:
        c = Path(tmp) / "t.c"
        c.write_text("int main(void) { return 0; }\n")
        res = subprocess.run([cc, "-m32", str(c), "-o", str(Path(tmp) / "t")],
                             capture_output=True, text=True)
        return res.returncode == 0


def _wanted_bits(bits: str, progress: Progress) -> int:
    if bits == "64":
        return 64
    ok32 = can_build_32bit()
    if bits == "32":
        if not ok32:
            raise BuildError("--bits 32: `gcc -m32` cannot link here; install the 32-bit C "
                             "library (Debian/Ubuntu: apt-get install gcc-multilib) or pass "
                             "--bits 64")
        return 32
    if ok32:
        return 32
    progress("WARNING: no 32-bit toolchain (apt-get install gcc-multilib): building 64-bit; "
             "its heap figures are about 1.5-2x a 32-bit board's")
    return 64


def _read_info() -> dict:
    try:
        return json.loads(INFO_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _tree_version(tree: Path) -> tuple[int, int, int] | None:
    """MicroPython's version from py/mpconfig.h, or None if tree is not a MicroPython source."""
    try:
        text = (tree / "py" / "mpconfig.h").read_text()
    except OSError:
        return None
    vals = {}
    for key in ("MAJOR", "MINOR", "MICRO"):
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "#define" and parts[1] == f"MICROPY_VERSION_{key}":
                vals[key] = int(parts[2].strip("()"))
                break
    if len(vals) != 3:
        return None
    return vals["MAJOR"], vals["MINOR"], vals["MICRO"]


def _git_has_tag(git_dir: Path) -> bool:
    res = subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", "--verify", "--quiet",
                          f"refs/tags/{TAG}^{{commit}}"], capture_output=True, text=True)
    return res.returncode == 0


def _tag_hash(source_git: Path | None) -> str:
    """The short commit hash of TAG in source_git, or "" if that cannot be told."""
    if source_git is None or not source_git.exists() or shutil.which("git") is None:
        return ""
    res = subprocess.run(["git", "--git-dir", str(source_git), "rev-parse", "--short=10",
                          f"refs/tags/{TAG}^{{commit}}"], capture_output=True, text=True)
    return res.stdout.strip() if res.returncode == 0 else ""


def _stage_source(source_git: Path | None, source_tree: Path | None, progress: Progress) -> None:
    """Put the v1.27.0 source in SRC_DIR (once; reused while its marker says v1.27.0)."""
    marker = SRC_DIR / ".imprint-source"
    if marker.is_file() and marker.read_text().strip() == TAG and _tree_version(SRC_DIR) == VERSION:
        return
    if source_tree is not None:
        if not source_tree.is_dir():
            raise BuildError(f"--source-tree {source_tree}: no such directory")
        v = _tree_version(source_tree)
        if v is None:
            raise BuildError(f"--source-tree {source_tree}: not a MicroPython source tree "
                             "(no py/mpconfig.h with MICROPY_VERSION_*)")
        if v != VERSION:
            raise BuildError(f"--source-tree {source_tree} is MicroPython {'.'.join(map(str, v))}, "
                             f"not {TAG[1:]}: the heap figures must come from {TAG}")
        if not (source_tree / "ports" / "unix" / "Makefile").is_file():
            raise BuildError(f"--source-tree {source_tree}: no ports/unix/Makefile")
    elif source_git is None or not source_git.exists():
        raise BuildError(
            f"no MicroPython {TAG} source: {source_git or '(none given)'} does not exist. Pass "
            f"--source-git DIR (a git directory or clone that has the tag {TAG}, e.g. "
            "`git clone --bare https://github.com/micropython/micropython`) or "
            f"--source-tree DIR (an extracted MicroPython {TAG[1:]} source tree)")
    elif shutil.which("git") is None:
        raise BuildError("git is not installed: install it, or pass --source-tree DIR")
    elif not _git_has_tag(source_git):
        raise BuildError(f"--source-git {source_git}: no tag {TAG} there (not a MicroPython "
                         "git directory, or too old a copy): fetch the tags, or pass --source-tree")

    if SRC_DIR.exists():
        shutil.rmtree(SRC_DIR)
    if source_tree is not None:
        progress(f"copying the source tree {source_tree} to {SRC_DIR}")
        shutil.copytree(source_tree, SRC_DIR, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", "build", "build-*"))
    else:
        progress(f"extracting {TAG} from {source_git} to {SRC_DIR} (git archive)")
        SRC_DIR.mkdir(parents=True)
        archive = subprocess.Popen(["git", "--git-dir", str(source_git), "archive", TAG],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        untar = subprocess.run(["tar", "-x", "-C", str(SRC_DIR)], stdin=archive.stdout,
                               capture_output=True)
        assert archive.stdout is not None and archive.stderr is not None
        archive.stdout.close()
        err = archive.stderr.read().decode(errors="replace")
        if archive.wait() != 0 or untar.returncode != 0:
            raise BuildError(f"git archive {TAG} from {source_git} failed: "
                             f"{err.strip() or untar.stderr.decode(errors='replace').strip()}")
    if _tree_version(SRC_DIR) != VERSION:
        raise BuildError(f"the staged source in {SRC_DIR} is not MicroPython {TAG[1:]}")
    marker.write_text(TAG + "\n")


def _write_variant() -> None:
    vdir = SRC_DIR / "ports" / "unix" / "variants" / VARIANT
    vdir.mkdir(parents=True, exist_ok=True)
    for name, text in (("mpconfigvariant.h", VARIANT_H), ("mpconfigvariant.mk", VARIANT_MK)):
        p = vdir / name
        if not p.is_file() or p.read_text() != text:
            p.write_text(text)


def make_command(bits: int, jobs: int) -> list[str]:
    """The make line that builds the binary (run in SRC_DIR)."""
    cmd = ["make", "-C", "ports/unix", f"-j{jobs}", f"VARIANT={VARIANT}",
           f"BUILD=build-{VARIANT}-{bits}"]
    if bits == 32:
        cmd.append("MICROPY_FORCE_32BIT=1")
    return cmd


def ensure_binary(source_git: Path | None = DEFAULT_SOURCE_GIT, source_tree: Path | None = None,
                  bits: str = "auto", jobs: int | None = None, force: bool = False,
                  progress: Progress = _say) -> Path:
    """Build BINARY unless an up-to-date one is there; return its path.

    bits: "auto" (32 if `gcc -m32` links, else 64), "32" or "64". An existing binary is kept
    when its build-info.json matches the recipe (and, for "auto", whatever it was built as).
    """
    if bits not in ("auto", "32", "64"):
        raise BuildError(f"bits must be auto, 32 or 64, not {bits!r}")
    info = _read_info()
    if (not force and BINARY.is_file() and info.get("recipe") == RECIPE
            and info.get("version") == TAG and (bits == "auto" or str(info.get("bits")) == bits)):
        return BINARY
    for tool in ("make", os.environ.get("CC", "gcc")):
        if shutil.which(tool) is None:
            raise BuildError(f"{tool} is not installed: it is needed to build the unix port "
                             "(Debian: apt-get install build-essential)")
    nbits = _wanted_bits(bits, progress)
    _stage_source(source_git, source_tree, progress)
    _write_variant()
    jobs = jobs or os.cpu_count() or 1
    cmd = make_command(nbits, jobs)
    progress(f"building ({nbits}-bit): cd {SRC_DIR} && {' '.join(cmd)}  (log: {LOG_FILE})")
    t0 = time.monotonic()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with LOG_FILE.open("w") as log:
        # The version comes from here, not from `git describe`: SRC_DIR lies inside imprint's
        # own work tree, whose git must not be asked (nor its index touched).
        env = dict(os.environ, MICROPY_GIT_TAG=TAG, MICROPY_GIT_HASH=_tag_hash(None if source_tree else source_git),
                   GIT_CEILING_DIRECTORIES=str(SRC_DIR.parent))
        proc = subprocess.Popen(cmd, cwd=SRC_DIR, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env)
        assert proc.stdout is not None
        n = 0
        for line in proc.stdout:
            log.write(line)
            if line.startswith("CC "):
                n += 1
                if n % 50 == 0:
                    progress(f"  {n} files compiled")
            elif line.startswith(("LINK", "GEN", "QSTR updated")):
                progress("  " + line.strip())
        rc = proc.wait()
    if rc != 0:
        tail = "".join(LOG_FILE.read_text().splitlines(keepends=True)[-25:])
        raise BuildError(f"make failed (exit {rc}); the end of {LOG_FILE}:\n{tail}")
    built = SRC_DIR / "ports" / "unix" / f"build-{VARIANT}-{nbits}" / "micropython"
    if not built.is_file():
        raise BuildError(f"make succeeded but {built} is missing; see {LOG_FILE}")
    tmp = BINARY.with_suffix(".tmp")
    shutil.copy2(built, tmp)
    os.replace(tmp, BINARY)
    seconds = time.monotonic() - t0
    INFO_FILE.write_text(json.dumps({
        "version": TAG, "recipe": RECIPE, "bits": nbits, "variant": VARIANT,
        "make": " ".join(cmd), "build_seconds": round(seconds, 1),
        "size_bytes": BINARY.stat().st_size,
    }, indent=2) + "\n")
    progress(f"built {BINARY} ({BINARY.stat().st_size} bytes) in {seconds:.1f} s")
    return BINARY


def build_info() -> dict:
    """What build-info.json says about BINARY (empty if it was not built here)."""
    return _read_info()


def run(binary: Path | str, script: Path | str, heap_bytes: int,
        path_dirs: Iterable[Path | str] = (FIRMWARE_DIR,), timeout: float = 120.0,
        ) -> tuple[int, str, str]:
    """Run the MicroPython script file `script` with `-X heapsize=heap_bytes`.

    sys.path is path_dirs (through MICROPYPATH; MicroPython puts the script's own directory
    first), e.g. [FIRMWARE_DIR] for imprint's sources. Returns (returncode, stdout, stderr);
    a run past `timeout` seconds is killed and gives returncode -9 with a note in stderr.
    """
    if heap_bytes <= 0:
        raise ValueError("heap_bytes must be positive")
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(str(p) for p in path_dirs)
    cmd = [str(binary), "-X", f"heapsize={int(heap_bytes)}", str(script)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return -9, out, f"timed out after {timeout:g} s"
    return res.returncode, res.stdout, res.stderr


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source-git", type=Path, default=DEFAULT_SOURCE_GIT, metavar="DIR",
                    help=f"git directory with the tag {TAG} (default: %(default)s)")
    ap.add_argument("--source-tree", type=Path, default=None, metavar="DIR",
                    help=f"an extracted MicroPython {TAG[1:]} source tree (instead of --source-git)")
    ap.add_argument("--bits", choices=("auto", "32", "64"), default="auto",
                    help="word size (default: 32 where gcc -m32 links, else 64)")
    ap.add_argument("-j", "--jobs", type=int, default=None, help="parallel make jobs")
    ap.add_argument("--force", action="store_true", help="rebuild even if the binary is there")
    args = ap.parse_args(argv)
    try:
        binary = ensure_binary(args.source_git, args.source_tree, args.bits, args.jobs, args.force)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="unix-mpy-") as tmp:
        probe = Path(tmp) / "probe.py"
        probe.write_text("import sys, gc, hashlib\n"
                         "print(sys.implementation.version, sys.maxsize > 2**31, "
                         "gc.mem_alloc() + gc.mem_free())\n")
        rc, out, err = run(binary, probe, 65536, [])
    if rc != 0:
        print(f"error: {binary} does not run: {err.strip()}", file=sys.stderr)
        return 1
    info = build_info()
    print(f"{binary}: MicroPython {TAG[1:]}, {info.get('bits', '?')}-bit, "
          f"{binary.stat().st_size} bytes; probe: {out.strip()}")
    print(f"make line: {info.get('make', '?')}  (built in {info.get('build_seconds', '?')} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
