"""The fixtures of a conformance run; the plugin registers this module only when a board
was named (--imprint-port / --imprint-virtual)."""

from __future__ import annotations

from typing import Iterator

import pytest

from mpremote.transport import TransportError

from ..board.serial_board import SerialBoardError
from ..board.virtual import BoardError
from .plugin import MARKERS, skip_reason
from .target import Target, TargetError, close_target, open_target


@pytest.fixture(scope="session")
def board(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory,
          record_testsuite_property) -> Iterator[Target]:
    """The board under test, set up once: started if virtual, firmware deployed."""
    opt = pytestconfig.getoption
    problem = ""
    try:
        target = open_target(port=opt("imprint_port"), board=opt("imprint_board"),
                             virtual=opt("imprint_virtual"), flash=tmp_path_factory.mktemp("flash"),
                             destructive=opt("imprint_destructive"))
    except (TargetError, ValueError, SerialBoardError, BoardError) as e:  # ProfileError: ValueError
        problem = str(e)
    except TransportError as e:
        problem = f"the board stopped answering ({e})"
    if problem:
        pytest.fail(f"board setup: {problem}", pytrace=False)
    record_testsuite_property("board", target.name)
    record_testsuite_property("port", target.port)
    record_testsuite_property("virtual", "yes" if target.reported else "no")
    record_testsuite_property("capabilities", target.caps.describe())
    for step, seconds in target.timings.items():
        record_testsuite_property(f"{step}_seconds", f"{seconds:.2f}")
    try:
        yield target
    finally:
        close_target(target)


@pytest.fixture(autouse=True)
def _imprint_capabilities(request: pytest.FixtureRequest) -> None:
    """Skip a test whose marker asks for what the board lacks, saying why."""
    wanted = [m.name for m in request.node.iter_markers() if m.name in MARKERS]
    if not wanted:
        return
    target = request.getfixturevalue("board")
    for marker in wanted:
        reason = skip_reason(target, marker)
        if reason:
            pytest.skip(reason)


def pytest_report_header(config: pytest.Config) -> str:
    opt = config.getoption
    where = f"virtual {opt('imprint_virtual')}" if opt("imprint_virtual") else opt("imprint_port")
    return f"imprint conformance: {where}" + (f" as {opt('imprint_board')}" if opt("imprint_board") else "")
