"""The store, on SQLite and on Postgres: issues, their states, claims, posts, the saved session."""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import socket
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fixtures_store import run_at_once
from sqlalchemy import create_engine, text

from bot.core.address import PostAddress, ThreadPost
from bot.errors import StoreError, StoreOutage
from bot.settings import PROJECT_ROOT
from bot.store.api import IssueState, Store, normalize_url

FEED = "https://aablanco.substack.com/feed"
S = IssueState


@pytest.fixture
def cstore(db_url, clock):
    """An upgraded store whose clock the test moves by hand."""
    s = Store(db_url, clock=clock)
    s.upgrade()
    yield s
    s.close()


def add(store: Store, n: int = 1, state: IssueState = S.SEEN, **kw):
    """Record issue number `n` of the test feed."""
    fields = dict(
        guid=f"https://aablanco.substack.com/p/issue-{n}",
        link=f"https://aablanco.substack.com/p/issue-{n}",
        title=f"Vol 3, No {n}",
        published=datetime(2025, 7, n % 28 + 1, 9, 30, tzinfo=UTC),
        content_hash=f"hash-{n}",
    )
    fields.update(kw)
    return store.issues.upsert(FEED, state=state, **fields)


def posts(n: int, prefix: str = "r") -> list[ThreadPost]:
    return [
        ThreadPost(i, PostAddress.post("did:plc:abc", f"{prefix}{i}", f"cid{i}"))
        for i in range(n)
    ]


# -- issues ---------------------------------------------------------------------------------------


def test_no_issues_until_one_is_recorded(store):
    """A fresh store has no issues (first deployment); recording a feed check adds none."""
    assert store.issues.all() == []
    store.feeds.record_check(FEED, "ok")
    assert store.issues.all() == []
    add(store)
    assert len(store.issues.all()) == 1


def test_new_issue_is_stored_with_its_fields(store):
    """A new issue comes back with what was given, its state, generation 0, and UTC timestamps."""
    published = datetime(2025, 7, 6, 12, 30, tzinfo=timezone(timedelta(hours=3)))
    up = add(store, 28, published=published)
    assert up.created is True and up.edited is False
    i = up.issue
    assert (i.feed_url, i.guid, i.title, i.content_hash) == (
        FEED, "https://aablanco.substack.com/p/issue-28", "Vol 3, No 28", "hash-28")
    assert i.state is S.SEEN and i.generation == 0 and i.error is None
    assert i.published == datetime(2025, 7, 6, 9, 30, tzinfo=UTC)
    assert i.published.tzinfo == UTC and i.created_at.tzinfo == UTC
    assert store.issues.get(i.id) == i
    assert store.issues.find(FEED, i.guid) == i
    assert store.issues.find_by_link(i.link) == i
    assert store.issues.find(FEED, "nope") is None and store.issues.find_by_link("nope") is None


def test_new_issue_can_be_stored_queued(store):
    """An issue to be posted can be recorded straight into the queue."""
    assert add(store, state=S.QUEUED).issue.state is S.QUEUED


def test_same_issue_seen_again_changes_nothing(store):
    """Seeing an unchanged issue again returns it as it was: not created, not edited."""
    first = add(store).issue
    again = add(store)
    assert (again.created, again.edited) == (False, False)
    assert again.issue == first


def test_edited_issue_is_not_queued_again_and_is_logged(store, caplog):
    """An issue edited after posting keeps its state, stores the new hash and logs issue.edited."""
    i = add(store, state=S.QUEUED).issue
    store.issues.mark_posted(i.id, posts(2))
    caplog.set_level(logging.INFO, logger="bot.store.issues")
    up = add(store, content_hash="hash-new", title="Vol 3, No 1 (corrected)")
    assert (up.created, up.edited, up.previous_hash) == (False, True, "hash-1")
    assert up.issue.state is S.POSTED
    assert (up.issue.content_hash, up.issue.title) == ("hash-new", "Vol 3, No 1 (corrected)")
    assert store.issues.all([S.QUEUED]) == []
    assert [r.message.split()[0] for r in caplog.records] == ["issue.edited"]
    assert "https://aablanco.substack.com/p/issue-1" in caplog.records[0].message
    assert add(store, content_hash="hash-new", title="Vol 3, No 1 (corrected)").edited is False


def test_two_workers_recording_the_same_new_issue_get_one_row(db_url, store):
    """Two workers seeing the same new issue at once both succeed, and exactly one created it."""
    stores = [Store(db_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list = []

    def worker(s: Store) -> None:
        barrier.wait(10)
        try:
            results.append(add(s, 7, state=S.QUEUED))
        except BaseException as exc:  # noqa: BLE001 - reported below
            results.append(exc)

    run_at_once(worker, stores)
    for s in stores:
        s.close()
    assert sorted(r.created for r in results) == [False, True]
    assert results[0].issue.id == results[1].issue.id
    assert [i.id for i in store.issues.all()] == [results[0].issue.id]


def test_issues_lists_by_state_oldest_first(store):
    """issues() filters by state and feed and lists the oldest published first."""
    for n in (5, 3, 4):
        add(store, n, state=S.QUEUED)
    add(store, 6)
    assert [i.title for i in store.issues.all([S.QUEUED])] == ["Vol 3, No 3", "Vol 3, No 4",
                                                           "Vol 3, No 5"]
    assert [i.title for i in store.issues.all()][-1] == "Vol 3, No 6"
    assert store.issues.all(feed_url="https://other.example/feed") == []


# -- feeds ----------------------------------------------------------------------------------------


def test_feed_validators_and_check_outcome(cstore, clock):
    """The feed's ETag/Last-Modified and its last check are remembered between polls."""
    assert cstore.feeds.get(FEED).etag is None and cstore.feeds.get(FEED).last_checked_at is None
    cstore.feeds.save_validators(FEED, 'W/"abc"', "Sun, 06 Jul 2025 09:30:00 GMT")
    cstore.feeds.record_check(FEED, "not-modified")
    f = cstore.feeds.get(FEED)
    assert (f.etag, f.last_modified) == ('W/"abc"', "Sun, 06 Jul 2025 09:30:00 GMT")
    assert (f.last_checked_at, f.last_outcome) == (clock.now, "not-modified")
    cstore.feeds.save_validators(FEED, None, None)
    again = cstore.feeds.get(FEED)
    assert (again.etag, again.last_outcome) == (None, "not-modified")


# -- states ---------------------------------------------------------------------------------------


def test_queued_issue_goes_through_posting_to_posted(cstore, clock):
    """seen → queued → (claim) posting → posted records its posts and posted_at, frees the claim."""
    i = add(cstore).issue
    assert cstore.issues.queue(i.id).state is S.QUEUED
    assert cstore.issues.claim(i.id, "w1", 60) is True
    assert cstore.issues.mark_posting(i.id, "w1").state is S.POSTING
    clock.advance(5)
    done = cstore.issues.mark_posted(i.id, posts(3))
    assert (done.state, done.posted_at, done.claimed_by, done.claim_expires_at) == (
        S.POSTED, clock.now, None, None)
    assert [(p.place, p.rkey, p.cid) for p in cstore.posts.of(i.id)] == [
        (0, "r0", "cid0"), (1, "r1", "cid1"), (2, "r2", "cid2")]


def test_forbidden_transitions_raise_a_clear_store_error(store):
    """Retrying a posted issue, or starting to post without the claim, is refused with its state."""
    i = add(store, state=S.QUEUED).issue
    with pytest.raises(StoreError, match=r"cannot start posting issue .*issue-1: it is queued"):
        store.issues.mark_posting(i.id, "w1")
    store.issues.mark_posted(i.id)
    with pytest.raises(StoreError, match=r"cannot retry issue .*issue-1: it is posted"):
        store.issues.retry(i.id)
    with pytest.raises(StoreError, match="cannot queue .* it is posted"):
        store.issues.queue(i.id)
    with pytest.raises(StoreError, match="no issue with id 999"):
        store.issues.skip(999)


def test_failed_issue_keeps_its_error_until_retried(store):
    """A failed issue shows its error; retry queues it again and forgets the error."""
    i = add(store, state=S.QUEUED).issue
    assert store.issues.claim(i.id, "w1", 60)
    failed = store.issues.mark_failed(i.id, "PDS said 500 on applyWrites")
    assert (failed.state, failed.error, failed.claimed_by) == (
        S.FAILED, "PDS said 500 on applyWrites", None)
    again = store.issues.retry(i.id)
    assert (again.state, again.error) == (S.QUEUED, None)


def test_skip_and_mark_seen(store):
    """The editor can skip a queued issue; reconciliation can mark it back as seen."""
    i = add(store, state=S.QUEUED).issue
    assert store.issues.skip(i.id).state is S.SKIPPED
    assert store.issues.claim(i.id, "w1", 60) is False
    assert store.issues.mark_seen(i.id).state is S.SEEN


def test_mark_posted_by_hand_from_seen(store):
    """The editor can mark an issue posted by hand, with the thread's root post."""
    i = add(store).issue
    done = store.issues.mark_posted_by_hand(i.id, posts(1, "hand"))
    assert done.state is S.POSTED and done.posted_at is not None
    assert [p.uri for p in store.posts.of(i.id)] == ["at://did:plc:abc/app.bsky.feed.post/hand0"]


def test_forced_repost_starts_a_new_generation(store):
    """A forced repost queues the issue as generation 1; the old thread's posts are kept apart."""
    i = add(store, state=S.QUEUED).issue
    store.issues.mark_posted(i.id, posts(2, "old"))
    again = store.issues.repost(i.id)
    assert (again.state, again.generation, again.posted_at) == (S.QUEUED, 1, None)
    assert store.posts.of(i.id) == []
    store.issues.mark_posted(i.id, posts(2, "new"))
    assert [p.rkey for p in store.posts.of(i.id)] == ["new0", "new1"]
    assert [p.rkey for p in store.posts.of(i.id, generation=0)] == ["old0", "old1"]


def test_recording_a_post_again_corrects_it(store):
    """Recording a post at a place already recorded replaces it (a resumed thread write)."""
    i = add(store, state=S.QUEUED).issue
    store.posts.record(i.id, [ThreadPost(0, PostAddress.post("x", "a"))])
    store.posts.record(i.id, [ThreadPost(0, PostAddress.post("x", "a", "cidA")),
                              ThreadPost(1, PostAddress.post("x", "b", "cidB"))])
    assert [(p.place, p.rkey, p.cid) for p in store.posts.of(i.id)] == [(0, "a", "cidA"),
                                                                     (1, "b", "cidB")]


def test_recent_lists_newest_first_with_current_posts(store):
    """recent() gives the newest issues first, each with its current thread's posts in order."""
    a = add(store, 2, state=S.QUEUED).issue
    b = add(store, 3).issue
    store.issues.mark_posted(a.id, posts(2))
    rows = store.posts.recent(limit=10)
    assert [r.issue.id for r in rows] == [b.id, a.id]
    assert [p.place for p in rows[1].posts] == [0, 1] and rows[0].posts == ()
    assert [r.issue.id for r in store.posts.recent(limit=1)] == [b.id]


# -- claims ---------------------------------------------------------------------------------------


def test_second_claim_loses_until_the_lease_expires(cstore, clock):
    """While w1's lease runs, w2 cannot claim; once it has expired, w2 takes it over."""
    i = add(cstore, state=S.QUEUED).issue
    assert cstore.issues.claim(i.id, "w1", 60) is True
    assert cstore.issues.claim(i.id, "w2", 60) is False
    assert cstore.issues.claim(i.id, "w1", 60) is True  # renewing one's own lease
    clock.advance(59)
    assert cstore.issues.claim(i.id, "w2", 60) is False
    clock.advance(2)
    assert cstore.issues.claim(i.id, "w2", 60) is True
    taken = cstore.issues.get(i.id)
    assert (taken.claimed_by, taken.claim_expires_at) == ("w2", clock.now + timedelta(seconds=60))
    with pytest.raises(StoreError, match="claimed by w2"):
        cstore.issues.mark_posting(i.id, "w1")


def test_crashed_posting_issue_is_taken_over(cstore, clock):
    """An issue left 'posting' by a crashed worker is claimed by the next once the lease expires."""
    i = add(cstore, state=S.QUEUED).issue
    assert cstore.issues.claim(i.id, "crashed", 30)
    cstore.issues.mark_posting(i.id, "crashed")
    clock.advance(31)
    assert cstore.issues.claim(i.id, "next", 30) is True
    assert cstore.issues.mark_posting(i.id, "next").state is S.POSTING


def test_released_claim_is_free_but_posted_issue_is_never_claimed(store):
    """Release frees the lease for another worker; an issue already posted cannot be claimed."""
    i = add(store, state=S.QUEUED).issue
    assert store.issues.claim(i.id, "w1", 60)
    assert store.issues.release(i.id, "w2") is False
    assert store.issues.release(i.id, "w1") is True
    assert store.issues.claim(i.id, "w2", 60) is True
    store.issues.mark_posted(i.id)
    assert store.issues.claim(i.id, "w3", 60) is False
    assert store.issues.claim(add(store, 2).issue.id, "w3", 60) is False  # seen: not to be posted


def test_threads_racing_to_claim_have_one_winner_each(db_url, store):
    """Four workers (own connections) claiming the same issues at once: exactly one wins each."""
    ids = [add(store, n, state=S.QUEUED).issue.id for n in range(1, 11)]
    stores = [Store(db_url) for _ in range(4)]
    barrier = threading.Barrier(4)
    wins: list[list[int]] = [[] for _ in stores]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            barrier.wait(10)
            for issue_id in ids:
                if stores[k].issues.claim(issue_id, f"w{k}", 60):
                    wins[k].append(issue_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    run_at_once(worker, range(4))
    for s in stores:
        s.close()
    assert errors == []
    assert sorted(x for w in wins for x in w) == ids
    for k, won in enumerate(wins):
        assert all(store.issues.get(i).claimed_by == f"w{k}" for i in won)


def _claim_in_process(url: str, ids: list[int], name: str, barrier, results) -> None:
    s = Store(url)
    barrier.wait(30)
    results.put((name, [i for i in ids if s.issues.claim(i, name, 60)]))
    s.close()


def test_processes_racing_to_claim_have_one_winner_each(db_url, store):
    """Three processes claiming the same issues at once: each issue is won by exactly one."""
    ids = [add(store, n, state=S.QUEUED).issue.id for n in range(1, 16)]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(db_url, ids, f"p{k}", barrier, results))
             for k in range(3)]
    for p in procs:
        p.start()
    got = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert sorted(x for won in got.values() for x in won) == ids
    assert {store.issues.get(i).claimed_by for i in ids} <= {"p0", "p1", "p2"}


# -- the saved session ----------------------------------------------------------------------------


def test_session_round_trip_per_account_and_service(store):
    """A saved session loads back, is replaced by the next save, and is per handle+service."""
    secret = '{"accessJwt": "eyJ-secret-token"}'
    ss = store.sessions.keeper("bwr.bsky.social", "https://bsky.social")
    assert ss.load() is None
    ss.save(secret)
    assert ss.load() == secret
    ss.save("second")
    assert ss.load() == "second"
    assert store.sessions.keeper("bwr.bsky.social", "http://127.0.0.1:2583").load() is None
    assert "secret" not in repr(ss) and "second" not in repr(ss)


# -- the database itself ---------------------------------------------------------------------------


def test_sqlite_runs_in_wal_mode_and_waits_for_a_busy_writer(tmp_path):
    """With another process mid-write, a claim waits for it instead of 'database is locked'."""
    url = f"sqlite:///{tmp_path / 'deep' / 'dir' / 'bot.db'}"
    a, b = Store(url), Store(url)
    a.upgrade()
    issue_id = add(a, state=S.QUEUED).issue.id
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the "daemon" holds the write lock
            conn.exec_driver_sql("UPDATE feeds SET last_outcome = 'busy'")
            timer = threading.Timer(0.5, conn.exec_driver_sql, args=("COMMIT",))
            timer.start()
            assert b.issues.all() != []  # readers are not blocked by the writer
            assert b.issues.claim(issue_id, "cli", 60) is True  # the writer waits, then wins
            timer.join()
    finally:
        engine.dispose()
        a.close()
        b.close()


def test_postgres_urls_from_hosts_use_psycopg():
    """postgres:// and postgresql:// URLs are mapped to psycopg 3; no URL means the data/ file."""
    assert normalize_url("postgres://u:p@db:5432/x") == "postgresql+psycopg://u:p@db:5432/x"
    assert normalize_url("postgresql://u:p@db/x") == "postgresql+psycopg://u:p@db/x"
    assert normalize_url("postgresql+psycopg://u@db/x") == "postgresql+psycopg://u@db/x"
    assert normalize_url("") == f"sqlite:///{PROJECT_ROOT / 'data' / 'bot.db'}"


def test_unreachable_database_is_a_store_error_without_the_password():
    """An unreachable database raises StoreError naming the problem, never the password."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        store = Store(f"postgres://bot:hunter2secret@127.0.0.1:{port}/bot?connect_timeout=2")
        with pytest.raises(StoreError) as err:
            store.issues.all()
    store.close()
    assert "database (postgresql) unreachable: listing issues failed" in str(err.value)
    assert isinstance(err.value, StoreOutage)  # not a conflict: nothing was moved by anyone
    assert "hunter2secret" not in str(err.value) and "hunter2secret" not in repr(store)
    with pytest.raises(StoreError, match="DATABASE_URL is not a database URL"):
        Store("not a url://")


def test_postgres_param_reaches_a_real_server(db_url):
    """The postgres case really runs on Postgres (and SQLite on SQLite): no silent fallback."""
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as conn:
            if db_url.startswith("sqlite"):
                assert conn.execute(text("select sqlite_version()")).scalar()
            else:
                assert conn.execute(text("select version()")).scalar().startswith("PostgreSQL")
    finally:
        engine.dispose()


def test_deleted_sqlite_file_is_started_again_migrated(tmp_path, caplog):
    """A database file deleted under a running store is noticed: a new file, migrated, empty."""
    url = f"sqlite:///{tmp_path / 'data' / 'bot.db'}"
    s = Store(url)
    s.upgrade()
    add(s, 1)
    assert s.reopen_if_lost() is False
    shutil.rmtree(tmp_path / "data")  # the whole data directory, as a wiped disk leaves it
    with caplog.at_level(logging.WARNING, logger="bot.store.api"):
        assert s.reopen_if_lost() is True
    assert [r.getMessage().split()[0] for r in caplog.records] == ["db.lost"]
    assert s.issues.all() == []
    add(s, 2)
    s.close()
    again = Store(url)
    assert again.revision() == again.head_revision()
    assert [i.guid for i in again.issues.all()] == ["https://aablanco.substack.com/p/issue-2"]
    again.close()


def test_reopen_if_lost_leaves_an_intact_database_alone(db_url):
    """A database that is still there (or a server database) is never reopened."""
    s = Store(db_url)
    s.upgrade()
    add(s, 1)
    assert s.reopen_if_lost() is False
    assert len(s.issues.all()) == 1
    s.close()
