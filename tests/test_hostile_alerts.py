"""Feed text reaching the operator's channels as an attacker wrote it: a title that pings a whole
Discord server or Slack channel, a link that runs a command when the alert's suggestion is
pasted, an OSC escape that retitles the operator's terminal. A newsletter and a webhook receiver
on loopback, a real poll pass; the hold happens before any Bluesky call."""

from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from drivers.newsletter_feed import NewsletterServer
from hypothesis import given
from hypothesis import strategies as st
from webhook import webhook_server

from bot.cli.app import cli
from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.core.thread import compose
from bot.notify import Alert, Format, Notice, Notifier, slack_escape
from bot.service.outcomes import Outcome
from bot.service.worker import Worker
from bot.settings import Settings

HOSTILE_TITLE = "@everyone <!channel> @here Hi \x1b]0;owned\x07 \x9b31m there"
HOSTILE_SLUG = "x$(touch${IFS}pwned)`touch${IFS}pwned2`"
CONTROLS = [chr(c) for c in (*range(0, 9), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))]


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


def held_alert(nl, db_url, store, tmp_path, fmt: Format) -> dict:
    nl.add(HOSTILE_SLUG, title=HOSTILE_TITLE, takeaways=False)
    settings = Settings(feed_url=nl.feed_url, database_url=db_url, post_delay=0, cards="off",
                        bsky_service="http://127.0.0.1:9", bsky_handle="bot.test",
                        bsky_app_password="abcd-efgh-ijkl-mnop")
    with webhook_server() as hook:
        settings = dataclasses.replace(settings, notify_url=hook.url, notify_format=fmt.value)
        with Worker(settings, store, cache_dir=tmp_path / "c",
                    feed_options={"retries": 0}) as worker:
            (held,) = worker.poll().outcomes
        assert held.outcome is Outcome.HELD
        (got,) = hook.wait_for(1)
    return got["json"]


def test_a_discord_alert_pings_nobody_and_carries_no_escape(nl, db_url, store, tmp_path):
    payload = held_alert(nl, db_url, store, tmp_path, Format.DISCORD)
    assert payload["allowed_mentions"] == {"parse": []}
    assert "\x1b" not in payload["content"] and "\x07" not in payload["content"]
    assert "Hi ]0;owned" in payload["content"]


def test_a_slack_alert_escapes_feed_text(nl, db_url, store, tmp_path):
    payload = held_alert(nl, db_url, store, tmp_path, Format.GENERIC)
    text = payload["text"]
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text
    assert "@everyone" not in text and "@here" not in text and "@\u200beveryone" in text
    assert "\x1b" not in text


def test_the_suggested_command_pasted_into_a_shell_runs_nothing(nl, db_url, store, tmp_path):
    """The alert's `approve --entry …` is pasted into a shell as it is: the link stays one
    argument and nothing in it runs."""
    payload = held_alert(nl, db_url, store, tmp_path, Format.DISCORD)
    text = payload["content"]
    command = text[text.index("`approve --entry ") + 1:text.index("` posts it")]
    work = tmp_path / "shell"
    work.mkdir()
    shown = subprocess.run(["bash", "-c", f"printf '%s\\n' {command.removeprefix('approve ')}"],
                           cwd=work, capture_output=True, text=True, check=True)
    assert shown.stdout.splitlines() == ["--entry", nl.link(HOSTILE_SLUG)]
    assert list(work.iterdir()) == []
    assert shlex.split(command) == ["approve", "--entry", nl.link(HOSTILE_SLUG)]


def test_control_characters_never_reach_posts_or_status(nl, db_url, store, tmp_path,
                                                        monkeypatch):
    nl.add("esc", title=HOSTILE_TITLE, published=datetime.now(UTC) - timedelta(hours=1))
    profile = load_profile()
    (issue,) = parse_feed(nl.feed_bytes(), profile).issues
    # (ftfy reads the C1 CSI as the Windows-1252 "›" it usually is: printable, harmless)
    assert issue.title.startswith("@everyone <!channel> @here Hi ]0;owned ")
    assert not any(c in issue.title for c in CONTROLS)
    for thread in compose(issue, profile):
        for post in thread:
            assert not any(c in post.text for c in CONTROLS)
    settings = Settings(feed_url=nl.feed_url, database_url=db_url, cards="off")
    with Worker(settings, store, cache_dir=tmp_path / "c", feed_options={"retries": 0}) as w:
        w.poll()  # a dry run: nothing recorded; record it as seen by hand
    from bot.service.posting import record_issue

    record_issue(store, nl.feed_url, issue)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("FEED_URL", nl.feed_url)
    for args in (["status"], ["status", "--json"]):
        out = CliRunner().invoke(cli, args)
        assert out.exit_code == 0, out.output
        assert not any(c in out.output for c in CONTROLS)
    assert json.loads(CliRunner().invoke(cli, ["status", "--json"]).output)


@given(st.text())
def test_slack_text_has_no_markup_and_no_broadcast_left(text):
    escaped = slack_escape(text)
    assert "<" not in escaped and ">" not in escaped
    lowered = escaped.lower()
    assert not any(f"@{word}" in lowered for word in ("channel", "here", "everyone", "all"))


@given(st.text())
def test_every_alert_shape_drops_control_characters(text):
    for fmt in Format:
        payload = Notice(Alert.HELD, text, "https://x.test/p").payload(fmt)
        shown = payload.get("text", payload.get("content"))
        assert not any(c in shown for c in CONTROLS)


def test_a_feed_alert_never_carries_feed_url_credentials():
    """The feed alerts name FEED_URL: its user:password@ and ?token= stay on the host."""
    with webhook_server() as hook:
        with Notifier(hook.url, on={Alert.FEED}) as notifier:
            notifier.send(Alert.FEED, "The feed has been failing",
                          "https://reader:hunter2@feeds.example/f?token=s3cr3t")
        (got,) = hook.wait_for(1)
    assert got["json"]["link"] == "https://***@feeds.example/f?token=***"
