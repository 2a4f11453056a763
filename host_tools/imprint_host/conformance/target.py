"""The board under test: its port, profile and what it can do, set up once per worker
(virtual board started if asked, firmware deployed, capabilities read from the profile and
asked of the board)."""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import deploy
from ..board import profiles
from ..board.profiles import BoardProfile
from ..board.serial_board import connect
from ..board.virtual import VirtualBoard

# console.reset values a profile may name: how the host resets the board over the port's
# modem lines. "rts": RTS drives EN through the USB-UART bridge's auto-reset circuit (with DTR
# released, so IO0 stays high and the chip boots its application), as on ESP32 DevKits.
RESET_LINES = ("rts",)


class TargetError(RuntimeError):
    """The board cannot be set up for the suite; the message says what to do."""


@dataclass(frozen=True)
class Capabilities:
    hard_reset: str | None  # "power-cut" (a virtual board this worker runs), a reset line, or None
    relay: bool  # peers are reached through the host's serial relay (the board has no IP)
    network: str | None  # what the board's port glue says it has (None: no IP)
    scratch: bool  # the suite may rewrite the board's identity and store (keygen, install, lock)

    def describe(self) -> str:
        return (f"hard reset: {self.hard_reset or 'no'}; peers: "
                f"{'serial relay' if self.relay else self.network}; identity writes: "
                f"{'yes' if self.scratch else 'no'}")


@dataclass
class Target:
    port: str
    profile: BoardProfile
    glue: str  # the ports/<glue> deployed with the firmware
    virtual: VirtualBoard | None  # the virtual board this worker started, if any
    reported: str | None  # the profile a virtual board says it emulates (None: not virtual)
    caps: Capabilities
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.profile.name

    def exec(self, code: str, timeout: float = 60) -> str:
        """Run code on the board (raw REPL, no relay); return what it printed."""
        with connect(self.port) as b:
            return b.exec(code, timeout)

    def hard_reset(self, ser=None) -> None:
        """Reset the board at once, without warning it (a virtual board's power is cut; a
        real one is held in reset on its reset line: through ``ser``, the open port, if
        given). Returns without waiting for the boot: see wait_ready."""
        if self.caps.hard_reset == "power-cut" and self.virtual is not None:
            self.virtual.power_cut()
        elif self.caps.hard_reset == "rts":
            import serial

            line = ser or serial.Serial(self.port, self.profile.console.get("baud", 115200))
            try:
                line.dtr = False
                line.rts = True  # EN low: the chip is held in reset
                time.sleep(0.1)
                line.rts = False
            finally:
                if ser is None:
                    line.close()
        else:
            raise TargetError(f"{self.name} has no way to be hard-reset")

    def wait_ready(self, timeout: float = 30) -> None:
        """Until the board's raw REPL answers (it may still be booting)."""
        if self.virtual is not None:
            self.virtual.wait_booted(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with connect(self.port) as b:
                    b.exec("pass", 10)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)


def _reported_board(port: str) -> str | None:
    """The profile a virtual board emulates (its `_vboard` module says); None elsewhere."""
    with connect(port) as b:
        out, err = b.exec_result("import _vboard\nprint(_vboard.board())")
    return None if err else out.strip()


def open_target(*, port: str | None, board: str | None, virtual: str | None, flash: Path,
                destructive: bool, deploy_firmware: bool = True) -> Target:
    """Start (``virtual``) or reach (``port``) the board, deploy the firmware once and find
    out what it can do. ``board`` names its profile; a virtual board names its own."""
    if bool(port) == bool(virtual):
        raise TargetError("give exactly one of --imprint-port and --imprint-virtual")
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    vb = None
    if virtual:
        vb = VirtualBoard(profiles.load(virtual), flash=flash)
        port = vb.start()
        timings["boot"] = time.monotonic() - t0
    assert port is not None
    try:
        reported = _reported_board(port)
        name = board or virtual or reported
        if name is None:
            raise TargetError(f"{port}: the board does not say which it is: pass --imprint-board "
                              f"(one of {', '.join(profiles.available())})")
        profile = profiles.load(name)
        glue = "virtual" if reported is not None else profile.port
        t1 = time.monotonic()
        if deploy_firmware:
            try:
                deploy.deploy(port, port=glue)
            except deploy.DeployError as e:
                raise TargetError(f"deploying the firmware to {port} failed: {e}") from None
        timings["deploy"] = time.monotonic() - t1
        with connect(port) as b:
            network = ast.literal_eval(b.exec("import imprint_port\nprint(repr(imprint_port.network))").strip())
        reset = "power-cut" if vb is not None else profile.console.get("reset")
        caps = Capabilities(hard_reset=reset if reset == "power-cut" or reset in RESET_LINES else None,
                            relay=network is None, network=network,
                            scratch=vb is not None or destructive)
        return Target(port, profile, glue, vb, reported, caps, timings)
    except BaseException:
        if vb is not None:
            vb.stop()
        raise


def close_target(target: Target) -> None:
    if target.virtual is not None:
        target.virtual.stop()

