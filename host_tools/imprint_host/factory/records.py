"""What a factory issued, in a database: SQLite by default, PostgreSQL for stations that
share one record (``--db postgresql://...``). Plain SQL, the same schema on both."""

from __future__ import annotations

import datetime
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS boards (
        serial      TEXT PRIMARY KEY,
        uid         TEXT NOT NULL,
        board       TEXT NOT NULL,
        status      TEXT NOT NULL,           -- started | provisioned | locked | failed
        idevid      TEXT,                    -- PEM
        fdo_guid    TEXT,
        voucher     BYTEA,                   -- the ownership voucher, CBOR
        station     TEXT NOT NULL,
        started     TEXT NOT NULL,
        finished    TEXT,
        seconds     DOUBLE PRECISION
    )""",
    """CREATE TABLE IF NOT EXISTS audit (
        at          TEXT NOT NULL,
        station     TEXT NOT NULL,
        serial      TEXT,
        event       TEXT NOT NULL,
        detail      TEXT
    )""",
]
COLUMNS = ("serial", "uid", "board", "status", "idevid", "fdo_guid", "voucher", "station",
           "started", "finished", "seconds")
SCHEMA_LOCK = 0x696D7072  # PostgreSQL advisory lock: one station creates the tables at a time


class RecordsError(RuntimeError):
    pass


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


_clock = threading.Lock()
_last: list[datetime.datetime] = []


def now() -> str:
    """UTC to the microsecond, strictly increasing within this process: the audit log is
    ordered by it, so one station's events never tie."""
    t = datetime.datetime.now(datetime.timezone.utc)
    with _clock:
        if _last and t <= _last[0]:
            t = _last[0] + datetime.timedelta(microseconds=1)
        _last[:] = [t]
    return t.isoformat(timespec="microseconds")


def redact(url: str) -> str:
    """url without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _row(row: tuple) -> dict[str, Any]:
    d = dict(zip(COLUMNS, row))
    if d["voucher"] is not None:
        d["voucher"] = bytes(d["voucher"])  # whatever the driver returns for BLOB / BYTEA
    return d


@dataclass
class Records:
    """A connection to the factory record. ``url``: a file path or ``sqlite:///path`` for
    SQLite, ``postgresql://...`` for PostgreSQL. Errors of the database come out as
    RecordsError."""

    url: str
    station: str = "station"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # one connection, shared by the station's threads
        if self.url.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
            except ImportError as e:  # pragma: no cover
                raise RecordsError("PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from e
            self._errors: tuple[type[Exception], ...] = (psycopg.Error,)
            timeout = {} if "connect_timeout" in self.url else {"connect_timeout": 15}
            try:
                self._db = psycopg.connect(self.url, autocommit=False, **timeout)
            except psycopg.Error as e:
                raise RecordsError(f"cannot connect to {redact(self.url)}: {e}") from None
            self._mark = "%s"
            self._for_update = " FOR UPDATE"  # a row lock: another station waits, then sees the claim
            # CREATE TABLE IF NOT EXISTS is not safe against itself in PostgreSQL (stations
            # starting at once get a unique violation in pg_type): they take turns
            self._run_schema([f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})"] + SCHEMA)
        else:
            path = self.url.removeprefix("sqlite:///")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._errors = (sqlite3.Error,)
            try:
                self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error as e:
                raise RecordsError(f"cannot open {path}: {e}") from None
            self._mark = "?"
            self._for_update = ""  # BEGIN IMMEDIATE has locked the whole database already
            self._run_schema([s.replace("BYTEA", "BLOB") for s in SCHEMA])

    def _run_schema(self, statements: list[str]) -> None:
        with self._tx() as tx:
            for s in statements:
                tx.execute(s)

    @contextmanager
    def _tx(self) -> Iterator["_Cursor"]:
        """One transaction: committed when the block ends, rolled back if it raises or the
        commit fails (a failed SQLite COMMIT leaves the transaction open). The driver's errors
        come out as RecordsError."""
        with self._lock:
            try:
                if self._mark == "?":
                    self._db.execute("BEGIN IMMEDIATE")  # SQLite: take the write lock up front
                try:
                    yield _Cursor(self._db.cursor(), self._mark)
                    self._db.commit()
                except BaseException:
                    try:
                        self._db.rollback()
                    except Exception:  # the connection is gone: nothing left to roll back
                        pass
                    raise
            except self._errors as e:
                raise RecordsError(f"factory record: {type(e).__name__}: {e}") from e

    def audit(self, serial: str | None, event: str, detail: str = "") -> None:
        with self._tx() as tx:
            tx.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                       (now(), self.station, serial, event, detail))

    def board(self, serial: str) -> dict[str, Any] | None:
        with self._tx() as tx:
            row = tx.execute(f"SELECT {', '.join(COLUMNS)} FROM boards WHERE serial = ?", (serial,)).fetchone()
        return None if row is None else _row(row)

    def start(self, serial: str, uid: str, board: str, *, reprovision: bool) -> str:
        """Claim serial for this station's run. Returns the board's previous status ("" when
        new). A finished board is refused unless reprovision; another board's serial always.

        Stations may race for one serial: the INSERT claims a new serial atomically (another
        station's INSERT waits for the first transaction, then does nothing) and an existing
        row is read locked (FOR UPDATE), so the claims take turns, and each sees the ones
        before it: a second board with the same serial is refused."""
        with self._tx() as tx:
            t = now()
            row = None
            if tx.execute("INSERT INTO boards (serial, uid, board, status, station, started) "
                          "VALUES (?, ?, ?, 'started', ?, ?) ON CONFLICT (serial) DO NOTHING",
                          (serial, uid, board, self.station, t)).rowcount != 1:
                row = tx.execute("SELECT uid, status FROM boards WHERE serial = ?" + self._for_update,
                                 (serial,)).fetchone()
                if row is None:  # pragma: no cover - rows are never deleted
                    raise RecordsError(f"{serial}: the record changed meanwhile; try again")
                if row[0] != uid:
                    raise RecordsError(f"serial {serial} belongs to another board (uid {row[0]})")
                if row[1] in ("provisioned", "locked") and not reprovision:
                    raise RecordsError(f"{serial} was provisioned already; pass --reprovision to do it again")
                tx.execute("UPDATE boards SET status = 'started', station = ?, started = ?, "
                           "finished = NULL WHERE serial = ?", (self.station, t, serial))
            tx.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                       (now(), self.station, serial, "start", "" if row is None else f"was {row[1]}"))
        return "" if row is None else row[1]

    def finish(self, serial: str, status: str, *, idevid: str | None = None, fdo_guid: str | None = None,
               voucher: bytes | None = None, seconds: float | None = None, detail: str = "") -> None:
        voucher = None if voucher is None else bytes(voucher)
        with self._tx() as tx:
            if tx.execute("UPDATE boards SET status = ?, idevid = COALESCE(?, idevid), "
                          "fdo_guid = COALESCE(?, fdo_guid), voucher = COALESCE(?, voucher), "
                          "finished = ?, seconds = ? WHERE serial = ?",
                          (status, idevid, fdo_guid, voucher, now(), seconds, serial)).rowcount != 1:
                raise RecordsError(f"{serial} is not in the record (finished without a start)")
            tx.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                       (now(), self.station, serial, status, detail))

    def save_voucher(self, serial: str, guid: str, voucher: bytes) -> None:
        """The voucher, kept before the board is told FDO DI is done (so it is never lost)."""
        with self._tx() as tx:
            if tx.execute("UPDATE boards SET fdo_guid = ?, voucher = ? WHERE serial = ?",
                          (guid, bytes(voucher), serial)).rowcount != 1:
                raise RecordsError(f"{serial} is not in the record: its voucher (GUID {guid}) would be lost")
            tx.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                       (now(), self.station, serial, "voucher", guid))

    def boards(self) -> Iterator[dict[str, Any]]:
        """Every board, in the order they were (last) started; one consistent read."""
        with self._tx() as tx:
            rows = tx.execute(f"SELECT {', '.join(COLUMNS)} FROM boards ORDER BY started, serial").fetchall()
        for row in rows:
            yield _row(row)

    def events(self) -> list[tuple]:
        with self._tx() as tx:
            rows = tx.execute("SELECT at, station, serial, event, detail FROM audit ORDER BY at, station").fetchall()
        return [tuple(r) for r in rows]

    def close(self) -> None:
        self._db.close()
