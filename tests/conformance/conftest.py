"""The conformance suite runs against a board named on the command line (the board fixture
and the capability skips are in imprint_host.conformance.plugin). Without one — a plain
`pytest tests` — nothing here is collected."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

HERE = Path(__file__).resolve().parent


def _active(config: pytest.Config) -> bool:
    return bool(config.getoption("imprint_port", None) or config.getoption("imprint_virtual", None))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if _active(config) or HERE not in (collection_path, *collection_path.parents):
        return None
    named = [Path(a.split("::")[0]).resolve() for a in config.args]
    if any(p == HERE or HERE in p.parents for p in named):
        raise pytest.UsageError("tests/conformance runs against a board: pass --imprint-port PORT "
                                "(and --imprint-board PROFILE) or --imprint-virtual PROFILE, "
                                "or run `imprint conformance`")
    return True


@pytest.fixture(scope="session")
def ca(tmp_path_factory):
    """A throwaway factory CA (root, issuing CA, FDO manufacturer key) for this run."""
    from imprint_host.factory.ca import IssuingCA

    return IssuingCA.create(tmp_path_factory.mktemp("ca") / "ca", org="imprint conformance")


@pytest.fixture(scope="session")
def authority(ca) -> bytes:
    """The public key that may unlock and factory-reset boards (the CA's FDO key), 65 B."""
    return ca.fdo_public_key.public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
