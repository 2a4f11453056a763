"""FDO 1.1 messages on the wire against the FDO 1.1 CDDL (tests/cddl/fdo-1.1.cddl), with pycddl.

Real runs, recorded at the servers (each server's `handle(msg_type, body, authorization)` is
wrapped): DI over HTTP (DIServer and the firmware's `fdo.di_over_http`), TO0 (`fdo_owner.to0`
against RVServer), TO1 + TO2 (the firmware's `fdo.onboard` against RVServer and OwnerServer),
and FDO Errors from each server and from the device. TO2 messages 65-71 travel as COSE_Encrypt0:
their wire form is checked against EMBlock and their plaintext (taken from the owner's
`fdo_to2.seal` / `unseal`) against the message's rule.

pycddl 0.6.4 (the newest release; it wraps cddl-rs 0.9.5) mis-evaluates some constructs when
they are nested: a `.cbor` control inside an array is applied to every item of the array, type
choices between structured types are accepted or refused wrongly, after a type-choice item the
array-valued items that follow go unchecked, and a one-item array whose item is an array also
accepts that item unwrapped; a tagged item also passes for any prelude type (bstr, uint, null
...). Its checks of a single untagged node at the root are right. So `Walker`
validates node by node: pycddl checks each node at the root in a schema without type choices
and .cbor controls, and Walker descends the CDDL itself into arrays, maps, tags, embedded CBOR
and type choices, refusing tags where the CDDL has none. Embedded and wire CBOR is read with
raw_loads, which keeps every tag (cbor2 would turn tags 0, 1, 100 ... into dates).
test_malformed_messages_are_refused shows the mistakes that are caught.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cbor2
import pycddl
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from imprint import transport
from imprint.methods import fdo as dev
from imprint.methods import fdo_to2 as dev2
from fdo_common import device_store
from test_fdo_to2 import issuer
from imprint_host.factory import fdo
from imprint_host.services import fdo_owner, fdo_to2
from imprint_host.services.fdo_http import DIServer, Reply
from imprint_host.services.fdo_rv import RVServer

CDDL = Path(__file__).resolve().parents[1] / "cddl" / "fdo-1.1.cddl"
SPEC = CDDL.read_text()
INFO = {"os": "MicroPython", "arch": "armv7emsp", "version": "1.27.0",
        "device": "nrf52840-dk", "sn": "SN-1"}
EXTRA = {-70000: b"pallet 7"}      # an OVEExtra entry (OVEExtraInfoType outside FIDO's range)


def _rules(text: str) -> dict[str, str]:
    # rule name -> its definition (one CDDL rule per line start, continuations indented)
    out, name = {}, None
    for line in text.splitlines():
        body = line.split(";", 1)[0].rstrip()
        m = re.match(r"^([A-Za-z_$][\w$-]*)\s*=\s*(.*)$", body)
        if m:
            name = m.group(1)
            out[name] = m.group(2)
        elif name and body.startswith(" "):
            out[name] += " " + body.strip()
    return out


RULES = _rules(SPEC)
CBOR_TARGETS = set(re.findall(r"bstr\s+\.cbor\s+([\w$-]+)", " ".join(RULES.values()))) - {"any"}


def _split(text: str, sep: str) -> list[str]:
    """Split a CDDL expression at `sep` outside brackets and parentheses."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == sep and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return out + [cur.strip()] if cur.strip() else out


def raw_loads(data: bytes):
    """CBOR -> Python values, every tag kept as a CBORTag (cbor2 turns tags 0, 1, 2, 100 ...
    into dates and numbers); a map is a dict. Raises pycddl.ValidationError when the bytes are
    not one well-formed CBOR item."""
    data = bytes(data)

    def item(pos: int):
        if pos >= len(data):
            _refuse("truncated CBOR")
        ib = data[pos]
        major, ai, pos = ib >> 5, ib & 31, pos + 1
        if ai < 24:
            arg = ai
        elif ai <= 27:
            n = 1 << (ai - 24)
            if pos + n > len(data):
                _refuse("truncated CBOR")
            arg, pos = int.from_bytes(data[pos:pos + n], "big"), pos + n
        elif ai == 31 and major in (2, 3, 4, 5):
            _refuse("indefinite-length item (this decoder reads definite lengths only)")
        else:
            _refuse("reserved CBOR additional information %d" % ai)
        if major == 0:
            return arg, pos
        if major == 1:
            return -1 - arg, pos
        if major in (2, 3):
            if pos + arg > len(data):
                _refuse("truncated CBOR")
            b = data[pos:pos + arg]
            return (b if major == 2 else b.decode()), pos + arg
        if major == 4:
            out = []
            for _ in range(arg):
                v, pos = item(pos)
                out.append(v)
            return out, pos
        if major == 5:
            out = {}
            for _ in range(arg):
                k, pos = item(pos)
                v, pos = item(pos)
                if k in out:
                    _refuse("duplicate map key %r" % (k,))
                out[k] = v
            return out, pos
        if major == 6:
            v, pos = item(pos)
            return cbor2.CBORTag(arg, v), pos
        simple = {20: False, 21: True, 22: None}
        if ai in simple:
            return simple[ai], pos
        if ai in (25, 26, 27):
            return cbor2.loads(data[pos - 1 - (1 << (ai - 24)):pos]), pos
        _refuse("unsupported simple value %d" % ai)

    value, end = item(0)
    if end != len(data):
        _refuse("%d bytes after the CBOR item" % (len(data) - end))
    return value


_CBOR = r"bstr\s+\.cbor\s+[\w$-]+"


def _validator_text() -> str:
    """The CDDL as pycddl gets it: embedded CBOR as plain bstr, every named type choice as any
    (Walker checks both itself)."""
    lines = []
    for line in re.sub(_CBOR, "bstr", SPEC).splitlines():
        m = re.match(r"^([A-Za-z_$][\w$-]*) = ", line)
        if m and len(_split(RULES[m.group(1)], "/")) > 1:
            line = "%s = any" % m.group(1)
        lines.append(line)
    return "\n".join(lines)


def _refuse(why: str):
    raise pycddl.ValidationError(why)


class Walker:
    """Validates a value against a rule of the CDDL node by node: pycddl checks each node at
    the root (where it is right) in a schema with no type choices and no .cbor controls, and
    Walker descends itself into arrays, maps, tags, embedded CBOR (`bstr .cbor X`) and type
    choices (one alternative must match). Counts every rule checked."""

    def __init__(self):
        self.text = _validator_text()
        self._schemas: dict[str, pycddl.Schema] = {}
        self.checked: Counter = Counter()

    def _root(self, expr: str, data: bytes) -> None:
        if expr not in self._schemas:
            self._schemas[expr] = pycddl.Schema("fdo-check-root = %s\n%s" % (
                re.sub(_CBOR, "bstr", expr), self.text))
        self._schemas[expr].validate_cbor(bytes(data))

    def message(self, rule: str, body: bytes) -> None:
        """A message body as received (its bytes), against its rule."""
        self._root(rule, body)
        self.rule(rule, raw_loads(body))

    def rule(self, name: str, value) -> None:
        self.expr(RULES[name], value)
        self.checked[name] += 1

    def expr(self, expr: str, value) -> None:
        alts = _split(expr, "/")
        if len(alts) > 1:
            return self._choice(expr, alts, value)
        if expr in RULES:
            return self.rule(expr, value)
        if expr == "any":
            return
        m = re.fullmatch(r"#6\.(\d+)\((.*)\)", expr, re.S)
        if isinstance(value, cbor2.CBORTag) and not m:
            # a tagged item is not an item of the prelude type (RFC 8610 §3.6); pycddl lets
            # any unknown tag through
            _refuse("%r is tagged where %s is expected" % (value, expr))
        self._root(expr, cbor2.dumps(value))
        if m:
            if not isinstance(value, cbor2.CBORTag) or value.tag != int(m.group(1)):
                _refuse("%r is not tagged %s" % (value, m.group(1)))
            return self.expr(m.group(2), value.value)
        if expr.startswith("["):
            return self._array(expr, value)
        if expr.startswith("{"):
            return self._map(expr, value)
        m = re.fullmatch(r"bstr\s+\.cbor\s+([\w$-]+)", expr)
        if m:
            self.expr(m.group(1), raw_loads(value))

    def _choice(self, expr: str, alts: list[str], value) -> None:
        why = []
        for alt in alts:
            try:
                self.expr(alt, value)
                return
            except pycddl.ValidationError as e:
                why.append("%s: %s" % (alt, str(e).strip().splitlines()[0][:100]))
        _refuse("%r matches none of %s (%s)" % (value, expr, "; ".join(why)))

    @staticmethod
    def _entry(entry: str) -> tuple[str, str]:
        # -> (occurrence, the entry without it)
        m = re.match(r"^(\?|\*|\+|\d*\*\d*)\s*(.*)$", entry, re.S)
        return (m.group(1), m.group(2)) if m else ("", entry)

    def _array(self, expr: str, value) -> None:
        if not isinstance(value, (list, tuple)):
            _refuse("%r is not an array" % (value,))
        entries = [self._entry(e) for e in _split(expr[1:-1], ",")]
        types = [re.sub(r"^[\w$-]+\s*:\s*", "", e) for _, e in entries]
        if any(occ for occ, _ in entries):
            assert len(entries) == 1, "Walker reads arrays of fixed items or of one repeated item"
            for item in value:
                self.expr(types[0], item)
            return
        if len(value) != len(types):
            _refuse("%d items for %s" % (len(value), expr))
        for t, item in zip(types, value):
            self.expr(t, item)

    def _map(self, expr: str, value) -> None:
        if not isinstance(value, Mapping):
            _refuse("%r is not a map" % (value,))
        rest = dict(value)
        for occ, entry in (self._entry(e) for e in _split(expr[1:-1], ",")):
            key, _, vtype = entry.partition("=>")
            key, vtype = key.strip(), vtype.strip()
            if occ == "*":
                for k, v in list(rest.items()):
                    self.expr(key, k)
                    self.expr(vtype, v)
                continue
            k = int(RULES.get(key, key))
            if k in rest:
                self.expr(vtype, rest.pop(k))
            elif occ != "?":
                _refuse("no key %s in %r" % (key, value))
        if rest and "*" not in (self._entry(e)[0] for e in _split(expr[1:-1], ",")):
            _refuse("keys %r not in %s" % (sorted(rest, key=repr), expr))


# --- the runs ------------------------------------------------------------------------------------

@dataclass
class Msg:
    server: str          # "DI", "RV" or "owner"
    sent_by: str         # "client" (device or TO0 owner) or "server"
    msg_type: int
    body: bytes          # as on the wire
    plain: bytes | None  # TO2 65-71: the plaintext


def _tap(server, name: str, log: list) -> None:
    """Record every message a server receives and every FDO message it answers."""
    inner = server.handle

    def handle(msg_type: int, body: bytes, authorization: str | None = None) -> Reply:
        log.append(Msg(name, "client", msg_type, bytes(body), None))
        reply = inner(msg_type, body, authorization)
        if reply.msg_type is not None:
            log.append(Msg(name, "server", reply.msg_type, bytes(reply.body), None))
        return reply
    server.handle = handle


@pytest.fixture(scope="module")
def wire():
    """Every message of: DI over HTTP; the voucher extended twice (the first entry with an
    OVEExtra); TO0; the device's TO1 + TO2; then FDO Errors from each server and the device."""
    keys = {n: ec.generate_private_key(ec.SECP256R1())
            for n in ("root", "device", "other", "mfg", "reseller", "owner")}
    log: list[Msg] = []
    plain: dict[bytes, bytes] = {}
    real_seal, real_unseal = fdo_to2.seal, fdo_to2.unseal

    def seal(sek, alg, plaintext):
        out = real_seal(sek, alg, plaintext)
        plain[out] = bytes(plaintext)
        return out

    def unseal(sek, alg, data, what):
        out = real_unseal(sek, alg, data, what)
        plain[bytes(data)] = bytes(out)
        return out

    vouchers = []
    with pytest.MonkeyPatch.context() as mp, RVServer(max_ttl=3600) as rv:
        mp.setattr(fdo_to2, "seal", seal)
        mp.setattr(fdo_to2, "unseal", unseal)
        _tap(rv, "RV", log)
        di = DIServer(lambda: fdo.Manufacturer(keys["mfg"], rv.url),
                      on_voucher=lambda serial, guid, v: vouchers.append(v))
        _tap(di, "DI", log)
        with di:
            st = device_store(keys, "SN-1", "device")
            dev.di_over_http(st, "SN-1", "nrf52840-dk", transport.SocketStream, "127.0.0.1",
                             di.port)
            # DI.SetHMAC without the session's token: the DI server answers an Error
            status, mtype, _, _ = fdo_owner.post("127.0.0.1", di.port, 12,
                                                 cbor2.dumps([[5, bytes(32)]]))
            assert (status, mtype) == (500, 255)
        v = fdo.extend(vouchers[0], keys["reseller"].public_key(), keys["mfg"], extra=EXTRA)
        v = fdo.extend(v, keys["owner"].public_key(), keys["reseller"])
        owner = fdo_owner.OwnerServer(fdo_to2.MemoryVoucherStore([v]), keys["owner"], rv.url,
                                      issue=issuer)
        _tap(owner, "owner", log)
        with owner:
            fdo_owner.to0(rv.url, v, keys["owner"], fdo_owner.rvto2addr(owner.url))
            guid = dev.onboard(st, transport.SocketStream, INFO)
            assert owner.onboarded == 1
            send = dev.http_sender(transport.SocketStream, "127.0.0.1", owner.port)
            # the new GUID is not registered at the RV: TO1 gets an Error (RESOURCE_NOT_FOUND)
            with pytest.raises(dev.FDOError, match="code 6"):
                dev.to1(st, dev.http_sender(transport.SocketStream, "127.0.0.1", rv.port))
            # the owner's replacement voucher has no entries: TO2 gets an Error from the owner
            with pytest.raises(dev2.OwnerRefused, match="code 6"):
                dev2.to2(st, send, info=INFO)
            # the owner presents another device's voucher: the device sends an Error
            other = device_store(keys, "SN-2", "other")
            d, m = dev.DeviceInit(other, "SN-2", "m"), fdo.Manufacturer(keys["mfg"], rv.url)
            t, body = m.di(10, d.app_start())
            assert d.handle(*m.di(*d.handle(t, body))) is None
            owner.store.vouchers[guid] = fdo.extend(m.voucher, keys["owner"].public_key(),
                                                    keys["mfg"])
            with pytest.raises(dev.FDOError, match="GUID is not this device's"):
                dev2.to2(st, send, info=INFO)
    for msg in log:
        if msg.server == "owner" and 65 <= msg.msg_type <= 71:
            msg.plain = plain[msg.body]
    return {"log": log, "entries": len(fdo.parse(v)["entries"])}


def _picked(log, server: str, sent_by: str, msg_type: int) -> list[Msg]:
    return [m for m in log if (m.server, m.sent_by, m.msg_type) == (server, sent_by, msg_type)]


# (server, sent by, message type, rule, expected count: int, or "entries" = the voucher's)
WIRE = [
    ("DI", "client", 10, "DI_AppStart", 1),
    ("DI", "server", 11, "DI_SetCredentials", 1),
    ("DI", "client", 12, "DI_SetHMAC", 2),          # the run's, and the one without a token
    ("DI", "server", 13, "DI_Done", 1),
    ("RV", "client", 20, "TO0_Hello", 1),
    ("RV", "server", 21, "TO0_HelloAck", 1),
    ("RV", "client", 22, "TO0_OwnerSign", 1),
    ("RV", "server", 23, "TO0_AcceptOwner", 1),
    ("RV", "client", 30, "TO1_HelloRV", 2),         # onboarding, and the unknown GUID
    ("RV", "server", 31, "TO1_HelloRVAck", 1),
    ("RV", "client", 32, "TO1_ProveToRV", 1),
    ("RV", "server", 33, "TO1_RVRedirect", 1),
    ("owner", "client", 60, "TO2_HelloDevice", 3),  # onboarding, no entries, other's voucher
    ("owner", "server", 61, "TO2_ProveOVHdr", 2),
    ("owner", "client", 62, "TO2_GetOVNextEntry", "entries"),
    ("owner", "server", 63, "TO2_OVNextEntry", "entries"),
    ("owner", "client", 64, "TO2_ProveDevice", 1),
    ("owner", "client", 255, "ErrorMessage", 1),    # the device refuses another's voucher
]
# TO2 65-71: (message type, sent by, rule, expected count)
ENCRYPTED = [
    (65, "server", "TO2_SetupDevice", 1),
    (66, "client", "TO2_DeviceServiceInfoReady", 1),
    (67, "server", "TO2_OwnerServiceInfoReady", 1),
    # devmod -> imprint:active; imprint:pubkey -> imprint:credentials; [] -> IsDone
    (68, "client", "TO2_DeviceServiceInfo", 3),
    (69, "server", "TO2_OwnerServiceInfo", 3),
    (70, "client", "TO2_Done", 1),
    (71, "server", "TO2_Done2", 1),
]
SERVERS = ("DI", "RV", "owner")


@pytest.mark.parametrize("server, sent_by, msg_type, rule, count", WIRE,
                         ids=["%s-%d" % (w[3], w[2]) for w in WIRE])
def test_wire_message_matches_the_cddl(wire, server, sent_by, msg_type, rule, count):
    msgs = _picked(wire["log"], server, sent_by, msg_type)
    assert len(msgs) == (wire["entries"] if count == "entries" else count)
    w = Walker()
    for m in msgs:
        w.message(rule, m.body)
    assert w.checked[rule] == len(msgs)


@pytest.mark.parametrize("msg_type, sent_by, rule, count", ENCRYPTED,
                         ids=["%s-%d" % (e[2], e[0]) for e in ENCRYPTED])
def test_encrypted_message_and_its_plaintext_match_the_cddl(wire, msg_type, sent_by, rule,
                                                            count):
    msgs = _picked(wire["log"], "owner", sent_by, msg_type)
    assert len(msgs) == count and all(m.plain is not None for m in msgs)
    w = Walker()
    for m in msgs:
        w.message("EMBlock", m.body)
        w.message(rule, m.plain)
    assert w.checked["EMBlock"] == w.checked[rule] == count


@pytest.mark.parametrize("server", SERVERS)
def test_server_error_message_matches_the_cddl(wire, server):
    msgs = _picked(wire["log"], server, "server", 255)
    assert len(msgs) == 1
    err = cbor2.loads(msgs[0].body)
    assert err[0] in (1, 6)      # INVALID_JWT_TOKEN (DI), RESOURCE_NOT_FOUND (RV, owner)
    assert err[3] is None and err[4] is None      # EMErrorTs, EMErrorCID
    w = Walker()
    w.message("ErrorMessage", msgs[0].body)


def test_device_mfg_info_is_imprints_layout(wire):
    """DeviceMfgInfo is manufacturer-defined (bstr .cbor any); ours is ImprintMfgInfo."""
    app_start = cbor2.loads(_one(wire, "DI", "client", 10))
    w = Walker()
    w.rule("ImprintMfgInfo", cbor2.loads(app_start[0]))
    assert w.checked["ImprintMfgInfo"] == 1


def test_every_message_on_the_wire_was_checked(wire):
    """No message went unrecorded or unchecked, and every `bstr .cbor X` target was reached."""
    covered = {(w[0], w[1], w[2]) for w in WIRE}
    covered |= {("owner", e[1], e[0]) for e in ENCRYPTED}
    covered |= {(s, "server", 255) for s in ("DI", "RV", "owner")}
    seen = {(m.server, m.sent_by, m.msg_type) for m in wire["log"]}
    assert seen == covered
    w = Walker()
    for server, sent_by, msg_type, rule, _ in WIRE:
        for m in _picked(wire["log"], server, sent_by, msg_type):
            w.message(rule, m.body)
    for msg_type, sent_by, rule, _ in ENCRYPTED:
        for m in _picked(wire["log"], "owner", sent_by, msg_type):
            w.message("EMBlock", m.body)
            w.message(rule, m.plain)
    assert CBOR_TARGETS and not CBOR_TARGETS - set(w.checked), CBOR_TARGETS - set(w.checked)
    # the OVEExtra and the chain of two entries really went through TO0 and TO2
    assert w.checked["OVEExtraInfo"] == 2 and wire["entries"] == 2


# --- the schema is not vacuous --------------------------------------------------------------

def _one(wire, server, sent_by, msg_type, plain=False) -> bytes:
    m = _picked(wire["log"], server, sent_by, msg_type)[0]
    return m.plain if plain else m.body


def _resign(tagged: cbor2.CBORTag, payload) -> bytes:
    # the same COSE_Sign1 with another payload (the signature is not what the CDDL checks)
    prot, unprot, _, sig = tagged.value
    return cbor2.dumps(cbor2.CBORTag(18, [prot, unprot, cbor2.dumps(payload), sig]))


def _malformed(wire):
    hello = cbor2.loads(_one(wire, "owner", "client", 60))
    ack = cbor2.loads(_one(wire, "RV", "server", 21))
    setcred = cbor2.loads(_one(wire, "DI", "server", 11))
    hmac = cbor2.loads(_one(wire, "DI", "client", 12))
    prove = cbor2.loads(_one(wire, "owner", "server", 61))
    payload = cbor2.loads(prove.value[2])
    owner_sign = cbor2.loads(_one(wire, "RV", "client", 22))
    to0d = cbor2.loads(owner_sign[0])
    ready = cbor2.loads(_one(wire, "owner", "client", 66, plain=True))
    svi = cbor2.loads(_one(wire, "owner", "client", 68, plain=True))
    enc = cbor2.loads(_one(wire, "owner", "server", 65))
    err = cbor2.loads(_one(wire, "owner", "client", 255))
    header = cbor2.loads(setcred[0])
    yield "HelloDevice of 5 items", "TO2_HelloDevice", cbor2.dumps(hello[:5])
    yield "HelloDevice with a 15-byte Guid", "TO2_HelloDevice", cbor2.dumps(
        hello[:1] + [hello[1][:15]] + hello[2:])
    yield "HelloDevice with a tagged Guid", "TO2_HelloDevice", cbor2.dumps(
        hello[:1] + [cbor2.CBORTag(100, hello[1])] + hello[2:])
    yield "HelloDevice with a text cipher suite", "TO2_HelloDevice", cbor2.dumps(
        hello[:4] + ["AES-CCM-64-128-128"] + hello[5:])
    yield "HelloAck of 2 nonces", "TO0_HelloAck", cbor2.dumps(ack + ack)
    yield "SetCredentials with the OVHeader not in a bstr", "DI_SetCredentials", cbor2.dumps(
        [header])
    yield "OVHeader with OVDeviceInfo as bstr", "DI_SetCredentials", cbor2.dumps(
        [cbor2.dumps(header[:3] + [header[3].encode()] + header[4:])])
    yield "OVHeader with a 1-item Hash", "DI_SetCredentials", cbor2.dumps(
        [cbor2.dumps(header[:5] + [header[5][:1]])])
    yield "OVHeader with a PublicKey whose X509 body is an array", "DI_SetCredentials", \
        cbor2.dumps([cbor2.dumps(header[:4] + [header[4][:2] + [[header[4][2]]]]
                                 + header[5:])])
    yield "OVHeader with a 3-item RendezvousInstr", "DI_SetCredentials", cbor2.dumps(
        [cbor2.dumps(header[:2] + [[[header[2][0][0] + [b""]]]] + header[3:])])
    yield "SetHMAC with the HMac unwrapped", "DI_SetHMAC", cbor2.dumps(hmac[0])
    yield "ProveOVHdr payload of 7 items", "TO2_ProveOVHdr", _resign(prove, payload[:7])
    yield "ProveOVHdr without CUPHNonce", "TO2_ProveOVHdr", cbor2.dumps(cbor2.CBORTag(18, [
        prove.value[0], {257: prove.value[1][257]}] + list(prove.value[2:])))
    yield "ProveOVHdr untagged", "TO2_ProveOVHdr", cbor2.dumps(list(prove.value))
    yield "ProveOVHdr with an X5CHAIN owner key of a 1-certificate array", "TO2_ProveOVHdr", \
        cbor2.dumps(cbor2.CBORTag(18, [prove.value[0], {256: prove.value[1][256], 257: [
            10, 2, [prove.value[1][257][2]]]}] + list(prove.value[2:])))
    voucher = to0d[0]
    bad_vouchers = [
        ("a voucher with a 1-certificate array chain", voucher[:3] + [voucher[3][:1]]
         + voucher[4:]),
        ("a voucher entry untagged", voucher[:4] + [[voucher[4][0].value]]),
        ("a voucher entry with an array as unprotected header", voucher[:4] + [[cbor2.CBORTag(
            18, [voucher[4][0].value[0], []] + list(voucher[4][0].value[2:]))]]),
        ("a voucher entry with an OVEExtra that is not a map", voucher[:4] + [[_sign1_with(
            voucher[4][0], lambda p: p[:2] + [cbor2.dumps([1])] + p[3:])]]),
    ]
    for what, v in bad_vouchers:
        yield "OwnerSign with " + what, "TO0_OwnerSign", cbor2.dumps(
            [cbor2.dumps([v] + to0d[1:]), owner_sign[1]])
    to1d = owner_sign[1]
    blob = cbor2.loads(to1d.value[2])
    yield "OwnerSign with a to1d whose RVPort is an array", "TO0_OwnerSign", cbor2.dumps(
        [owner_sign[0], _sign1_with(to1d, lambda p: [[p[0][0][:2] + [[p[0][0][2]]]
                                                      + p[0][0][3:]], p[1]])])
    assert blob[0][0][2] > 0
    yield "DeviceServiceInfoReady with a 1-item HMac", "TO2_DeviceServiceInfoReady", \
        cbor2.dumps([ready[0][:1], ready[1]])
    yield "DeviceServiceInfo with IsMore as 0", "TO2_DeviceServiceInfo", cbor2.dumps([0, svi[1]])
    yield "DeviceServiceInfo with a ServiceInfoVal as text", "TO2_DeviceServiceInfo", \
        cbor2.dumps([svi[0], [[svi[1][0][0], "true"]]])
    yield "an Error whose EMErrorTs has tag 100", "ErrorMessage", cbor2.dumps(
        err[:3] + [cbor2.CBORTag(100, 5)] + err[4:])
    yield "an Error with a text EMErrorCode", "ErrorMessage", cbor2.dumps(["101"] + err[1:])
    yield "an EMBlock untagged", "EMBlock", cbor2.dumps(enc.value)
    yield "an EMBlock with a text IV", "EMBlock", cbor2.dumps(cbor2.CBORTag(16, [
        enc.value[0], {5: "iv"}, enc.value[2]]))


def _sign1_with(tagged: cbor2.CBORTag, change) -> cbor2.CBORTag:
    prot, unprot, payload, sig = tagged.value
    return cbor2.CBORTag(18, [prot, unprot, cbor2.dumps(change(cbor2.loads(payload))), sig])


def test_malformed_messages_are_refused(wire):
    cases = list(_malformed(wire))
    assert len(cases) == 27
    for what, rule, body in cases:
        w = Walker()
        with pytest.raises(pycddl.ValidationError):
            w.message(rule, body)
            pytest.fail("accepted: " + what)


def test_the_real_messages_of_the_malformed_cases_are_accepted(wire):
    """The negative cases above are mutations of messages that do validate."""
    w = Walker()
    for server, sent_by, msg_type, rule in [("owner", "client", 60, "TO2_HelloDevice"),
                                            ("RV", "server", 21, "TO0_HelloAck"),
                                            ("DI", "server", 11, "DI_SetCredentials"),
                                            ("DI", "client", 12, "DI_SetHMAC"),
                                            ("owner", "server", 61, "TO2_ProveOVHdr"),
                                            ("RV", "client", 22, "TO0_OwnerSign"),
                                            ("owner", "client", 255, "ErrorMessage")]:
        w.message(rule, _one(wire, server, sent_by, msg_type))
    w.message("TO2_DeviceServiceInfoReady", _one(wire, "owner", "client", 66, plain=True))
    w.message("TO2_DeviceServiceInfo", _one(wire, "owner", "client", 68, plain=True))
    w.message("EMBlock", _one(wire, "owner", "server", 65))


def test_pycddl_still_misreads_cbor_inside_arrays():
    """Why Walker checks embedded CBOR itself: pycddl 0.6.4 applies `.cbor` to every item of
    the enclosing array, so this valid item is refused. If this starts passing, pycddl was
    fixed and the .cbor rewrite in _validator_text can go."""
    schema = pycddl.Schema("m = [uint, bstr .cbor n]\nn = [* int]")
    with pytest.raises(pycddl.ValidationError, match="must be a byte string for .cbor"):
        schema.validate_cbor(cbor2.dumps([1, cbor2.dumps([2, 3])]))
