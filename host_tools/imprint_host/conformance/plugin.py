"""pytest plugin for the conformance suite: one board per pytest run.

    pytest -p imprint_host.conformance.plugin tests/conformance --imprint-virtual esp32-devkitc
    pytest tests/conformance --imprint-port /dev/ttyUSB0 --imprint-board esp32-devkitc

Inert unless --imprint-port or --imprint-virtual is given: it adds its options and markers,
and only then registers the ``board`` fixture (module ``fixtures``) (tests/conformance is not even collected
without them, see its conftest). The board is set up once per run: started (--imprint-virtual),
firmware deployed, capabilities found; tests marked with what the board lacks are skipped,
with the reason.
"""

from __future__ import annotations

import pytest

from .target import Target

# marker -> what it means (pytest --markers); the skip reason comes from skip_reason()
MARKERS = {
    "requires_hard_reset": "needs to reset the board without warning it (power cut or reset line)",
    "requires_relay": "needs the board to reach host peers through the serial relay",
    "writes_identity": "rewrites the board's identity and store (keygen, install, lock)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("imprint", "imprint conformance suite (tests/conformance)")
    group.addoption("--imprint-port", metavar="PORT",
                    help="run the conformance suite against the board on this serial port")
    group.addoption("--imprint-board", metavar="PROFILE",
                    help="the board's profile (boards/PROFILE/board.json); a virtual board names its own")
    group.addoption("--imprint-virtual", metavar="PROFILE",
                    help="start a virtual board with this profile and run the suite against it")
    group.addoption("--imprint-destructive", action="store_true",
                    help="let the suite rewrite a real board's identity (keygen, install, lock)")


def active(config: pytest.Config) -> bool:
    """True when this run is a conformance run (a board was named)."""
    return bool(config.getoption("imprint_port", None) or config.getoption("imprint_virtual", None))


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if active(config):
        from . import fixtures

        config.pluginmanager.register(fixtures, "imprint-conformance-fixtures")


def skip_reason(target: Target, marker: str) -> str | None:
    """Why the board cannot run a test with this marker; None if it can."""
    caps = target.caps
    if marker == "requires_hard_reset" and caps.hard_reset is None:
        return ("no hard reset: not a virtual board this run started, and the profile names "
                f"no reset line (console.reset in boards/{target.name}/board.json)")
    if marker == "requires_relay" and not caps.relay:
        return (f"{target.name} reaches peers over its own network ({caps.network}), not the serial "
                "relay; the suite's peers listen on the host's loopback")
    if marker == "writes_identity" and not caps.scratch:
        return ("rewrites the board's identity and store: pass --imprint-destructive for a board "
                "that may be provisioned again")
    return None
