"""Run the firmware's tests on a board over its serial port, one test per request.

Each test runs in its own raw-REPL request and the heap is read after it; a test that leaves
more live heap than the board's budget fails, naming the budget. (On the webassembly build the
GC runs only between requests; see README, "RAM on the virtual board".)
"""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .serial_board import SerialBoard



@dataclass
class TestResult:
    module: str
    name: str
    passed: bool
    allocated: int
    live_after: int
    seconds: float
    detail: str = ""


@dataclass
class Report:
    results: list[TestResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


def install_tests(board: SerialBoard, test_dir: Path) -> list[str]:
    """Copy the device tests and their helpers (as source) to /tests on the board; return
    the test modules."""
    board.mkdir("/tests")
    files = sorted(f for f in test_dir.glob("*.py") if f.name != "conftest.py")
    for f in files:
        board.transport.fs_writefile(f"/tests/{f.name}", f.read_bytes())
    _load_runner(board)
    return [f.stem for f in files if f.name.startswith("test_")]


def _load_runner(board: SerialBoard) -> None:
    board.exec("import sys\nif '/tests' not in sys.path:\n sys.path.append('/tests')\nimport _runner")


def run(board: SerialBoard, test_dir: Path, heap_budget: int, board_name: str,
        only: str | None = None, timeout: float = 600,
        on_result: Callable[[TestResult], None] = lambda r: None) -> Report:
    report = Report()
    for module in install_tests(board, test_dir):
        # Each test module starts on a freshly reset board (soft reset: a new heap), so what
        # it leaves live is its own, not what earlier modules left behind.
        board.soft_reset()
        _load_runner(board)
        names = ast.literal_eval(board.exec(f"_runner.list_tests({module!r})").strip())
        if only and not any(only in f"{module}.{n}" for n in names):
            continue
        for name in names:
            if only and only not in f"{module}.{name}":
                continue
            t0 = time.monotonic()
            out, err = board.exec_result(f"_runner.one({module!r}, {name!r})", timeout=timeout)
            seconds = time.monotonic() - t0
            live = int(board.exec("_runner.live()").strip())
            lines = out.strip().splitlines()
            status = [ln for ln in lines if ln.startswith(("PASS ", "FAIL "))]
            if err or not status:
                result = TestResult(module, name, False, 0, live, seconds,
                                    (out + err).strip() or "no result from the board")
            else:
                verdict, allocated = status[-1].split()[:2]
                detail = "\n".join(lines[lines.index(status[-1]) + 1:])
                result = TestResult(module, name, verdict == "PASS", int(allocated), live, seconds, detail)
            if result.live_after > heap_budget:
                result.passed = False
                result.detail = (f"HEAP BUDGET EXCEEDED: {result.live_after} B live after the test, "
                                 f"budget of {board_name} is {heap_budget} B\n{result.detail}").strip()
            report.results.append(result)
            on_result(result)
    return report
