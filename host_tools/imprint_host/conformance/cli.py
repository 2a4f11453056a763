"""`imprint conformance`: the conformance suite against several boards at once.

One pytest worker process per board (the plugin, tests/conformance), all in parallel; their
JUnit XML files are merged into one (a <testsuite> per board) and a summary is printed:
per board passed, failed, skipped (with the reasons) and seconds. Exit status 0 only when
no test failed or errored and every worker ran.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import click

from ..board import profiles
from ..paths import ROOT

SUITE = ROOT / "tests" / "conformance"
PLUGIN = "imprint_host.conformance.plugin"
WORKER_TIMEOUT = 1800  # seconds: a worker still running then is stopped and reported


@dataclass
class Spec:
    """One board to test: its options for the worker and its names in the report."""
    name: str  # unique, for JUnit (the testsuite name and the classname prefix)
    label: str  # for people
    options: list[str]


@dataclass
class Case:
    name: str
    status: str  # passed, failed, error, skipped
    seconds: float
    message: str = ""
    detail: str = ""


@dataclass
class Outcome:
    spec: Spec
    returncode: int | None = None
    seconds: float = 0.0
    log: str = ""
    suite: ET.Element | None = None
    cases: list[Case] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.cases)

    @property
    def failed(self) -> int:
        return self.count("failed") + self.count("error")

    @property
    def problem(self) -> str:
        """Why this worker's run is not a clean result, beyond failed tests ("" if none)."""
        if self.returncode is None:
            return f"stopped after {WORKER_TIMEOUT} s"
        if self.suite is None:
            return f"pytest ended with status {self.returncode} and no JUnit report"
        if not self.cases:
            return "no test ran (nothing selected?)"
        if self.returncode not in (0, 1):
            return f"pytest ended with status {self.returncode}"
        return ""


def parse_port(spec: str, default_profile: str | None) -> tuple[str, str | None]:
    """PORT or PORT:PROFILE -> (port, profile); a suffix that names no profile is part of
    the port's name."""
    port, sep, prof = spec.rpartition(":")
    if sep and port and prof in profiles.available():
        return port, prof
    return spec, default_profile


def plan(ports: tuple[str, ...], board: str | None, virtual: tuple[str, ...],
         destructive: bool) -> list[Spec]:
    specs: list[tuple[str, str, list[str]]] = []
    for p in virtual:
        profiles.load(p)  # a wrong name fails here, before any worker starts
        specs.append((p, f"{p} (virtual)", ["--imprint-virtual", p]))
    for spec in ports:
        port, prof = parse_port(spec, board)
        if prof:
            profiles.load(prof)
        opts = ["--imprint-port", port] + (["--imprint-board", prof] if prof else [])
        if destructive:
            opts.append("--imprint-destructive")
        specs.append((prof or "board", f"{prof or 'board'} at {port}", opts))
    out = []
    for i, (name, label, opts) in enumerate(specs):
        if sum(s[0] == name for s in specs) > 1:
            name = f"{name}-{sum(s[0] == name for s in specs[:i]) + 1}"
        out.append(Spec(name, label, opts))
    return out


def worker_command(spec: Spec, junit: Path, keyword: str | None, suite: Path) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "-p", PLUGIN, str(suite), *spec.options,
           f"--junitxml={junit}", "-o", f"junit_suite_name={spec.name}", "-o", "junit_family=xunit2",
           "-p", "no:cacheprovider", "-q", "-rfEs", "--color=no"]
    if keyword:
        cmd += ["-k", keyword]
    return cmd


def run_workers(specs: list[Spec], keyword: str | None, suite: Path, tmp: Path,
                on_done=lambda o: None) -> list[Outcome]:
    """Start every worker, wait for all; their logs and JUnit files are in tmp."""
    running = []
    for i, spec in enumerate(specs):
        junit, log = tmp / f"{i}.xml", tmp / f"{i}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(worker_command(spec, junit, keyword, suite), cwd=ROOT,
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        running.append((Outcome(spec), proc, junit, log, time.monotonic()))
    pending = list(running)
    try:
        while pending:
            for item in list(pending):
                outcome, proc, junit, log, t0 = item
                if proc.poll() is None and time.monotonic() - t0 < WORKER_TIMEOUT:
                    continue
                if proc.poll() is None:
                    _stop(proc)
                else:
                    outcome.returncode = proc.returncode
                outcome.seconds = time.monotonic() - t0
                outcome.log = log.read_text(errors="replace")
                if junit.is_file():
                    read_junit(outcome, junit)
                pending.remove(item)
                on_done(outcome)
            time.sleep(0.1)
    except KeyboardInterrupt:
        for _, proc, *_ in pending:
            _stop(proc)
        raise
    return [r[0] for r in running]


def _stop(proc: subprocess.Popen) -> None:
    # SIGINT first: pytest then runs its teardown, which stops the worker's virtual board
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def read_junit(outcome: Outcome, path: Path) -> None:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return
    outcome.suite = suite
    for prop in suite.findall("properties/property"):  # the suite's own, not its tests'
        outcome.properties[prop.get("name", "")] = prop.get("value", "")
    for case in suite.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        status, message, detail = "passed", "", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                status = {"failure": "failed"}.get(tag, tag)
                message, detail = el.get("message", ""), (el.text or "")
                break
        outcome.cases.append(Case(name, status, float(case.get("time", 0) or 0), message, detail))


def merge_junit(outcomes: list[Outcome], path: Path) -> None:
    """One JUnit file: a <testsuite> per board, each test's classname prefixed with the
    board's name so the same test on two boards stays two tests."""
    root = ET.Element("testsuites", name="imprint conformance")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for o in outcomes:
        if o.suite is not None:
            suite = o.suite
            for case in suite.iter("testcase"):
                case.set("classname", f"{o.spec.name}.{case.get('classname', '')}")
        else:  # the worker gave no report: one errored case says why
            suite = ET.Element("testsuite", name=o.spec.name, tests="1", failures="0", errors="1",
                               skipped="0", time=f"{o.seconds:.3f}")
            case = ET.SubElement(suite, "testcase", classname=o.spec.name, name="worker", time=f"{o.seconds:.3f}")
            ET.SubElement(case, "error", message=o.problem).text = o.log[-4000:]
        suite.set("name", o.spec.name)
        for k in totals:
            totals[k] += int(suite.get(k, 0) or 0)
        root.append(suite)
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{max((o.seconds for o in outcomes), default=0):.3f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def summary(outcomes: list[Outcome], wall: float) -> str:
    width = max([len(o.spec.label) for o in outcomes] + [5])
    lines = [f"{'board':<{width}}  passed  failed  skipped  seconds"]
    for o in outcomes:
        setup = ", ".join(f"{k[:-8]} {float(v):.1f} s" for k, v in o.properties.items() if k.endswith("_seconds"))
        lines.append(f"{o.spec.label:<{width}}  {o.count('passed'):>6}  {o.failed:>6}  {o.count('skipped'):>7}  "
                     f"{o.seconds:>7.1f}" + (f"  ({setup})" if setup else "") + (f"  {o.problem}" if o.problem else ""))
    skipped = [(o, c) for o in outcomes for c in o.cases if c.status == "skipped"]
    if skipped:
        lines.append("skipped:")
        reasons: dict[tuple[str, str], list[str]] = {}
        for o, c in skipped:
            reasons.setdefault((o.spec.label, _reason(c.message)), []).append(c.name)
        for (label, reason), names in reasons.items():
            lines.append(f"  {label}: {len(names)} test{'s' if len(names) > 1 else ''}: {reason}")
    failed = [(o, c) for o in outcomes for c in o.cases if c.status in ("failed", "error")]
    if failed:
        lines.append("failed:")
        # the same error in many tests (a board that could not be set up) is shown once
        groups: dict[tuple[str, str, str], list[Case]] = {}
        for o, c in failed:
            key = (o.spec.label, c.status, c.message) if c.status == "error" else (o.spec.label, c.name, "")
            groups.setdefault(key, []).append(c)
        for (label, _, _), group in groups.items():
            c = group[0]
            what = c.name if len(group) == 1 else f"{len(group)} tests ({c.name}, ...)"
            lines.append(f"  {label}: {what} ({c.status}): {c.message.splitlines()[0] if c.message else ''}")
            lines.extend("      " + ln for ln in c.detail.strip().splitlines()[-15:])
    for o in outcomes:
        if o.problem and not failed:
            lines.append(f"{o.spec.label}: {o.problem}; its output ends:")
            lines.extend("      " + ln for ln in o.log.strip().splitlines()[-20:])
    total = {s: sum(o.count(s) for o in outcomes) for s in ("passed", "skipped")}
    nfailed = sum(o.failed for o in outcomes)
    lines.append(f"conformance: {total['passed']} passed, {nfailed} failed, {total['skipped']} skipped "
                 f"on {len(outcomes)} board{'s' if len(outcomes) != 1 else ''} in {wall:.1f} s")
    return "\n".join(lines)


def _reason(message: str) -> str:
    # pytest's skip message is "file:line: reason" in some versions, the reason in others
    return message.split(": ", 1)[1] if message.startswith(("/", "tests")) and ": " in message else message


def _refusal(spec: Spec) -> str | None:
    """Why a board on a serial port cannot take the suite (asked of the board first, bounded
    in time: an old or tiny MicroPython, or no REPL at all), or None."""
    from ..board.probe import ProbeError, probe, supported, unsupported_message
    opts = spec.options
    if "--imprint-port" not in opts:
        return None
    port = opts[opts.index("--imprint-port") + 1]
    prof = opts[opts.index("--imprint-board") + 1] if "--imprint-board" in opts else None
    try:
        identity = probe(port)
    except ProbeError as e:
        return str(e)
    reasons = supported(identity, prof)
    return unsupported_message(identity, reasons) if reasons else None


@click.command("conformance")
@click.option("--port", "ports", multiple=True, metavar="PORT[:PROFILE]",
              help="A board's serial port, optionally with its profile (repeatable).")
@click.option("--board", "board", metavar="PROFILE", help="Profile of the --port boards that name none.")
@click.option("--virtual", "virtual", multiple=True, metavar="PROFILE",
              help="Start a virtual board with this profile and test it (repeatable).")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the merged JUnit XML here (a testsuite per board).")
@click.option("-k", "keyword", help="Only tests matching this pytest -k expression.")
@click.option("--destructive", is_flag=True,
              help="Let the suite rewrite real boards' identity (keygen, install, lock).")
@click.option("--tests", "suite", type=click.Path(path_type=Path, file_okay=False, exists=True),
              default=SUITE, show_default=True, help="The suite's directory.")
@click.option("-v", "verbose", is_flag=True, help="Print each board's pytest output.")
def conformance(ports: tuple[str, ...], board: str | None, virtual: tuple[str, ...], junit: Path | None,
                keyword: str | None, destructive: bool, suite: Path, verbose: bool) -> None:
    """Run the conformance suite against boards on serial ports and/or virtual boards, one
    pytest worker per board in parallel; exit 0 only when nothing failed."""
    if not ports and not virtual:
        raise click.UsageError("name at least one board: --port PORT[:PROFILE] or --virtual PROFILE")
    try:
        specs = plan(ports, board, virtual, destructive)
    except profiles.ProfileError as e:
        raise click.UsageError(str(e)) from None
    refused = [(spec, why) for spec in specs for why in [_refusal(spec)] if why]
    for spec, why in refused:
        click.secho(f"{spec.label}: {why}", fg="red", err=True)
    specs = [spec for spec in specs if all(spec is not r[0] for r in refused)]
    if not specs:
        sys.exit(2)
    click.echo(f"conformance: {len(specs)} board{'s' if len(specs) > 1 else ''}: "
               + ", ".join(s.label for s in specs), err=True)

    def done(o: Outcome) -> None:
        state = o.problem or (f"{o.failed} failed" if o.failed else "ok")
        click.echo(f"  {o.spec.label}: finished in {o.seconds:.1f} s ({state})", err=True)
        if verbose:
            click.echo(f"----- {o.spec.label} -----\n{o.log.rstrip()}\n", err=True)

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="imprint-conformance-") as tmp:
        outcomes = run_workers(specs, keyword, suite.resolve(), Path(tmp), done)
        wall = time.monotonic() - t0
        if junit:
            merge_junit(outcomes, junit)
    click.echo(summary(outcomes, wall))
    if junit:
        click.echo(f"JUnit XML: {junit}")
    ok = all(o.failed == 0 and not o.problem for o in outcomes) and not refused
    sys.exit(0 if ok else 1)


if __name__ == "__main__":  # `python -m imprint_host.conformance.cli` before cli.py adds it
    conformance()
