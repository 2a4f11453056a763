"""A board on a serial port, physical or virtual: one mpremote transport, used by deploy and
the device test runner."""

from __future__ import annotations

import ast
from contextlib import contextmanager
from typing import Iterator

from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport


class SerialBoardError(RuntimeError):
    """The board did not answer as expected."""


class SerialBoard:
    def __init__(self, port: str, baudrate: int = 115200) -> None:
        self.port = port
        try:
            self.transport = SerialTransport(port, baudrate=baudrate)
        except TransportError as e:
            raise SerialBoardError(
                f"cannot open {port}: {e}. Is the board connected (or `imprint board virtual` running)?"
            ) from None
        try:
            self.transport.enter_raw_repl(soft_reset=False)
        except TransportError as e:
            self.transport.close()
            raise SerialBoardError(f"{port}: no raw REPL ({e}); is MicroPython running on it?") from None

    def close(self) -> None:
        try:
            self.transport.exit_raw_repl()
        finally:
            self.transport.close()

    def exec(self, code: str, timeout: float = 60) -> str:
        """Run code on the board; return what it printed. A board-side exception raises."""
        out, err = self.transport.exec_raw(code, timeout=timeout)
        if err:
            raise TransportExecError(out.decode(errors="replace"), err.decode(errors="replace"))
        return out.decode(errors="replace")

    def exec_result(self, code: str, timeout: float = 60) -> tuple[str, str]:
        """Run code; return (output, error output) without raising on a board-side error."""
        out, err = self.transport.exec_raw(code, timeout=timeout)
        return out.decode(errors="replace"), err.decode(errors="replace")

    def eval(self, expression: str, timeout: float = 60):
        return ast.literal_eval(self.exec(f"print(repr({expression}))", timeout).strip())

    def mkdir(self, *paths: str) -> None:
        """Make these directories, parents first; those that exist are fine."""
        for d in sorted(paths, key=len):
            self.exec(f"import os\ntry:\n os.mkdir({d!r})\nexcept OSError:\n pass")

    def soft_reset(self) -> None:
        self.transport.exit_raw_repl()
        self.transport.enter_raw_repl(soft_reset=True)


@contextmanager
def connect(port: str) -> Iterator[SerialBoard]:
    board = SerialBoard(port)
    try:
        yield board
    finally:
        board.close()
