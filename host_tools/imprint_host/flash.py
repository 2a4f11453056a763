"""`imprint flash`: put MicroPython on a board, checking the chip against its profile first.

ESP32 boards go through esptool (as a library: `esptool.cmds`), nRF52 boards through pyocd
(`ConnectHelper` + `FileProgrammer`). Both print a plan first, refuse a chip that is not the
profile's before anything is erased, erase, write, verify and report progress.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .board.profiles import BoardProfile

Report = Callable[[str], None]

MICROPYTHON_VERSION = "1.27.0"
# tools/autobuild/build-boards.sh names artefacts <BOARD>[-<VARIANT>]<fw_tag>.<ext>; the v1.27.0
# release was built on 2025-12-09, so the tag is -20251209-v1.27.0.
MICROPYTHON_BUILD_TAG = "20251209-v1.27.0"
MICROPYTHON_FIRMWARE_BASE = "https://micropython.org/resources/firmware/"
ESP_ROM_BAUD = 115200


class FlashError(Exception):
    """Flashing was refused or failed; the message says what was found and what was expected."""


class ChipMismatch(FlashError):
    """The connected chip (or its flash) is not the one the board profile describes."""


@dataclass(frozen=True)
class FlashPlan:
    board: str
    tool: str              # "esptool" or "pyocd"
    chip: str              # the profile's mcu, e.g. "ESP32", "ESP32-S3", "nRF52840"
    target: str            # where: serial port or probe id
    firmware: Path
    firmware_size: int
    offset: int | None     # None: the .hex carries its own addresses
    flash_size: int
    baud: int | None = None

    def lines(self) -> list[str]:
        size = f"{self.flash_size // 1024} KiB" if self.flash_size < 1 << 20 else \
            f"{self.flash_size >> 20} MiB"
        where = f"at {self.offset:#x}" if self.offset is not None else "at the addresses in the .hex"
        how = f"{self.tool} on {self.target}" + (f" at {self.baud} baud" if self.baud else "")
        return [
            f"board {self.board}: expects an {self.chip} with {size} of flash ({how})",
            f"will check the connected chip is an {self.chip} with {size} of flash, "
            "refuse otherwise",
            f"will erase the whole flash ({self.flash_size:#x} bytes)"
            + (" and the UICR" if self.tool == "pyocd" else ""),
            f"will write {self.firmware} ({self.firmware_size} bytes) {where}",
            "will verify the flash against the file, then reset the board",
        ]


def is_esp(profile: BoardProfile) -> bool:
    return profile.port == "esp32"


def is_nrf(profile: BoardProfile) -> bool:
    return profile.port == "nrf"


def _flash_section(profile: BoardProfile) -> dict:
    return profile.raw["flash"]


def default_firmware_name(profile: BoardProfile) -> str:
    """The official MicroPython build's file name for this board (micropython.org/download)."""
    mp = profile.micropython
    board = mp["board"] + (f"-{mp['variant']}" if mp.get("variant") else "")
    ext = "hex" if is_nrf(profile) else "bin"
    return f"{board}-{MICROPYTHON_BUILD_TAG}.{ext}"


def default_firmware_url(profile: BoardProfile, base: str = MICROPYTHON_FIRMWARE_BASE) -> str:
    return base + default_firmware_name(profile)


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "imprint" / "firmware"


def fetch_default_firmware(profile: BoardProfile, report: Report, *,
                           base: str = MICROPYTHON_FIRMWARE_BASE,
                           cache: Path | None = None) -> Path:
    """Download the board's official MicroPython image into the cache (once) and return it.

    micropython.org publishes no checksums, so the image's SHA-256 is checked against the
    profile's `flash.firmware_sha256` when the profile pins one; otherwise it is recorded next
    to the cached file on first download (trust on first use) and checked on every later use.
    """
    cache = cache or cache_dir()
    name = default_firmware_name(profile)
    path = cache / name
    pin_file = cache / (name + ".sha256")
    pinned = _flash_section(profile).get("firmware_sha256")
    if not path.is_file():
        url = base + name
        report(f"downloading {url}")
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=name + ".")
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(resp, out)
            os.replace(tmp, path)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise FlashError(f"could not download {url}: {e}; pass --firmware FILE instead") from e
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = pinned or (pin_file.read_text().strip() if pin_file.is_file() else None)
    if expected is None:
        pin_file.write_text(digest + "\n")
        report(f"{name}: sha256 {digest} (micropython.org publishes none; recorded in {pin_file})")
    elif digest != expected:
        raise FlashError(f"{path}: sha256 {digest}, expected {expected}; delete it to download again")
    else:
        report(f"{name}: sha256 {digest} checked")
    return path


def make_plan(profile: BoardProfile, firmware: Path, *, port: str | None = None,
              probe: str | None = None, baud: int = 460800) -> FlashPlan:
    if not firmware.is_file():
        raise FlashError(f"no firmware file {firmware}")
    size = firmware.stat().st_size
    flash = _flash_section(profile)
    if is_esp(profile):
        if not port:
            raise FlashError(f"board {profile.name} is flashed over serial: give --port")
        if "firmware_offset" not in flash:
            raise FlashError(f"{profile.name}/board.json has no flash.firmware_offset")
        offset = int(flash["firmware_offset"])
        if offset + size > int(flash["total"]):
            raise FlashError(f"{firmware} ({size} bytes) at {offset:#x} does not fit in "
                             f"{flash['total']} bytes of flash")
        _check_esp_image(profile, firmware, offset)
        return FlashPlan(profile.name, "esptool", profile.mcu, port, firmware, size, offset,
                         int(flash["total"]), baud)
    if is_nrf(profile):
        if firmware.suffix.lower() != ".hex":
            raise FlashError(f"{firmware}: nRF boards take an Intel HEX image (.hex)")
        return FlashPlan(profile.name, "pyocd", profile.mcu, probe or "(the only probe connected)",
                         firmware, size, None, int(flash["total"]))
    raise FlashError(f"board {profile.name} (port {profile.port!r}) cannot be flashed by imprint")


# -- ESP32 (esptool) -------------------------------------------------------------------------

def _esp_chip_class(chip: str) -> type:
    from esptool.targets import CHIP_DEFS
    for cls in CHIP_DEFS.values():
        if cls.CHIP_NAME == chip:
            return cls
    raise FlashError(f"esptool knows no chip {chip!r}")


def _check_esp_image(profile: BoardProfile, firmware: Path, offset: int) -> None:
    """Refuse an image built for another chip (ESP-IDF image header, chip id field)."""
    from esptool.bin_image import LoadFirmwareImage
    from esptool.util import FatalError
    cls = _esp_chip_class(profile.mcu)
    if offset != cls.BOOTLOADER_FLASH_OFFSET:
        raise FlashError(f"profile offset {offset:#x} is not esptool's bootloader offset "
                         f"{cls.BOOTLOADER_FLASH_OFFSET:#x} for {profile.mcu}")
    data = firmware.read_bytes()
    if data[:1] != bytes([cls.ESP_IMAGE_MAGIC]):
        return  # not an ESP-IDF image (raw data): nothing to check
    try:
        image = LoadFirmwareImage(cls.CHIP_NAME, data)
    except (FatalError, ValueError, IndexError, struct.error):
        return
    if image.chip_id != cls.IMAGE_CHIP_ID:
        found = next((c.CHIP_NAME for c in _all_esp_classes() if c.IMAGE_CHIP_ID == image.chip_id),
                     f"chip id {image.chip_id}")
        raise ChipMismatch(f"{firmware} is an image for {found}, but board {profile.name} is "
                           f"an {profile.mcu}")


def _all_esp_classes() -> list[type]:
    from esptool.targets import CHIP_DEFS
    return list(CHIP_DEFS.values())


def _esptool_logger(report: Report):
    """esptool's documented custom-logger hook: its messages and progress go to `report`."""
    from esptool.logger import TemplateLogger

    class ReportLogger(TemplateLogger):
        def __init__(self) -> None:
            self._last_decile = -1

        def print(self, *args, **kwargs) -> None:
            text = " ".join(str(a) for a in args).strip()
            if text and kwargs.get("end", "\n") == "\n":
                report(f"  esptool: {text}")

        def note(self, message: str) -> None:
            report(f"  esptool note: {message}")

        def warning(self, message: str) -> None:
            report(f"  esptool warning: {message}")

        def error(self, message: str) -> None:
            report(f"  esptool error: {message}")

        def stage(self, finish: bool = False) -> None:
            pass

        def progress_bar(self, cur_iter: int, total_iters: int, prefix: str = "",
                         suffix: str = "", bar_length: int = 30) -> None:
            decile = 10 * cur_iter // max(total_iters, 1)
            if decile != self._last_decile:
                self._last_decile = decile
                report(f"  {prefix.strip()} {10 * decile}%")

        def set_verbosity(self, verbosity: str) -> None:
            pass

    return ReportLogger()


def flash_esp(plan: FlashPlan, report: Report, *, connect_attempts: int = 7) -> None:
    """Connect, check chip and flash size, erase, write, verify, hard-reset."""
    from esp_pylib.logger import EspLog
    from esptool.cmds import (attach_flash, detect_chip, detect_flash_size, erase_flash,
                              reset_chip, run_stub, verify_flash, write_flash)
    from esptool.logger import log
    from esptool.util import FatalError, flash_size_bytes

    data = plan.firmware.read_bytes()
    previous = EspLog.instance
    log.set_logger(_esptool_logger(report))
    esp = None
    try:
        report(f"connecting to {plan.target}")
        try:
            esp = detect_chip(plan.target, ESP_ROM_BAUD, "default-reset",
                              connect_attempts=connect_attempts)
        except FatalError as e:
            raise FlashError(f"no ESP bootloader answered on {plan.target}: {e}") from e
        if esp.CHIP_NAME != plan.chip:
            raise ChipMismatch(f"refusing to flash: found an {esp.CHIP_NAME} on {plan.target}, "
                               f"but board {plan.board} expects an {plan.chip}; nothing was "
                               "erased or written")
        report(f"found {esp.CHIP_NAME}")
        try:
            esp = run_stub(esp)
            if plan.baud and plan.baud != ESP_ROM_BAUD:
                esp.change_baud(plan.baud)
            attach_flash(esp)
            found = detect_flash_size(esp)
            if found is None or flash_size_bytes(found) != plan.flash_size:
                raise ChipMismatch(
                    f"refusing to flash: the {esp.CHIP_NAME} on {plan.target} has "
                    f"{found or 'an unrecognised amount of'} flash, but board {plan.board} "
                    f"expects {plan.flash_size >> 20}MB; nothing was erased or written")
            report(f"flash: {found}")
            report("erasing flash")
            erase_flash(esp)
            report(f"writing {plan.firmware.name} ({len(data)} bytes) at {plan.offset:#x}")
            write_flash(esp, [(plan.offset, data)])
            report("verifying")
            verify_flash(esp, [(plan.offset, data)])
        except FatalError as e:
            if "MD5" in str(e) or "Verification failed" in str(e) or "flash region is empty" in str(e):
                raise FlashError(f"verify failed: the flash at {plan.offset:#x} does not hold "
                                 f"{plan.firmware.name} ({e})") from e
            raise FlashError(f"esptool: {e}") from e
        report("verified; resetting the board")
        reset_chip(esp, "hard-reset")
    finally:
        if esp is not None:
            esp._port.close()
        EspLog.instance = previous


# -- nRF52 (pyocd) ---------------------------------------------------------------------------

# nRF52840 Product Specification, FICR: INFO.PART at 0x10000100 holds the part number.
FICR_INFO_PART = 0x10000100


def _nrf_part(chip: str) -> int:
    # "nRF52840" -> 0x52840, as FICR INFO.PART encodes it.
    return int(chip.lower().removeprefix("nrf"), 16)


def flash_nrf(plan: FlashPlan, report: Report) -> None:
    """Open the probe, check FICR INFO.PART, erase the chip, program the .hex, verify, reset."""
    from intelhex import IntelHex
    from pyocd.core import exceptions
    from pyocd.core.helpers import ConnectHelper
    from pyocd.flash.file_programmer import FileProgrammer

    target_type = plan.chip.lower()
    image = IntelHex(str(plan.firmware))
    segments = [(start, image.tobinstr(start=start, end=end - 1)) for start, end in image.segments()]
    unique_id = None if plan.target.startswith("(") else plan.target
    if unique_id is None:
        found = ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False)
        if len(found) != 1:
            names = ", ".join(p.unique_id for p in found) or "none"
            raise FlashError(f"give --probe: {len(found)} debug probes found ({names})")
        unique_id = found[0].unique_id
    report(f"connecting to probe {unique_id} (pyocd target {target_type})")
    try:
        session = ConnectHelper.session_with_chosen_probe(
            blocking=False, return_first=True, unique_id=unique_id,
            target_override=target_type,
            options={"auto_unlock": False, "smart_flash": False, "chip_erase": "chip",
                     "resume_on_disconnect": False})
    except exceptions.Error as e:
        raise FlashError(f"pyocd: {e}") from e
    if session is None:
        raise FlashError(f"no debug probe {plan.target} found")
    try:
        with session:
            board_info = session.probe.associated_board_info
            if board_info is not None and board_info.target and board_info.target != target_type:
                raise ChipMismatch(f"refusing to flash: probe {session.probe.unique_id} is on a "
                                   f"{board_info.name} ({board_info.target}), but board "
                                   f"{plan.board} expects an {plan.chip}")
            target = session.target
            part = target.read32(FICR_INFO_PART)
            if part != _nrf_part(plan.chip):
                raise ChipMismatch(f"refusing to flash: FICR INFO.PART reads {part:#x} (nRF{part:X}), "
                                   f"but board {plan.board} expects an {plan.chip}; nothing was "
                                   "erased or written")
            report(f"found nRF{part:X}")
            # pyocd reports the erase, then the programming, each from 0.0 to 1.0.
            state = {"phase": 0, "decile": -1}

            def progress(fraction: float) -> None:
                decile = int(fraction * 10)
                if decile < state["decile"]:
                    state["phase"] += 1
                if decile != state["decile"]:
                    state["decile"] = decile
                    report(f"  {('erasing', 'programming')[min(state['phase'], 1)]} {10 * decile}%")

            report(f"erasing the chip and writing {plan.firmware.name} "
                   f"({sum(len(d) for _, d in segments)} bytes in {len(segments)} segment(s))")
            FileProgrammer(session, progress=progress, chip_erase="chip",
                           smart_flash=False).program(str(plan.firmware), file_format="hex")
            report("verifying")
            target.halt()
            for start, data in segments:
                got = bytes(target.read_memory_block8(start, len(data)))
                if got != data:
                    bad = next(i for i, (a, b) in enumerate(zip(got, data)) if a != b)
                    raise FlashError(f"verify failed: flash at {start + bad:#x} reads "
                                     f"{got[bad]:#04x}, {plan.firmware.name} has {data[bad]:#04x}")
            report("verified; resetting the board")
            target.reset()
    except exceptions.Error as e:
        raise FlashError(f"pyocd: {e}") from e


def flash(plan: FlashPlan, report: Report) -> None:
    if plan.tool == "esptool":
        flash_esp(plan, report)
    else:
        flash_nrf(plan, report)
