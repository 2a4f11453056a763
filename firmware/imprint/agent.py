# The factory agent: answers requests on the serial link's AGENT channel (issue 5), so a
# provisioning station can give the board its identity without a REPL.
#
#   request  [rid, op, arg]            response [rid, 0, result] or [rid, code, message]
#
#   identify   -> {board, uid, serial, version, lifecycle, idevid (public key or None),
#                  fdo_guid, heap_free}
#   keygen     {"serial": s} -> public key (65 B); the same key again if there is one
#   csr        [[oid, value], ...] (subject) -> PKCS#10 DER, signed by the IDevID key
#   install    {"chain": [leaf DER, ...], "authority": public key 65 B} -> None
#   fdo        None (start) or [type, body] -> [type, body] or None (FDO DI done)
#   commit     -> None: lifecycle "provisioned" (needs the IDevID chain and FDO credential)
#   fdo_check  voucher -> True if it is this device's (GUID and OVHeader HMAC)
#   sign       challenge bytes -> ECDSA P-256 r||s by the IDevID key (proof of possession)
#   dpp_uri    -> "DPP:K:<base64 SPKI>;;" (the key is made on first use)
#   lock       -> None: manufacturing ends; provisioning requests are refused from now on,
#              and the board restarts into the locked boot
#   nonce      -> 16 random bytes for one authenticated request
#   unlock / reset  {"sig": r||s over op || uid || nonce by the authority key} -> None
#   bye        -> None, and the agent returns (not on a locked board)
#
# A locked board boots into this agent (the port's locked_boot writes its main.py), so its
# console has no REPL: nobody with a USB cable reads the store. unlock (authenticated by the
# authority key installed at provisioning) ends that.
#
# The IDevID private key never leaves the store: no response carries it. A request that
# cannot be carried out changes nothing (the store writes once, at the end).
import gc

from . import cbor, crypto, der, link

try:
    from micropython import const
except ImportError:
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

OK = const(0)
ERR_BAD_REQUEST = const(1)
ERR_REFUSED = const(2)
ERR_FAILED = const(3)
_SERIAL_OID = "2.5.4.5"
_FACTORY = ("manufactured", "provisioned")  # lifecycle states provisioning may change


class AgentError(ValueError):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def _refuse(msg):
    raise AgentError(ERR_REFUSED, msg)


class Agent:
    def __init__(self, port, store, version):
        self.port = port
        self.store = store
        self.version = version
        self._nonce = None
        self._di = None
        self.done = False
        self.reboot = False

    def _lifecycle(self):
        return self.store.get("lifecycle", "manufactured")

    def _factory_only(self):
        if self._lifecycle() not in _FACTORY:
            _refuse("board is %s: provisioning is closed" % self._lifecycle())

    def _key(self):
        k = self.store.get("idevid_key")
        if k is None:
            _refuse("no IDevID key yet: run keygen first")
        return k

    def handle(self, op, arg):
        f = getattr(self, "op_" + op, None) if type(op) is str else None
        if f is None:
            raise AgentError(ERR_BAD_REQUEST, "unknown request %r" % (op,))
        return f(arg)

    def op_identify(self, arg):
        k = self.store.get("idevid_key")
        cred = self.store.get("fdo_cred")
        gc.collect()
        return {"board": self.port.board, "uid": self.port.unique_id(),
                "serial": self.store.get("serial"), "version": self.version,
                "lifecycle": self._lifecycle(),
                "idevid": None if k is None else crypto.p256_public(k),
                "fdo_guid": None if cred is None else cred[4],
                "heap_free": gc.mem_free()}

    def op_keygen(self, arg):
        self._factory_only()
        serial = arg.get("serial") if type(arg) is dict else None
        if type(serial) is not str or not serial:
            raise AgentError(ERR_BAD_REQUEST, "keygen needs {'serial': str}")
        have = self.store.get("serial")
        if have is not None and have != serial:
            _refuse("board already has serial %s" % have)
        k = self.store.get("idevid_key")
        if k is None:
            k, pub = crypto.p256_keypair()
            self.store.update({"idevid_key": k, "serial": serial})
            return pub
        return crypto.p256_public(k)

    def op_csr(self, arg):
        self._factory_only()
        k = self._key()
        subject = [(str(o), str(v)) for o, v in arg]
        if (_SERIAL_OID, self.store.get("serial")) not in subject:
            _refuse("the CSR subject must carry the board's serial")
        return der.csr(crypto.p256_public(k), lambda tbs: crypto.p256_sign(k, tbs), subject)

    def op_install(self, arg):
        self._factory_only()
        chain = [bytes(c) for c in arg["chain"]]
        authority = bytes(arg["authority"])
        if len(authority) != 65 or authority[0] != 4:
            raise AgentError(ERR_BAD_REQUEST, "authority must be an uncompressed P-256 key")
        pub = crypto.p256_public(self._key())
        leaf = der.certificate(chain[0])
        if leaf["public_key"] != ("p256", pub):
            _refuse("the certificate is for another key")
        for i in range(len(chain) - 1):
            issuer = der.certificate(chain[i + 1])["public_key"][1]
            if not der.verify_cert(chain[i], issuer):
                _refuse("certificate %d is not signed by the next one" % i)
        self.store.update({"idevid_chain": chain, "authority": authority})

    def op_fdo(self, arg):
        self._factory_only()
        from .methods import fdo
        if arg is None:
            if self.store.get("fdo_cred") is not None:
                _refuse("FDO device credential already made")
            if self.store.get("idevid_chain") is None:
                _refuse("install the IDevID chain before FDO DI")
            self._di = fdo.DeviceInit(self.store, self.store.get("serial"), self.port.board)
            return [10, self._di.app_start()]
        if self._di is None:
            _refuse("FDO DI not started")
        out = self._di.handle(arg[0], arg[1])
        if out is None:
            self._di = None
            return None
        return [out[0], out[1]]

    def op_commit(self, arg):
        # the end of provisioning: only a board with both credentials is provisioned
        self._factory_only()
        if self.store.get("idevid_chain") is None or self.store.get("fdo_cred") is None:
            _refuse("IDevID chain and FDO credential both needed before commit")
        if self._lifecycle() != "provisioned":
            self.store.update({"lifecycle": "provisioned"})

    def op_fdo_check(self, arg):
        # does this ownership voucher belong to this device (GUID, header HMAC)?
        from .methods import fdo
        return fdo.voucher_is_mine(self.store, bytes(arg))

    def op_sign(self, arg):
        return crypto.p256_sign(self._key(), bytes(arg))

    def op_dpp_uri(self, arg):
        k = self.store.get("dpp_key")
        if k is None:
            self._factory_only()
            k, _ = crypto.p256_keypair()
            self.store.update({"dpp_key": k})
        from binascii import b2a_base64
        spki = der.spki_p256(crypto.p256_public(k))
        return "DPP:K:" + b2a_base64(spki).decode().strip() + ";;"

    def op_lock(self, arg):
        if self._lifecycle() != "provisioned":
            _refuse("only a provisioned board can be locked (it is %s)" % self._lifecycle())
        # boot into the agent first: a cut between the two leaves a main.py that finds the
        # board unlocked and steps aside
        self.port.locked_boot(True)
        self.store.update({"lifecycle": "locked"})
        self.done = self.reboot = True  # restart into the locked boot once this is answered

    def op_nonce(self, arg):
        self._nonce = crypto.random_bytes(16)
        return self._nonce

    def _authenticated(self, op, arg):
        nonce, self._nonce = self._nonce, None
        authority = self.store.get("authority")
        if nonce is None or authority is None:
            _refuse("%s needs a nonce first and an authority key installed" % op)
        msg = op.encode() + self.port.unique_id() + nonce
        if not crypto.p256_verify(authority, msg, bytes(arg["sig"])):
            _refuse("%s: signature does not verify" % op)

    def op_unlock(self, arg):
        # for returns: the manufacturer's authority key opens the board again
        self._authenticated("unlock", arg)
        if self._lifecycle() == "locked":
            self.store.update({"lifecycle": "provisioned"})
        self.port.locked_boot(False)
        self.done = True  # a locked board's loop ends: the REPL comes back

    def op_reset(self, arg):
        # factory reset: keeps the IDevID and the FDO credential, forgets everything else
        self._authenticated("reset", arg)
        keep = ("serial", "idevid_key", "idevid_chain", "authority", "fdo_cred", "dpp_key")
        changes = {}
        for name in self.store.names():
            if name not in keep:
                changes[name] = None
        changes["lifecycle"] = "provisioned"
        self.store.update(changes)

    def op_bye(self, arg):
        if self._lifecycle() != "locked":  # a locked board's agent does not step aside
            self.done = True


# The loop: frames on the AGENT channel, one response each, until "bye" or idle_ms of silence
def serve(agent, lk, idle_ms=0):
    while not agent.done:
        frame = lk.recv(idle_ms if idle_ms else 3600000)
        if frame is None:
            if idle_ms:
                return
            continue
        channel, _, body = frame
        if channel != link.AGENT:
            continue
        rid = None
        try:
            req = cbor.loads(body)
            rid = req[0]
            reply = [rid, OK, agent.handle(req[1], req[2] if len(req) > 2 else None)]
        except AgentError as e:
            reply = [rid, e.code, str(e)]
        except (ValueError, TypeError, KeyError, IndexError) as e:
            reply = [rid, ERR_BAD_REQUEST if rid is None else ERR_FAILED,
                     "%s: %s" % (type(e).__name__, e)]
        lk.send(link.AGENT, cbor.dumps(reply))
    if agent.reboot:
        agent.port.reset()


def locked(port):
    # /main.py of a locked board: serve the console until an authenticated unlock; a board
    # that is not (or no longer) locked drops the boot hook and goes on to its REPL.
    import imprint
    store = port.store()
    if store.get("lifecycle") != "locked":
        port.locked_boot(False)
        return
    port.no_interrupt()
    serve(Agent(port, store, imprint.__version__), port.link())


def main(port, idle_ms=0):
    # Run the agent on the board's console link (ports give link() and store()).
    import imprint
    serve(Agent(port, port.store(), imprint.__version__), port.link(), idle_ms)
