"""The service commands through click's CliRunner: help, status (table and JSON), the editor's
fixes (skip, retry, mark-posted), post's checks and dry run, poll's dry run, db upgrade."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from drivers.newsletter_feed import NewsletterServer

from bot.cli.app import cli
from bot.core.address import PostAddress, ThreadPost
from bot.store.api import IssueState, Store

SECRET = "app-pass-word-never-shown"
DID = "did:plc:abcdefghijklmnopqrstuvwx"


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


@pytest.fixture
def env(monkeypatch, tmp_path, nl):
    """Settings for the commands: a loopback feed (also saved as a file), a SQLite file."""
    feed_file = tmp_path / "feed.xml"
    nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    feed_file.write_bytes(nl.feed_bytes())
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("FEED_URL", str(feed_file))
    monkeypatch.setenv("DATABASE_URL", url)
    for name in ("BSKY_HANDLE", "BSKY_APP_PASSWORD", "BACKFILL_HOURS"):
        monkeypatch.setenv(name, "")
    return {"url": url, "feed": str(feed_file), "nl": nl}


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def fill(url: str, feed: str) -> Store:
    """Three issues: one posted (with its thread), one failed, one queued."""
    store = Store(url)
    store.upgrade()
    now = datetime(2025, 7, 6, 14, 3, tzinfo=UTC)
    for n, state in enumerate(("posted", "failed", "queued")):
        issue = store.issues.upsert(feed, guid=f"g{n}", link=f"https://x.test/p/{state}",
                                   title=f"Issue {state}", published=now - timedelta(days=n),
                                   content_hash="h", state=IssueState.QUEUED).issue
        if state == "posted":
            store.issues.mark_posted_by_hand(issue.id, [
                ThreadPost(0, PostAddress.post(DID, "3lroot2222222", "c0")),
                ThreadPost(1, PostAddress.post(DID, "3lreply222222", "c1")),
            ])
        elif state == "failed":
            store.issues.mark_failed(issue.id, "Bluesky refused it: text too long")
    return store


@pytest.mark.parametrize("command", [
    ["run"], ["poll"], ["post"], ["status"], ["db"], ["db", "upgrade"], ["skip"], ["retry"],
    ["mark-posted"],
])
def test_every_service_command_has_help_with_an_example(command):
    """`--help` works for every command and ends with an example."""
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example: python -m bot" in result.output


def test_status_table_shows_state_dates_and_thread_links(env):
    """`status` lists recent issues newest first with state, dates and the bsky.app link."""
    fill(env["url"], env["feed"]).close()
    result = invoke("status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["STATE", "PUBLISHED", "POSTED", "ISSUE"]
    assert lines[1].startswith("posted   2025-07-06 14:03 ")
    assert lines[1].endswith("Issue posted")
    assert f"→ https://bsky.app/profile/{DID}/post/3lroot2222222" in result.output
    assert "error: Bluesky refused it: text too long" in result.output
    order = [ln.split()[0] for ln in lines[1:] if ln[:1] != " "]
    assert order == ["posted", "failed", "queued"]


def test_status_json_and_limit_never_show_secrets(env, monkeypatch):
    """`status --json` gives each issue's state and threads; no password is ever printed."""
    monkeypatch.setenv("BSKY_HANDLE", "bot.example.test")
    monkeypatch.setenv("BSKY_APP_PASSWORD", SECRET)
    fill(env["url"], env["feed"]).close()
    result = invoke("status", "--json", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    rows = json.loads(result.output)["issues"]
    assert [(r["link"], r["state"], r["posts"]) for r in rows] == [
        ("https://x.test/p/posted", "posted", 2), ("https://x.test/p/failed", "failed", 0)]
    assert rows[0]["threads"] == [{
        "uri": f"at://{DID}/app.bsky.feed.post/3lroot2222222",
        "url": f"https://bsky.app/profile/{DID}/post/3lroot2222222"}]
    assert rows[0]["published"] == "2025-07-06T14:03:00+00:00"
    assert rows[1]["error"] == "Bluesky refused it: text too long"


def test_status_of_an_empty_store_says_so(env):
    """`status` before any poll says nothing is recorded yet."""
    result = invoke("status")
    assert result.exit_code == 0
    assert result.output.startswith("No issues recorded yet")


def test_retry_skip_and_mark_posted_fix_an_issue_by_hand(env):
    """The editor retries a failed issue, skips it, then marks it posted at a given post."""
    fill(env["url"], env["feed"]).close()
    link = "https://x.test/p/failed"
    result = invoke("retry", "--entry", link)
    assert (result.exit_code, result.output) == (0, f"{link}: queued again\n")
    result = invoke("skip", "--entry", link)
    assert (result.exit_code, result.output) == (0, f"{link}: skipped\n")
    uri = f"at://{DID}/app.bsky.feed.post/3lhand2222222"
    result = invoke("mark-posted", "--entry", link, "--uri", uri)
    assert (result.exit_code, result.output) == (0, f"{link}: marked as posted\n")
    rows = json.loads(invoke("status", "--json").output)["issues"]
    row = next(r for r in rows if r["link"] == link)
    assert row["threads"] == [{"uri": uri, "url": f"https://bsky.app/profile/{DID}/post/3lhand2222222"}]


def test_editor_fixes_refuse_what_makes_no_sense_in_one_line(env):
    """Retrying a queued issue, a malformed --uri or an unknown link: one error line, exit 1."""
    fill(env["url"], env["feed"]).close()
    result = invoke("retry", "--entry", "https://x.test/p/queued")
    assert result.exit_code == 1
    assert result.stderr == ("Error: https://x.test/p/queued is queued, not failed: nothing to "
                             "retry (`post --entry LINK` posts an issue now)\n")
    result = invoke("mark-posted", "--entry", "https://x.test/p/queued", "--uri", "https://bsky.app/x")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "is not a post's at:// URI" in result.stderr
    result = invoke("skip", "--entry", "https://x.test/p/never", "--feed", env["feed"])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: no issue with link https://x.test/p/never in ")


def test_skip_an_issue_the_store_has_not_seen_reads_the_feed(env):
    """Skipping an issue before the bot saw it records it from the feed, as skipped."""
    link = env["nl"].link("one")
    result = invoke("skip", "--entry", link, "--feed", env["feed"])
    assert (result.exit_code, result.output) == (0, f"{link}: skipped\n")
    store = Store(env["url"])
    found = store.issues.find_by_link(link)
    assert found is not None and found.state is IssueState.SKIPPED
    store.close()


def test_post_needs_one_issue_and_credentials(env):
    """`post` without --entry/--latest is a usage error; without credentials a config error."""
    assert invoke("post").exit_code == 2
    assert invoke("post", "--latest", "--entry", "x").exit_code == 2
    result = invoke("post", "--latest")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: BSKY_HANDLE and BSKY_APP_PASSWORD are needed")
    assert result.stderr.count("\n") == 1


def test_post_dry_run_shows_the_thread_and_changes_nothing(env):
    """`post --dry-run` prints the thread post by post and writes nothing anywhere."""
    link = env["nl"].link("one")
    result = invoke("post", "--entry", link, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Issue: Russia’s Eroding Influence, issue one\n")
    assert "card: Issue one (from its page) → " + link in result.output
    assert f"dry run: would post {link} (" in result.output
    store = Store(env["url"])
    assert store.revision() is None  # not even migrated: a dry run touches no database
    store.close()


def test_poll_without_credentials_is_a_dry_run(env):
    """`poll` without credentials prints what it would post and records nothing."""
    result = invoke("poll")
    assert result.exit_code == 0, result.output
    link = env["nl"].link("one")
    assert f"  {link}: would post " in result.output
    assert "(dry run)" in result.output.splitlines()[0]
    assert not Path(env["url"].removeprefix("sqlite:///")).exists()  # no database file at all


def test_db_upgrade_reports_the_newest_revision(env):
    """`db upgrade` migrates the database and names the revision it is at."""
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    store = Store(env["url"])
    assert store.revision() == store.head_revision()
    assert result.output == f"database {store.url}: at revision {store.head_revision()} (newest)\n"
    store.close()


def test_status_names_each_issues_feed_and_shows_one_issue_read_from_two_addresses_once(env):
    """An issue posted by hand from `--feed X` and later seen in FEED_URL is one issue: shown
    once, as posted, with the feed it was posted from (the text table says so too)."""
    store = fill(env["url"], env["feed"])
    other = "https://mirror.x.test/feed"
    twin = store.issues.upsert(other, guid="g0", link="https://x.test/p/posted",
                              title="Issue posted", published=datetime(2025, 7, 6, 14, 3,
                                                                       tzinfo=UTC),
                              content_hash="h", state=IssueState.QUEUED).issue
    store.issues.skip(twin.id)  # the twin went another way: the posted row is the one shown
    store.close()
    rows = json.loads(invoke("status", "--json").output)["issues"]
    assert [(r["link"], r["state"], r["feed"]) for r in rows] == [
        ("https://x.test/p/posted", "posted", env["feed"]),
        ("https://x.test/p/failed", "failed", env["feed"]),
        ("https://x.test/p/queued", "queued", env["feed"]),
    ]
    store = Store(env["url"])
    store.upgrade()
    store.issues.upsert(other, guid="g9", link="https://x.test/p/elsewhere", title="Elsewhere",
                       published=datetime(2025, 7, 7, tzinfo=UTC), content_hash="h",
                       state=IssueState.QUEUED)
    store.close()
    text = invoke("status").output
    assert f"read from {other}" in text  # an issue not of the bot's own feed says where from
    assert text.count("read from") == 1
