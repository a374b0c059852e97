"""Crash tests: the posting process is SIGKILLed at each step, or the PDS goes away mid-post; after
a rerun every thread exists exactly once and whole (tests/drivers/publish_issue.py posts)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bluesky_helpers import assert_whole_once, issue_thread
from conftest import BWR_FEED, SUBSTACK_FEEDS

pytestmark = pytest.mark.pds

DRIVER = Path(__file__).resolve().parent / "drivers" / "publish_issue.py"
APPLY = "com.atproto.repo.applyWrites"


class Runs:
    """Starts the driver for one account and issue, keeping its 'database' and session files."""

    def __init__(self, proxy, account, tmp_path: Path, feed: Path = BWR_FEED, index: int = 0):
        self.proxy, self.account, self.feed, self.index = proxy, account, feed, index
        self.record = tmp_path / "record.json"
        self.session = tmp_path / "session"
        self.current: subprocess.Popen[str] | None = None

    def start(self, **env: str) -> subprocess.Popen[str]:
        full = {
            **os.environ,
            "BSKY_SERVICE": self.proxy.url,
            "BSKY_HANDLE": self.account.handle,
            "BSKY_APP_PASSWORD": self.account.app_password,
            **env,
        }
        self.current = subprocess.Popen(
            [sys.executable, str(DRIVER), str(self.feed), str(self.index), str(self.record),
             str(self.session)],
            env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        return self.current

    def kill(self, _request=None) -> None:
        if self.current is not None:
            self.current.send_signal(signal.SIGKILL)

    def finish(self, proc: subprocess.Popen[str]) -> tuple[int, str]:
        out, err = proc.communicate(timeout=120)
        return proc.returncode, out + err


def _rerun_completes(runs: Runs, pds, seed) -> None:
    runs.proxy.clear()
    code, output = runs.finish(runs.start())
    assert code == 0, output
    assert runs.record.exists()
    assert_whole_once(pds, runs.account.did, seed)


@pytest.mark.parametrize(
    "moment",
    [
        "signed_in",  # createSession answered: nothing sent yet
        "before_write",  # uploading the card image
        "write_arrives_lost",  # applyWrites sent, never reaches the PDS
        "write_arrives",  # applyWrites sent; the PDS still gets it after the client died
        "write_answered",  # the PDS wrote and answered; the client dies before reading it
        "after_publish",  # publish returned; killed before the database recorded it
    ],
)
def test_killed_at_each_step_then_rerun_posts_exactly_once(pds, pds_proxy, tmp_path, moment):
    """Whenever the process dies, the next run leaves exactly one whole thread."""
    account = pds.new_account(moment.replace("_", "")[:9])
    seed = issue_thread(BWR_FEED, 0)
    runs = Runs(pds_proxy, account, tmp_path)
    env = {}
    if moment == "signed_in":
        pds_proxy.on_response("com.atproto.server.createSession", runs.kill, times=1)
    elif moment == "before_write":
        pds_proxy.on_request("com.atproto.repo.uploadBlob", runs.kill, times=1)
    elif moment == "write_arrives_lost":
        pds_proxy.on_request(APPLY, runs.kill, times=1)
        pds_proxy.drop(APPLY)
    elif moment == "write_arrives":
        pds_proxy.on_request(APPLY, runs.kill, times=1)
    elif moment == "write_answered":
        pds_proxy.drop(APPLY, after_forward=True)  # written, but the answer never arrives

        def die(_request):  # and the process dies before it can look
            pds_proxy.delay("com.atproto.repo.getRecord", 5, times=None)
            runs.kill()

        pds_proxy.on_response(APPLY, die, times=1)
    else:
        env["BOT_FAILPOINT"] = "after_publish"
    code, output = runs.finish(runs.start(**env))
    assert code == -signal.SIGKILL, output
    assert not runs.record.exists()
    time.sleep(0.6)  # let a write the dead process left in flight finish at the PDS
    pds_proxy.reset_counts()
    _rerun_completes(runs, pds, seed)
    if moment in ("write_answered", "after_publish"):
        assert pds_proxy.count(APPLY) == 0  # found on the PDS, not written again


def test_pds_gone_mid_post_then_back(pds, pds_proxy, tmp_path):
    """The PDS vanishes right after taking the write: the run gives up; the next one finds the
    thread complete and writes nothing."""
    account = pds.new_account("outage")
    seed = issue_thread(BWR_FEED, 0)
    runs = Runs(pds_proxy, account, tmp_path)
    pds_proxy.drop(APPLY, after_forward=True)

    def outage(_request):
        for method in ("com.atproto.repo.getRecord", APPLY, "com.atproto.repo.listRecords"):
            pds_proxy.drop(method, times=None)

    pds_proxy.on_response(APPLY, outage, times=1)
    code, output = runs.finish(runs.start(DRIVER_MAX_ATTEMPTS="2"))
    assert code == 1 and "did not answer after 2 tries" in output, output
    assert seed.link in output
    pds_proxy.reset_counts()
    _rerun_completes(runs, pds, seed)
    assert pds_proxy.count(APPLY) == 0
    assert pds_proxy.count("com.atproto.server.createSession") == 0  # the saved session


def test_kills_at_random_moments_on_unseen_issues(pds, pds_proxy, tmp_path):
    """Killed at random times while posting issues of real Substack feeds, each issue still ends
    up posted exactly once after a final clean run."""
    rng = random.Random(20250706)
    for n, feed in enumerate(SUBSTACK_FEEDS[:2]):
        account = pds.new_account(f"random{n}")
        seed = issue_thread(feed, 0)
        runs = Runs(pds_proxy, account, tmp_path / f"feed{n}", feed, 0)
        (tmp_path / f"feed{n}").mkdir()
        for _ in range(3):
            proc = runs.start()
            time.sleep(rng.uniform(0.5, 3.0))
            runs.kill()
            runs.finish(proc)
            time.sleep(0.3)
            if runs.record.exists():
                break
        _rerun_completes(runs, pds, seed)
