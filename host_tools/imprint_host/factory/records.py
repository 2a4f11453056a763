"""What a factory issued, in a database: SQLite by default, PostgreSQL for stations that
share one record (``--db postgresql://...``). Plain SQL, the same schema on both."""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass
from typing import Any, Iterator

from ..sqlstore import Database, _Cursor, redact  # noqa: F401  (_Cursor, redact: as before)

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
        # one connection, shared by the station's threads; on PostgreSQL the stations take
        # turns creating the schema (SCHEMA_LOCK) and claim rows FOR UPDATE
        self._sql = Database(self.url, SCHEMA, error=RecordsError, what="factory record",
                             schema_lock=SCHEMA_LOCK)
        self._db, self._mark, self._lock = self._sql.db, self._sql.mark, self._sql.lock
        self._for_update = self._sql.for_update
        self._tx = self._sql.tx  # one transaction: `with self._tx() as tx: tx.execute(...)`

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
