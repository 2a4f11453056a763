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


class RecordsError(RuntimeError):
    pass


@dataclass
class _Cursor:
    cur: Any
    mark: str  # the driver's placeholder: "?" (sqlite3) or "%s" (psycopg)

    def execute(self, sql: str, args: tuple = ()) -> Any:
        self.cur.execute(sql.replace("?", self.mark), args)
        return self.cur


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Records:
    """A connection to the factory record. ``url``: a file path or ``sqlite:///path`` for
    SQLite, ``postgresql://...`` for PostgreSQL."""

    url: str
    station: str = "station"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # one connection, shared by the station's threads
        if self.url.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
            except ImportError as e:  # pragma: no cover
                raise RecordsError("PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from e
            try:
                self._db = psycopg.connect(self.url, autocommit=False)
            except psycopg.Error as e:
                raise RecordsError(f"cannot connect to {self.url}: {e}") from None
            self._mark = "%s"
        else:
            path = self.url.removeprefix("sqlite:///")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._mark = "?"
            schema = [s.replace("BYTEA", "BLOB") for s in SCHEMA]
            self._run_schema(schema)
            return
        self._run_schema(SCHEMA)

    def _run_schema(self, statements: list[str]) -> None:
        with self._tx() as cur:
            for s in statements:
                cur.execute(s)

    @contextmanager
    def _tx(self) -> Iterator["_Cursor"]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._lock:
            if self._mark == "?":
                self._db.execute("BEGIN IMMEDIATE")  # SQLite: take the write lock up front
            try:
                yield _Cursor(self._db.cursor(), self._mark)
            except BaseException:
                self._db.rollback()
                raise
            self._db.commit()

    def audit(self, serial: str | None, event: str, detail: str = "") -> None:
        with self._tx() as tx:
            tx.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                       (now(), self.station, serial, event, detail))

    def board(self, serial: str) -> dict[str, Any] | None:
        with self._tx() as tx:
            cur = tx.execute("SELECT serial, uid, board, status, idevid, fdo_guid, voucher, "
                             "station, started, finished, seconds FROM boards WHERE serial = ?",
                             (serial,))
            row = cur.fetchone()
        if row is None:
            return None
        keys = ("serial", "uid", "board", "status", "idevid", "fdo_guid", "voucher", "station",
                "started", "finished", "seconds")
        return dict(zip(keys, row))

    def start(self, serial: str, uid: str, board: str, *, reprovision: bool) -> str:
        """Claim serial for this station's run. Returns the board's previous status ("" when
        new). A finished board is refused unless reprovision."""
        with self._tx() as tx:
            row = tx.execute("SELECT uid, status FROM boards WHERE serial = ?", (serial,)).fetchone()
            if row is not None and row[0] != uid:
                raise RecordsError(f"serial {serial} belongs to another board (uid {row[0]})")
            if row is not None and row[1] in ("provisioned", "locked") and not reprovision:
                raise RecordsError(f"{serial} was provisioned already; pass --reprovision to do it again")
            if row is None:
                tx.execute("INSERT INTO boards (serial, uid, board, status, station, started) "
                           "VALUES (?, ?, ?, 'started', ?, ?)", (serial, uid, board, self.station, now()))
            else:
                tx.execute("UPDATE boards SET status = 'started', station = ?, started = ?, "
                           "finished = NULL WHERE serial = ?", (self.station, now(), serial))
            tx.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                       (now(), self.station, serial, "start", "" if row is None else f"was {row[1]}"))
        return "" if row is None else row[1]

    def finish(self, serial: str, status: str, *, idevid: str | None = None, fdo_guid: str | None = None,
               voucher: bytes | None = None, seconds: float | None = None, detail: str = "") -> None:
        with self._tx() as tx:
            tx.execute("UPDATE boards SET status = ?, idevid = COALESCE(?, idevid), "
                       "fdo_guid = COALESCE(?, fdo_guid), voucher = COALESCE(?, voucher), "
                       "finished = ?, seconds = ? WHERE serial = ?",
                       (status, idevid, fdo_guid, voucher, now(), seconds, serial))
            tx.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                       (now(), self.station, serial, status, detail))

    def save_voucher(self, serial: str, guid: str, voucher: bytes) -> None:
        """The voucher, kept before the board is told FDO DI is done (so it is never lost)."""
        with self._tx() as tx:
            tx.execute("UPDATE boards SET fdo_guid = ?, voucher = ? WHERE serial = ?",
                       (guid, voucher, serial))
            tx.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                       (now(), self.station, serial, "voucher", guid))

    def boards(self) -> Iterator[dict[str, Any]]:
        with self._tx() as tx:
            serials = [r[0] for r in tx.execute("SELECT serial FROM boards ORDER BY started").fetchall()]
        for s in serials:
            row = self.board(s)
            if row is not None:
                yield row

    def events(self) -> list[tuple]:
        with self._tx() as tx:
            return tx.execute("SELECT at, station, serial, event, detail FROM audit ORDER BY at").fetchall()

    def close(self) -> None:
        self._db.close()
