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


@factory.command("provision")
@click.option("--ca", "ca_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="The CA directory (`imprint factory ca init`).")
@click.option("--db", "db_url", default="factory.db", show_default=True,
              help="The record: an SQLite file, or postgresql://... for stations sharing one.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Per board: OUT/<serial>/idevid.pem, chain.pem, voucher.fdo.")
@click.option("--port", "ports", required=True, multiple=True,
              help="A board's serial port; repeat for boards provisioned in parallel.")
@click.option("--rv", default="http://127.0.0.1:8080", show_default=True,
              help="The FDO rendezvous server the vouchers and devices will point at.")
@click.option("--serial-prefix", default="IMP", show_default=True,
              help="Serials are PREFIX-<unique id in hex> for boards that have none yet.")
@click.option("--lock", is_flag=True, help="Lock each board when done (no REPL, no more provisioning).")
@click.option("--reprovision", is_flag=True, help="Provision a serial the record shows as done again.")
@click.option("--station", "station_name", default=None, help="This station's name in the record.")
def provision(ca_dir: Path, db_url: str, out_dir: Path, ports: tuple[str, ...], rv: str,
              serial_prefix: str, lock: bool, reprovision: bool, station_name: str | None) -> None:
    """Give the boards on PORTs their identity: an on-device key, an IDevID, the FDO
    credential and ownership voucher; recorded in the database, with an audit log."""
    import socket

    from cryptography.hazmat.primitives import serialization
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    from . import ca as ca_mod
    from . import fdo as fdo_mod
    from .records import Records, RecordsError
    from .station import STEPS, Station

    try:
        authority = ca_mod.IssuingCA.load(ca_dir)
        records = Records(db_url, station=station_name or socket.gethostname())
    except (ca_mod.CAError, RecordsError, OSError) as e:
        fail(str(e))
    point = authority.fdo_public_key.public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint)
    station = Station(ca=authority, records=records, out_dir=out_dir,
                      make_manufacturer=lambda: fdo_mod.Manufacturer(authority.fdo_key, fdo_mod.rendezvous(rv)),
                      authority=point, serial_prefix=serial_prefix, lock=lock,
                      reprovision=reprovision)
    state = {p: "waiting" for p in ports}

    def table() -> Table:
        t = Table(box=None)
        t.add_column("port")
        t.add_column("step")
        t.add_column("progress")
        for p, s in state.items():
            done = STEPS.index(s) + 1 if s in STEPS else 0
            bar = "█" * done + "·" * (len(STEPS) - done)
            t.add_row(p, s, bar if s != "failed" else "[red]failed[/red]")
        return t

    console = Console(stderr=True)
    with Live(table(), console=console, refresh_per_second=8) as live:
        def progress(port: str, step: str) -> None:
            state[port] = step
            live.update(table())
        results = station.provision_all(list(ports), progress)
    failed = 0
    for r in results:
        if r.ok:
            click.echo(f"{r.port}: {r.serial} provisioned in {r.seconds:.1f} s")
        else:
            failed += 1
            click.secho(f"{r.port}: {r.serial or '?'} FAILED after {r.seconds:.1f} s: {r.error}",
                        fg="red", err=True)
    records.close()
    if failed:
        click.secho(f"{failed} of {len(results)} boards failed; run the same command again to "
                    "resume them", fg="red", err=True)
        sys.exit(1)


@factory.command("report")
@click.option("--db", "db_url", default="factory.db", show_default=True)
def report(db_url: str) -> None:
    """Summarise the record: boards per status, failures, time per board."""
    import statistics

    from .records import Records, RecordsError

    try:
        records = Records(db_url)
    except (RecordsError, OSError) as e:
        fail(str(e))
    boards = list(records.boards())
    events = records.events()
    by_status: dict[str, int] = {}
    for b in boards:
        by_status[b["status"]] = by_status.get(b["status"], 0) + 1
    times = [b["seconds"] for b in boards if b["status"] in ("provisioned", "locked") and b["seconds"]]
    failures = [e for e in events if e[3] == "failed"]
    click.echo(f"boards: {len(boards)} ({', '.join(f'{k} {v}' for k, v in sorted(by_status.items())) or 'none'})")
    if times:
        click.echo(f"time per board: median {statistics.median(times):.1f} s, "
                   f"mean {statistics.mean(times):.1f} s, max {max(times):.1f} s")
    stations = sorted({b["station"] for b in boards})
    click.echo(f"stations: {', '.join(stations) or 'none'}")
    click.echo(f"failures logged: {len(failures)}")
    for at, station, serial, _, detail in failures[-10:]:
        click.echo(f"  {at} {station} {serial}: {detail}")
    records.close()


@factory.command("serve-di")
@click.option("--ca", "ca_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--db", "db_url", default="factory.db", show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Vouchers are written to OUT/<serial>/voucher.fdo.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8039, show_default=True)
@click.option("--rv", default="http://127.0.0.1:8080", show_default=True)
def serve_di(ca_dir: Path, db_url: str, out_dir: Path, host: str, port: int, rv: str) -> None:
    """FDO Device Initialization over HTTP (POST /fdo/101/msg/{type}) for boards with a
    network; every voucher goes to the record before the device is told DI is done."""
    import socket

    from . import ca as ca_mod
    from . import fdo as fdo_mod
    from ..services import fdo_http
    from .records import Records, RecordsError

    try:
        authority = ca_mod.IssuingCA.load(ca_dir)
        records = Records(db_url, station=f"{socket.gethostname()}:di-http")
    except (ca_mod.CAError, RecordsError, OSError) as e:
        fail(str(e))

    def on_voucher(serial: str, guid: bytes, voucher: bytes) -> None:
        d = out_dir / serial
        d.mkdir(parents=True, exist_ok=True)
        (d / "voucher.fdo").write_bytes(voucher)
        records.audit(serial, "voucher", f"FDO DI over HTTP, GUID {bytes(guid).hex()}")

    fdo_http.serve(lambda: fdo_mod.Manufacturer(authority.fdo_key, fdo_mod.rendezvous(rv)),
                   host=host, port=port, on_voucher=on_voucher,
                   ready=lambda srv: click.echo(f"FDO DI over HTTP on {srv.url} (Ctrl-C ends)", err=True))
