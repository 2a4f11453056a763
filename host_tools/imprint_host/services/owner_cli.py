"""`imprint owner ...`: the FDO owner's voucher database (what `imprint serve owner` keeps)."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import click


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def _open(db_url: str):
    from .owner_store import OwnerStoreError, SQLVoucherStore
    try:
        return SQLVoucherStore(db_url)
    except OwnerStoreError as e:
        _fail(str(e))


@click.group()
def owner() -> None:
    """The FDO owner's vouchers: list them, export one (to sell the device on)."""


@owner.command("list")
@click.option("--db", "db_url", default="owner.db", show_default=True)
def list_(db_url: str) -> None:
    """Every voucher: GUID, state (imported, replaced, owned), its successor, the device."""
    store = _open(db_url)
    try:
        rows = store.rows()
    finally:
        store.close()
    if not rows:
        click.echo("no vouchers")
    for r in rows:
        when = datetime.datetime.fromtimestamp(r.updated, datetime.timezone.utc)
        extra = f" -> {r.replaced_by.hex()}" if r.replaced_by else ""
        dev = (r.info or {}).get("devmod") or {}
        who = f"  {dev.get('device', '')} {dev.get('sn', '')}".rstrip() if dev else ""
        click.echo(f"{r.guid.hex()}  {r.state:<8}{extra}  {when:%Y-%m-%d %H:%M:%S}Z{who}")


@owner.command("export")
@click.argument("guid")
@click.option("--db", "db_url", default="owner.db", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--armor/--cbor", default=True, show_default=True)
def export(guid: str, db_url: str, out: Path, armor: bool) -> None:
    """Write the voucher of GUID (hex) to --out: after onboarding, the `owned` replacement
    voucher is the one to extend (`imprint voucher extend`) for the next owner."""
    from ..factory import fdo
    try:
        g = bytes.fromhex(guid)
    except ValueError:
        _fail("GUID must be hex")
    store = _open(db_url)
    try:
        row = store.row(g)
    finally:
        store.close()
    if row is None:
        _fail(f"no voucher {guid} in {db_url}")
    out.write_bytes(fdo.armor(row.voucher).encode() if armor else row.voucher)
    click.echo(f"{row.state} voucher {guid} written to {out}")
