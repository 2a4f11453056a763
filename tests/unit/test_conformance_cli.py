"""`imprint conformance` on a small subset of the suite (-k): the summary, the merged JUnit XML
and the exit status, with a virtual board the command starts (all pass), and with a board on
a port that is not the profile it is said to be (a failure: exit 1; tests the board cannot
run are skipped with the reason)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from imprint_host.board import profiles
from imprint_host.board.virtual import VirtualBoard
from imprint_host.conformance.cli import conformance, parse_port, plan


def suites(path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return {s.get("name"): s for s in root.findall("testsuite")}


def cases(suite: ET.Element) -> dict[str, str]:
    """testcase name -> passed / failure / error / skipped"""
    out = {}
    for c in suite.findall("testcase"):
        status = next((t for t in ("failure", "error", "skipped") if c.find(t) is not None), "passed")
        out[c.get("name")] = status
    return out


def test_port_specs_and_names():
    assert parse_port("/dev/ttyUSB0:esp32-devkitc", None) == ("/dev/ttyUSB0", "esp32-devkitc")
    assert parse_port("/dev/ttyUSB0", "nrf52840-dk") == ("/dev/ttyUSB0", "nrf52840-dk")
    assert parse_port("odd:name", None) == ("odd:name", None)  # no such profile: part of the port
    specs = plan(("/dev/a:esp32-devkitc", "/dev/b"), "esp32-devkitc", ("esp32-devkitc",), False)
    assert [s.name for s in specs] == ["esp32-devkitc-1", "esp32-devkitc-2", "esp32-devkitc-3"]
    assert specs[0].options == ["--imprint-virtual", "esp32-devkitc"]
    assert specs[2].options == ["--imprint-port", "/dev/b", "--imprint-board", "esp32-devkitc"]
    with pytest.raises(profiles.ProfileError):
        plan((), None, ("no-such-board",), False)


def test_virtual_board_subset_passes(tmp_path):
    junit = tmp_path / "out" / "conformance.xml"
    r = CliRunner().invoke(conformance, ["--virtual", "nrf52840-dk", "--junit", str(junit),
                                         "-k", "profile or framing or power_loss"])
    assert r.exit_code == 0, r.output
    row = next(ln for ln in r.output.splitlines() if ln.startswith("nrf52840-dk (virtual)"))
    assert row.split()[2:5] == ["3", "0", "0"], row  # passed, failed, skipped
    assert "deploy" in row and "conformance: 3 passed, 0 failed, 0 skipped on 1 board" in r.output
    (suite,) = suites(junit).values()
    assert suite.get("name") == "nrf52840-dk" and suite.get("tests") == "3" and suite.get("failures") == "0"
    assert cases(suite) == {"test_board_matches_its_profile": "passed",
                            "test_framing_agrees_with_the_host_both_ways": "passed",
                            "test_store_is_old_or_new_after_a_hard_reset_mid_write": "passed"}
    assert all(c.get("classname").startswith("nrf52840-dk.tests.conformance.") for c in suite.iter("testcase"))
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert props["board"] == "nrf52840-dk" and props["virtual"] == "yes"
    assert float(props["deploy_seconds"]) > 0


def test_board_that_is_not_its_profile_fails_and_skips_say_why(tmp_path):
    junit = tmp_path / "conformance.xml"
    with VirtualBoard(profiles.load("esp32-devkitc"), flash=tmp_path / "flash") as vb:
        r = CliRunner().invoke(conformance, ["--port", f"{vb.port}:nrf52840-dk", "--junit", str(junit),
                                             "-k", "profile or power_loss or keygen"])
    assert r.exit_code == 1, r.output
    label = f"nrf52840-dk at {vb.port}"
    row = next(ln for ln in r.output.splitlines() if ln.startswith(label))
    assert row[len(label):].split()[:3] == ["0", "1", "2"], row  # passed, failed, skipped
    assert "the virtual board emulates esp32-devkitc, the run was told nrf52840-dk" in r.output
    assert "no hard reset" in r.output and "--imprint-destructive" in r.output  # the skip reasons
    (suite,) = suites(junit).values()
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "2")
    assert cases(suite) == {"test_board_matches_its_profile": "failure",
                            "test_store_is_old_or_new_after_a_hard_reset_mid_write": "skipped",
                            "test_keygen_csr_and_a_certificate_for_another_key_refused": "skipped"}


def test_no_board_is_a_usage_error():
    r = CliRunner().invoke(conformance, [])
    assert r.exit_code == 2 and "--virtual PROFILE" in r.output
