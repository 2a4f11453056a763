"""The station's end of the board's factory agent (firmware/imprint/agent.py): requests as
CBOR on the serial link's AGENT channel."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import cbor2
import serial

from .. import link
from ..link import Channel, Frame

START = "import imprint_port, imprint.agent\nimprint.agent.main(imprint_port)"
# what a board prints when it starts again: the agent that was answering is gone
_RESET_MARKS = (b"MicroPython v", b"MPY: soft reboot", b"rst:0x", b"ets ")


class AgentCallError(RuntimeError):
    """The board refused or failed a request; code 1 bad request, 2 refused, 3 failed."""

    def __init__(self, op: str, code: int, message: str) -> None:
        super().__init__(f"{op}: {message}")
        self.op, self.code, self.message = op, code, message


class AgentTimeout(RuntimeError):
    pass


@dataclass
class AgentClient:
    """Talks to the agent on a board's serial port. ``start`` True runs it from the raw REPL
    (a board in the factory), False talks to an agent already running (a locked board runs
    it by itself), None tries the REPL and falls back to that."""

    port: str
    start: bool | None = None
    timeout: float = 60.0
    transcript: bytearray = field(default_factory=bytearray)  # every byte the board sent
    log: list[str] = field(default_factory=list)  # its text lines (not frames)

    def __post_init__(self) -> None:
        self.reset_seen = False
        self._gone = ""  # why the agent cannot answer any more (reset, traceback)
        self._rid = 0
        self._seq = 0
        self._split = link.Splitter()
        self._frames: list[Frame] = []
        self._t = None
        if self.start is not False:
            from mpremote.transport import TransportError
            from mpremote.transport_serial import SerialTransport

            t = SerialTransport(self.port, baudrate=115200)
            try:
                t.enter_raw_repl(soft_reset=False)
            except TransportError:
                t.close()
                if self.start:
                    raise
                t = None  # no REPL: a locked board, whose agent has the console already
            if t is not None:
                t.exec_raw_no_follow(START)
                self._t, self._ser = t, t.serial
        if self._t is None:
            self._ser = serial.Serial(self.port, 115200, timeout=0)

    def _read(self, deadline: float) -> None:
        n = self._ser.in_waiting
        if not n:
            time.sleep(0.002)
            if time.monotonic() > deadline:
                raise AgentTimeout(f"{self.port}: no answer from the board's agent")
            return
        data = self._ser.read(n)
        self.transcript += data
        for item in self._split.feed(data):
            if isinstance(item, Frame):
                self._frames.append(item)
            elif item.strip():
                self.log.append(item.decode(errors="replace"))
                if any(m in item for m in _RESET_MARKS):
                    self.reset_seen = True
                    self._gone = f"{self.port}: the board reset ({item.strip()!r})"
                elif b"Traceback" in item or b"\x04" in item:
                    self.reset_seen = True  # the agent is gone
                    self._gone = f"the agent stopped: {item!r}"

    def call(self, op: str, arg: Any = None, timeout: float | None = None) -> Any:
        self._rid += 1
        rid = self._rid
        body = cbor2.dumps([rid, op, arg])
        self._ser.write(link.encode(Channel.AGENT, self._seq, body))
        self._seq = (self._seq + 1) & 0xFF
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            while self._frames:
                f = self._frames.pop(0)
                if f.channel != Channel.AGENT:
                    continue
                reply = cbor2.loads(f.body)
                if reply[0] != rid:
                    continue  # an answer to an earlier request we gave up on
                if reply[1] != 0:
                    raise AgentCallError(op, reply[1], reply[2])
                return reply[2]
            if self._gone:  # answers sent before the reset were taken above
                raise AgentCallError(op, 3, self._gone)
            self._read(deadline)

    def expect_reset(self) -> None:
        """The board is about to restart (it was just locked): don't say goodbye."""
        self.reset_seen = True

    def close(self) -> None:
        try:
            if self.reset_seen:
                return
            try:
                self.call("bye", timeout=10)
            except (AgentCallError, AgentTimeout):
                return
            if self._t is not None:
                deadline = time.monotonic() + 10
                while not self.transcript.endswith(b"\x04>") and time.monotonic() < deadline:
                    n = self._ser.in_waiting
                    self.transcript += self._ser.read(n) if n else b""
                    time.sleep(0.002)
                self._t.exit_raw_repl()
        finally:
            (self._t.close() if self._t is not None else self._ser.close())

    def __enter__(self) -> "AgentClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
