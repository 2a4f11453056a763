"""One database connection for the host services: SQLite (a file path or ``sqlite:///path``)
or PostgreSQL (``postgresql://...``, needs psycopg), plain SQL with "?" placeholders and one
schema for both (written with BYTEA; SQLite gets BLOB). Used by factory.records and the FDO
rendezvous store."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """url without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


@dataclass
class _Cursor:
    cur: Any
    mark: str  # the driver's placeholder: "?" (sqlite3) or "%s" (psycopg)

    def execute(self, sql: str, args: tuple = ()) -> Any:
        # The SQL here writes "?" for a parameter and never inside a literal. psycopg reads
        # "%" as the start of a placeholder: a literal "%" (LIKE 'x%') is doubled first.
        if self.mark == "%s":
            sql = sql.replace("%", "%%").replace("?", "%s")
        self.cur.execute(sql, args)
        return self.cur


class Database:
    """Database(url, schema, *, error=RuntimeError, what="database", schema_lock=0)

    Connects (SQLite: WAL, one connection shared by threads under a lock; PostgreSQL:
    autocommit off) and runs `schema` (CREATE ... IF NOT EXISTS statements; on PostgreSQL
    under the advisory lock `schema_lock`, since concurrent CREATE TABLE IF NOT EXISTS can
    collide). Driver errors come out as `error` (a message prefixed by `what`).
    Attributes: db (the driver connection), mark ("?" or "%s"), for_update (" FOR UPDATE" on
    PostgreSQL, "" on SQLite, where BEGIN IMMEDIATE locks the database), lock."""

    def __init__(self, url: str, schema: list[str], *, error: type[Exception] = RuntimeError,
                 what: str = "database", schema_lock: int = 0):
        self.url, self.error, self.what = url, error, what
        self.lock = threading.Lock()
        if is_postgres(url):
            try:
                import psycopg
            except ImportError as e:  # pragma: no cover
                raise error("PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from e
            self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
            timeout = {} if "connect_timeout" in url else {"connect_timeout": 15}
            try:
                self.db = psycopg.connect(url, autocommit=False, **timeout)
            except psycopg.Error as e:
                raise error(f"cannot connect to {redact(url)}: {e}") from None
            self.mark = "%s"
            self.for_update = " FOR UPDATE"
            self.run_schema([f"SELECT pg_advisory_xact_lock({int(schema_lock)})"] + list(schema))
        else:
            path = url.removeprefix("sqlite:///")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.errors = (sqlite3.Error,)
            try:
                self.db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                          check_same_thread=False)
                self.db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error as e:
                raise error(f"cannot open {path}: {e}") from None
            self.mark = "?"
            self.for_update = ""
            self.run_schema([s.replace("BYTEA", "BLOB") for s in schema])

    def run_schema(self, statements: list[str]) -> None:
        with self.tx() as tx:
            for s in statements:
                tx.execute(s)

    @contextmanager
    def tx(self) -> Iterator[_Cursor]:
        """One transaction: committed when the block ends, rolled back if it raises or the
        commit fails (a failed SQLite COMMIT leaves the transaction open). The driver's errors
        come out as self.error."""
        with self.lock:
            try:
                if self.mark == "?":
                    self.db.execute("BEGIN IMMEDIATE")  # SQLite: take the write lock up front
                try:
                    yield _Cursor(self.db.cursor(), self.mark)
                    self.db.commit()
                except BaseException:
                    try:
                        self.db.rollback()
                    except Exception:  # the connection is gone: nothing left to roll back
                        pass
                    raise
            except self.errors as e:
                raise self.error(f"{self.what}: {type(e).__name__}: {e}") from e

    def close(self) -> None:
        self.db.close()
