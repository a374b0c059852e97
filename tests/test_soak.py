"""The soak, short: `python -m benchmarks soak --minutes 2` (three daemons, nine bots over three
accounts, the PDS behind the fault proxy, flapping feeds, Postgres crashing, SIGKILLs) ends with
every issue on its accounts once and whole, and its report shows the faults it survived. The
hour-long run and its report: benchmarks/README.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.pds
@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_two_minutes_of_faults_lose_nothing_and_post_nothing_twice(pds, tmp_path):
    report = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "soak", "--minutes", "2", "--settle", "6",
         "--pds-url", pds.url, "--json", str(report), "--keep", str(tmp_path / "logs")],
        cwd=ROOT, capture_output=True, text=True, timeout=880, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    got = json.loads(report.read_text(encoding="utf-8"))
    assert got["findings"] == []
    assert got["settle_seconds"] is not None
    assert "findings: 0 (0 lost, 0 duplicates)" in done.stdout
    # It was under fire: the PDS, the feeds, Postgres and the daemons all had faults.
    assert sum(got["pds_faults"].values()) >= 10, got["pds_faults"]
    assert sum(got["feed_faults"].values()) >= 3, got["feed_faults"]
    assert got["postgres_crashes_at_s"] and got["kills"] >= 1, got
    assert got["issues_published"] >= 6 and got["issues_due"] == 3 * got["issues_published"]
    assert f"seed {got['seed']}" in done.stdout
