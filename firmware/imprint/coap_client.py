# A CoAP client (RFC 7252 §4, §5) with block-wise transfers (RFC 7959) over a datagram
# transport: t.send(data), t.recv(timeout_ms) -> bytes or None on timeout. Confirmable
# requests are retransmitted with exponential back-off; piggybacked and separate responses
# are both taken; Block1 uploads and Block2 downloads are followed to the end. protect and
# unprotect (Message -> Message, e.g. OSCORE) wrap every single request/response exchange.
from . import clock as _clock
from . import crypto
from .coap import (ACK, BLOCK1, BLOCK2, CON, CONTINUE, DELETE, EMPTY, ETAG, GET, NON, POST,
                   PUT, REQUEST_ENTITY_TOO_LARGE, RST, SIZE1, SIZE2, URI_PATH, URI_QUERY,
                   CoAPError, Message, block_option, code_str, decode, encode, option_uint,
                   parse_block, uint_option)

try:
    from micropython import const
except ImportError:
    const = lambda x: x  # noqa: E731 (a def would not match micropython.const's type)

_SEEN = const(4)  # message IDs of separate responses we ACKed, remembered for duplicates

def _sub(a, b):
    return a - b


def uri_options(path):
    # "/a/b?x=1&y" -> Uri-Path a, b and Uri-Query x=1, y (RFC 7252 §6.5, without escapes)
    opts = []
    q = path.find("?")
    if q >= 0:
        for s in path[q + 1:].split("&"):
            if s:
                opts.append((URI_QUERY, s.encode()))
        path = path[:q]
    for s in path.split("/"):
        if s:
            opts.append((URI_PATH, s.encode()))
    return opts


class Client:
    # One outstanding request at a time (NSTART = 1, RFC 7252 §4.7).
    def __init__(self, transport, *, ack_timeout_ms=2000, max_retransmit=4, block_szx=6,
                 rand=None, clock=None, token_len=8, max_body=65536, response_timeout_ms=None):
        # rand(n) -> n random bytes (default imprint.crypto.random_bytes): tokens, message IDs
        # and the ACK timeout jitter. clock() -> ms (default the board's ticks); an injected
        # clock must not wrap. response_timeout_ms: how long to wait for a separate response
        # after its empty ACK (default MAX_TRANSMIT_WAIT).
        if not 0 <= block_szx <= 6 or not 1 <= token_len <= 8:
            raise CoAPError("block_szx or token_len out of range")
        self.t = transport
        self.ack_timeout_ms = ack_timeout_ms
        self.max_retransmit = max_retransmit
        self.block_szx = block_szx
        self.rand = rand or crypto.random_bytes
        self._ms = clock or _clock.ms
        self._diff = _sub if clock else _clock.diff
        self.token_len = token_len
        self.max_body = max_body
        # RFC 7252 §4.8.2: MAX_TRANSMIT_WAIT = ACK_TIMEOUT * (2 ** (MAX_RETRANSMIT + 1) - 1) * 1.5
        self.response_timeout_ms = response_timeout_ms or \
            ack_timeout_ms * ((2 << max_retransmit) - 1) * 3 // 2
        self._mid = option_uint(self.rand(2))
        self._acked = []
        self.retransmissions = 0  # counters for tests and diagnostics
        self.ignored = 0

    def _next_mid(self):
        self._mid = (self._mid + 1) & 0xFFFF
        return self._mid

    def _reply(self, kind, mid):
        # RFC 7252 §4.2, §4.3: an Empty ACK or RST for a received message
        self.t.send(encode(Message(EMPTY, type=kind, mid=mid)))

    # RFC 7252 §4.2, §4.3, §5.2: one request, retransmitted until its response
    def exchange(self, req, protect=None, unprotect=None, confirmable=True):
        mid = self._next_mid()
        token = bytes(self.rand(self.token_len))
        kind = CON if confirmable else NON
        req.token, req.mid, req.type = token, mid, kind
        if protect is not None:
            req = protect(req)
            req.token, req.mid, req.type = token, mid, kind
        data = encode(req)
        ms, diff = self._ms, self._diff
        ack = self.ack_timeout_ms
        timeout = ack + ack * self.rand(1)[0] // 512  # ACK_TIMEOUT * [1, 1.5)
        tries = 0
        waiting_ack = True  # retransmitting until an ACK (or, for NON, still in the window)
        self.t.send(data)
        start = ms()
        while True:
            left = timeout - diff(ms(), start)
            if left <= 0:
                if not waiting_ack:
                    raise CoAPError("no separate response within %d ms" % timeout)
                if tries >= self.max_retransmit:
                    raise CoAPError("no response to %s after %d transmissions" %
                                    (code_str(req.code), tries + 1 if confirmable else 1))
                tries += 1
                timeout *= 2
                start = ms()
                if confirmable:
                    self.retransmissions += 1
                    self.t.send(data)
                continue
            raw = self.t.recv(left)
            if raw is None:
                continue
            try:
                m = decode(raw)
            except CoAPError:
                self.ignored += 1  # RFC 7252 §4.2: a malformed datagram is silently ignored
                continue
            if m.type == ACK or m.type == RST:
                if m.mid != mid:
                    self.ignored += 1  # duplicate or unrelated
                    continue
                if m.type == RST:
                    raise CoAPError("request reset by the peer (RST)")
                if not confirmable:
                    self.ignored += 1
                    continue
                if m.code == EMPTY:  # RFC 7252 §5.2.2: a separate response follows
                    if waiting_ack:
                        waiting_ack = False
                        timeout = self.response_timeout_ms
                        start = ms()
                    continue
                if m.token != token or m.code < 0x40:
                    self.ignored += 1
                    continue
                resp = m  # RFC 7252 §5.2.1: piggybacked
            elif m.code >= 0x40 and m.token == token:
                if m.type == CON:  # RFC 7252 §5.2.2: a separate response, ACKed
                    self._reply(ACK, m.mid)
                    self._acked.append(m.mid)
                    if len(self._acked) > _SEEN:
                        self._acked.pop(0)
                resp = m
            else:
                if m.type == CON:
                    if m.mid in self._acked:
                        self._reply(ACK, m.mid)  # a duplicate of an ACKed response
                    else:
                        self._reply(RST, m.mid)  # RFC 7252 §4.2: unexpected, rejected
                self.ignored += 1
                continue
            if unprotect is not None:
                resp = unprotect(resp)
            return resp

    # RFC 7959 §2.5, §3.3: a request whose payload may be sent in Block1 blocks and whose
    # response may come in Block2 blocks
    def request(self, code, path, payload=b"", options=(), confirmable=True, protect=None,
                unprotect=None):
        base = uri_options(path) if path else []
        base.extend(options)
        szx = self.block_szx
        if len(payload) > 16 << szx:
            resp = self._upload(code, base, payload, szx, protect, unprotect, confirmable)
        else:
            req = Message(code, options=base, payload=payload)
            if szx < 6 and not payload and not req.get(BLOCK2):
                req.add(BLOCK2, block_option(0, False, szx))  # RFC 7959 §2.4: early negotiation
            resp = self.exchange(req, protect, unprotect, confirmable)
            b1 = resp.get(BLOCK1)
            if resp.code == REQUEST_ENTITY_TOO_LARGE and b1 is not None:
                # RFC 7959 §2.9.3: a hint to send the payload again in smaller blocks
                szx = parse_block(b1)[2]
                if len(payload) > 16 << szx:
                    resp = self._upload(code, base, payload, szx, protect, unprotect, confirmable)
        if resp.get(BLOCK2) is None:
            return resp
        return self._download(code, base, resp, protect, unprotect, confirmable)

    # RFC 7959 §2.5: Block1 upload, following 2.31 Continue (or a stateless server's 2.01 and
    # 2.04 per block, RFC 7959 Figure 8) and the smaller block size the server asks for
    def _upload(self, code, base, payload, szx, protect, unprotect, confirmable):
        num = 0
        offset = 0
        total = len(payload)
        while True:
            size = 16 << szx
            more = offset + size < total
            req = Message(code, options=base, payload=payload[offset:offset + size])
            req.add(BLOCK1, block_option(num, more, szx))
            if offset == 0:
                req.add(SIZE1, uint_option(total))
            resp = self.exchange(req, protect, unprotect, confirmable)
            if not more:
                return resp
            b1 = resp.get(BLOCK1)
            s = szx if b1 is None else parse_block(b1)[2]
            if resp.code == REQUEST_ENTITY_TOO_LARGE and s < szx:
                szx = s  # RFC 7959 §2.9.3: start over in the smaller blocks it hints at
                num = offset = 0
                continue
            if resp.code != CONTINUE and resp.code >> 5 != 2:
                return resp  # an error ends the upload
            if s == szx and parse_block(b1)[0] != num:
                raise CoAPError("Block1 answer for block %d, not %d" % (parse_block(b1)[0], num))
            offset += size
            szx = min(s, szx)  # the server's smaller size from the next block on
            num = offset >> (szx + 4)

    # RFC 7959 §2.4: Block2 download, following M=1 at the server's (or our smaller) size
    def _download(self, code, base, resp, protect, unprotect, confirmable):
        n, more, szx = parse_block(resp.get(BLOCK2))
        if n != 0:
            raise CoAPError("first Block2 is block %d" % n)
        s2 = resp.get(SIZE2)
        if s2 is not None and option_uint(s2) > self.max_body:
            raise CoAPError("body of %d bytes over %d" % (option_uint(s2), self.max_body))
        etag = resp.get(ETAG)
        rcode = resp.code
        body = bytearray(resp.payload)
        while more:
            offset = len(body)
            szx = min(szx, self.block_szx)
            if offset & ((16 << szx) - 1):
                raise CoAPError("Block2 with M=1 not a whole block")
            req = Message(code, options=[o for o in base if o[0] != BLOCK2])
            req.add(BLOCK2, block_option(offset >> (szx + 4), False, szx))
            resp = self.exchange(req, protect, unprotect, confirmable)
            b2 = resp.get(BLOCK2)
            if b2 is None or resp.code != rcode:
                if resp.code >= 0x80:
                    return resp  # an error while following: the caller sees it
                raise CoAPError("Block2 transfer broken off (%s)" % code_str(resp.code))
            n, more, szx = parse_block(b2)
            if n << (szx + 4) != offset:
                raise CoAPError("Block2 block %d of size %d is not at offset %d" %
                                (n, 16 << szx, offset))
            if resp.get(ETAG) != etag:
                raise CoAPError("representation changed during Block2 transfer (ETag)")
            body += resp.payload
            if len(body) > self.max_body:
                raise CoAPError("body over %d bytes" % self.max_body)
        resp.payload = bytes(body)
        resp.remove(BLOCK2)
        return resp

    def get(self, path, **kw):
        return self.request(GET, path, **kw)

    def post(self, path, payload=b"", **kw):
        return self.request(POST, path, payload, **kw)

    def put(self, path, payload=b"", **kw):
        return self.request(PUT, path, payload, **kw)

    def delete(self, path, **kw):
        return self.request(DELETE, path, **kw)
