"""The `imprint flash` command (registered in cli.py with `main.add_command(flash_cli.flash)`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import flash as flash_mod
from .board import profiles


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


@click.command("flash")
@click.option("--board", "board_name", required=True,
              help="Board profile (boards/<board>/board.json), e.g. esp32-devkitc, nrf52840-dk.")
@click.option("--port", help="Serial port of an ESP32 board (esptool), e.g. /dev/ttyUSB0.")
@click.option("--probe", help="Debug probe of an nRF board (pyocd unique id, e.g. a CMSIS-DAP "
                              "serial number or remote:HOST:PORT); default: the only probe found.")
@click.option("--firmware", type=click.Path(path_type=Path, dir_okay=False),
              help="Image to write: .bin for ESP32 boards, .hex for nRF boards. Default: the "
                   f"official MicroPython {flash_mod.MICROPYTHON_VERSION} image for the board "
                   "from micropython.org, downloaded once into ~/.cache/imprint/firmware "
                   "(its SHA-256 is recorded on first download and checked afterwards).")
@click.option("--baud", type=click.IntRange(min=9600), default=460800, show_default=True,
              help="esptool's transfer rate after connecting at 115200.")
@click.option("--dry-run", is_flag=True, help="Print the plan only; touch neither board nor network.")
def flash(board_name: str, port: str | None, probe: str | None, firmware: Path | None,
          baud: int, dry_run: bool) -> None:
    """Erase a board, write MicroPython to it and verify it, after checking its chip."""
    try:
        prof = profiles.load(board_name)
    except profiles.ProfileError as e:
        _fail(str(e))
    if not (flash_mod.is_esp(prof) or flash_mod.is_nrf(prof)):
        _fail(f"board {prof.name} (port {prof.port!r}) cannot be flashed: only esp32 and nrf "
              "boards can")
    if flash_mod.is_nrf(prof) and port:
        _fail(f"board {prof.name} is flashed through a debug probe: use --probe, not --port")
    if firmware is None:
        url = flash_mod.default_firmware_url(prof)
        if dry_run:
            click.echo(f"firmware: {url} (not downloaded in a dry run)")
            firmware_path = flash_mod.cache_dir() / flash_mod.default_firmware_name(prof)
            if not firmware_path.is_file():
                click.echo(f"plan for board {prof.name} ({prof.mcu}): erase the whole flash, "
                           f"write {url} after download, verify, reset")
                return
        else:
            try:
                firmware_path = flash_mod.fetch_default_firmware(prof, click.echo)
            except flash_mod.FlashError as e:
                _fail(str(e))
    else:
        firmware_path = firmware
    try:
        plan = flash_mod.make_plan(prof, firmware_path, port=port, probe=probe, baud=baud)
    except flash_mod.FlashError as e:
        _fail(str(e))
    click.echo("plan:")
    for line in plan.lines():
        click.echo(f"  {line}")
    if dry_run:
        click.echo("dry run: nothing done")
        return
    try:
        flash_mod.flash(plan, click.echo)
    except flash_mod.FlashError as e:
        _fail(str(e))
    click.secho(f"board {prof.name}: {plan.firmware.name} written and verified", fg="green")
