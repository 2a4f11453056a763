"""The FDO owner service: its voucher database (SQLite and PostgreSQL), imports from files and
from the factory record, TO0 registration, and `imprint serve owner` onboarding a device
(firmware fdo.onboard on CPython) across a restart."""

from __future__ import annotations

import signal
import time

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization

from imprint import transport
from imprint.methods import fdo as dev
from imprint_host.factory import fdo
from imprint_host.factory.records import Records
from imprint_host.services import fdo_owner, fdo_to2
from imprint_host.services.credentials import EndpointIssuer
from imprint_host.services.fdo_rv import RVServer
from imprint_host.services.owner_store import OwnerStoreError, SQLVoucherStore
from fdo_common import running, wait_started as _wait
from test_fdo_rv_store import _imprint, db_url  # noqa: F401  (fixture)
from test_fdo_to2 import INFO, _di, _state, keys  # noqa: F401  (fixture)


@pytest.fixture
def store(db_url):  # noqa: F811
    s = SQLVoucherStore(db_url)
    yield s
    s.close()


def test_store_import_replace_and_persist(keys, store, db_url):  # noqa: F811
    _, voucher = _di(keys)
    with pytest.raises(OwnerStoreError, match="refused"):
        store.add(b"\x85garbage")
    v1 = fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"])
    guid, new = store.add(v1)
    assert new and store.add(v1) == (guid, False)
    assert store.get_voucher(guid).voucher == v1
    assert [r.guid for r in store.pending_to0()] == [guid]
    store.mark_to0(guid, 600)
    assert store.pending_to0() == [] and [r.guid for r in store.pending_to0(601)] == [guid]
    # a longer voucher for the same GUID replaces an imported one; a shorter one does not
    v2 = fdo.extend(v1, keys["owner2"].public_key(), keys["owner"])
    assert store.add(v2) == (guid, True)
    with pytest.raises(OwnerStoreError, match="as many entries"):
        store.add(v1)
    store.replace_voucher(guid, b"\x07" * 16, b"\x85new", {"devmod": {"sn": "SN-1"},
                                                              "credentials": None})
    again = SQLVoucherStore(db_url)
    try:
        row = again.row(guid)
        assert row.state == "replaced" and row.replaced_by == b"\x07" * 16
        owned = again.row(b"\x07" * 16)
        assert owned.state == "owned" and owned.info["devmod"]["sn"] == "SN-1"
        assert again.get_voucher(b"\x07" * 16) is None         # no entries: not for TO2
        assert again.get_voucher(guid).voucher == v2           # TO2 may run again
        with pytest.raises(OwnerStoreError, match="already onboarded"):
            again.add(v1)
        assert again.pending_to0() == []
    finally:
        again.close()


def test_import_from_the_factory_record(keys, tmp_path):
    rec = Records(str(tmp_path / "factory.db"))
    vouchers = {}
    for sn in ("SN-F1", "SN-F2"):
        _, v = _di(keys, sn)
        rec.start(sn, sn.lower(), "nrf52840-dk", reprovision=False)
        rec.save_voucher(sn, fdo.parse(v)["guid"].hex(), v)
        vouchers[sn] = v
    rec.close()
    store = SQLVoucherStore(str(tmp_path / "owner.db"))
    try:
        owner_pub = keys["owner"].public_key()
        # not extended to this owner: nothing taken without the manufacturer key
        assert fdo_owner.import_factory(store, str(tmp_path / "factory.db"), owner_pub) == []
        got = fdo_owner.import_factory(store, str(tmp_path / "factory.db"), owner_pub,
                                       sell_with=keys["mfg"])
        assert sorted(got) == sorted(fdo.parse(v)["guid"] for v in vouchers.values())
        for g in got:
            assert fdo.key_id(fdo.owner_key(store.get_voucher(g).voucher)) == \
                fdo.key_id(owner_pub)
    finally:
        store.close()


def test_register_pending_reports_each(keys, tmp_path):
    store = SQLVoucherStore(str(tmp_path / "owner.db"))
    try:
        _, v = _di(keys, "SN-R1")
        store.add(fdo.extend(v, keys["owner"].public_key(), keys["mfg"]))
        seen = []
        with RVServer() as rv:
            ok = fdo_owner.register_pending(store, rv.url, keys["owner"],
                                            fdo_owner.rvto2addr("http://127.0.0.1:9"), 120,
                                            report=lambda *a: seen.append(a))
            assert ok == (1, 0) and seen[0][1] == 120 and rv.registered == 1
            assert fdo_owner.register_pending(store, rv.url, keys["owner"], [], 120) == (0, 0)
        # the rendezvous server is gone: reported, not raised
        store.mark_to0(seen[0][0], -1)
        seen.clear()
        assert fdo_owner.register_pending(store, rv.url, keys["owner"],
                                          fdo_owner.rvto2addr("http://127.0.0.1:9"), 120,
                                          report=lambda *a: seen.append(a)) == (0, 1)
        assert seen[0][1] is None and seen[0][2]
    finally:
        store.close()


def _pem(key, path):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return str(path)


def test_cli_serve_owner_onboards_and_restarts(keys, tmp_path):
    with RVServer() as rv:
        st, voucher = _di(keys, "SN-CLI", rv=rv.url)
        vfile = tmp_path / "v.ov"
        vfile.write_text(fdo.armor(fdo.extend(voucher, keys["owner"].public_key(),
                                              keys["mfg"])))
        db = tmp_path / "owner.db"
        args = ["serve", "owner", "--key", _pem(keys["owner"], tmp_path / "owner.pem"),
                "--db", str(db), "--voucher", str(vfile), "--rv", rv.url, "--port", "0",
                "--endpoint", "coap://127.0.0.1:5683",
                "--endpoint-key", _pem(keys["other"], tmp_path / "ep.pem")]
        with running(_imprint(*args)) as proc:
            head = _wait(proc)
            assert "imported" in head and "registered for 86400 s" in head
            assert rv.registered == 1
            before = _state(st)
            g = dev.onboard(st, transport.SocketStream, INFO)
            creds = st.get("op_creds")
            assert creds["uri"] == "coap://127.0.0.1:5683" and creds["suite"] == 2
            assert cbor2.loads(creds["peer_ccs"])[8][1][-2] == keys["other"].public_key() \
                .public_numbers().x.to_bytes(32, "big")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
            err = proc.stderr.read()
            assert "1 device(s) onboarded" in err
        s = SQLVoucherStore(str(db))
        try:
            old = fdo.parse(voucher)["guid"]
            assert s.row(old).state == "replaced" and s.row(old).replaced_by == g
            owned = s.row(g)
            assert owned.info["credentials"]["kid"] == st.get("op_creds")["kid"]
            assert before[0] != st.get("fdo_cred")
        finally:
            s.close()
        # a restart with the same database and voucher: nothing to register again
        with running(_imprint(*args)) as proc:
            head = _wait(proc)
            assert "already here" in head and "TO0" not in head and rv.registered == 1
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0


def test_cli_refuses_without_a_key(tmp_path):
    proc = _imprint("serve", "owner", "--key", str(tmp_path / "none.pem"), "--db",
                    str(tmp_path / "o.db"), "--port", "0")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "key" in err


def test_the_issuer_gives_distinct_key_ids(keys):
    iss = EndpointIssuer("coap://h", keys["other"])
    a = iss({"sn": "A"}, keys["device"].public_key(), b"\x01" * 16)
    b = iss({}, keys["owner"].public_key(), b"\x02" * 16)
    assert a["kid"] != b["kid"] and cbor2.loads(b["ccs"])[2] == (b"\x02" * 16).hex()
    assert set(iss.peer_config()) == {f":device-{a['kid'].hex()}", f":device-{b['kid'].hex()}"}
    assert isinstance(fdo_to2.MemoryVoucherStore(), fdo_to2.MemoryVoucherStore)


def test_cli_owner_list_and_export(keys, tmp_path):
    db = str(tmp_path / "owner.db")
    s = SQLVoucherStore(db)
    _, voucher = _di(keys, "SN-EXP")
    v1 = fdo.extend(voucher, keys["owner"].public_key(), keys["mfg"])
    g, _ = s.add(v1)
    s.replace_voucher(g, b"\x42" * 16, v1, {"devmod": {"device": "nrf52840-dk", "sn": "SN-EXP"}})
    s.close()
    p = _imprint("owner", "list", "--db", db)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert f"{g.hex()}  replaced -> {'42' * 16}" in out and "owned" in out and "SN-EXP" in out
    p = _imprint("owner", "export", "42" * 16, "--db", db, "--out", str(tmp_path / "o.ov"))
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert fdo.load((tmp_path / "o.ov").read_bytes()) == v1
    p = _imprint("owner", "export", "00" * 16, "--db", db, "--out", str(tmp_path / "x.ov"))
    out, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "no voucher" in err
