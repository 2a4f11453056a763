"""The FDO owner's vouchers in a database (SQLite file or PostgreSQL, through sqlstore): what
`imprint serve owner` imports, registers with the rendezvous server (TO0) and onboards (TO2).

One row per voucher GUID:
    imported     a voucher extended to this owner, waiting for its device
    replaced     its device finished TO2 and now has `replaced_by` as GUID; the row stays so
                 that a device that lost power before TO2.Done2 can run TO2 again
    owned        the replacement voucher TO2 made (no entries; extend it to sell the device),
                 with what TO2 learned: devmod values and the credentials delivered

Same methods as fdo_to2.MemoryVoucherStore (get_voucher, replace_voucher), plus add, rows,
pending_to0 and mark_to0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cbor2

from ..factory import fdo
from ..sqlstore import Database
from .fdo_to2 import OwnerVoucher


class OwnerStoreError(RuntimeError):
    """The owner database failed, or a voucher cannot be imported."""


SCHEMA = [
    """CREATE TABLE IF NOT EXISTS owner_vouchers (
        guid         BYTEA PRIMARY KEY,        -- 16 bytes
        voucher      BYTEA NOT NULL,           -- OwnershipVoucher CBOR
        state        TEXT NOT NULL,            -- imported | replaced | owned
        replaced_by  BYTEA,                    -- the device's GUID after TO2
        info         BYTEA,                    -- CBOR {"devmod": ..., "credentials": ...}
        to0_expires  DOUBLE PRECISION,         -- Unix time the RV registration lapses
        updated      DOUBLE PRECISION NOT NULL -- Unix time
    )""",
]
SCHEMA_LOCK = 0x696D6F77  # "imow"
_COLS = "guid, voucher, state, replaced_by, info, to0_expires, updated"


@dataclass
class VoucherRow:
    guid: bytes
    voucher: bytes
    state: str
    replaced_by: bytes | None
    info: dict | None
    to0_expires: float | None
    updated: float


def _row(r) -> VoucherRow:
    return VoucherRow(bytes(r[0]), bytes(r[1]), r[2], None if r[3] is None else bytes(r[3]),
                      None if r[4] is None else cbor2.loads(bytes(r[4])), r[5], r[6])


class SQLVoucherStore:
    """SQLVoucherStore(url): url a file path, ``sqlite:///path`` or ``postgresql://...``."""

    def __init__(self, url: str, now=time.time):
        self.url = url
        self.now = now
        self._sql = Database(url, SCHEMA, error=OwnerStoreError, what="owner store",
                             schema_lock=SCHEMA_LOCK)

    def add(self, voucher: bytes) -> tuple[bytes, bool]:
        """Import a voucher (verified first) -> (GUID, True if new). Importing the same voucher
        again changes nothing; another voucher for a GUID already here replaces an imported
        one only if it is longer (extended further); a row TO2 already used is kept."""
        try:
            v = fdo.verify(voucher)
        except fdo.FDOHostError as e:
            raise OwnerStoreError(f"voucher refused: {e}") from None
        guid, data = v["guid"], bytes(voucher)
        with self._sql.tx() as tx:
            row = tx.execute(f"SELECT {_COLS} FROM owner_vouchers WHERE guid = ?"
                             + self._sql.for_update, (guid,)).fetchone()
            if row is None:
                tx.execute(f"INSERT INTO owner_vouchers ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (guid, data, "imported", None, None, None, self.now()))
                return guid, True
            old = _row(row)
            if old.voucher == data:
                return guid, False
            if old.state != "imported" and not (old.state == "owned" and v["entries"]):
                raise OwnerStoreError(f"GUID {guid.hex()} was already onboarded here "
                                      f"({old.state}); refusing another voucher for it")
            if len(fdo.parse(old.voucher)["entries"]) >= len(v["entries"]):
                raise OwnerStoreError(f"GUID {guid.hex()}: a voucher with as many entries is "
                                      "already here")
            tx.execute("UPDATE owner_vouchers SET voucher = ?, state = ?, to0_expires = NULL, "
                       "updated = ? WHERE guid = ?", (data, "imported", self.now(), guid))
            return guid, True

    def get_voucher(self, guid: bytes) -> OwnerVoucher | None:
        with self._sql.tx() as tx:
            r = tx.execute("SELECT voucher, state FROM owner_vouchers WHERE guid = ?",
                           (bytes(guid),)).fetchone()
        if r is None or r[1] == "owned":
            return None
        return OwnerVoucher(bytes(guid), bytes(r[0]))

    def replace_voucher(self, old_guid: bytes, new_guid: bytes, voucher: bytes,
                        info: dict) -> None:
        """TO2 finished: the replacement voucher, and the old row marked, in one transaction."""
        now = self.now()
        with self._sql.tx() as tx:
            tx.execute(f"INSERT INTO owner_vouchers ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (bytes(new_guid), bytes(voucher), "owned", None, cbor2.dumps(info), None,
                        now))
            tx.execute("UPDATE owner_vouchers SET state = ?, replaced_by = ?, updated = ? "
                       "WHERE guid = ?", ("replaced", bytes(new_guid), now, bytes(old_guid)))

    def row(self, guid: bytes) -> VoucherRow | None:
        with self._sql.tx() as tx:
            r = tx.execute(f"SELECT {_COLS} FROM owner_vouchers WHERE guid = ?",
                           (bytes(guid),)).fetchone()
        return None if r is None else _row(r)

    def rows(self) -> list[VoucherRow]:
        with self._sql.tx() as tx:
            return [_row(r) for r in tx.execute(
                f"SELECT {_COLS} FROM owner_vouchers ORDER BY updated").fetchall()]

    def pending_to0(self, margin: float = 0.0) -> list[VoucherRow]:
        """Imported vouchers whose rendezvous registration is missing or lapses within
        `margin` seconds."""
        limit = self.now() + margin
        with self._sql.tx() as tx:
            return [_row(r) for r in tx.execute(
                f"SELECT {_COLS} FROM owner_vouchers WHERE state = 'imported' AND "
                "(to0_expires IS NULL OR to0_expires <= ?) ORDER BY updated",
                (limit,)).fetchall()]

    def mark_to0(self, guid: bytes, seconds: int) -> None:
        with self._sql.tx() as tx:
            tx.execute("UPDATE owner_vouchers SET to0_expires = ? WHERE guid = ?",
                       (self.now() + seconds, bytes(guid)))

    def close(self) -> None:
        self._sql.close()
