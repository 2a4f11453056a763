"""Peers the interop tests share: aiocoap's EDHOC + OSCORE server on loopback (its code is in
imprint_host.conformance.peers, which the conformance suite uses too)."""

from __future__ import annotations

import pytest

from imprint_host.conformance import peers


@pytest.fixture
def edhoc_server():
    with peers.edhoc_server() as server:
        yield server
