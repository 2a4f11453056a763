"""The FDO rendezvous server's database store (imprint_host.services.fdo_rv.SQLRVStore) on SQLite
and PostgreSQL, TO0 then TO1 across a server restart, and `imprint serve rendezvous`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import cbor2
import pytest

from imprint import transport
from imprint.methods import fdo as dev
from imprint_host.services import fdo_owner
from imprint_host.services.fdo_rv import (MemoryRVStore, Registration, RVServer, RVStoreError,
                                          SQLRVStore)
from fdo_common import wait_started
from test_fdo_to1 import OWNER_URL, _di, _to1, board, keys  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0


@pytest.fixture(params=["sqlite", "sqlite-url", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file (path or sqlite:/// URL), or a new database on
    the session's PostgreSQL server (skipped when the postgres_url fixture skips)."""
    if request.param == "sqlite":
        return str(tmp_path / "rv.db")
    if request.param == "sqlite-url":
        return "sqlite:///" + str(tmp_path / "sub" / "rv.db")
    server = request.getfixturevalue("postgres_url")
    import psycopg
    name = "rv_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def opened():
    made = []

    def open_(url: str) -> SQLRVStore:
        made.append(SQLRVStore(url))
        return made[-1]
    yield open_
    for s in made:
        s.close()


def _reg(guid: bytes, expires: float, tag: bytes = b"a") -> Registration:
    # every byte value (NULs included) must survive BLOB / BYTEA
    return Registration(guid, b"\x85voucher" + tag + bytes(range(256)), b"\xd2to1d" + tag,
                        b"\x30device" + tag, b"\x30owner" + tag, expires)


# --- the store ----------------------------------------------------------------------------

def test_put_get_delete(db_url, opened):
    s = opened(db_url)
    g1, g2 = bytes(range(16)), b"\x00" * 16
    assert s.get(g1, T0) is None and len(s) == 0
    s.put(_reg(g1, T0 + 60))
    s.put(_reg(g2, T0 + 60, b"b"))
    got = s.get(g1, T0)
    assert got == _reg(g1, T0 + 60) and all(isinstance(getattr(got, f), bytes) for f in
                                            ("guid", "voucher", "to1d", "device_key", "owner_key"))
    assert isinstance(got.expires, float)
    assert s.get(g2, T0) == _reg(g2, T0 + 60, b"b") and len(s) == 2
    s.delete(g1)
    s.delete(g1)                      # deleting what is gone is no error
    assert s.get(g1, T0) is None and s.get(g2, T0) is not None and len(s) == 1


def test_expiry(db_url, opened):
    s = opened(db_url)
    g = b"\x11" * 16
    s.put(_reg(g, T0 + 60.5))
    assert s.get(g, T0 + 60.4) is not None
    assert s.get(g, T0 + 60.5) is None            # expires <= now: gone, as MemoryRVStore
    assert len(s) == 0                            # and forgotten
    assert s.get(g, T0) is None                   # not back when the clock is earlier


def test_purge_drops_only_the_expired(db_url, opened):
    for s in (opened(db_url), MemoryRVStore()):
        for i, t in enumerate((T0 + 10, T0 + 20, T0 + 30)):
            s.put(_reg(bytes([i]) * 16, t))
        assert s.purge(T0 + 20) == 2 and len(s) == 1
        assert s.get(b"\x02" * 16, T0) is not None and s.purge(T0 + 20) == 0


def test_replace(db_url, opened):
    s = opened(db_url)
    g = b"\x22" * 16
    s.put(_reg(g, T0 + 10))
    s.put(_reg(g, T0 + 1000, b"new"))
    assert len(s) == 1 and s.get(g, T0 + 500) == _reg(g, T0 + 1000, b"new")
    s.put(_reg(g, T0 + 5, b"short"))             # a shorter TO0 replaces a longer one too
    assert s.get(g, T0 + 6) is None


def test_persists_across_connections(db_url, opened):
    g = b"\x33" * 16
    opened(db_url).put(_reg(g, T0 + 60))
    assert opened(db_url).get(g, T0) == _reg(g, T0 + 60)


def test_same_behaviour_as_the_memory_store(db_url, opened):
    sql, mem = opened(db_url), MemoryRVStore()
    g = b"\x44" * 16
    for st in (sql, mem):
        st.put(_reg(g, T0 + 30))
    for now in (T0, T0 + 29.9, T0 + 30, T0 + 31):
        assert sql.get(g, now) == mem.get(g, now)
    assert len(sql) == len(mem) == 0


def test_unopenable_databases(tmp_path):
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(RVStoreError, match="cannot open"):
        SQLRVStore(str(tmp_path / "dir.db"))
    with pytest.raises(RVStoreError, match="cannot connect") as e:
        SQLRVStore("postgresql://rv:s3cret@127.0.0.1:1/rv?connect_timeout=5")
    assert "s3cret" not in str(e.value)


# --- the server on the database -------------------------------------------------------------

def test_to0_then_to1_survive_a_restart(keys, board, db_url):  # noqa: F811
    st, voucher = board
    now = [T0]
    addrs = fdo_owner.rvto2addr(OWNER_URL)
    store = SQLRVStore(db_url)
    with RVServer(store, now=lambda: now[0], max_ttl=3600) as srv:
        assert fdo_owner.to0(srv.url, voucher, keys["owner"], addrs, wait_seconds=600) == 600
        assert srv.registered == 1
    store.close()
    # a new server process would open the same database: a new store, a new server, new port
    store = SQLRVStore(db_url)
    try:
        with RVServer(store, now=lambda: now[0], max_ttl=3600) as srv:
            assert srv.registered == 0 and len(store) == 1
            got, to1d = dev.to1(st, dev.http_sender(transport.SocketStream, "127.0.0.1", srv.port), raw=True)
            assert got == addrs and srv.redirected == 1 and srv.sessions == 0
            assert cbor2.loads(to1d).tag == 18
            now[0] += 601                                 # and it still expires
            with pytest.raises(dev.FDOError, match=r"code 6 .*no owner registered"):
                _to1(st, srv)
            assert len(store) == 0
    finally:
        store.close()


def test_unknown_guid_on_the_database(keys, tmp_path):  # noqa: F811
    st, _ = _di(keys, "SN-RV-2")
    store = SQLRVStore(str(tmp_path / "rv.db"))
    try:
        with RVServer(store) as srv:
            with pytest.raises(dev.FDOError, match=r"code 6 after message 30"):
                _to1(st, srv)
    finally:
        store.close()


# --- imprint serve rendezvous ----------------------------------------------------------------

def _imprint(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([str(Path(sys.executable).parent / "imprint"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)


def _wait_for_url(proc: subprocess.Popen) -> str:
    return re.search(r" on (http://\S+)", wait_started(proc)).group(1)


def test_cli_serve_rendezvous(tmp_path):
    db = tmp_path / "cli-rv.db"
    proc = _imprint("serve", "rendezvous", "--db", str(db), "--host", "127.0.0.1",
                    "--port", "0", "--max-ttl", "60")
    try:
        url = _wait_for_url(proc)
        assert url.startswith("http://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        assert port != 0
        # TO1.HelloRV for a GUID nobody registered -> FDO Error (255) with code 6
        status, mt, _, body = fdo_owner.post("127.0.0.1", port, 30,
                                             cbor2.dumps([os.urandom(16), [-7, b""]]))
        err = cbor2.loads(body)
        assert mt == 255 and err[0] == 6 and err[1] == 30, (status, mt, err)
        assert db.exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_cli_refuses_a_bad_database(tmp_path):
    (tmp_path / "d.db").mkdir()
    proc = _imprint("serve", "rendezvous", "--db", str(tmp_path / "d.db"), "--port", "0")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "cannot open" in err
