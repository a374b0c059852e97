"""The feed's fetch as an attacker would use it: redirects to the host's own network, and secrets
in FEED_URL. Real HTTP servers on loopback (tests/card_site.py): 127.0.0.1 stands in for a
public site (the guard is told to trust it, as the card guard's tests do), 127.0.0.2 is the
private address an attacker aims at."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from card_site import Route, Site

from bot.errors import FeedError
from bot.feed import fetch_feed
from bot.net import Guard

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
def public() -> Iterator[Site]:
    s = Site("127.0.0.1")
    yield s
    s.close()


@pytest.fixture
def private() -> Iterator[Site]:
    s = Site("127.0.0.2")
    yield s
    s.close()


def as_public(site: Site) -> Guard:
    return Guard(trusted=[site.host])


def redirect(to: str) -> Route:
    return Route(b"", status=302, headers={"Location": to})


def test_a_public_feed_redirecting_to_a_private_address_is_not_followed(public, private):
    private.routes["/latest/meta-data/"] = Route(b"secret-role", "text/plain")
    public.routes["/feed"] = redirect(private.url("/latest/meta-data/"))
    with pytest.raises(FeedError) as info:
        fetch_feed(public.url("/feed"), guard=as_public(public), retries=2,
                   sleep=lambda s: None)
    assert "refused: 127.0.0.2 is a loopback address" in str(info.value)
    assert private.total == 0
    assert public.hits["/feed"] == 1  # refused at once: asking again will not help


def test_a_redirect_to_ipv6_loopback_is_refused_before_any_connection(public):
    public.routes["/feed"] = redirect("http://[::1]:9/latest/meta-data/")
    with pytest.raises(FeedError, match=r"refused: ::1 is a loopback address"):
        fetch_feed(public.url("/feed"), guard=as_public(public), retries=0)


def test_a_redirect_between_public_addresses_is_followed(public):
    public.routes["/feed"] = redirect(public.url("/moved"))
    public.routes["/moved"] = Route(RSS, "application/rss+xml")
    assert fetch_feed(public.url("/feed"), guard=as_public(public)).body == RSS


def test_a_feed_configured_at_a_private_address_is_followed_anywhere(public, private):
    """The operator chose a private feed (an intranet, the tests): its redirects are its own."""
    private.routes["/feed"] = Route(RSS, "application/rss+xml")
    public.routes["/feed"] = redirect(private.url("/feed"))
    assert fetch_feed(public.url("/feed")).body == RSS  # 127.0.0.1 is private by default


def test_more_than_five_redirects_are_refused(public):
    for n in range(7):
        public.routes[f"/r{n}"] = redirect(public.url(f"/r{n + 1}"))
    with pytest.raises(FeedError, match="redirects more than 5 times"):
        fetch_feed(public.url("/r0"), guard=as_public(public), retries=0)
    assert public.total == 6


def test_credentials_and_tokens_in_feed_url_never_reach_errors_or_logs(public, caplog):
    caplog.set_level(logging.DEBUG, logger="bot")  # httpx is kept at WARNING (bot.log)
    url = f"http://reader:hunter2@{public.host}:{public.port}/feed?token=s3cr3t&page=1"
    with pytest.raises(FeedError) as info:
        fetch_feed(url, retries=0)
    assert "hunter2" not in str(info.value) and "s3cr3t" not in str(info.value)
    assert "***@" in str(info.value) and "token=***" in str(info.value)
    public.routes["/feed?token=s3cr3t&page=1"] = Route(RSS, "application/rss+xml")
    fetch_feed(url)
    assert "feed.fetched" in caplog.text
    assert "hunter2" not in caplog.text and "s3cr3t" not in caplog.text


def test_any_line_the_bot_logs_has_urls_redacted_and_control_characters_dropped():
    """The formatter `bot.log.configure` installs: also lines that are not the bot's events
    (a library logging a request's URL at WARNING)."""
    from bot.log import _Redacting

    record = logging.LogRecord("httpx", logging.WARNING, __file__, 1,
                               "GET %s \x1b]0;owned\x07", ("https://u:pw@h.example/f?token=t",),
                               None)
    line = _Redacting("%(message)s").format(record)
    assert line == "GET https://***@h.example/f?token=*** ]0;owned"
