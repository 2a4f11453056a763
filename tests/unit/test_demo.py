"""`make demo` (imprint demo): the main job on a virtual board, end to end."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_runs_the_whole_story():
    r = subprocess.run([sys.executable, "-m", "imprint_host.cli", "demo", "--profile", "nrf52840-dk"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "the board's self-report:" in out and "micropython: 1.27.0" in out
    assert "imprint: 0.1.0" in out and "board: nrf52840-dk" in out
    assert "provisioned in" in out and "IDevID 2.5.4.5=IMP-" in out and "FDO GUID" in out
    guid0 = re.search(r"FDO GUID ([0-9a-f]{32})", out).group(1)
    assert "4. sold: the voucher is extended to the owner's key" in out
    assert re.search(r"5\. owner: .* TO0 registered the device in [0-9.]+ s", out)
    m = re.search(r"6\. power-up: TO1 found the owner, TO2 onboarded the board in [0-9.]+ s "
                  r"\(through the serial relay\); new GUID ([0-9a-f]{32}), management "
                  r"credentials for coap://127\.0\.0\.1:\d+ \(kid ([0-9a-f]{8})\)", out)
    assert m and m.group(1) != guid0
    # the endpoint knew the board by the credential the owner issued it (its kid)
    assert re.search(r"7\. EDHOC \+ OSCORE to coap://.*: handshake \d+ ms, GET /mgmt/hello "
                     r"\d+ ms on the board; the endpoint answered 69 \{.*'hello': "
                     rf"':device-{m.group(2)}'", out)
    assert re.search(r"done in [0-9.]+ s", out)
