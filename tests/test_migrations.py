"""Migrations: they build the schema from nothing, agree with the models, and run from anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from drivers.newsletter_feed import NewsletterServer
from fixtures_store import run_at_once
from sqlalchemy import create_engine, inspect, text

from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import IssueState, Store, normalize_url
from bot.store.engine import alembic_config, make_engine, migration_connection
from bot.store.models import Base

ROOT = Path(__file__).resolve().parent.parent
TABLES = {"alembic_version", "feeds", "issues", "posts", "bsky_session", "heartbeats",
          "bot_leases", "daemons"}
HEAD = "0006"
# What the 0001 release stored on a queued issue that left the feed, word for word.
GONE_0001 = (
    "it is no longer in the feed (unpublished?); it is queued again if it comes back; "
    "`post --entry LINK --feed FILE` posts it from a saved copy of the feed"
)


def migrate(url: str, to: str, *, down: bool = False) -> None:
    """Run Alembic up or down to revision `to` on the database at `url`."""
    engine = make_engine(normalize_url(url))
    try:
        with migration_connection(engine) as conn:
            (command.downgrade if down else command.upgrade)(alembic_config(conn), to)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_database(db_url, tmp_path, monkeypatch):
    """Upgrading an empty database from another cwd creates every table at the head revision."""
    monkeypatch.chdir(tmp_path)
    store = Store(db_url)
    try:
        assert store.revision() is None
        assert _tables(db_url) == set()
        store.upgrade()
        assert store.revision() == store.head_revision() == HEAD
        assert _tables(db_url) == TABLES
        store.upgrade()  # a second upgrade has nothing to do
        assert store.revision() == HEAD
    finally:
        store.close()


def test_models_and_migrations_agree(store, db_url):
    """Alembic autogenerate finds nothing to change between the migrated database and the models."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_round_trips(store, db_url):
    """Downgrading to base drops every table and upgrading again restores them."""
    migrate(db_url, "base", down=True)
    assert _tables(db_url) == {"alembic_version"}
    assert store.revision() is None
    store.upgrade()
    assert _tables(db_url) == TABLES


def test_concurrent_upgrades_both_succeed(db_url):
    """Two processes starting at once (daemon and release phase) both upgrade without error."""
    stores = [Store(db_url), Store(db_url)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(s: Store) -> None:
        barrier.wait()
        try:
            s.upgrade()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    run_at_once(run, stores)
    try:
        assert errors == []
        assert [s.revision() for s in stores] == [HEAD, HEAD]
    finally:
        for s in stores:
            s.close()


def test_alembic_cli_upgrades_from_any_cwd(db_url, tmp_path):
    """`alembic -c alembic.ini upgrade head` run elsewhere migrates the DATABASE_URL database."""
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert _tables(normalize_url(db_url)) == TABLES


def _old_release_rows(url: str, feed_url: str, gone_link: str) -> None:
    """Rows as the 0001 release wrote them: an issue that left the feed (its state failed and the
    GONE text its only mark) and one Bluesky refused."""
    engine = create_engine(normalize_url(url))
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO feeds (id, url, created_at) VALUES (1, :u, :t)"),
                         {"u": feed_url, "t": now})
            for n, (link, error) in enumerate(
                [(gone_link, GONE_0001), ("https://x.test/p/refused", "text too long")], 1
            ):
                conn.execute(text(
                    "INSERT INTO issues (id, feed_id, guid, link, title, published, content_hash,"
                    " state, error, generation, created_at, updated_at) VALUES (:id, 1, :link,"
                    " :link, 'An issue', :published, 'h', 'failed', :error, 0, :t, :t)"),
                    {"id": n, "link": link, "error": error, "t": now,
                     "published": now - timedelta(hours=n)})
    finally:
        engine.dispose()


def test_upgrade_keeps_what_an_issue_that_left_the_feed_meant(db_url, tmp_path):
    """A database of the previous release, with a failed issue that had left the feed, upgraded:
    that issue is still queued again when it is back in the feed (and only that one)."""
    with NewsletterServer() as nl:
        nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
        migrate(db_url, "0001")
        _old_release_rows(db_url, nl.feed_url, nl.link("one"))
        store = Store(db_url)
        try:
            store.upgrade()
            assert store.revision() == HEAD
            gone = store.issues.find_by_link(nl.link("one"))
            refused = store.issues.find_by_link("https://x.test/p/refused")
            assert gone is not None and gone.left_feed and gone.error == GONE_0001
            assert refused is not None and not refused.left_feed
            # No grace window: the rows were written just now, and a dry run honours it too.
            settings = Settings(feed_url=nl.feed_url, bsky_service="http://127.0.0.1:9",
                                database_url=db_url, post_delay=0)
            with Worker(settings, store, cache_dir=tmp_path / "cache",
                        feed_options={"retries": 0}) as worker:
                dry = worker.poll()  # without credentials: what it would do
            assert [(o.link, o.outcome) for o in dry.outcomes] == [(nl.link("one"), "would_post")]
        finally:
            store.close()


def test_left_feed_is_the_flag_not_the_error_text(store):
    """An issue marked as gone is flagged whatever its error says, and the flag goes when the
    issue moves on (retried)."""
    issue = store.issues.upsert("https://x.test/feed", guid="g", link="https://x.test/p/g",
                               title="G", published=None, content_hash="h",
                               state=IssueState.QUEUED).issue
    failed = store.issues.mark_failed(issue.id, "any wording at all", left_feed=True)
    assert failed.left_feed and failed.state is IssueState.FAILED
    assert store.issues.retry(issue.id).left_feed is False


def test_downgrade_to_0001_puts_the_old_mark_back(store, db_url):
    """Downgraded to the previous release's schema, an issue that left the feed carries the error
    text that release recognises it by."""
    issue = store.issues.upsert("https://x.test/feed", guid="g", link="https://x.test/p/g",
                               title="G", published=None, content_hash="h",
                               state=IssueState.QUEUED).issue
    store.issues.mark_failed(issue.id, "reworded some day", left_feed=True)
    migrate(db_url, "0001", down=True)
    assert store.revision() == "0001"
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT state, error FROM issues")).all() == [
                ("failed", GONE_0001)]
    finally:
        engine.dispose()


def test_a_held_issue_survives_a_round_trip_to_the_previous_release(store, db_url):
    """0003 adds the `held` state: downgraded, a held issue is queued again (the previous release
    posts it as it did before the review hold existed); upgraded again, nothing is lost."""
    issue = store.issues.upsert("https://x.test/feed", guid="g", link="https://x.test/p/g",
                               title="G", published=None, content_hash="h",
                               state=IssueState.QUEUED).issue
    held = store.issues.hold(issue.id, "no takeaways found")
    assert held.state is IssueState.HELD and held.error == "no takeaways found"
    migrate(db_url, "0002", down=True)
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT state FROM issues")).scalar_one() == "queued"
    finally:
        engine.dispose()
    store.upgrade()
    assert store.revision() == HEAD
    assert store.issues.get(issue.id).state is IssueState.QUEUED
