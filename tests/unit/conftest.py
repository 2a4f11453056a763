"""A throwaway PostgreSQL server for the factory record's tests: Debian's `postgresql` (which
`make setup` installs where it can), run from a temporary directory on 127.0.0.1."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest


def _pg_bin() -> str | None:
    """The directory holding initdb and postgres: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return os.path.dirname(found)
    dirs = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.path.exists(os.path.join(d, "initdb"))]
    dirs.sort(key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    return dirs[-1] if dirs else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """postgresql://postgres@127.0.0.1:PORT/postgres on a server that lives for the session."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; `make setup` does it as root)")
    # initdb and postgres refuse to run as root: as root, run them as Debian's `postgres` user
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
    as_user = {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    top = tempfile.mkdtemp(prefix="imprint-pg-")
    if user is not None:
        os.chown(top, user.pw_uid, user.pw_gid)
    data, log = os.path.join(top, "data"), os.path.join(top, "server.log")
    env = dict(os.environ, LC_ALL="C", LANG="C")
    server = None
    try:
        r = subprocess.run([os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
                            "-E", "UTF8", "--no-sync"], capture_output=True, text=True, timeout=120,
                           cwd=top, env=env, **as_user)
        if r.returncode != 0:
            pytest.fail(f"initdb failed: {r.stdout}{r.stderr}")
        for _ in range(3):  # a free port can be taken between choosing it and listening on it
            port = _free_port()
            with open(log, "ab") as out:
                server = subprocess.Popen(
                    [os.path.join(bindir, "postgres"), "-D", data, "-h", "127.0.0.1", "-p", str(port),
                     "-k", top, "-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off", "-c", "max_connections=40", "-c", "shared_buffers=16MB"],
                    stdout=out, stderr=subprocess.STDOUT, cwd=top, env=env, **as_user)
            url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
            deadline = time.monotonic() + 30
            while server.poll() is None and time.monotonic() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        pass
                    import psycopg
                    psycopg.connect(url, connect_timeout=5).close()
                    break
                except Exception:
                    time.sleep(0.1)
            else:
                if server.poll() is None:
                    server.kill()
                    server.wait(10)
                server = None
                continue
            break
        if server is None:
            with open(log, errors="replace") as f:
                pytest.fail("PostgreSQL did not start:\n" + f.read()[-2000:])
        yield url
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGINT)  # fast shutdown: open connections are cut
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
        shutil.rmtree(top, ignore_errors=True)
