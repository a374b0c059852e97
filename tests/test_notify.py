"""Alerts reach the editor's webhook, and never delay or stop posting (a loopback receiver)."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from webhook import webhook_server

from bot.errors import ConfigError
from bot.notify import Alert, Format, Notifier
from bot.settings import Settings, load_settings


def test_a_notice_is_posted_as_json_text_event_and_link():
    """The default shape is {"text", "event", "link"}, which Slack and Mattermost accept."""
    with webhook_server() as hook:
        notifier = Notifier(hook.url)
        notifier.send(Alert.HELD, "Held for review: no takeaways", "https://x.example/p/1")
        notifier.close()
        (got,) = hook.wait_for(1)
    assert got["json"] == {
        "text": "Held for review: no takeaways",
        "event": "held",
        "link": "https://x.example/p/1",
    }
    assert got["agent"].startswith("bwr-bot/")


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [(Format.SLACK, {"text": "Posted"}),
     (Format.DISCORD, {"content": "Posted", "allowed_mentions": {"parse": []}})],
)
def test_formats_for_other_webhooks(fmt, expected):
    """NOTIFY_FORMAT picks the shape a Slack-only or Discord webhook takes."""
    with webhook_server() as hook:
        with Notifier(hook.url, on={Alert.POSTED}, fmt=fmt) as notifier:
            notifier.send(Alert.POSTED, "Posted", "https://x.example/p/1")
        assert hook.wait_for(1)[0]["json"] == expected


def test_only_the_chosen_alerts_are_sent():
    """`posted` is not among the defaults; an alert not in NOTIFY_ON sends nothing."""
    assert "posted" not in Settings().notify_on
    with webhook_server() as hook:
        with Notifier(hook.url) as notifier:
            notifier.send(Alert.POSTED, "Posted")
            notifier.send(Alert.FAILED, "Failed")
        assert [r["json"]["event"] for r in hook.wait_for(1)] == ["failed"]
        assert hook.hits == 1


def test_a_failing_webhook_is_tried_again_with_backoff():
    """Two 503s, then delivered: three attempts, with waits between them."""
    waits: list[float] = []
    with webhook_server() as hook:
        hook.statuses = [503, 503]
        with Notifier(hook.url, backoff=0.5, sleep=waits.append) as notifier:
            notifier.send(Alert.FAILED, "Failed")
        assert len(hook.wait_for(1)) == 1
    assert hook.hits == 3
    assert waits == [0.5, 1.0]


def test_a_webhook_that_is_down_is_one_log_line_and_never_blocks(caplog):
    """Nothing listens: send returns at once, the alert is dropped with one warning, and the
    webhook's address (it holds a token) appears in no log line."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hooks/T0KEN-s3cret"
    caplog.set_level(logging.DEBUG)
    notifier = Notifier(url, sleep=lambda s: None)
    started = time.monotonic()
    notifier.send(Alert.AUTH, "Bluesky refused the app password")
    assert time.monotonic() - started < 0.5  # queued, not sent inline
    notifier.close()
    assert notifier.dropped == 1
    failed = [r.getMessage() for r in caplog.records if "notify.failed" in r.getMessage()]
    assert len(failed) == 1 and "alert=auth" in failed[0]
    assert all("T0KEN" not in r.getMessage() for r in caplog.records)
    assert "T0KEN" not in repr(notifier)


def test_a_refusing_webhook_is_not_retried():
    """A 404 (a deleted webhook) is final: one attempt, dropped."""
    with webhook_server() as hook:
        hook.statuses = [404]
        with Notifier(hook.url, sleep=lambda s: None) as notifier:
            notifier.send(Alert.FAILED, "Failed")
    assert hook.hits == 1 and notifier.dropped == 1


def test_without_a_url_nothing_is_sent():
    notifier = Notifier(None)
    notifier.send(Alert.FAILED, "Failed")
    notifier.close()
    assert not notifier.enabled and notifier.delivered == 0


ENV = {"FEED_URL": "feed.xml"}


def test_notify_settings_are_read_and_checked():
    """NOTIFY_ON and NOTIFY_FORMAT name what is wrong in one line; a wrong NOTIFY_URL is not
    echoed (it holds a token)."""
    s = load_settings({**ENV, "NOTIFY_URL": "https://hooks.example/T0KEN", "NOTIFY_ON":
                       "held, posted", "NOTIFY_FORMAT": "Discord"})
    assert (s.notify_on, s.notify_format) == (("held", "posted"), "discord")
    assert "T0KEN" not in repr(s)
    assert Notifier.from_settings(s).on == {Alert.HELD, Alert.POSTED}
    assert load_settings(ENV).notify_on == ("held", "failed", "auth", "feed")
    with pytest.raises(ConfigError, match="NOTIFY_ON: tweets is not an alert"):
        load_settings({**ENV, "NOTIFY_ON": "held,tweets"})
    with pytest.raises(ConfigError, match="NOTIFY_FORMAT"):
        load_settings({**ENV, "NOTIFY_FORMAT": "teams"})
    with pytest.raises(ConfigError) as err:
        load_settings({**ENV, "NOTIFY_URL": "ftp://T0KEN@hooks.example"})
    assert "T0KEN" not in str(err.value)
