"""The host end of the serial link framing (firmware/imprint/link.py has the device end).

A frame is one line: ``~~`` base64(channel, seq, body, check) ``\\n`` with check the first four
bytes of SHA-256(channel, seq, body). Anything else on the line — REPL output, log text, half
a frame cut by a reset — is passed on as text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Iterator

MAGIC = b"~~"
MAX_BODY = 4096
MAX_LINE = 5480


class Channel(IntEnum):
    CONTROL = 0
    AGENT = 1
    DATAGRAM = 2
    STREAM = 3


@dataclass(frozen=True)
class Frame:
    channel: int
    seq: int
    body: bytes


def _check(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()[:4]


def encode(channel: int, seq: int, body: bytes) -> bytes:
    if len(body) > MAX_BODY:
        raise ValueError(f"frame body of {len(body)} bytes is over {MAX_BODY}")
    raw = bytes((channel, seq & 0xFF)) + body
    return MAGIC + base64.b64encode(raw + _check(raw)) + b"\n"


def decode(line: bytes) -> Frame | None:
    line = line.rstrip(b"\r\n")
    start = line.find(MAGIC)
    if start < 0 or len(line) > MAX_LINE:
        return None
    try:
        raw = base64.b64decode(line[start + 2:], validate=True)
    except (binascii.Error, ValueError):
        return None
    if not 6 <= len(raw) <= MAX_BODY + 6 or _check(raw[:-4]) != raw[-4:]:
        return None
    return Frame(raw[0], raw[1], raw[2:-4])


class Splitter:
    """Cuts a byte stream into frames and the text between them.

    ``feed`` yields Frame objects and bytes (text, passed on as soon as it is known not to
    be part of a frame, so a prompt without a newline is not held back)."""

    def __init__(self) -> None:
        self._line = bytearray()

    def feed(self, data: bytes) -> Iterator[Frame | bytes]:
        for piece in data.splitlines(keepends=True):
            self._line += piece
            if not self._line.endswith(b"\n"):
                if MAGIC[:1] not in self._line and len(self._line) < MAX_LINE:
                    yield bytes(self._line)  # text that cannot start a frame
                    self._line.clear()
                elif len(self._line) >= MAX_LINE:
                    yield bytes(self._line)
                    self._line.clear()
                continue
            line = bytes(self._line)
            self._line.clear()
            frame = decode(line)
            if frame is not None:
                cut = line.find(MAGIC)
                if cut:
                    yield line[:cut]
                yield frame
            else:
                yield line
