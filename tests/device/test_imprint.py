# The imprint package imports on every board and reports itself.
import imprint
import imprint.selftest


def test_version():
    parts = imprint.__version__.split(".")
    assert len(parts) == 3
    assert all(p.isdigit() for p in parts)


def test_selftest_report():
    info = imprint.selftest.report()
    assert info["imprint"] == imprint.__version__
    assert info["implementation"] in ("micropython", "cpython")
    if info["implementation"] == "micropython":
        assert info["micropython"].count(".") == 2
        assert info["heap_used"] > 0
