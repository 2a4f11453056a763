"""The `imprint` command."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click
from mpremote.transport import TransportError

from . import __version__
from . import deploy as deploy_mod
from . import relay as relay_mod
from .board import devtest
from .board.serial_board import SerialBoardError, connect
from .paths import ROOT
from .board import profiles
from .board.serial_board import SerialBoard
from .board.virtual import HEAP_MODES, BoardError, VirtualBoard
from .factory import cli as factory_cli
from .services.cli import serve as serve_group
from .services.owner_cli import owner as owner_group
from .voucher_cli import voucher as voucher_group
from .flash_cli import flash as flash_command
from .conformance.cli import conformance as conformance_command


def fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


@click.group()
@click.version_option(__version__, prog_name="imprint")
def main() -> None:
    """imprint: secure bootstrapping for MicroPython devices."""


@main.group()
def board() -> None:
    """Boards: virtual ones for development and CI."""


@board.command("virtual")
@click.option("--profile", default="virtual", show_default=True,
              help="Board profile to emulate (boards/<profile>/board.json).")
@click.option("--link", type=click.Path(path_type=Path), help="Also make this path a symlink to the pty.")
@click.option("--flash", type=click.Path(path_type=Path, file_okay=False),
              help="Host directory that holds the board's flash filesystem across restarts.")
@click.option("--serial", help="Board serial; machine.unique_id() derives from it "
              "(default: derived from the flash directory).")
@click.option("--heap-mode", type=click.Choice(HEAP_MODES), default="measure", show_default=True,
              help="strict: the heap is capped at the profile's budget; measure: it grows, and "
                   "the live heap is measured (see README, RAM on the virtual board).")
@click.option("--log", type=click.Path(path_type=Path), help="Append the board's own log here.")
@click.option("--baud", type=click.IntRange(min=1),
              help="Pace the console both ways as a UART at this rate (8N1: baud/10 bytes/s), "
                   "e.g. the profile's console baud; default: no limit.")
def board_virtual(profile: str, link: Path | None, flash: Path | None, serial: str | None,
                  heap_mode: str, log: Path | None, baud: int | None) -> None:
    """Run a virtual board in the foreground until SIGTERM or SIGINT; print its serial port."""
    try:
        prof = profiles.load(profile)
        vb = VirtualBoard(prof, link=link, flash=flash, serial=serial, heap_mode=heap_mode, log=log,
                          baud=baud)
        vb.start()
    except (profiles.ProfileError, BoardError) as e:
        fail(str(e))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    click.echo(vb.path if link is None else f"{vb.path} -> {vb.port}")
    click.echo(f"board {prof.name}: heap budget {prof.heap_budget} B ({heap_mode}), "
               f"flash {vb.flash}, unique id {vb.uid.hex()}"
               + (f", {baud} baud" if baud else ""), err=True)
    sys.stdout.flush()
    done.wait()
    vb.stop()


def _progress(quiet: bool, err: bool = True):
    return (lambda s: None) if quiet else (lambda s: click.echo(f"  {s}", err=err))


def _board_identity(board: SerialBoard, name: str | None) -> tuple[profiles.BoardProfile, str]:
    """(profile, port): the profile named or the one a virtual board reports; the port whose
    glue the stack needs there (a virtual board runs ports/virtual whatever it emulates)."""
    out, err = board.exec_result("import _vboard\nprint(_vboard.board())")
    virtual = not err
    if name is None:
        if not virtual:
            fail("this board does not say which it is: pass --profile (one of "
                 f"{', '.join(profiles.available())})")
        name = out.strip()
    prof = profiles.load(name)
    return prof, "virtual" if virtual else prof.port


@main.command()
@click.option("--port", "port_path", required=True, help="The board's serial port.")
@click.option("--source", is_flag=True, help="Deploy .py sources instead of compiled .mpy "
              "(skips the .mpy check: for a board whose MicroPython imports another .mpy version).")
@click.option("--profile", help="Board profile (default: asked of a virtual board).")
@click.option("--tool", type=click.Choice(deploy_mod.TOOLS), default="mpremote", show_default=True,
              help="What writes the files: mpremote's transport, or adafruit-ampy's put. "
                   "The SHA-256 check runs over the raw REPL either way.")
@click.option("--report", is_flag=True, help="Then print the footprint: bytes per module and the "
              "live and free heap after importing each alone and the whole stack.")
@click.option("--quiet", is_flag=True)
def deploy(port_path: str, source: bool, profile: str | None, tool: str, report: bool,
           quiet: bool) -> None:
    """Compile firmware/imprint to .mpy, copy it to /lib/imprint and verify every file's SHA-256.

    The board is asked first which MicroPython and .mpy version it runs; a board older than its
    profile's minimum, or one that cannot import this build's .mpy, is refused."""
    try:
        with connect(port_path) as b:
            prof, port = _board_identity(b, profile)
        done = deploy_mod.deploy_to(port_path, source=source, port=port, profile=prof, tool=tool,
                                    report=report, progress=_progress(quiet))
    except (deploy_mod.DeployError, SerialBoardError, profiles.ProfileError) as e:
        fail(str(e))
    except TransportError as e:
        fail(f"the board stopped answering during the deployment ({e}): reset it and deploy again")
    kind = "sources" if source else f".mpy ({deploy_mod.mpy_cross_version()})"
    click.echo(f"deployed {len(done.files)} files as {kind} with {tool} to {port_path} "
               f"(board: {done.board}); all SHA-256 verified")
    if done.footprint:
        click.echo(done.footprint.text())


@board.command("test")
@click.option("--port", "port_path", help="The board's serial port.")
@click.option("--virtual", "virtual_profile", help="Start a virtual board with this profile and test it.")
@click.option("--profile", help="Board profile of --port (default: asked of a virtual board).")
@click.option("--tests", "test_dir", type=click.Path(path_type=Path, file_okay=False),
              default=ROOT / "tests" / "device", show_default=True)
@click.option("--source", is_flag=True, help="Test .py sources instead of the compiled .mpy.")
@click.option("-k", "only", help="Only tests whose module.name contains this.")
@click.option("-v", "verbose", is_flag=True, help="A line for every test, with its heap figures.")
def board_test(port_path: str | None, virtual_profile: str | None, profile: str | None,
               test_dir: Path, source: bool, only: str | None, verbose: bool) -> None:
    """Deploy the firmware and run the device tests on a board; print `N passed, N failed`."""
    if bool(port_path) == bool(virtual_profile):
        fail("give exactly one of --port or --virtual")
    vb = None
    try:
        if virtual_profile:
            vb = VirtualBoard(profiles.load(virtual_profile))
            port_path = vb.start()
        with connect(port_path) as b:
            prof, port = _board_identity(b, profile or virtual_profile)
        deploy_mod.deploy(port_path, source=source, port=port)

        def show(r: devtest.TestResult) -> None:
            if verbose or not r.passed:
                mark = click.style("PASS", fg="green") if r.passed else click.style("FAIL", fg="red")
                click.echo(f"{mark} {r.module}.{r.name}  {r.seconds:.2f} s  allocated {r.allocated} B  "
                           f"live after {r.live_after} B")
                if r.detail and not r.passed:
                    click.echo("    " + r.detail.replace("\n", "\n    "))

        with connect(port_path) as b:
            report = devtest.run(b, test_dir, prof.heap_budget, prof.name, only=only, on_result=show)
    except (deploy_mod.DeployError, SerialBoardError, profiles.ProfileError, BoardError) as e:
        fail(str(e))
    except TransportError as e:
        fail(f"the board stopped answering ({e}); a test that runs past the runner's timeout "
             "is the usual cause: run it alone with -k and -v")
    finally:
        if vb:
            vb.stop()
    peak = max((r.live_after for r in report.results), default=0)
    click.echo(f"board {prof.name}: heap budget {prof.heap_budget} B, highest live heap after a test "
               f"{peak} B")
    click.echo(f"device: {report.summary()}")
    sys.exit(0 if report.failed == 0 and report.results else 1)


@main.command()
@click.option("--port", "port_path", required=True, help="The board's serial port.")
@click.option("--exec", "exec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Run this file on the board and relay for it until it ends.")
@click.option("-c", "code", help="Run this code on the board and relay for it until it ends.")
@click.option("--allow", multiple=True, metavar="HOST",
              help="Let the board reach HOST too (default: loopback only; '*' for any).")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds the program may run.")
@click.option("-v", "verbose", is_flag=True, help="Log each socket the board opens.")
def relay(port_path: str, exec_file: Path | None, code: str | None, allow: tuple[str, ...],
          timeout: float, verbose: bool) -> None:
    """Carry a board's datagrams and streams (link frames on its serial line) to peers.

    With --exec or -c, run a program on the board (raw REPL) and relay until it ends; its
    output is printed and its exit status is this command's. Without, relay for whatever
    runs on the board (its main.py) until interrupted."""
    log = (lambda m: click.echo(m, err=True)) if verbose else (lambda m: None)
    echo = lambda b: (sys.stdout.buffer.write(b.replace(b"\r\n", b"\n")), sys.stdout.flush())
    if exec_file is not None or code is not None:
        program = exec_file.read_text() if exec_file is not None else code
        done = [False]

        def live(b: bytes) -> None:  # the program's output as it comes, up to the end marker
            if not done[0]:
                done[0] = b"\x04" in b
                echo(b.split(b"\x04")[0])

        try:
            _, err = relay_mod.run_program(port_path, program, timeout=timeout, allow=allow,
                                           log=log, on_text=live)
        except (relay_mod.RelayError, TransportError, OSError) as e:
            fail(f"{e}")
        if err:
            click.secho(err.replace("\r\n", "\n"), fg="red", err=True, nl=False)
            sys.exit(1)
        return
    import serial

    try:
        ser = serial.Serial(port_path, 115200, timeout=0)
    except serial.SerialException as e:
        fail(f"cannot open {port_path}: {e}")
    r = relay_mod.Relay(write=ser.write, on_text=lambda b: echo(b), allow=allow, log=log)
    click.echo(f"relaying for {port_path} (Ctrl-C ends)", err=True)
    try:
        while True:
            n = ser.in_waiting
            if n:
                r.feed(ser.read(n))
            r.poll(0 if n else 0.005)
    except KeyboardInterrupt:
        pass
    finally:
        r.close()
        ser.close()


@main.command()
@click.option("--profile", default="nrf52840-dk", show_default=True)
def demo(profile: str) -> None:
    """The main job on a virtual board, end to end, each stage timed: deploy, self-report,
    factory provisioning (IDevID, FDO DI), sale (voucher extended), owner TO0, onboarding at
    power-up (TO1 + TO2 through the serial relay), then EDHOC + OSCORE to the owner's
    management endpoint with the credentials it delivered."""
    from . import demo as demo_mod

    try:
        demo_mod.run(profile, click.echo, progress=_progress(True))
    except (deploy_mod.DeployError, SerialBoardError, profiles.ProfileError, BoardError,
            demo_mod.DemoError, relay_mod.RelayError) as e:
        fail(str(e))


main.add_command(factory_cli.factory)
main.add_command(voucher_group)
main.add_command(serve_group)
main.add_command(owner_group)
main.add_command(flash_command)
main.add_command(conformance_command)


if __name__ == "__main__":
    main()
