"""FDO 1.1 Device Initialization over HTTP, for boards with a network (standard library only).

The FDO HTTP transport (FDO 1.1 §4.3; as go-fdo and the Java reference server do it):

    POST /fdo/101/msg/{msgtype}      Content-Type: application/cbor, body = the message CBOR
    200  Message-Type: {n}           the reply message, Content-Type application/cbor
         Authorization: Bearer {t}   the session: returned on the first reply of a protocol
                                     (DI.AppStart), sent back by the device with each later
                                     message (DI.SetHMAC)
    500  Message-Type: 255           an FDO Error message: [EMErrorCode, EMPrevMsgID,
                                     EMErrorStr, EMErrorTs, EMErrorCID]

Both reference servers answer every FDO Error with HTTP 500 and go-fdo's client accepts only
200 or 500 (with a CBOR body), so every FDO-level failure here is a 500 with Message-Type 255.
Requests that are not FDO messages at all get 404 (a path outside /fdo/101/msg/{n}) or 405 (a
method other than POST), still with an Error body. Error codes (FDO 1.1 §5.1.1, Error Code
Values): 1 INVALID_JWT_TOKEN (SetHMAC with a missing, unknown or expired session token),
6 RESOURCE_NOT_FOUND (no such resource), 100 MESSAGE_BODY_ERROR (a body that is not the
message, a message out of order, too large), 500 INTERNAL_SERVER_ERROR (recording the voucher
failed, too many sessions).

`FDOHTTPServer` is that transport with bearer sessions, for any FDO service (the rendezvous
server in fdo_rv builds on it); `DIServer` is DI on it. One DI run is one session: AppStart makes a Manufacturer (from the factory callable), keyed by a
fresh random bearer token; SetHMAC on that token finishes it, `on_voucher(serial, guid,
voucher)` records the voucher before the device is told Done (if it raises, the device gets an
Error and stores nothing), and the token is forgotten. A session also ends on any Error, on an
Error message from the device, and after `session_ttl` seconds.

    with DIServer(lambda: Manufacturer(key, rv), on_voucher=record) as srv:
        ...  # devices POST to srv.url + "/fdo/101/msg/10"
    serve(make_manufacturer, port=8039, on_voucher=record)   # blocking, until Ctrl-C
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import cbor2

from ..factory.fdo import FDOHostError, MSG_APP_START, MSG_DONE, MSG_SET_HMAC, PROTVER

log = logging.getLogger(__name__)

MSG_ERROR = 255
# FDO 1.1 Error Code Values (EMErrorCode)
INVALID_JWT_TOKEN = 1
RESOURCE_NOT_FOUND = 6
MESSAGE_BODY_ERROR = 100
INVALID_MESSAGE_ERROR = 101
INTERNAL_SERVER_ERROR = 500

CBOR = "application/cbor"
_PATH = re.compile(r"^/fdo/%d/msg/(\d{1,3})$" % PROTVER)
_BEARER = "bearer "

Factory = Callable[[], object]                       # -> factory.fdo.Manufacturer
OnVoucher = Callable[[str, bytes, bytes], None]      # (serial, guid, voucher CBOR)


class FDOMessageError(Exception):
    """A refused FDO message: the FDO error code and the text the peer gets."""

    def __init__(self, code: int, text: str):
        super().__init__(text)
        self.code = code


@dataclass
class Reply:
    """One HTTP answer: status, Message-Type (None: no FDO message), body, extra headers."""
    status: int
    msg_type: int | None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False


# FDO 1.1 Error (255) = [EMErrorCode, EMPrevMsgID, EMErrorStr, EMErrorTs, EMErrorCID]
def error_message(code: int, prev_msg: int, text: str) -> bytes:
    """An FDO Error message body. EMErrorTs and EMErrorCID are null, which the spec allows:
    its CDDL has no bare uint for the time (only null, UTCStr #6.0 or #6.1 uint)."""
    prev_msg = prev_msg if 0 <= prev_msg <= 255 else 0    # EMPrevMsgID: uint8
    return cbor2.dumps([code, prev_msg, text, None, None])


def _error(code: int, prev_msg: int, text: str, status: int = 500, close: bool = False) -> Reply:
    return Reply(status, MSG_ERROR, error_message(code, prev_msg, text), close=close)


@dataclass
class Session:
    """One protocol run between two messages: its bearer token, the protocol's state (a
    Manufacturer for DI, a dict for TO0/TO1), when it expires, one message at a time."""
    token: str
    state: object
    expires: float
    lock: threading.Lock = field(default_factory=threading.Lock)


_Session = Session   # the name DI used


class FDOHTTPServer:
    """What every FDO HTTP service here shares (DI, rendezvous, later owner): bearer sessions
    with a lifetime and a cap, FDO Error replies, and a ThreadingHTTPServer on (host, port)
    (127.0.0.1 and a free port by default) that POSTs /fdo/101/msg/{type} to
    `handle(msg_type, body, authorization) -> Reply`, which subclasses implement.
    start() / stop() (or `with`) run it in a daemon thread; serve_forever() in this one.

    FDOHTTPServer(*, host="127.0.0.1", port=0, session_ttl=300, max_body=65535,
                  max_sessions=256, request_timeout=30, clock=time.monotonic)
    """

    name = "fdo"          # the serving thread's name and the log prefix

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, session_ttl: float = 300.0,
                 max_body: int = 65535, max_sessions: int = 256,
                 request_timeout: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.host, self._port = host, port
        self.session_ttl = session_ttl
        self.max_body = max_body
        self.max_sessions = max_sessions
        self.request_timeout = request_timeout
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.failed = 0             # Error replies sent

    def handle(self, msg_type: int, body: bytes, authorization: str | None = None) -> Reply:
        raise NotImplementedError

    # --- sessions ---------------------------------------------------------------------------

    def _bump_failed(self) -> None:
        with self._lock:
            self.failed += 1

    @property
    def sessions(self) -> int:
        with self._lock:
            self._expire()
            return len(self._sessions)

    def _expire(self) -> None:
        now = self._clock()
        for tok in [t for t, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[tok]

    def _take_token(self, authorization: str | None) -> tuple[str | None, str | None]:
        # -> (token, why not): the bearer token of an Authorization header
        if not authorization:
            return None, "no Authorization header (the session token from the first reply)"
        if not authorization[:len(_BEARER)].lower() == _BEARER:
            return None, "the Authorization header is not a Bearer token"
        return authorization[len(_BEARER):].strip(), None

    def _session(self, token: str) -> Session | None:
        with self._lock:
            self._expire()
            return self._sessions.get(token)

    def _drop(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(token, None)

    def _open(self, state) -> str | None:
        """A new session for `state` -> its token, None when max_sessions are open."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._expire()
            if len(self._sessions) >= self.max_sessions:
                return None
            self._sessions[token] = Session(token, state, self._clock() + self.session_ttl)
        return token

    def _peer_error(self, body: bytes, authorization: str | None) -> Reply:
        # FDO 1.1 Error (255) from the peer: its run is over; nothing is answered
        token, _ = self._take_token(authorization)
        self._drop(token)
        try:
            e = cbor2.loads(body)
            text = f"code {e[0]!r} after message {e[1]!r}: {e[2]}"
        except Exception:
            text = "(malformed Error message)"
        log.warning("FDO %s: the peer reported an error: %s", self.name, text)
        return Reply(200, None)

    # --- HTTP ------------------------------------------------------------------------------

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "imprint-fdo"
            sys_version = ""
            timeout = server.request_timeout

            def log_message(self, fmt, *args):   # noqa: N802 (stdlib name)
                log.debug("%s %s", self.address_string(), fmt % args)

            def _send(self, r: Reply) -> None:
                self.send_response(r.status)
                if r.msg_type is not None:
                    self.send_header("Content-Type", CBOR)
                    self.send_header("Message-Type", str(r.msg_type))
                for k, v in r.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.body)))
                if r.close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(r.body)

            # FDO 1.1 §4.3 HTTP: POST /fdo/101/msg/{type}, application/cbor, Content-Length
            def do_POST(self):  # noqa: N802
                m = _PATH.match(self.path.split("?", 1)[0])
                if m is None:
                    server._bump_failed()
                    return self._send(_error(RESOURCE_NOT_FOUND, 0,
                                             f"no FDO resource at {self.path[:80]!r} "
                                             f"(POST /fdo/{PROTVER}/msg/{{type}})",
                                             status=404, close=True))
                msg_type = int(m.group(1))
                if self.headers.get("Transfer-Encoding"):
                    server._bump_failed()
                    return self._send(_error(MESSAGE_BODY_ERROR, msg_type,
                                             "send the body with a Content-Length, not chunked",
                                             close=True))
                try:
                    n = int(self.headers.get("Content-Length", ""))
                    if n < 0:
                        raise ValueError
                except ValueError:
                    server._bump_failed()
                    return self._send(_error(MESSAGE_BODY_ERROR, msg_type,
                                             "a Content-Length header is required", close=True))
                if n > server.max_body:
                    server._bump_failed()
                    return self._send(_error(MESSAGE_BODY_ERROR, msg_type,
                                             f"message too large ({n} bytes, at most "
                                             f"{server.max_body})", close=True))
                ctype = self.headers.get("Content-Type", CBOR).split(";")[0].strip().lower()
                body = self.rfile.read(n)
                if len(body) != n:
                    self.close_connection = True
                    return
                if ctype != CBOR:
                    server._bump_failed()
                    return self._send(_error(MESSAGE_BODY_ERROR, msg_type,
                                             f"Content-Type must be {CBOR}"))
                self._send(server.handle(msg_type, body, self.headers.get("Authorization")))

            def _not_allowed(self):
                server._bump_failed()
                r = _error(RESOURCE_NOT_FOUND, 0, "FDO messages are POSTed", status=405,
                           close=True)
                r.headers["Allow"] = "POST"
                self._send(r)

            do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

        return Handler

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def bind(self) -> ThreadingHTTPServer:
        """Bind the listening socket (once); serve_forever() or start() then serve it."""
        if self._httpd is None:
            httpd = ThreadingHTTPServer((self.host, self._port), self._handler())
            httpd.daemon_threads = True     # stop() never waits for a stuck connection
            httpd.timeout = 0.1             # handle_request() returns at least this often
            self._httpd = httpd
            self._stopping.clear()
        return self._httpd

    def serve_forever(self) -> None:
        """Serve in this thread until stop() (from another thread)."""
        httpd = self.bind()
        while not self._stopping.is_set():
            try:
                httpd.handle_request()
            except (OSError, ValueError):   # the socket closed under us by stop()
                if self._stopping.is_set():
                    break
                raise

    def start(self) -> FDOHTTPServer:
        """Serve in a daemon thread; returns self (the port is bound when this returns)."""
        if self._thread is None:
            self.bind()
            self._thread = threading.Thread(target=self.serve_forever,
                                            name=f"fdo-{self.name.lower()}-http",
                                            daemon=True)
            self._thread.start()
        return self

    def run(self, what: str, ready: Callable[["FDOHTTPServer"], None] | None = None) -> None:
        """Bind, then serve in this thread until KeyboardInterrupt or stop() from another."""
        self.bind()
        try:
            log.info("%s over HTTP on %s/fdo/%d/msg/{type}", what, self.url, PROTVER)
            if ready is not None:
                ready(self)
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close the socket; waits at most `timeout` seconds for the serving
        thread (connections still open are daemon threads, bounded by request_timeout)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._httpd is not None:
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FDOHTTPServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class DIServer(FDOHTTPServer):
    """The DI server: a ThreadingHTTPServer on (host, port), 127.0.0.1 and a free port by
    default. start() / stop() (or `with`) run it in a daemon thread; `handle()` is the same
    logic without sockets.

    DIServer(manufacturer, *, on_voucher=None, host="127.0.0.1", port=0, session_ttl=300,
             max_body=65535, max_sessions=256, request_timeout=30)
      manufacturer   factory: () -> factory.fdo.Manufacturer, called once per AppStart
      on_voucher     (serial, guid, voucher) -> None, after SetHMAC and before Done
      session_ttl    seconds a session lives after its AppStart
      max_body       the largest request body read (bytes)
      max_sessions   DI runs open at once (AppStart answered, SetHMAC not yet)
      request_timeout  socket timeout (seconds) for each read of a request
    """

    name = "DI"

    def __init__(self, manufacturer: Factory, *, on_voucher: OnVoucher | None = None,
                 **options):
        super().__init__(**options)
        self.manufacturer = manufacturer
        self.on_voucher = on_voucher
        self.completed = 0          # DI runs finished (voucher recorded, Done sent)

    # --- the protocol, without sockets ------------------------------------------------------

    # FDO 1.1 §4.3: a message POSTed to /fdo/101/msg/{type} -> the reply message or an Error
    def handle(self, msg_type: int, body: bytes, authorization: str | None = None) -> Reply:
        """One FDO message (its type from the path, the body, the Authorization header) ->
        the Reply."""
        try:
            if msg_type == MSG_APP_START:
                return self._app_start(body, authorization)
            if msg_type == MSG_SET_HMAC:
                return self._set_hmac(body, authorization)
            if msg_type == MSG_ERROR:
                return self._peer_error(body, authorization)
        except Exception as e:  # a bug or a factory failure: the device learns only that
            log.exception("FDO DI: message %d failed", msg_type)
            self._bump_failed()
            return _error(INTERNAL_SERVER_ERROR, msg_type,
                          f"internal error ({type(e).__name__})")
        token, _ = self._take_token(authorization)
        self._drop(token)   # a session's message out of order ends it (FDO: Error ends the run)
        self._bump_failed()
        if msg_type in (11, MSG_DONE):
            why = f"message {msg_type} is sent by the manufacturer, not the device"
        else:
            why = (f"message {msg_type} is not a DI message a device sends (AppStart 10, "
                   "SetHMAC 12)")
        return _error(MESSAGE_BODY_ERROR, msg_type, why)

    # FDO 1.1 DI.AppStart (10) -> DI.SetCredentials (11), a new session and its bearer token
    def _app_start(self, body: bytes, authorization: str | None) -> Reply:
        old, _ = self._take_token(authorization)
        self._drop(old)     # AppStart always begins a new DI run
        mfg = self.manufacturer()
        try:
            reply_type, reply = mfg.di(MSG_APP_START, body)
        except FDOHostError as e:
            self._bump_failed()
            return _error(MESSAGE_BODY_ERROR, MSG_APP_START, str(e))
        token = self._open(mfg)
        if token is None:
            self._bump_failed()
            return _error(INTERNAL_SERVER_ERROR, MSG_APP_START,
                          f"too many DI sessions open ({self.max_sessions}); retry later")
        log.info("FDO DI: AppStart from %s (%s), GUID %s", mfg.serial, mfg.model,
                 mfg.guid.hex())
        return Reply(200, reply_type, reply, {"Authorization": "Bearer " + token})

    # FDO 1.1 DI.SetHMAC (12) -> DI.Done (13): the voucher is recorded first (on_voucher)
    def _set_hmac(self, body: bytes, authorization: str | None) -> Reply:
        token, why = self._take_token(authorization)
        sess = self._session(token) if token else None
        if sess is None:
            self._bump_failed()
            return _error(INVALID_JWT_TOKEN, MSG_SET_HMAC,
                          why or "unknown or expired session token: start again with AppStart")
        with sess.lock:     # one message of a session at a time
            if self._session(token) is not sess:   # a concurrent SetHMAC finished it
                self._bump_failed()
                return _error(INVALID_JWT_TOKEN, MSG_SET_HMAC, "the session has ended")
            self._drop(token)   # the session ends here, whatever comes next
            mfg = sess.state
            try:
                reply_type, reply = mfg.di(MSG_SET_HMAC, body)
            except FDOHostError as e:
                self._bump_failed()
                return _error(MESSAGE_BODY_ERROR, MSG_SET_HMAC, str(e))
            if self.on_voucher is not None:
                try:
                    self.on_voucher(mfg.serial, mfg.guid, mfg.voucher)
                except Exception as e:
                    log.exception("FDO DI: recording the voucher of %s failed", mfg.serial)
                    self._bump_failed()
                    return _error(INTERNAL_SERVER_ERROR, MSG_SET_HMAC,
                                  f"the voucher could not be recorded ({type(e).__name__}); "
                                  "run DI again")
        with self._lock:
            self.completed += 1
        log.info("FDO DI: Done for %s, GUID %s", mfg.serial, mfg.guid.hex())
        return Reply(200, reply_type, reply, {"Authorization": "Bearer " + token})



def serve(manufacturer: Factory, host: str = "127.0.0.1", port: int = 8039, *,
          on_voucher: OnVoucher | None = None, ready: Callable[[DIServer], None] | None = None,
          **options) -> None:
    """Serve DI over HTTP in this thread until KeyboardInterrupt or server.stop() from another
    thread. `ready(server)` is called once the port is bound; options as for DIServer."""
    DIServer(manufacturer, on_voucher=on_voucher, host=host, port=port, **options).run("FDO DI", ready)
