"""FDO 1.1 Device Initialization end to end: the device's DeviceInit (firmware code, run here
on CPython) against the host Manufacturer; ownership vouchers: HMAC, extend, verify, tampering,
show/armor, the `imprint voucher` commands; and a voucher made by fido-device-onboard-rs."""

from __future__ import annotations

import hashlib
import hmac

import cbor2
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from imprint import cbor
from imprint.methods import fdo as dev
from imprint.store import Store
from fdo_common import MemFS, _cert
from imprint_host.cli import main
from imprint_host.factory import fdo

# An ownership voucher made by fido-device-onboard-rs (its integration-tests/vouchers/v101/
# voucher2): P-256 manufacturer key (X509), SHA-256 chain hash, two entries.
FDO_RS_VOUCHER = (
    "-----BEGIN OWNERSHIP VOUCHER-----\n"
    "hRhlWNmGGGVQrADaYQfoQF6sxJSu8/aJZoGFggVYGHdmZG8tdGVzdC5wdWl0ZXJ3\n"
    "aWprLm9yZ4IDQxkfkIIMQQGCAkVEA35nBIIEQxkfkGpEZW1vRGV2aWNlgwoBWFsw\n"
    "WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASFAojJI3GIYx0fz5mx9QO53U59MwY2\n"
    "QvptBwTTyvh1tikpT/CA0cf/N6JtSJBVj1/JHY62ccI+Jzv1sqxffc+Mgi9YIMkD\n"
    "7w1d9Rditn2rm+psJL1ryFUO/j3hAo/X4ePOmMmaggVYIPRzo3IoKFbYyLH3qA/2\n"
    "hsRopg1P/uTeTphdxo4OvTryglkBITCCAR0wgcSgAwIBAgIIOlx4CVjdSPcwCgYI\n"
    "KoZIzj0EAwIwFDESMBAGA1UEAwwJRmRvRW50aXR5MCAXDTIyMDEyNjE4NDEyMloY\n"
    "DzIwNTEwODIyMTg0MTIyWjAUMRIwEAYDVQQDDAlGZG9FbnRpdHkwWTATBgcqhkjO\n"
    "PQIBBggqhkjOPQMBBwNCAAT9kNe8A3UoGtGfqZPxFQyzqcfor0l8yS3xDd/H/gJ7\n"
    "ml5RRmLMpI4xCbC3P4C6Sq+S5Qz/dx76VZfHTIWDscsrMAoGCCqGSM49BAMCA0gA\n"
    "MEUCIQCIIoQnT5Asro8EmzfcBr5FrjOmcOgN0Yu365/cW1Dy4QIgZ9RBfN8K1QSa\n"
    "k1oMjJ5FU8hw9UQPwUWh30sq5QXKTnJZASEwggEdMIHEoAMCAQICCDlmInW5jU2q\n"
    "MAoGCCqGSM49BAMCMBQxEjAQBgNVBAMMCUZkb0VudGl0eTAgFw0yMjAxMjUyMTA4\n"
    "NTVaGA8yMDUxMDgyMTIxMDg1NVowFDESMBAGA1UEAwwJRmRvRW50aXR5MFkwEwYH\n"
    "KoZIzj0CAQYIKoZIzj0DAQcDQgAEhQKIySNxiGMdH8+ZsfUDud1OfTMGNkL6bQcE\n"
    "08r4dbYpKU/wgNHH/zeibUiQVY9fyR2OtnHCPic79bKsX33PjDAKBggqhkjOPQQD\n"
    "AgNIADBFAiBz+VC2aM71z1MXQFRcz/sHvEwgVDP/t7xLX4oyQ9ZEsAIhAPx7WEF5\n"
    "FtUnS75o+xWbHhTgExaGtb/MSg4ThMHKzcDbgtKEQ6EBJqBYqoSCL1ggwtpzFQH0\n"
    "kcSryES1JJSw5h14Pw7ySuGuJvHvQLCsmAGCL1ggGl7Gt04AvazHNeLTobxjNDoX\n"
    "fEQv+5MNnh3m+oPsCEn2gwoBWFswWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATP\n"
    "fZrcEcFtC+WhRQKupnWs6UJZN0DJdsAZz2y0QUFQjDxKwxg8liPdykKXv6HRYk3a\n"
    "EWB0Y5LLYLi2TwSUjAuqWECYEXSqik9ojHPlfX+HJ1s3ANJyCCSsO3Q48AavI8IE\n"
    "m4EnyxFjo2oHu6BwaM2BHJbwX3Om25pnYBcnaULlebro0oRDoQEmoFiqhIIvWCBD\n"
    "qrqxGw1yAohEIPfrGSes7zd1Kjd/nfQxLwQZcm0APYIvWCAaXsa3TgC9rMc14tOh\n"
    "vGM0Ohd8RC/7kw2eHeb6g+wISfaDCgFYWzBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
    "A0IABKTNIdBDP3pgAZD/WrgP93jjWCbZLn0khPwrVMXK1xtO5ebpBnL678eB6hnR\n"
    "45MwexLc6wfPZly3ZI3zSDnPzZtYQIXI2dpaDa5EvdvydJmbxgoSz6KMKWcttjfL\n"
    "acSlIyfk2RRaM+Y9a9v0HeIfjgleMXXgKFbe6j8XyY9FfLHcpUc=\n"
    "-----END OWNERSHIP VOUCHER-----\n"
)


@pytest.fixture(scope="module")
def keys():
    return {n: ec.generate_private_key(ec.SECP256R1())
            for n in ("root", "device", "mfg", "owner1", "owner2")}


@pytest.fixture()
def board(keys):
    """A device store as the agent leaves it before DI: key, IDevID chain (leaf first)."""
    k = keys
    chain = [_cert("SN-42", k["device"].public_key(), "root", k["root"]),
             _cert("root", k["root"].public_key(), "root", k["root"], ca=True)]
    fs = MemFS()
    st = Store(fs)
    st.update({"serial": "SN-42", "idevid_chain": chain,
               "idevid_key": k["device"].private_numbers().private_value.to_bytes(32, "big")})
    return st, fs


def run_di(mfg, device, sent=None):
    """Drive DI as the station does; returns the number of messages exchanged."""
    msg_type, body = 10, device.app_start()
    n = 1
    while True:
        if sent is not None:
            sent.append(body)
        reply_type, reply = mfg.di(msg_type, body)
        out = device.handle(reply_type, reply)
        n += 2
        if out is None:
            return n
        msg_type, body = out


@pytest.fixture()
def made(keys, board):
    st, fs = board
    mfg = fdo.Manufacturer(keys["mfg"], "http://rv.example:8041")
    sent = []
    assert run_di(mfg, dev.DeviceInit(st, "SN-42", "nrf52840-dk"), sent) == 5
    return mfg, st, fs, sent


def test_di_end_to_end(keys, made):
    mfg, st, fs, sent = made
    cred = Store(fs).get("fdo_cred")  # on "flash"
    active, protver, secret, info, guid, rv, pkhash = cred
    assert active is True and protver == 101 and len(secret) == 32
    assert guid == mfg.guid and len(guid) == 16 and info == "nrf52840-dk"
    assert mfg.serial == "SN-42" and mfg.model == "nrf52840-dk"
    assert rv == fdo.rendezvous("http://rv.example:8041")
    v = fdo.parse(mfg.voucher)
    assert v["header_bytes"] == mfg.header and v["entries"] == [] and v["guid"] == guid
    assert v["chain"] == st.get("idevid_chain")
    # DCPubKeyHash: SHA-256 over the CBOR PublicKey of the manufacturer key, as in the header
    assert pkhash == [-16, hashlib.sha256(cbor2.dumps(v["pubkey"])).digest()]
    assert fdo.public_key(v["pubkey"]).public_numbers() == keys["mfg"].public_key().public_numbers()
    # the voucher's HMAC is the device's, over the OVHeader bytes, keyed by its secret
    assert v["hmac"] == [5, hmac.new(secret, mfg.header, hashlib.sha256).digest()]
    fdo.verify(mfg.voucher, hmac_check=secret)
    fdo.verify(mfg.voucher, hmac_check=lambda hdr, mac: hdr == mfg.header and mac[0] == 5)
    with pytest.raises(fdo.FDOHostError, match="OVHeaderHMac"):
        fdo.verify(mfg.voucher, hmac_check=bytes(32))
    # the chain hash in the header is over the device's chain
    assert v["chain_hash"] == [-16, hashlib.sha256(b"".join(v["chain"])).digest()]
    # the secret never left the device, nor its private key
    for body in sent:
        assert secret not in body and st.get("idevid_key") not in body


def test_manufacturer_refuses(keys, board):
    st, _ = board
    mfg = fdo.Manufacturer(keys["mfg"])
    with pytest.raises(fdo.FDOHostError, match="out of order"):
        mfg.di(12, cbor2.dumps([[5, bytes(32)]]))
    for body in (b"", b"\x80", cbor2.dumps([b"\xff"]), cbor2.dumps(["x"]),
                 cbor2.dumps([cbor2.dumps([10, 2, "SN", "m"])]),
                 cbor2.dumps([cbor2.dumps([11, 2, "SN", "m", [b"x"]])]),
                 cbor2.dumps([cbor2.dumps([10, 2, "SN", "m", [b"not a certificate"]])]),
                 cbor2.dumps([cbor2.dumps([10, 1, "SN", "m", b"a CSR, with no issuer"])])):
        with pytest.raises(fdo.FDOHostError):
            mfg.di(10, body)
    p384 = ec.generate_private_key(ec.SECP384R1())
    leaf = _cert("x", p384.public_key(), "root", keys["root"])
    with pytest.raises(fdo.FDOHostError, match="P-256"):
        mfg.di(10, cbor2.dumps([cbor2.dumps([10, 2, "SN", "m", [leaf]])]))
    t, body = mfg.di(10, dev.DeviceInit(st, "SN-42", "m").app_start())
    assert t == 11
    for bad in (cbor2.dumps([[6, bytes(48)]]), cbor2.dumps([[5, bytes(31)]]), b"\xa0"):
        with pytest.raises(fdo.FDOHostError):
            mfg.di(12, bad)
    assert mfg.voucher is None
    with pytest.raises(fdo.FDOHostError):
        fdo.Manufacturer(p384)
    with pytest.raises(fdo.FDOHostError):
        fdo.Manufacturer(keys["mfg"], [[]])


def test_manufacturer_key_forms_and_csr(keys, board, tmp_path):
    st, _ = board
    pem = keys["mfg"].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    (tmp_path / "mfg.key").write_bytes(pem)

    class CA:
        fdo_key = keys["mfg"]

    for k in (pem, pem.decode(), tmp_path / "mfg.key", str(tmp_path / "mfg.key"), CA()):
        m = fdo.Manufacturer(k, ["http://10.0.0.1:8040", "https://rv.example"],
                             guid=bytes(16), device_info="custom")
        assert m.key.private_numbers() == keys["mfg"].private_numbers()
    # a go-fdo / Java style device sends a CSR (bstr) as certInfo: `issue` makes the chain
    chain = st.get("idevid_chain")
    calls = []
    m = fdo.Manufacturer(keys["mfg"],
                         issue=lambda csr, serial: calls.append((csr, serial)) or chain)
    info = cbor2.dumps([10, 1, "SN-9", "m", b"csr-der"])
    t, body = m.di(10, cbor2.dumps([info]))
    assert t == 11 and calls == [(b"csr-der", "SN-9")] and m.chain == chain
    hdr = cbor2.loads(cbor2.loads(body)[0])
    assert hdr[0] == 101 and hdr[3] == "m" and hdr[5][1] == hashlib.sha256(b"".join(chain)).digest()
    assert fdo.rendezvous("http://10.0.0.1:8040")[0][0] == [2, cbor2.dumps(bytes([10, 0, 0, 1]))]


def test_extend_twice_and_verify(keys, made):
    mfg, st, _, _ = made
    secret = st.get("fdo_cred")[2]
    v1 = fdo.extend(mfg.voucher, keys["owner1"].public_key(), keys["mfg"])
    v2 = fdo.extend(v1, keys["owner2"].public_key(), keys["owner1"])
    assert v2.startswith(mfg.voucher[:-1])  # header, HMAC and chain bytes kept as they were
    r = fdo.verify(v2, hmac_check=secret)
    assert len(r["entries"]) == 2
    assert r["owner_key"].public_numbers() == keys["owner2"].public_key().public_numbers()
    assert fdo.owner_key(v1).public_numbers() == keys["owner1"].public_key().public_numbers()
    e0, e1 = r["entries"]
    assert cbor2.loads(e0["raw"]).tag == 18 and cbor2.loads(e0["protected"]) == {1: -7}
    # the hash chain: entry 0 over OVHeader || OVHeaderHMac, entry 1 over entry 0
    hmac_cbor = cbor2.dumps(r["hmac"])
    assert e0["prev_hash"] == [-16, hashlib.sha256(mfg.header + hmac_cbor).digest()]
    assert e1["prev_hash"] == [-16, hashlib.sha256(e0["raw"]).digest()]
    assert e0["hdr_hash"] == e1["hdr_hash"] == [-16, hashlib.sha256(
        r["guid"] + b"nrf52840-dk").digest()]
    # only the current owner can extend, to a key of the manufacturer key's type
    with pytest.raises(fdo.FDOHostError, match="current owner"):
        fdo.extend(v2, keys["owner1"].public_key(), keys["owner1"])
    with pytest.raises(fdo.FDOHostError, match="current owner"):
        fdo.extend(mfg.voucher, keys["owner1"].public_key(), keys["owner1"])
    with pytest.raises(fdo.FDOHostError, match="P-256"):
        fdo.extend(v2, ec.generate_private_key(ec.SECP384R1()).public_key(), keys["owner2"])
    v3 = fdo.extend(v2, keys["owner1"].public_key(), keys["owner2"], extra={-70000: b"note"})
    assert fdo.parse(v3)["entries"][2]["extra"] == cbor2.dumps({-70000: b"note"})
    fdo.verify(v3, secret)


def _flip(b, i, bit=1):
    b = bytearray(b)
    b[i] ^= bit
    return bytes(b)


def test_tampering_detected(keys, made):
    mfg, st, _, _ = made
    secret = st.get("fdo_cred")[2]
    v2 = fdo.extend(fdo.extend(mfg.voucher, keys["owner1"].public_key(), keys["mfg"]),
                    keys["owner2"].public_key(), keys["owner1"])
    # every single-bit change anywhere is caught, by the structure, a hash, the HMAC or a
    # signature (with the device secret: without it the header and HMAC are still chained
    # into entry 0)
    for i in range(len(v2)):
        with pytest.raises(fdo.FDOHostError):
            fdo.verify(_flip(v2, i), hmac_check=secret)
    r = fdo.parse(v2)
    e0, e1 = r["entries"]
    at = r["entries_at"]
    # an entry dropped, or the two swapped
    for entries in ([e1], [e1, e0]):
        bad = v2[:at] + bytes([0x80 + len(entries)]) + b"".join(e["raw"] for e in entries)
        with pytest.raises(fdo.FDOHostError):
            fdo.verify(bad)
    # a header edited (another GUID) fails the HMAC and the chain to entry 0
    hdr = cbor2.loads(mfg.header)
    hdr[1] = bytes(16)
    forged = cbor2.dumps([101, cbor2.dumps(hdr), r["hmac"], r["chain"], []])
    with pytest.raises(fdo.FDOHostError, match="OVHeaderHMac"):
        fdo.verify(forged, hmac_check=secret)
    with pytest.raises(fdo.FDOHostError, match="OVEHashPrevEntry"):
        fdo.verify(forged[:-1] + v2[at:])
    # another device's chain
    other = [_cert("SN-43", keys["owner1"].public_key(), "root", keys["root"])] + r["chain"][1:]
    with pytest.raises(fdo.FDOHostError, match="OVDevCertChain"):
        fdo.verify(cbor2.dumps([101, mfg.header, r["hmac"], other, []]))
    for junk in (b"", v2[:-1], v2 + b"\x00", b"\x84" + v2[1:], cbor2.dumps([100] + [0] * 4)):
        with pytest.raises(fdo.FDOHostError):
            fdo.parse(junk)


def test_show_and_armor(keys, made):
    mfg, _, _, _ = made
    v1 = fdo.extend(mfg.voucher, keys["owner1"].public_key(), keys["mfg"])
    text = fdo.show(v1)
    assert mfg.guid.hex() in text and "nrf52840-dk" in text
    assert "dns=rv.example, dev-port=8041, owner-port=8041, protocol=http" in text
    assert "CN=SN-42" in text and "entries           1" in text and "entry chain OK" in text
    assert fdo.key_id(keys["owner1"].public_key()) in text
    assert "FAILED" in fdo.show(_flip(v1, len(v1) - 3))
    a = fdo.armor(v1)
    assert a.startswith("-----BEGIN OWNERSHIP VOUCHER-----\n")
    assert a.endswith("-----END OWNERSHIP VOUCHER-----\n")
    assert max(len(line) for line in a.splitlines()) <= 64
    assert fdo.unarmor(a) == v1 == fdo.unarmor(("junk before\n" + a).encode())
    assert fdo.load(a.encode()) == v1 == fdo.load(v1)
    for bad in ("", "-----BEGIN OWNERSHIP VOUCHER-----\n!!!\n-----END OWNERSHIP VOUCHER-----",
                a.replace("-----END", "-----FIN")):
        with pytest.raises(fdo.FDOHostError):
            fdo.unarmor(bad)


def test_voucher_from_fdo_rs():
    v = fdo.unarmor(FDO_RS_VOUCHER)
    r = fdo.verify(v)
    assert len(r["entries"]) == 2 and r["device_info"] == "DemoDevice"
    assert r["guid"].hex() == "ac00da6107e8405eacc494aef3f68966"
    assert "entry chain OK" in fdo.show(v)
    with pytest.raises(fdo.FDOHostError):
        fdo.verify(_flip(v, len(v) - 10))
    with pytest.raises(fdo.FDOHostError, match="current owner"):
        fdo.extend(v, ec.generate_private_key(ec.SECP256R1()).public_key(),
                   ec.generate_private_key(ec.SECP256R1()))


def test_voucher_cli(keys, made, tmp_path):
    mfg, st, _, _ = made
    pem = lambda k: k.private_bytes(serialization.Encoding.PEM,  # noqa: E731
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    (tmp_path / "v.fdo").write_bytes(mfg.voucher)
    (tmp_path / "mfg.key").write_bytes(pem(keys["mfg"]))
    (tmp_path / "o1.key").write_bytes(pem(keys["owner1"]))
    (tmp_path / "o1.pub.pem").write_bytes(keys["owner1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    o2_cert = _cert("owner2", keys["owner2"].public_key(), "root", keys["root"])
    (tmp_path / "o2.pem").write_bytes(
        x509.load_der_x509_certificate(o2_cert).public_bytes(serialization.Encoding.PEM))
    run = lambda *a: CliRunner().invoke(main, list(map(str, a)))  # noqa: E731
    r = run("voucher", "extend", tmp_path / "v.fdo", "--owner-key", tmp_path / "o1.pub.pem",
            "--signer", tmp_path / "mfg.key", "--out", tmp_path / "v1.fdo")
    assert r.exit_code == 0, r.output
    assert fdo.key_id(keys["owner1"].public_key()) in r.output
    r = run("voucher", "extend", tmp_path / "v1.fdo", "--owner-key", tmp_path / "o2.pem",
            "--signer", tmp_path / "o1.key", "--out", tmp_path / "v2.pem", "--armor")
    assert r.exit_code == 0, r.output
    armored = (tmp_path / "v2.pem").read_text()
    assert armored.startswith("-----BEGIN OWNERSHIP VOUCHER-----")
    v2 = fdo.unarmor(armored)
    assert fdo.verify(v2, st.get("fdo_cred")[2])["owner_key"].public_numbers() == \
        keys["owner2"].public_key().public_numbers()
    r = run("voucher", "show", tmp_path / "v2.pem")
    assert r.exit_code == 0, r.output
    assert "entries           2" in r.output and mfg.guid.hex() in r.output
    r = run("voucher", "show", "--armor", tmp_path / "v1.fdo")
    assert r.exit_code == 0 and fdo.unarmor(r.output) == (tmp_path / "v1.fdo").read_bytes()
    # the wrong signer, a tampered voucher, a missing file: refused with a message
    r = run("voucher", "extend", tmp_path / "v1.fdo", "--owner-key", tmp_path / "o2.pem",
            "--signer", tmp_path / "mfg.key", "--out", tmp_path / "x.fdo")
    assert r.exit_code == 2 and "current owner" in r.output and not (tmp_path / "x.fdo").exists()
    (tmp_path / "bad.fdo").write_bytes(_flip(v2, len(v2) - 5))
    r = run("voucher", "show", tmp_path / "bad.fdo")
    assert r.exit_code == 1 and "FAILED" in r.output
    r = run("voucher", "show", tmp_path / "none.fdo")
    assert r.exit_code == 2 and "cannot read" in r.output
    (tmp_path / "junk.fdo").write_bytes(b"\x01\x02")
    r = run("voucher", "show", tmp_path / "junk.fdo")
    assert r.exit_code == 2 and "error:" in r.output


def test_device_and_host_agree_on_header(made):
    # the device parsed exactly the header the host sent (device-side decode of host CBOR)
    mfg, st, _, _ = made
    f, pk = dev._ovheader(mfg.header)
    assert f[1] == mfg.guid and pk == cbor.dumps(cbor2.loads(mfg.header)[4])
