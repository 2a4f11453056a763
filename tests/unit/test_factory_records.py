"""The factory record (imprint_host.factory.records) on both of its databases: SQLite, and a
real PostgreSQL server (tests/unit/conftest.py) shared by several "stations" at once."""

from __future__ import annotations

import threading
import uuid

import pytest

from imprint_host.factory import records as records_mod
from imprint_host.factory.records import Records, RecordsError


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, or a new database on the session's server."""
    if request.param == "sqlite":
        return str(tmp_path / "factory.db")
    server = request.getfixturevalue("postgres_url")
    import psycopg
    name = "records_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def opened():
    """Records(...) that are closed when the test ends."""
    made = []

    def open_(url: str, station: str = "station") -> Records:
        made.append(Records(url, station=station))
        return made[-1]
    yield open_
    for r in made:
        r.close()


def provision(rec: Records, serial: str, uid: str, **kw) -> None:
    rec.start(serial, uid, "nrf52840-dk", **{"reprovision": False} | kw)
    rec.save_voucher(serial, "ab" * 16, b"\x84voucher-of-" + serial.encode())
    rec.finish(serial, "provisioned", idevid=f"PEM {serial}", fdo_guid="ab" * 16, seconds=1.5)


def test_a_board_from_start_to_finish(db_url, opened):
    rec = opened(db_url, station="line-1")
    assert rec.board("IMP-1") is None and list(rec.boards()) == [] and rec.events() == []
    assert rec.start("IMP-1", "00aa", "nrf52840-dk", reprovision=False) == ""
    row = rec.board("IMP-1")
    assert row["status"] == "started" and row["uid"] == "00aa" and row["board"] == "nrf52840-dk"
    assert row["station"] == "line-1" and row["started"] and row["finished"] is None
    assert row["voucher"] is None and row["idevid"] is None and row["seconds"] is None
    voucher = bytes(range(256)) * 4 + b"\x00"  # every byte value, NULs included
    rec.save_voucher("IMP-1", "11" * 16, voucher)
    row = rec.board("IMP-1")
    assert row["fdo_guid"] == "11" * 16 and row["status"] == "started"
    assert isinstance(row["voucher"], bytes) and row["voucher"] == voucher
    # finish without the voucher keeps the one saved before the board committed
    rec.finish("IMP-1", "provisioned", idevid="-----BEGIN CERTIFICATE-----\n", seconds=12.25)
    row = rec.board("IMP-1")
    assert row["status"] == "provisioned" and row["voucher"] == voucher and row["fdo_guid"] == "11" * 16
    assert row["idevid"] == "-----BEGIN CERTIFICATE-----\n" and row["seconds"] == 12.25
    assert row["finished"] and row["finished"] >= row["started"]
    assert [b["serial"] for b in rec.boards()] == ["IMP-1"]
    rec.audit("IMP-1", "note", "checked by hand")
    rec.audit(None, "shift", "")
    events = rec.events()
    assert [(e[1], e[2], e[3]) for e in events] == [
        ("line-1", "IMP-1", "start"), ("line-1", "IMP-1", "voucher"), ("line-1", "IMP-1", "provisioned"),
        ("line-1", "IMP-1", "note"), ("line-1", None, "shift")]
    assert events[1][4] == "11" * 16 and events[3][4] == "checked by hand"
    assert [e[0] for e in events] == sorted(e[0] for e in events)


def test_voucher_accepts_any_bytes_like(db_url, opened):
    rec = opened(db_url)
    rec.start("IMP-2", "02", "esp32-devkitc", reprovision=False)
    rec.save_voucher("IMP-2", "22" * 16, bytearray(b"\x01\x02"))
    assert rec.board("IMP-2")["voucher"] == b"\x01\x02"
    rec.finish("IMP-2", "provisioned", voucher=memoryview(b"\x03\x04"))
    assert rec.board("IMP-2")["voucher"] == b"\x03\x04"


def test_a_provisioned_serial_is_refused_unless_reprovision(db_url, opened):
    rec = opened(db_url)
    provision(rec, "IMP-3", "03")
    with pytest.raises(RecordsError, match="provisioned already"):
        rec.start("IMP-3", "03", "nrf52840-dk", reprovision=False)
    assert rec.board("IMP-3")["status"] == "provisioned"
    assert rec.start("IMP-3", "03", "nrf52840-dk", reprovision=True) == "provisioned"
    row = rec.board("IMP-3")
    assert row["status"] == "started" and row["finished"] is None
    rec.finish("IMP-3", "locked")
    with pytest.raises(RecordsError, match="provisioned already"):
        rec.start("IMP-3", "03", "nrf52840-dk", reprovision=False)
    assert [e[3] for e in rec.events()] == ["start", "voucher", "provisioned", "start", "locked"]
    assert rec.events()[3][4] == "was provisioned"


def test_an_interrupted_or_failed_run_resumes(db_url, opened):
    rec = opened(db_url)
    rec.start("IMP-4", "04", "nrf52840-dk", reprovision=False)
    assert rec.start("IMP-4", "04", "nrf52840-dk", reprovision=False) == "started"  # power cut
    rec.finish("IMP-4", "failed", seconds=0.5, detail="TimeoutError: no answer")
    assert rec.board("IMP-4")["status"] == "failed"
    assert rec.start("IMP-4", "04", "nrf52840-dk", reprovision=False) == "failed"
    assert rec.board("IMP-4")["status"] == "started"
    assert [b["serial"] for b in rec.boards()] == ["IMP-4"]  # one row, never a duplicate


def test_another_board_with_the_same_serial_is_refused(db_url, opened):
    rec = opened(db_url)
    rec.start("IMP-5", "05", "nrf52840-dk", reprovision=False)
    before = rec.events()
    for reprovision in (False, True):
        with pytest.raises(RecordsError, match="another board"):
            rec.start("IMP-5", "ff", "nrf52840-dk", reprovision=reprovision)
    row = rec.board("IMP-5")
    assert row["uid"] == "05" and row["status"] == "started"
    assert rec.events() == before  # a refused start leaves no trace (rolled back)


def test_unknown_serial_cannot_be_finished_or_given_a_voucher(db_url, opened):
    rec = opened(db_url)
    with pytest.raises(RecordsError, match="IMP-X"):
        rec.save_voucher("IMP-X", "00" * 16, b"v")
    with pytest.raises(RecordsError, match="IMP-X"):
        rec.finish("IMP-X", "provisioned")
    assert rec.events() == [] and list(rec.boards()) == []


def test_a_failed_transaction_is_rolled_back_and_the_connection_still_works(db_url, opened):
    rec = opened(db_url)
    rec.start("IMP-6", "06", "nrf52840-dk", reprovision=False)
    with pytest.raises(ZeroDivisionError):
        with rec._tx() as tx:
            tx.execute("UPDATE boards SET status = 'locked' WHERE serial = ?", ("IMP-6",))
            tx.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)", ("t", "s", "IMP-6", "lost", ""))
            1 / 0
    with pytest.raises(RecordsError):  # a database error mid-transaction: same, and reported as ours
        with rec._tx() as tx:
            tx.execute("UPDATE boards SET status = 'locked' WHERE serial = ?", ("IMP-6",))
            tx.execute("INSERT INTO no_such_table VALUES (?)", (1,))
    assert rec.board("IMP-6")["status"] == "started"
    assert [e[3] for e in rec.events()] == ["start"]
    provision(rec, "IMP-7", "07")
    assert rec.board("IMP-7")["status"] == "provisioned"


def test_sql_is_passed_through_unchanged_apart_from_placeholders(db_url, opened):
    # a literal % must reach PostgreSQL as %, not be taken for one of psycopg's placeholders
    rec = opened(db_url)
    provision(rec, "IMP-8%", "08")
    with rec._tx() as tx:
        got = tx.execute("SELECT serial FROM boards WHERE serial LIKE 'IMP-8%' AND uid = ?", ("08",)).fetchall()
    assert [r[0] for r in got] == ["IMP-8%"]


def test_two_stations_share_one_record(db_url, opened):
    a, b = opened(db_url, "line-a"), opened(db_url, "line-b")
    provision(a, "IMP-10", "10")
    assert b.board("IMP-10")["station"] == "line-a"  # committed: the other station sees it
    with pytest.raises(RecordsError, match="provisioned already"):
        b.start("IMP-10", "10", "nrf52840-dk", reprovision=False)
    assert b.start("IMP-10", "10", "nrf52840-dk", reprovision=True) == "provisioned"
    assert a.board("IMP-10")["station"] == "line-b"
    assert {e[1] for e in a.events()} == {"line-a", "line-b"}


def run_threads(n: int, target) -> list:
    """target(i) in n threads started together; what each returned or raised."""
    out: list = [None] * n
    go = threading.Barrier(n)

    def run(i: int) -> None:
        go.wait(30)
        try:
            out[i] = target(i)
        except Exception as e:  # noqa: BLE001 - the test looks at it
            out[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return out


def test_stations_provision_different_boards_concurrently(db_url, opened):
    stations = [opened(db_url, f"line-{i}") for i in range(4)]

    def work(i: int) -> int:
        for k in range(8):
            provision(stations[i], f"IMP-{i}-{k}", f"{i:02x}{k:02x}")
        return 8
    assert run_threads(4, work) == [8] * 4
    rows = list(stations[0].boards())
    assert len(rows) == 32 and {r["status"] for r in rows} == {"provisioned"}
    assert all(r["station"] == f"line-{r['serial'].split('-')[1]}" for r in rows)
    assert len(stations[1].events()) == 32 * 3


def test_stations_racing_for_one_serial_exactly_one_wins(db_url, opened):
    stations = [opened(db_url, f"line-{i}") for i in range(4)]
    for k in range(6):
        serial = f"IMP-RACE-{k}"
        out = run_threads(4, lambda i: stations[i].start(serial, f"{i:02x}", "nrf52840-dk", reprovision=False))
        winners = [i for i, r in enumerate(out) if r == ""]
        assert len(winners) == 1, out
        assert all(isinstance(r, RecordsError) and "another board" in str(r)
                   for i, r in enumerate(out) if i != winners[0]), out
        row = stations[0].board(serial)
        assert row["uid"] == f"{winners[0]:02x}" and row["station"] == f"line-{winners[0]}"
        starts = [e for e in stations[0].events() if e[2] == serial]
        assert [(e[1], e[3]) for e in starts] == [(f"line-{winners[0]}", "start")]


def test_race_where_both_stations_looked_before_either_wrote(postgres_url, opened, monkeypatch):
    # The worst interleaving, forced: both stations have read "no such serial" before either
    # inserts it. The second must wait for the first and then be refused, not fail with a
    # driver error nor overwrite the first one's claim. (SQLite cannot interleave like this:
    # BEGIN IMMEDIATE serialises writers.)
    import psycopg
    name = "race_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    a, b = opened(url, "line-a"), opened(url, "line-b")
    both_inside = threading.Barrier(2)
    waited = threading.local()
    real_now = records_mod.now

    def now() -> str:  # called inside start()'s transaction, before it writes
        if not getattr(waited, "done", False):
            waited.done = True
            both_inside.wait(10)
        return real_now()
    monkeypatch.setattr(records_mod, "now", now)
    out = run_threads(2, lambda i: (a, b)[i].start("IMP-R", f"{i:02x}", "nrf52840-dk", reprovision=False))
    assert sorted(type(r).__name__ for r in out) == ["RecordsError", "str"], out
    winner = out.index("")
    assert a.board("IMP-R")["uid"] == f"{winner:02x}"
    assert [e[3] for e in b.events()] == ["start"]


def test_stations_creating_the_schema_at_once(postgres_url):
    import psycopg
    name = "schema_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    out = run_threads(6, lambda i: Records(url, station=f"line-{i}"))
    try:
        assert all(isinstance(r, Records) for r in out), out
    finally:
        for r in out:
            if isinstance(r, Records):
                r.close()


def test_sqlite_url_form_and_unreachable_postgresql(tmp_path, opened):
    rec = opened("sqlite:///" + str(tmp_path / "sub" / "f.db"))
    provision(rec, "IMP-9", "09")
    assert (tmp_path / "sub" / "f.db").exists()
    with pytest.raises(RecordsError, match="cannot connect") as e:
        Records("postgresql://factory:s3cret@127.0.0.1:1/factory?connect_timeout=5")
    assert "s3cret" not in str(e.value)  # the password is not printed
