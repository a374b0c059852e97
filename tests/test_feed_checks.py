"""The checks of a daemon of many bots (bot.feed_checks): a conditional GET per feed on one
event loop, by the same rules as every feed fetch — validators sent, redirects followed only
to addresses that may be fetched, a deadline on the whole request — where one host that never
answers holds up nobody else."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from drivers.many_feeds import ManyFeeds

from bot.feed import Validators
from bot.feed_checks import Check, FeedChecks


@pytest.fixture
def feeds() -> Iterator[ManyFeeds]:
    with ManyFeeds() as f:
        yield f


@pytest.fixture
def checks() -> Iterator[FeedChecks]:
    c = FeedChecks(deadline=2.0)
    yield c
    c.close()


def check(checks: FeedChecks, url: str, validators: Validators | None = None) -> Check:
    return checks.submit(checks.check(url, validators)).result(timeout=30)


def test_a_feed_with_its_validators_answers_304_and_without_them_200(feeds, checks):
    """The ETag of the last 200 is sent back: an unchanged feed is a 304 with no body; a first
    fetch is the feed with its new validators."""
    first = check(checks, feeds.url(1))
    assert first.result is not None and first.result.status == 200
    assert first.result.validators.etag == feeds.etag(1) and b"<rss" in (first.result.body or b"")
    again = check(checks, feeds.url(1), first.result.validators)
    assert again.not_modified and again.result is not None and again.result.body is None


def test_a_redirect_is_followed_and_one_to_another_scheme_is_refused(feeds, checks):
    """A feed that moved (301) is read at its new address; one that redirects to a file:// or
    ftp:// address is one line of error, never followed."""
    feeds.redirects["/f/1"] = "/f/2"
    moved = check(checks, feeds.url(1), Validators(feeds.etag(2)))
    assert moved.not_modified
    feeds.redirects["/f/3"] = "file:///etc/passwd"
    refused = check(checks, feeds.url(3))
    assert refused.result is None
    assert refused.error == "feed file:///etc/passwd is not an http(s) address: check FEED_URL"


def test_a_public_feed_is_never_redirected_to_a_private_address(feeds):
    """Feed 1 stands for a public feed (its loopback address declared public to the guard, as
    the feed tests do); a redirect to another loopback address is refused before any
    connection, by the same guard as every fetch (bot.net), and the check is one line."""
    from bot.net import Guard

    feeds.redirects["/f/1"] = feeds.url(2).replace("127.0.0.1", "127.0.0.2")
    checks = FeedChecks(deadline=5.0, guard=Guard(trusted=["127.0.0.1"]))
    try:
        fine = check(checks, feeds.url(3))
        refused = check(checks, feeds.url(1))
    finally:
        checks.close()
    assert fine.result is not None and fine.result.status == 200  # public: fetched, guarded
    assert refused.result is None
    assert refused.error == (f"feed {feeds.url(1)}: refused: 127.0.0.2 is a loopback address "
                             "(127.0.0.2)")
    assert "/f/2" not in feeds.asked  # nothing reached the private address


def test_too_many_redirects_is_one_line(feeds, checks):
    """A feed that redirects in a circle stops after five redirects, with one line."""
    feeds.redirects["/f/1"] = "/f/2"
    feeds.redirects["/f/2"] = "/f/1"
    looped = check(checks, feeds.url(1))
    assert looped.error == f"feed {feeds.url(1)} redirects more than 5 times"


def test_a_host_that_never_answers_holds_up_no_other_feed(feeds):
    """While one host accepts and never answers, the other feeds' checks all come back; that
    one ends at its deadline with one line."""
    checks = FeedChecks(deadline=8.0)  # ample for 50 loopback GETs on a busy machine
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    slow_url = f"http://127.0.0.1:{silent.getsockname()[1]}/feed"
    try:
        async def both() -> tuple[bool, list[Check], Check]:
            slow = asyncio.ensure_future(checks.check(slow_url, None))
            fast = await asyncio.gather(*(checks.check(feeds.url(n), None) for n in range(50)))
            pending = not slow.done()
            return pending, list(fast), await slow

        pending, fast, slow = checks.submit(both()).result(timeout=60)
    finally:
        silent.close()
        checks.close()
    assert pending, "the others waited for the silent host"
    assert all(c.result is not None and c.result.status == 200 for c in fast)
    assert slow.error == f"feed {slow_url} timed out after 8 s"
