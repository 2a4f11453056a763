"""`imprint voucher ...`: FDO ownership vouchers (extend, show). `cryptography` and the voucher
code are imported only when a command runs, so `imprint` starts without them."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        _fail(f"cannot read {what} {path}: {e.strerror or e}")


def _fdo():
    from .factory import fdo
    return fdo


def _voucher(path: Path) -> tuple[bytes, bool]:
    """(voucher CBOR, whether the file was armored)."""
    fdo = _fdo()
    data = _read(path, "voucher")
    try:
        armored = data.lstrip().startswith(b"-----BEGIN")
        return fdo.load(data), armored
    except fdo.FDOHostError as e:
        _fail(f"{path}: {e}")


def _public_key(path: Path):
    """A public key from a PEM public key, certificate or (unencrypted) private key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    data = _read(path, "owner key")
    loaders = (serialization.load_pem_public_key,
               lambda d: x509.load_pem_x509_certificate(d).public_key(),
               lambda d: serialization.load_pem_private_key(d, None).public_key())
    for load in loaders:
        try:
            return load(data)
        except (ValueError, TypeError):
            continue
    _fail(f"{path}: not a PEM public key, certificate or private key")


def _private_key(path: Path):
    from cryptography.hazmat.primitives import serialization
    data = _read(path, "signer key")
    try:
        return serialization.load_pem_private_key(data, None)
    except (ValueError, TypeError) as e:
        _fail(f"{path}: not an unencrypted PEM private key ({e})")


@click.group("voucher")
def voucher() -> None:
    """FDO ownership vouchers: extend to a new owner, show."""


@voucher.command("extend")
@click.argument("voucher_file", metavar="VOUCHER", type=click.Path(path_type=Path))
@click.option("--owner-key", required=True, type=click.Path(path_type=Path),
              help="The new owner's public key (PEM public key or certificate).")
@click.option("--signer", required=True, type=click.Path(path_type=Path),
              help="The current owner's private key (PEM; the FDO manufacturer key for a "
                   "voucher without entries).")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the extended voucher.")
@click.option("--armor/--cbor", "armored", default=None,
              help="Write armored text or CBOR [default: as the input].")
def extend_cmd(voucher_file: Path, owner_key: Path, signer: Path, out: Path,
               armored: bool | None) -> None:
    """Append an entry to VOUCHER handing the device to the owner of --owner-key."""
    fdo = _fdo()
    data, was_armored = _voucher(voucher_file)
    try:
        new = fdo.extend(data, _public_key(owner_key), _private_key(signer))
    except fdo.FDOHostError as e:
        _fail(f"{voucher_file}: {e}")
    armored = was_armored if armored is None else armored
    try:
        out.write_bytes(fdo.armor(new).encode() if armored else new)
    except OSError as e:
        _fail(f"cannot write {out}: {e.strerror or e}")
    n = len(fdo.parse(new)["entries"])
    click.echo(f"{out}: voucher with {n} entr{'y' if n == 1 else 'ies'}, owner key "
               f"sha256:{fdo.key_id(fdo.owner_key(new))}")


@voucher.command("show")
@click.argument("voucher_file", metavar="VOUCHER", type=click.Path(path_type=Path))
@click.option("--armor", "armored", is_flag=True, help="Print the armored text instead.")
def show_cmd(voucher_file: Path, armored: bool) -> None:
    """Print VOUCHER (CBOR or armored) readably, with its entry-chain check."""
    fdo = _fdo()
    data, _ = _voucher(voucher_file)
    try:
        text = fdo.show(data)
    except fdo.FDOHostError as e:
        _fail(f"{voucher_file}: {e}")
    click.echo(fdo.armor(data) if armored else text, nl=False)
    try:
        fdo.verify(data)
    except fdo.FDOHostError:
        sys.exit(1)  # show() printed why
