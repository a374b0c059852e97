"""DNS failing for the feed's host: each pass retries the lookup with backoff, the daemon's
passes back off too, and the whole outage is one log line (`poll.failed`), not one per pass;
when the name resolves again the bot says so once and reads the feed. The same for the PDS
(BSKY_SERVICE's name): one line when the outage starts, one when it ends, and the issue posted
once when the name resolves. The newsletter and the reference PDS are real servers on loopback;
their names are resolved by the test's resolver, which can fail like a DNS server does
(EAI_AGAIN), the way tests/conftest.py already refuses names that are not loopback."""

from __future__ import annotations

import dataclasses
import logging
import socket

import pytest
from drivers.newsletter_feed import NewsletterServer
from test_worker import settings_for, thread_length

from bot.bluesky.connection import Connection
from bot.bluesky.publisher import Publisher
from bot.bluesky.session import MemorySessionKeeper
from bot.service.daemon import BotRunner
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import Store

HOST = "bwr-newsletter.test"
PDS_HOST = "bwr-pds.test"


def _resolver(monkeypatch, name: str) -> dict:
    """{"up": bool, "lookups": int}: whether `name` resolves (to 127.0.0.1)."""
    state = {"up": True, "lookups": 0}
    resolve = socket.getaddrinfo  # the loopback guard of tests/conftest.py

    def getaddrinfo(host, *args, **kwargs):
        if host == name:
            state["lookups"] += 1
            if not state["up"]:
                raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
            host = "127.0.0.1"
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return state


@pytest.fixture
def dns(monkeypatch):
    return _resolver(monkeypatch, HOST)


@pytest.fixture
def pds_dns(monkeypatch):
    return _resolver(monkeypatch, PDS_HOST)


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


@pytest.mark.pds
def test_a_dns_outage_of_the_pds_is_a_line_when_it_starts_and_one_when_it_ends(
        pds_dns, pds, tmp_path, caplog):
    """BSKY_SERVICE's name stops resolving while an issue is due: the first pass retries with
    backoff, later passes try once and the daemon's passes spread out; the outage is one line
    (what, since when, that it keeps retrying), not a retry and a deferred issue per pass. The
    name resolves again: one line, and the issue is posted, once and whole."""
    acct = pds.new_account("dnspds")
    with NewsletterServer() as nl:
        nl.add("one")
        url = f"sqlite:///{tmp_path / 'bot.db'}"
        service = f"http://{PDS_HOST}:{pds.url.rsplit(':', 1)[1]}"
        settings = dataclasses.replace(settings_for(nl.feed_url, url, service, acct),
                                       poll_interval=10)
        store = Store(url)
        store.upgrade()
        waits: list[float] = []
        publisher = Publisher(Connection.from_settings(settings, MemorySessionKeeper(),
                                                       sleep=waits.append))
        worker = Worker(settings, store, cache_dir=tmp_path / "cache", publisher=publisher,
                        feed_options={"retries": 0})
        runner = BotRunner(settings, worker, max_interval=3600)
        try:
            with caplog.at_level(logging.DEBUG):
                pds_dns["up"] = False
                intervals = []
                for _ in range(4):
                    runner.run_pass()
                    intervals.append(runner.interval)
                lookups = pds_dns["lookups"]
                pds_dns["up"] = True
                runner.run_pass()
                recovered = runner.interval
        finally:
            worker.close()
            publisher.close()
            store.close()
    # The first pass asked five times, waiting longer each time; the others once each.
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert lookups == 5 + 3
    assert intervals == [20, 40, 80, 160]
    assert recovered == 10
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    down = [m for m in said if m.startswith("bluesky.unreachable")]
    assert len(down) == 1, said
    assert f"service={service}" in down[0] and "since=" in down[0]
    assert "Temporary failure in name resolution" in down[0] and "retrying" in down[0]
    assert not [m for m in said if m.startswith(("bluesky.retry", "issue.deferred"))], said
    up = [m for m in caplog.messages if m.startswith("bluesky.reachable")]
    assert len(up) == 1 and "lasted=" in up[0]
    # Nothing lost, nothing twice: the issue is on the account once, whole.
    records = pds.list_records(acct.did)
    assert [r["value"]["embed"]["external"]["uri"] for r in records
            if "reply" not in r["value"]] == [nl.link("one")]
    assert len(records) == thread_length(nl, "one")
