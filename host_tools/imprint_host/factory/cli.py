"""`imprint factory ...`: the factory's command group (`ca init`, `ca show`; the station's
`provision` and `report` join the same group). `cryptography` is imported only when a
command runs, so `imprint` starts without it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

_DEFAULT_HW_TYPE = "1.3.6.1.4.1.32473.1.1"  # = ca.DEFAULT_HW_TYPE (RFC 5612 documentation PEN)
_DEFAULT_ORG = "Example Manufacturer"       # = ca.DEFAULT_ORG


def fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


@click.group()
def factory() -> None:
    """The factory: IDevID CA, provisioning station, reports."""


@factory.group()
def ca() -> None:
    """The manufacturer's IDevID certificate authority."""


@ca.command("init")
@click.option("--dir", "directory", required=True, type=click.Path(path_type=Path),
              help="Directory for the CA (created; must not already hold a CA).")
@click.option("--org", default=_DEFAULT_ORG, show_default=True,
              help="Organization (O) of the CA certificates and of every IDevID subject.")
@click.option("--hw-type", default=_DEFAULT_HW_TYPE, show_default=True,
              help="hwType OID of the hardwareModuleName in every IDevID. The default is a "
                   "placeholder under IANA's documentation enterprise number 32473 (RFC 5612): "
                   "use an OID under your own enterprise number.")
def ca_init(directory: Path, org: str, hw_type: str) -> None:
    """Create the manufacturer root CA, the IDevID issuing CA and the FDO manufacturer key
    (P-256; private keys in files with mode 0600). Done once: never overwrites."""
    from . import ca as ca_mod

    try:
        c = ca_mod.IssuingCA.create(directory, org=org, hw_type=hw_type)
    except ca_mod.CAExistsError as e:
        fail(f"{e}. Use --dir with a new or empty directory to make another CA.")
    except (ca_mod.CAError, OSError) as e:
        fail(str(e))
    click.echo(f"created the IDevID CA of {c.org!r} in {c.directory}")
    _describe(c)
    if hw_type == _DEFAULT_HW_TYPE:
        click.secho(f"note: hwType {hw_type} is a documentation placeholder (RFC 5612); pass "
                    "--hw-type with an OID under your own enterprise number for real devices",
                    fg="yellow", err=True)


@ca.command("show")
@click.option("--dir", "directory", required=True, type=click.Path(path_type=Path),
              help="The CA directory.")
def ca_show(directory: Path) -> None:
    """Print the CA's organization, hwType and certificates."""
    from . import ca as ca_mod

    try:
        c = ca_mod.IssuingCA.load(directory)
    except (ca_mod.CAError, OSError) as e:
        fail(str(e))
    click.echo(f"IDevID CA of {c.org!r} in {c.directory} (created {c.created})")
    _describe(c)


def _describe(c) -> None:
    from cryptography.hazmat.primitives import hashes

    from . import ca as ca_mod

    click.echo(f"  hwType        {c.hw_type}")
    for label, cert, name in (("root CA", c.root_cert, ca_mod.ROOT_CERT),
                              ("issuing CA", c.issuing_cert, ca_mod.ISSUING_CERT)):
        fp = cert.fingerprint(hashes.SHA256()).hex()
        click.echo(f"  {label:<13} {c.directory / name}  {cert.subject.rfc4514_string()}")
        click.echo(f"  {'':<13} SHA-256 {fp}")
    click.echo(f"  FDO mfg key   {c.directory / ca_mod.FDO_KEY} "
               f"(public: {c.directory / ca_mod.FDO_PUB})")
    click.echo(f"  private keys  {', '.join(ca_mod.KEY_FILES)} (mode 0600)")
