"""FDO 1.1 messages over CoAP (RFC 7252, block-wise RFC 7959), for the FDO services here
(DIServer, RVServer, OwnerServer): the same `handle(msg_type, body, authorization)` as their
HTTP binding, on aiocoap.

FDO 1.1 lists CoAP among the rendezvous (RVProtocol coap = 6) and TO2 (TransportProtocol
coap = 4) transports but defines no message mapping; imprint binds it as the HTTP one is bound
(FDO 1.1 §4.3), and the device side (imprint.methods.fdo.coap_sender) speaks the same:

    POST coap://host:port/fdo/101/msg/{type}[?s=<session>]   Content-Format 60 (CBOR)
    2.01 Created   the first reply of a protocol (a session opened): Location-Query
                   "s=<session>", which the client sends back as Uri-Query from then on
    2.04 Changed   any later reply; the reply's message type is the request's + 1
    4.00 / 4.01 / 4.04 / 5.00   an FDO Error (255), the Error message as payload: 4.01 for
                   INVALID_JWT_TOKEN (no or unknown session), 4.04 RESOURCE_NOT_FOUND,
                   5.00 INTERNAL_SERVER_ERROR, 4.00 any other code

    with FDOCoAPServer(rv_server) as coap:     # coap.url == "coap://127.0.0.1:PORT"
        ...
"""

from __future__ import annotations

import asyncio
import socket
import threading

import aiocoap
import aiocoap.error
import aiocoap.resource as resource
import cbor2
from aiocoap import numbers

from ..factory.fdo import PROTVER
from .fdo_http import (INTERNAL_SERVER_ERROR, INVALID_JWT_TOKEN, MESSAGE_BODY_ERROR, MSG_ERROR,
                       RESOURCE_NOT_FOUND, Reply, error_message)

CBOR_FORMAT = 60
_ERROR_CODES = {INVALID_JWT_TOKEN: numbers.codes.UNAUTHORIZED,
                RESOURCE_NOT_FOUND: numbers.codes.NOT_FOUND,
                INTERNAL_SERVER_ERROR: numbers.codes.INTERNAL_SERVER_ERROR}


def free_udp_port(host: str = "127.0.0.1") -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _error(code: int, t: int, text: str) -> aiocoap.Message:
    return aiocoap.Message(code=_ERROR_CODES.get(code, numbers.codes.BAD_REQUEST),
                           payload=error_message(code, t, text), content_format=CBOR_FORMAT)


# the CoAP response for a service's Reply (see the module's mapping)
def coap_reply(r: Reply) -> aiocoap.Message:
    if r.msg_type == MSG_ERROR:
        try:
            code = cbor2.loads(r.body)[0]
        except Exception:
            code = MESSAGE_BODY_ERROR
        return aiocoap.Message(code=_ERROR_CODES.get(code, numbers.codes.BAD_REQUEST),
                               payload=r.body, content_format=CBOR_FORMAT)
    if r.msg_type is None:
        return aiocoap.Message(code=numbers.codes.CHANGED)
    auth = r.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        m = aiocoap.Message(code=numbers.codes.CREATED, payload=r.body,
                            content_format=CBOR_FORMAT)
        m.opt.location_query = ["s=" + auth[7:].strip()]
        return m
    return aiocoap.Message(code=numbers.codes.CHANGED, payload=r.body,
                           content_format=CBOR_FORMAT)


class _Messages(resource.Resource, resource.PathCapable):
    """/fdo/101/msg/{type}: every message POSTed to the service's handle()."""

    def __init__(self, service) -> None:
        super().__init__()
        self.service = service

    async def render(self, request):
        path = request.opt.uri_path
        if len(path) != 1 or not path[0].isdigit() or len(path[0]) > 3:
            return _error(RESOURCE_NOT_FOUND, 0, f"no FDO resource at {'/'.join(path)!r} "
                                                 f"(POST /fdo/{PROTVER}/msg/{{type}})")
        t = int(path[0])
        if request.code != numbers.codes.POST:
            m = _error(RESOURCE_NOT_FOUND, t, "FDO messages are POSTed")
            m.code = numbers.codes.METHOD_NOT_ALLOWED
            return m
        cf = request.opt.content_format
        if cf is not None and int(cf) != CBOR_FORMAT:
            return _error(MESSAGE_BODY_ERROR, t, "Content-Format must be 60 (application/cbor)")
        if len(request.payload) > self.service.max_body:
            return _error(MESSAGE_BODY_ERROR, t, f"message too large ({len(request.payload)} "
                                                 f"bytes, at most {self.service.max_body})")
        session = next((q[2:] for q in request.opt.uri_query if q.startswith("s=")), None)
        auth = "Bearer " + session if session else None
        loop = asyncio.get_running_loop()
        reply = await loop.run_in_executor(None, self.service.handle, t, request.payload, auth)
        return coap_reply(reply)


class CoAPThread:
    """An aiocoap server for `site` on (host, port) in a thread with its own event loop:
    start() / stop(), or `with`. Port 0 picks a free UDP port; `credentials` as for
    aiocoap.Context.create_server_context (EDHOC/OSCORE)."""

    name = "coap"

    def __init__(self, site, host: str = "127.0.0.1", port: int = 0, credentials=None) -> None:
        self.site, self.host, self.credentials = site, host, credentials
        self.port = port or free_udp_port(host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ctx = None

    @property
    def url(self) -> str:
        return f"coap://{self.host}:{self.port}"

    def start(self):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self.name,
                                        daemon=True)
        self._thread.start()

        async def create():
            return await aiocoap.Context.create_server_context(
                self.site, bind=(self.host, self.port), server_credentials=self.credentials)
        try:
            self._ctx = asyncio.run_coroutine_threadsafe(create(), self._loop).result(10)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._ctx is not None:
            asyncio.run_coroutine_threadsafe(self._ctx.shutdown(), self._loop).result(10)
            self._ctx = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class FDOCoAPServer(CoAPThread):
    """An FDO service (fdo_http.FDOHTTPServer subclass: its handle() and sessions) on CoAP.
    FDOCoAPServer(service, host="127.0.0.1", port=0): port 0 picks a free UDP port."""

    def __init__(self, service, host: str = "127.0.0.1", port: int = 0) -> None:
        site = resource.Site()
        site.add_resource(["fdo", str(PROTVER), "msg"], _Messages(service))
        super().__init__(site, host, port)
        self.service = service
        self.name = f"fdo-{service.name.lower()}-coap"


def post(url: str, msg_type: int, body: bytes, session: str | None = None,
         timeout: float = 30.0) -> tuple[int, bytes, str | None]:
    """One FDO message over CoAP from the host (the owner's TO0 client) -> (reply message
    type, body, the session from Location-Query or None)."""
    async def go():
        ctx = await aiocoap.Context.create_client_context()
        try:
            uri = f"{url.rstrip('/')}/fdo/{PROTVER}/msg/{msg_type}"
            req = aiocoap.Message(code=numbers.codes.POST, uri=uri, payload=body,
                                  content_format=CBOR_FORMAT)
            if session:
                req.opt.uri_query = ["s=" + session]
            return await asyncio.wait_for(ctx.request(req).response, timeout)
        finally:
            await ctx.shutdown()
    try:
        r = asyncio.run(go())
    except aiocoap.error.Error as e:
        raise ConnectionError(f"CoAP {url}: {e}") from None
    s = next((q[2:] for q in r.opt.location_query if q.startswith("s=")), None)
    if r.code in (numbers.codes.CREATED, numbers.codes.CHANGED):
        return msg_type + 1, r.payload, s
    return MSG_ERROR, r.payload, s
