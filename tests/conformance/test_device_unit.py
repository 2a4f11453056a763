"""The firmware's own tests (tests/device: CBOR, crypto, COSE, EDHOC and OSCORE vectors, the
store, the link, ...) on the board, by the device test runner (board/devtest.py: one raw-REPL
request a test, each module on a freshly reset board, the profile's heap budget enforced).
One pytest test per device-test module, failing with the names and tracebacks of its tests."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from imprint_host.board import devtest
from imprint_host.board.serial_board import connect

DEVICE_TESTS = Path(__file__).resolve().parents[1] / "device"
MODULES = sorted(p.stem for p in DEVICE_TESTS.glob("test_*.py"))


@pytest.fixture(scope="module")
def device_results(board, request):
    """module -> its TestResults. The runner goes once over the modules this run selected:
    all of them in one pass, or each alone (its `only` filter) when -k picked a few."""
    selected = sorted({item.callspec.params["module"] for item in request.session.items
                       if getattr(item, "originalname", "") == "test_device_module"})
    results: dict[str, list[devtest.TestResult]] = defaultdict(list)
    with connect(board.port) as b:
        for only in ([None] if selected == MODULES else [f"{m}." for m in selected]):
            report = devtest.run(b, DEVICE_TESTS, board.profile.heap_budget, board.name, only=only)
            for r in report.results:
                results[r.module].append(r)
    return results


@pytest.mark.parametrize("module", MODULES)
def test_device_module(board, device_results, module, record_property):
    results = device_results[module]
    assert results, f"{module}: no test ran on the board"
    record_property("board_seconds", f"{sum(r.seconds for r in results):.2f}")  # the runner's time
    record_property("tests", str(len(results)))
    failed = [r for r in results if not r.passed]
    assert not failed, "\n".join(
        f"{r.module}.{r.name} failed ({r.seconds:.2f} s, live heap after {r.live_after} B):\n  "
        + r.detail.replace("\n", "\n  ") for r in failed)
