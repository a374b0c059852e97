"""DNS failing for the feed's host: each pass retries the lookup with backoff, the daemon's
passes back off too, and the whole outage is one log line (`poll.failed`), not one per pass;
when the name resolves again the bot says so once and reads the feed. The newsletter is a real
server on loopback; its name is resolved by the test's resolver, which can fail like a DNS
server does (EAI_AGAIN), the way tests/conftest.py already refuses names that are not
loopback."""

from __future__ import annotations

import logging
import socket

import pytest
from drivers.newsletter_feed import NewsletterServer

from bot.service.daemon import BotRunner
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import Store

HOST = "bwr-newsletter.test"


@pytest.fixture
def dns(monkeypatch):
    """{"up": bool}: whether HOST resolves (to 127.0.0.1)."""
    state = {"up": True, "lookups": 0}
    resolve = socket.getaddrinfo  # the loopback guard of tests/conftest.py

    def getaddrinfo(host, *args, **kwargs):
        if host == HOST:
            state["lookups"] += 1
            if not state["up"]:
                raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
            host = "127.0.0.1"
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return state


def test_a_dns_outage_is_retried_with_backoff_and_logged_once(dns, tmp_path, caplog):
    with NewsletterServer() as nl:
        nl.add("one")
        port = nl.base.rsplit(":", 1)[1]
        url = f"sqlite:///{tmp_path / 'bot.db'}"
        settings = Settings(feed_url=f"http://{HOST}:{port}/feed", database_url=url,
                            poll_interval=10)
        store = Store(url)
        store.upgrade()
        waits: list[float] = []
        worker = Worker(settings, store, cache_dir=tmp_path / "cache",
                        feed_options={"retries": 2, "backoff": 0.5, "sleep": waits.append})
        runner = BotRunner(settings, worker, max_interval=3600)
        try:
            with caplog.at_level(logging.INFO):
                dns["up"] = False
                intervals = []
                for _ in range(4):
                    runner.run_pass()
                    intervals.append(runner.interval)
                lookups = dns["lookups"]
                dns["up"] = True
                runner.run_pass()
                recovered = runner.interval
                dns["up"] = False  # a second outage is news again
                runner.run_pass()
        finally:
            worker.close()
            store.close()
    # Each pass asked three times, waiting longer each time; the passes spread out.
    assert lookups >= 4 * 3
    assert waits[:2] == pytest.approx([0.5, 1.0], rel=0.11)
    assert intervals == [20, 40, 80, 160]
    assert recovered == 10
    failed = [m for m in caplog.messages if m.startswith("poll.failed")]
    assert len(failed) == 2, failed  # one per outage
    assert "Temporary failure in name resolution" in failed[0]
    assert [m for m in caplog.messages if m.startswith("daemon.recovered")]
    assert nl.counts["/feed"] == 1  # read once, when the name resolved
