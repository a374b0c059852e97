"""`python -m benchmarks --quick` runs and reports every figure. Timed figures are reported, not
asserted (a shared machine's clock decides them); figures that COUNT things (requests, sign-ins,
reads, transactions) do not depend on the machine, and their targets are asserted."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.pds

ROOT = Path(__file__).resolve().parent.parent

# The figures the README's performance section promises, by name.
FIGURES = {
    "read+compose 20-item feed",
    "read+compose seed issue x20",
    "compose with 6 slow card pages",
    "status, 5,000 issues x 3 bots",
    "9 MB paragraph: refused",
    "first pass over a huge feed",
    "publish 15-post thread: time",
    "publish 15-post thread: HTTP requests",
    "publish 15-post thread: createSession",
    "createSession per 100 polls",
    "304 poll: CPU time",
    "304 poll: PDS requests",
    "daemon RSS after startup",
    "daemon RSS after 100 polls",
    "100 bots, 304 pass: wall time",
    "100 bots, 304 pass: PDS requests",
    "100 bots, 304 pass: daemon RSS",
    "10 bots on 10 accounts: applyWrites per thread",
    "10 bots on 10 accounts: createSession per account",
    "pass: PDS reads per thread",
    "pass posting one thread: DB transactions",
    "scale: daemon CPU per 304 check",
    "scale: due checks done",
    "scale: feeds checked in the last interval",
    "scale: start-up",
    "scale: daemon RSS",
    "scale: PDS requests while none is due",
    "scale: status --check",
    "scale: bare httpx loop CPU per GET",
}

# Counted, not timed: their targets hold on any machine.
MET = {
    "publish 15-post thread: HTTP requests",
    "publish 15-post thread: createSession",
    "createSession per 100 polls",
    "304 poll: PDS requests",
    "100 bots, 304 pass: PDS requests",
    "10 bots on 10 accounts: applyWrites per thread",
    "10 bots on 10 accounts: createSession per account",
    "pass: PDS reads per thread",
}
# Counted, with its target (3) not met yet: it may not get worse than it is (7).
NOT_WORSE = {"pass posting one thread: DB transactions": 7}


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def test_quick_run_reports_every_figure_with_numbers(pds, tmp_path: Path) -> None:
    """The benchmark command prints the table and writes JSON with a number for every figure."""
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out), "--pds-url", pds.url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    rows = {row["figure"]: row for row in data["figures"]}
    assert set(rows) == FIGURES
    assert data["quick"] is True and data["runs"] == 1
    for name, row in rows.items():
        assert _number(row["value"]), name
        assert row["comparison"] is None or _number(row["comparison"]), name
        assert row["ratio"] is None or _number(row["ratio"]), name
        assert isinstance(row["met"], bool), name
        if name in MET:
            assert row["met"] is True, (name, row["value"], row["target"])
        if name in NOT_WORSE:
            assert row["value"] <= NOT_WORSE[name], (name, row["value"])
        assert row["target"], name
    # The table on stdout has a line per figure.
    table = done.stdout.splitlines()
    assert table[0].split()[:2] == ["figure", "value"]
    assert len(table) == 2 + len(FIGURES)
