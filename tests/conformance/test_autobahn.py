"""Autobahn|Testsuite, strict, in both roles: cases 1-7 and 10, and a sample of 12-13.

All of 9 (large messages), 12 and 13 (permessage-deflate) run from
``scripts/conformance``; ``AIRSOCKET_AUTOBAHN_CASES`` chooses the cases here.
The suite is installed by ``scripts/test`` (``install-autobahn.sh``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("AIRSOCKET_SHARED", ROOT.parent / "shared"))
AUTOBAHN = SHARED / "conformance" / "autobahn.py"
# Every case of groups 1-7 and 10, and the second case of each group of 12
# (compressed payloads) and 13 (every deflate parameter combination): all of
# 12 and 13 take about 20 minutes a role, for scripts/conformance. wstest
# matches a pattern as a prefix: "12.*.1" would take 12.1.10-18 too.
CASES = os.environ.get("AIRSOCKET_AUTOBAHN_CASES", "1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*,12.*.2,13.*.2")
COMMANDS = {
    "server": f"{sys.executable} -m airsocket serve --port {{port}}",
    "client": f"{sys.executable} {ROOT / 'tests/conformance/testee_client.py'} {{url}} {{agent}}",
}

pytestmark = [
    pytest.mark.conformance,
    pytest.mark.timeout(900),
    pytest.mark.skipif(not AUTOBAHN.exists(), reason=f"{AUTOBAHN} not found"),
]


@pytest.mark.parametrize("role", ["server", "client"])
def test_autobahn_strict(role: str, tmp_path: Path) -> None:
    """Every case passes strict (OK or INFORMATIONAL; NON-STRICT fails)."""
    command = [
        sys.executable,
        str(AUTOBAHN),
        role,
        "--cmd",
        COMMANDS[role],
        "--cases",
        CASES,
        "--strict",
        "--outdir",
        str(tmp_path / "report"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=880, cwd=ROOT)
    print(result.stdout[-4000:], result.stderr[-2000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 fail (strict)" in result.stdout
