"""`imprint serve ...`: the host's network services, run in the foreground."""

from __future__ import annotations

import signal
import sys

import click


@click.group()
def serve() -> None:
    """Network services (FDO rendezvous), in the foreground until SIGTERM or Ctrl-C."""


@serve.command("rendezvous")
@click.option("--db", "db_url", default="rendezvous.db", show_default=True,
              help="SQLite file (or sqlite:///path) or postgresql://... URL for registrations.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8041, show_default=True, type=click.IntRange(0, 65535))
@click.option("--max-ttl", default=86400 * 30, show_default=True, type=click.IntRange(min=0),
              help="Longest registration accepted, in seconds (TO0 WaitSeconds is bounded).")
def rendezvous(db_url: str, host: str, port: int, max_ttl: int) -> None:
    """FDO 1.1 rendezvous server: TO0 and TO1 over HTTP (POST /fdo/101/msg/{type});
    registrations persist in the database across restarts."""
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
        srv.run("FDO rendezvous", lambda s: click.echo(
            f"FDO rendezvous over HTTP on {s.url} (Ctrl-C ends)", err=True))
    finally:
        signal.signal(signal.SIGTERM, previous)
        store.close()
    click.echo("FDO rendezvous stopped", err=True)
