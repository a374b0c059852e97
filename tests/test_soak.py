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
sys.path.insert(0, str(ROOT))
from benchmarks.soak_check import judge  # noqa: E402


def _thread(did: str, link: str, n: int, tag: str = "") -> list[dict]:
    root = f"at://{did}/app.bsky.feed.post/{tag}{link[-1]}0"
    ref = {"uri": root, "cid": "c"}
    return [{"uri": root, "value": {"embed": {"external": {"uri": link}}}}] + [
        {"uri": f"{root}{p}", "value": {"reply": {"root": ref, "parent": ref}}}
        for p in range(1, n)]


def test_the_checker_finds_every_kind_of_wrong():
    """A duplicate, a lost issue, half a thread, a reply without its root, a stray thread and
    an issue the database left posting are each a finding; the right state is none."""
    a, b = "did:plc:a", "did:plc:b"
    due = {"a": {"https://x/p/1", "https://x/p/2"}, "b": {"https://x/p/1", "https://x/p/2"}}
    counts = {"https://x/p/1": {3}, "https://x/p/2": {4, 5}}
    rows = [(bot, link, "posted", None) for bot in ("n-a", "n-b") for link in sorted(counts)]
    right = {"a": _thread(a, "https://x/p/1", 3) + _thread(a, "https://x/p/2", 5),
             "b": _thread(b, "https://x/p/1", 3) + _thread(b, "https://x/p/2", 4)}
    assert judge(right, due, counts, rows) == []

    orphan = {"uri": f"at://{b}/app.bsky.feed.post/zz",
              "value": {"reply": {"root": {"uri": f"at://{b}/app.bsky.feed.post/gone"}}}}
    wrong = {"a": _thread(a, "https://x/p/1", 3) + _thread(a, "https://x/p/1", 3, "dup")
             + _thread(a, "https://x/p/9", 1),
             "b": _thread(b, "https://x/p/1", 2) + _thread(b, "https://x/p/2", 4) + [orphan]}
    rows[1] = ("n-a", "https://x/p/2", "posting", None)
    found = judge(wrong, due, counts, rows)
    assert "a: DUPLICATE: 2 threads for https://x/p/1" in found
    assert "a: LOST: https://x/p/2 is not posted" in found
    assert "a: a stray thread for https://x/p/9" in found
    assert "b: half a thread for https://x/p/1: 2 posts, the composer gives [3]" in found
    assert f"b: a reply whose root is not there: {orphan['uri']}" in found
    assert "database: n-a https://x/p/2 is posting: -" in found
    assert "database: 3 of 4 issues posted" in found


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
