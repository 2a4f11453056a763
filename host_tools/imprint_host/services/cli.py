"""`imprint serve ...`: the host's network services, run in the foreground."""

from __future__ import annotations

import signal
import sys
from contextlib import ExitStack, contextmanager

import click


@click.group()
def serve() -> None:
    """Network services (FDO rendezvous and owner), in the foreground until SIGTERM or Ctrl-C."""


@serve.command("rendezvous")
@click.option("--db", "db_url", default="rendezvous.db", show_default=True,
              help="SQLite file (or sqlite:///path) or postgresql://... URL for registrations.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8041, show_default=True, type=click.IntRange(0, 65535))
@click.option("--max-ttl", default=86400 * 30, show_default=True, type=click.IntRange(min=0),
              help="Longest registration accepted, in seconds (TO0 WaitSeconds is bounded).")
@click.option("--coap-port", type=click.IntRange(0, 65535), default=None,
              help="Also serve on CoAP (UDP) at this port (0: a free one).")
def rendezvous(db_url: str, host: str, port: int, max_ttl: int, coap_port: int | None) -> None:
    """FDO 1.1 rendezvous server: TO0 and TO1 over HTTP (POST /fdo/101/msg/{type}) and, with
    --coap-port, CoAP; registrations persist in the database across restarts."""
    from .fdo_rv import RVServer, RVStoreError, SQLRVStore

    try:
        store = SQLRVStore(db_url)
    except RVStoreError as e:
        click.secho(f"error: {e}", fg="red", err=True)
        sys.exit(2)

    def on_term(signum, frame):     # SIGTERM ends the server as Ctrl-C does
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        srv = RVServer(store, host=host, port=port, max_ttl=max_ttl)
        try:
            srv.bind()
        except OSError as e:
            click.secho(f"error: cannot listen on {host}:{port}: {e}", fg="red", err=True)
            sys.exit(2)
        with _coap(srv, host, coap_port) as coap:
            srv.run("FDO rendezvous", lambda s: click.echo(
                f"FDO rendezvous over HTTP on {s.url}{_also(coap)} (Ctrl-C ends)", err=True))
    finally:
        signal.signal(signal.SIGTERM, previous)
        store.close()
    click.echo("FDO rendezvous stopped", err=True)


@contextmanager
def _coap(service, host: str, port: int | None):
    """The service on CoAP too when port is not None -> its FDOCoAPServer (or None)."""
    if port is None:
        yield None
        return
    from .fdo_coap import FDOCoAPServer
    try:
        coap = FDOCoAPServer(service, host, port).start()
    except OSError as e:
        _fail(f"cannot listen on CoAP {host}:{port}: {e}")
    try:
        yield coap
    finally:
        coap.stop()


def _also(coap) -> str:
    return f" and CoAP on {coap.url}" if coap else ""


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


@serve.command("owner")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False),
              help="The owner's P-256 private key (PEM): the key vouchers are extended to.")
@click.option("--db", "db_url", default="owner.db", show_default=True,
              help="SQLite file (or sqlite:///path) or postgresql://... URL for the vouchers.")
@click.option("--voucher", "vouchers", multiple=True, type=click.Path(dir_okay=False),
              help="Import this voucher (CBOR or armored); repeatable.")
@click.option("--factory-db", help="Import the vouchers of this factory record (SQLite or "
                                   "PostgreSQL URL) that are extended to this owner.")
@click.option("--sell-with", type=click.Path(dir_okay=False),
              help="With --factory-db: the manufacturer key (PEM), to extend each DI voucher "
                   "to this owner first (the sale, when both are one organisation).")
@click.option("--rv", "rv_url", default="http://127.0.0.1:8041", show_default=True,
              help="Rendezvous server to register with (TO0).")
@click.option("--next-rv", multiple=True, help="Rendezvous URL(s) onboarded devices get for "
                                               "their next owner (default: --rv).")
@click.option("--address", "addresses", multiple=True,
              help="URL where devices reach this service (RVTO2Addr); default "
                   "http://HOST:PORT.")
@click.option("--endpoint", help="coap:// URI of the EDHOC/OSCORE management endpoint whose "
                                 "credentials devices get (imprint:credentials).")
@click.option("--endpoint-key", type=click.Path(dir_okay=False),
              help="With --endpoint: the endpoint's P-256 private key (PEM).")
@click.option("--wait-seconds", default=86400, show_default=True, type=click.IntRange(1),
              help="TO0 WaitSeconds asked for; registrations are renewed at half of it.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8042, show_default=True, type=click.IntRange(0, 65535))
@click.option("--coap-port", type=click.IntRange(0, 65535), default=None,
              help="Also serve TO2 on CoAP (UDP) at this port (0: a free one).")
def owner(key_path, db_url, vouchers, factory_db, sell_with, rv_url, next_rv, addresses,
          endpoint, endpoint_key, wait_seconds, host, port, coap_port) -> None:
    """FDO 1.1 owner onboarding service: imports vouchers, registers them with the rendezvous
    server (TO0 over HTTP or CoAP, renewed before they lapse) and onboards their devices (TO2
    over HTTP, and CoAP with --coap-port; ServiceInfo devmod + imprint:credentials). State
    persists in the database."""
    import threading

    from ..factory import fdo
    from .credentials import EndpointIssuer
    from .fdo_owner import OwnerServer, import_factory, load_private, register_pending, \
        rvto2addr
    from .owner_store import OwnerStoreError, SQLVoucherStore

    try:
        key = load_private(key_path)
        mfg = load_private(sell_with) if sell_with else None
        ep_key = load_private(endpoint_key) if endpoint_key else None
    except (fdo.FDOHostError, OSError, ValueError) as e:
        _fail(f"key: {e}")
    if bool(endpoint) != bool(endpoint_key):
        _fail("--endpoint and --endpoint-key go together")
    try:
        store = SQLVoucherStore(db_url)
    except OwnerStoreError as e:
        _fail(str(e))
    srv = None
    stop = threading.Event()
    stack = ExitStack()

    def on_term(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        for path in vouchers:
            try:
                with open(path, "rb") as f:
                    guid, new = store.add(fdo.load(f.read()))
            except (OSError, fdo.FDOHostError, OwnerStoreError) as e:
                _fail(f"{path}: {e}")
            click.echo(f"voucher {guid.hex()} {'imported' if new else 'already here'}", err=True)
        if factory_db:
            try:
                got = import_factory(store, factory_db, key.public_key(), mfg)
            except Exception as e:   # RecordsError, FDOHostError, OwnerStoreError
                _fail(f"factory record: {e}")
            click.echo(f"{len(got)} voucher(s) imported from the factory record", err=True)
        issue = EndpointIssuer(endpoint, ep_key) if endpoint else None
        srv = OwnerServer(store, key, list(next_rv) or [rv_url], issue=issue, host=host,
                          port=port)
        try:
            srv.bind()
        except OSError as e:
            _fail(f"cannot listen on {host}:{port}: {e}")
        coap = stack.enter_context(_coap(srv, host, coap_port))
        try:
            addrs = rvto2addr(*(addresses or [srv.url] + ([coap.url] if coap else [])))
        except fdo.FDOHostError as e:
            _fail(str(e))

        def report(guid, secs, err):
            if err:
                click.secho(f"TO0 {guid.hex()}: {err}", fg="yellow", err=True)
            else:
                click.echo(f"TO0 {guid.hex()}: registered for {secs} s", err=True)

        def renew():
            while not stop.wait(min(wait_seconds / 2, 60.0)):
                try:
                    register_pending(store, rv_url, key, addrs, wait_seconds,
                                     margin=wait_seconds / 2, report=report)
                except OwnerStoreError as e:
                    click.secho(f"TO0 renewal: {e}", fg="yellow", err=True)

        register_pending(store, rv_url, key, addrs, wait_seconds, report=report)
        threading.Thread(target=renew, name="fdo-owner-to0", daemon=True).start()
        srv.run("FDO owner", lambda s: click.echo(
            f"FDO owner (TO2) over HTTP on {s.url}{_also(coap)} (Ctrl-C ends)", err=True))
    finally:
        stack.close()
        stop.set()
        signal.signal(signal.SIGTERM, previous)
        store.close()
    click.echo(f"FDO owner stopped ({srv.onboarded if srv else 0} device(s) onboarded)",
               err=True)
