"""Board profiles and deploy planning, without a board."""

from __future__ import annotations

import json

import pytest

from imprint_host import deploy
from imprint_host.board import profiles
from imprint_host.board.virtual import unique_id


@pytest.mark.parametrize("name", ["esp32-devkitc", "esp32-s3-devkitc", "nrf52840-dk", "virtual"])
def test_profiles_load_and_cite_sources(name):
    prof = profiles.load(name)
    assert prof.heap_budget > 0 and prof.flash_fs_size > 0
    assert prof.micropython["mpy"] == "6.3"
    assert prof.unique_id_bytes in (6, 8)
    assert prof.network in ("wifi", "none")
    assert prof.console["baud"] == 115200
    sources = prof.raw["sources"]
    for key in ("ram", "flash", "console", "crypto_natives", "unique_id_bytes", "network"):
        assert key in sources and sources[key], f"{name}: no source for {key}"


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(profiles.ProfileError, match="nrf52840-dk"):
        profiles.load("no-such-board")


def test_malformed_profile_is_reported(tmp_path, monkeypatch):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "board.json").write_text(json.dumps({"port": "nrf"}))
    monkeypatch.setattr(profiles, "BOARDS_DIR", tmp_path)
    with pytest.raises(profiles.ProfileError, match="missing"):
        profiles.load("bad")


def test_unique_id_from_serial():
    assert unique_id("0102030405060708", 8) == bytes(range(1, 9))
    assert unique_id("0102030405060708", 6) != bytes(range(1, 7))  # wrong length: hashed
    assert unique_id("line-7-board-12", 6) == unique_id("line-7-board-12", 6)
    assert len(unique_id("x", 6)) == 6


def test_plan_builds_mpy_for_every_module(tmp_path):
    files = deploy.plan(tmp_path, source=False, port="virtual")
    remotes = {f.remote for f in files}
    assert "/lib/imprint/__init__.mpy" in remotes and "/lib/imprint_port.mpy" in remotes
    for f in files:
        data = f.local.read_bytes()
        assert data[:2] == b"M\x06"  # .mpy version 6: MicroPython 1.22 and later
        assert f.sha256 == __import__("hashlib").sha256(data).hexdigest()


def test_plan_refuses_a_port_without_glue(tmp_path):
    with pytest.raises(deploy.DeployError, match="no port glue"):
        deploy.plan(tmp_path, source=True, port="nosuchport")


class FakeBoard:
    def __init__(self, mpy: int, version=(1, 19, 1)):
        self.mpy, self.version = mpy, version

    def eval(self, expression):
        return self.mpy, self.version


def test_mpy_abi_mismatch_is_refused(tmp_path):
    files = deploy.plan(tmp_path, source=False, port=None)
    deploy.check_mpy_abi(FakeBoard(774), files)  # 1.27: .mpy v6.3
    with pytest.raises(deploy.DeployError, match="--source"):
        deploy.check_mpy_abi(FakeBoard(5), files)  # 1.19: .mpy v5
