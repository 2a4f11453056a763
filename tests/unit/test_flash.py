"""`imprint flash` against esptool and pyocd, with the board faked at the wire.

ESP32: esptool runs unmodified against a fake ROM bootloader (and flasher stub) on a pty
(fake_esp_rom.py). nRF52840: pyocd runs unmodified with its remote-probe client against a fake
probe server holding an in-memory nRF52840 (fake_nrf_probe.py).
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from imprint_host import flash as flash_mod
from imprint_host.board import profiles
from imprint_host.flash_cli import flash as flash_cmd

from fake_esp_rom import ESP32, ESP32_S3, FakeEspRom
from fake_nrf_probe import FakeNrf52, FakeProbeServer

MiB = 1 << 20


def esp_image(chip_id: int, payload: bytes) -> bytes:
    """An ESP-IDF application image (esptool docs, "Firmware Image Format") with one segment."""
    # File header: magic, segment count, SPI mode (DIO), size/frequency, entry point.
    header = struct.pack("<BBBBI", 0xE9, 1, 2, 0x20, 0x40080400)
    # Extended header: WP pin, 3 drive bytes, chip id, min rev, min/max full rev, 4 reserved,
    # hash appended (0: none).
    ext = struct.pack("<B3sHBHH4sB", 0xEE, b"\0\0\0", chip_id, 0, 0, 0xFFFF, b"\0" * 4, 0)
    segment = struct.pack("<II", 0x40080400, len(payload)) + payload
    body = header + ext + segment
    check = 0xEF
    for b in payload:
        check ^= b
    pad = 15 - len(body) % 16
    return body + b"\0" * pad + bytes([check])


def run_flash(*args: str):
    return CliRunner().invoke(flash_cmd, list(args), catch_exceptions=False)


@pytest.fixture
def payload() -> bytes:
    # Compressible and not: a realistic mix, and large enough for several 16 KiB stub blocks.
    return hashlib.sha256(b"imprint").digest() * 2048 + bytes(range(256)) * 200


# -- ESP32 -------------------------------------------------------------------------------------

def test_plan_is_printed_and_dry_run_touches_nothing(tmp_path: Path, payload: bytes) -> None:
    fw = tmp_path / "fw.bin"
    fw.write_bytes(esp_image(0, payload))
    with FakeEspRom(ESP32, 4 * MiB) as rom:
        result = run_flash("--board", "esp32-devkitc", "--port", rom.port,
                           "--firmware", str(fw), "--dry-run")
        log = list(rom.log)
    assert result.exit_code == 0, result.output
    assert f"will write {fw} ({fw.stat().st_size} bytes) at 0x1000" in result.output
    assert "will erase the whole flash (0x400000 bytes)" in result.output
    assert "will verify" in result.output
    assert "expects an ESP32 with 4 MiB of flash" in result.output
    assert log == [], "a dry run must not talk to the board"


@pytest.mark.parametrize("board,chip,size,chip_id,offset", [
    ("esp32-devkitc", ESP32, 4 * MiB, 0, 0x1000),
    ("esp32-s3-devkitc", ESP32_S3, 8 * MiB, 9, 0x0),
])
def test_full_flash_writes_at_the_profile_offset_and_verifies(
        tmp_path: Path, payload: bytes, board: str, chip, size: int, chip_id: int,
        offset: int) -> None:
    image = esp_image(chip_id, payload)
    fw = tmp_path / "fw.bin"
    fw.write_bytes(image)
    with FakeEspRom(chip, size) as rom:
        result = run_flash("--board", board, "--port", rom.port, "--firmware", str(fw))
        flash, log = bytes(rom.flash), list(rom.log)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("plan:") < out.index("connecting to") < out.index("erasing flash") \
        < out.index("writing fw.bin") < out.index("verifying") < out.index("written and verified")
    assert f"at {offset:#x}" in out
    assert "100%" in out  # progress reported
    # The image sits at the chip's offset; everything else was erased (the fake starts at 0xA5).
    assert flash[offset:offset + len(image)] == image
    assert flash[:offset] == b"\xff" * offset
    assert flash[offset + len(image):] == b"\xff" * (size - offset - len(image))
    assert "ERASE_FLASH" in log and "FLASH_DEFL_DATA" in log
    assert "CHANGE_BAUDRATE" in log  # --baud (default 460800) after the stub started
    # verified twice by MD5 of the flash region: esptool's post-write check and verify_flash
    assert log.count("SPI_FLASH_MD5") >= 2
    assert log.index("ERASE_FLASH") < log.index("FLASH_DEFL_BEGIN") \
        < max(i for i, c in enumerate(log) if c == "SPI_FLASH_MD5")


def test_wrong_chip_is_refused_before_any_write(tmp_path: Path, payload: bytes) -> None:
    fw = tmp_path / "fw.bin"
    fw.write_bytes(esp_image(0, payload))
    with FakeEspRom(ESP32_S3, 4 * MiB) as rom:  # an ESP32-S3 where the profile says ESP32
        result = run_flash("--board", "esp32-devkitc", "--port", rom.port, "--firmware", str(fw))
        flash, log = bytes(rom.flash), list(rom.log)
    assert result.exit_code == 2
    assert "found an ESP32-S3" in result.output and "expects an ESP32" in result.output
    assert "nothing was erased or written" in result.output
    assert flash == b"\xa5" * (4 * MiB)
    touched = {"MEM_BEGIN", "ERASE_FLASH", "ERASE_REGION", "FLASH_BEGIN", "FLASH_DEFL_BEGIN"}
    assert not touched & set(log), log


def test_wrong_flash_size_is_refused_before_erase(tmp_path: Path, payload: bytes) -> None:
    fw = tmp_path / "fw.bin"
    fw.write_bytes(esp_image(0, payload))
    with FakeEspRom(ESP32, 2 * MiB) as rom:  # a 2 MB module for a 4 MB profile
        result = run_flash("--board", "esp32-devkitc", "--port", rom.port, "--firmware", str(fw))
        flash, log = bytes(rom.flash), list(rom.log)
    assert result.exit_code == 2
    assert "has 2MB flash" in result.output and "expects 4MB" in result.output
    assert flash == b"\xa5" * (2 * MiB)
    assert "ERASE_FLASH" not in log and "FLASH_DEFL_BEGIN" not in log


def test_corrupted_write_is_caught_by_verify(tmp_path: Path, payload: bytes) -> None:
    image = esp_image(0, payload)
    fw = tmp_path / "fw.bin"
    fw.write_bytes(image)
    # A flash cell at image offset 100 whose bit 0 sticks at 1; choose one the image clears.
    bad = next(i for i in range(100, len(image)) if image[i] & 1 == 0)
    with FakeEspRom(ESP32, 4 * MiB, corrupt_at=0x1000 + bad) as rom:
        result = run_flash("--board", "esp32-devkitc", "--port", rom.port, "--firmware", str(fw))
        flash = bytes(rom.flash)
    assert flash[0x1000 + bad] != image[bad]  # the fault really happened
    assert result.exit_code == 2
    assert "verify failed" in result.output
    assert "written and verified" not in result.output


def test_image_for_another_chip_is_refused_in_the_plan(tmp_path: Path, payload: bytes) -> None:
    fw = tmp_path / "s3.bin"
    fw.write_bytes(esp_image(9, payload))  # ESP32-S3 image
    result = run_flash("--board", "esp32-devkitc", "--port", "/dev/null", "--firmware", str(fw),
                       "--dry-run")
    assert result.exit_code == 2
    assert "image for ESP32-S3" in result.output and "is an ESP32" in result.output


# -- nRF52840 ---------------------------------------------------------------------------------

@pytest.fixture
def nrf_hex(tmp_path: Path) -> tuple[Path, dict[int, bytes]]:
    """A two-segment Intel HEX image: vector table + code at 0, and data further up."""
    from intelhex import IntelHex
    segments = {0x0: hashlib.sha256(b"code").digest() * 320,
                0x20000: bytes(range(256)) * 8}
    ih = IntelHex()
    for start, data in segments.items():
        ih.frombytes(data, offset=start)
    path = tmp_path / "fw.hex"
    ih.write_hex_file(str(path))
    return path, segments


def test_nrf_dry_run_prints_the_plan_only(nrf_hex) -> None:
    path, _ = nrf_hex
    chip = FakeNrf52()
    with FakeProbeServer(chip) as probe:
        result = run_flash("--board", "nrf52840-dk", "--probe", probe.probe_id,
                           "--firmware", str(path), "--dry-run")
        requests = list(probe.requests)
    assert result.exit_code == 0, result.output
    assert "expects an nRF52840 with 1 MiB of flash (pyocd on remote:" in result.output
    assert "at the addresses in the .hex" in result.output
    assert requests == []


def test_nrf_program_and_verify(nrf_hex) -> None:
    path, segments = nrf_hex
    chip = FakeNrf52()
    with FakeProbeServer(chip) as probe:
        result = run_flash("--board", "nrf52840-dk", "--probe", probe.probe_id,
                           "--firmware", str(path))
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("plan:") < out.index("found nRF52840") < out.index("programming 100%") \
        < out.index("verifying") < out.index("written and verified")
    # pyocd's flash algorithm, run on the fake core, erased the chip through the NVMC ...
    assert chip.nvmc_log[0] == "ERASEALL"
    # ... and programmed each segment at its address; the rest of the flash is erased.
    expected = bytearray(b"\xff" * len(chip.flash))
    for start, data in segments.items():
        expected[start:start + len(data)] = data
    assert chip.flash == expected


def test_nrf_wrong_target_is_refused_before_erase(nrf_hex) -> None:
    path, _ = nrf_hex
    chip = FakeNrf52(part=0x52833)  # an nRF52833 on the probe
    with FakeProbeServer(chip) as probe:
        result = run_flash("--board", "nrf52840-dk", "--probe", probe.probe_id,
                           "--firmware", str(path))
    assert result.exit_code == 2
    assert "FICR INFO.PART reads 0x52833" in result.output
    assert "expects an nRF52840" in result.output
    assert chip.nvmc_log == [] and chip.flash == bytearray(b"\xa5" * len(chip.flash))


def test_nrf_corrupted_write_is_caught_by_verify(nrf_hex) -> None:
    path, segments = nrf_hex
    bad = next(0x20000 + i for i, b in enumerate(segments[0x20000]) if b & 1 == 0 and i > 50)
    chip = FakeNrf52(corrupt_at=bad)
    with FakeProbeServer(chip) as probe:
        result = run_flash("--board", "nrf52840-dk", "--probe", probe.probe_id,
                           "--firmware", str(path))
    assert result.exit_code == 2
    assert f"verify failed: flash at {bad:#x}" in result.output


def test_nrf_board_takes_a_probe_not_a_port(nrf_hex) -> None:
    path, _ = nrf_hex
    result = run_flash("--board", "nrf52840-dk", "--port", "/dev/ttyACM0", "--firmware", str(path))
    assert result.exit_code == 2 and "use --probe" in result.output


# -- default firmware ----------------------------------------------------------------------

def test_default_firmware_names_follow_micropython_release_files() -> None:
    assert flash_mod.default_firmware_url(profiles.load("esp32-devkitc")) == \
        "https://micropython.org/resources/firmware/ESP32_GENERIC-20251209-v1.27.0.bin"
    assert flash_mod.default_firmware_name(profiles.load("esp32-s3-devkitc")) == \
        "ESP32_GENERIC_S3-SPIRAM_OCT-20251209-v1.27.0.bin"
    assert flash_mod.default_firmware_name(profiles.load("nrf52840-dk")) == \
        "PCA10056-20251209-v1.27.0.hex"


def test_default_firmware_is_cached_and_its_sha256_pinned(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    prof = profiles.load("esp32-devkitc")
    name = flash_mod.default_firmware_name(prof)
    (site / name).write_bytes(b"official image")
    cache = tmp_path / "cache"
    said: list[str] = []
    path = flash_mod.fetch_default_firmware(prof, said.append, base=site.as_uri() + "/",
                                            cache=cache)
    assert path == cache / name and path.read_bytes() == b"official image"
    assert hashlib.sha256(b"official image").hexdigest() in (cache / (name + ".sha256")).read_text()
    (site / name).unlink()  # a second use does not download again
    assert flash_mod.fetch_default_firmware(prof, said.append, base=site.as_uri() + "/",
                                            cache=cache) == path
    path.write_bytes(b"tampered")
    with pytest.raises(flash_mod.FlashError, match="sha256"):
        flash_mod.fetch_default_firmware(prof, said.append, cache=cache)


def test_dry_run_without_firmware_names_the_download(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    result = run_flash("--board", "esp32-devkitc", "--port", "/dev/null", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "ESP32_GENERIC-20251209-v1.27.0.bin (not downloaded in a dry run)" in result.output
