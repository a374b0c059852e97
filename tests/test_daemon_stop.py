"""SIGTERM in the middle of a thread's write: the daemon (`python -m bot run`) finishes the
write, or, when the PDS does not answer, abandons it — atomically, applyWrites is all or nothing
— and exits 0 without waiting for the answer; started again, it completes the issue, once.
The reference PDS behind the fault proxy, a newsletter on loopback."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from drivers.newsletter_feed import NewsletterServer
from test_daemon import bot_env, start_bot, stop
from test_several_bots import composed, roots, threads

from bot.service.daemon import STOP_GRACE

APPLY = "com.atproto.repo.applyWrites"
HANG = 40.0  # seconds the PDS's answer is held: far past the daemon's grace


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


@pytest.mark.pds
def test_sigterm_while_the_pds_hangs_on_the_write_exits_without_it_and_posts_once(
        nl, tmp_path, pds, pds_proxy):
    acct = pds.new_account("sterm")
    nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    env = bot_env(nl.feed_url, tmp_path / "bot.db", BSKY_SERVICE=pds_proxy.url,
                  BSKY_HANDLE=acct.handle, BSKY_APP_PASSWORD=acct.app_password,
                  CARDS="off")
    log = tmp_path / "run.log"
    proc: list[subprocess.Popen[bytes]] = []
    pds_proxy.delay(APPLY, HANG)
    pds_proxy.on_request(APPLY, lambda _req: proc[0].send_signal(signal.SIGTERM), times=1)
    answered: list[float] = []
    pds_proxy.on_response(APPLY, lambda _req: answered.append(time.monotonic()), times=1)
    proc.append(start_bot(["run"], env, log))
    code = proc[0].wait(timeout=HANG * 3)
    exited = time.monotonic()
    said = log.read_text()
    assert code == 0, said[-3000:]
    # It left before the PDS answered the write it was waiting for.
    assert not answered or answered[0] > exited, said[-3000:]
    assert f"daemon.abandoned after={STOP_GRACE}" in said
    assert "Traceback" not in said

    # Started again: the thread is completed (or found, when the held write landed meanwhile).
    again = start_bot(["run"], env, tmp_path / "run2.log")
    try:
        deadline = time.monotonic() + HANG + 120
        while time.monotonic() < deadline and nl.link("one") not in roots(pds, acct):
            time.sleep(1)
        time.sleep(HANG)  # the held write reaches the PDS too: it must not make a second thread
        want = threads(pds, acct)
    finally:
        assert stop(again) == 0
    assert roots(pds, acct) == {nl.link("one"): 1}
    # Whole: as many posts as the daemons composed (both lives compose it alike).
    assert want == composed([log, tmp_path / "run2.log"])
