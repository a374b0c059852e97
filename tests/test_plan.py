"""The plan (bot.core.plan): the one decision of what happens to an issue, over every state,
review and clock. Pure: no feed, store or PDS — the values they would give."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.core.model import Issue, Takeaway
from bot.core.plan import GONE, Asker, Known, OnAccount, Plan, Rules, Step, plan
from bot.core.post import Post
from bot.core.profile import Review, load_profile
from bot.core.review import Action, review
from bot.core.state import IssueState

BASE = load_profile()
NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
ROOT = "at://did:plc:abc/app.bsky.feed.post/3lroot"
TAKEAWAY = Takeaway("FOREVER NEIGHBORS", "It’s a tough neighborhood.")


def issue_of(takeaways: int = 1, warnings: tuple[str, ...] = (),
             published: datetime | None = NOW) -> Issue:
    return Issue(guid="g", link="https://x.test/p/one", title="One", published=published,
                 takeaways=(TAKEAWAY,) * takeaways, warnings=warnings)


def thread(n: int) -> list[Post]:
    return [Post(f"post {i}", kind="takeaway") for i in range(n)]


states = st.sampled_from([None, *IssueState])
askers = st.sampled_from(list(Asker))
reviews = st.builds(Review, min_takeaways=st.integers(0, 3),
                    short_issue=st.sampled_from(["hold", "announce", "post"]),
                    hold_on_warnings=st.booleans())
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1),
                       timezones=st.just(UTC))
issues = st.builds(issue_of, takeaways=st.integers(0, 3),
                   warnings=st.sampled_from([(), ("a heading was not found",)]),
                   published=st.one_of(st.none(), moments))
found = st.one_of(st.none(), st.builds(OnAccount, roots=st.just((ROOT,)), whole=st.booleans()))
knowns = st.builds(Known, state=states, first_seen=st.one_of(st.none(), moments),
                   approved=st.booleans(), left_feed=st.booleans(),
                   error=st.one_of(st.none(), st.just("0 takeaways found")),
                   posted=st.sampled_from([(), (ROOT,)]), on_account=found,
                   first_run=st.booleans(), newest_known=st.one_of(st.none(), moments))
rules = st.builds(Rules, backfill_hours=st.sampled_from([0.0, 48.0, 1000.0]),
                  post_delay=st.sampled_from([0.0, 10.0, 60.0]))
composed = st.lists(st.integers(1, 20), min_size=1, max_size=2).map(
    lambda sizes: [thread(n) for n in sizes])


@given(issues, knowns, reviews, moments, rules, askers, composed, st.booleans())
def test_every_situation_gets_one_answer_in_one_line(issue, known, rv, now, rl, by, threads,
                                                     in_feed):
    """Whatever the state, review, clock and asker: one step, said in one line; a step that
    writes counts exactly the posts it writes; waiting names a time after now."""
    profile = dataclasses.replace(BASE, review=rv)
    p = plan(issue if in_feed else None, known, profile, now, rl, by=by, threads=threads)
    assert isinstance(p, Plan) and p.step in Step
    words = p.describe()
    assert words and "\n" not in words and "None" not in words
    if p.writes:
        assert p.posts == sum(len(t) for t in p.threads)
        assert p.posts >= 1
    else:
        assert p.posts is None
    if p.step is Step.WAIT:
        assert p.due is not None and p.due > now
        assert words.startswith("waits until ") and words.endswith(" UTC (POST_DELAY)")
    if p.step is Step.ANNOUNCE:
        assert p.posts == 1  # the root post and its card only


@given(issues, knowns, reviews, moments, rules, askers, composed)
def test_an_interrupted_post_is_completed_whatever_the_window_the_review_or_force(
        issue, known, rv, now, rl, by, threads):
    profile = dataclasses.replace(BASE, review=rv)
    p = plan(issue, dataclasses.replace(known, state=IssueState.POSTING), profile, now, rl,
             by=by, threads=threads)
    assert p.step is Step.COMPLETE and p.posts == sum(len(t) for t in threads)
    gone = plan(None, dataclasses.replace(known, state=IssueState.POSTING), profile, now, rl,
                in_feed=False)
    assert gone.step is Step.GONE  # it cannot be composed any more


@given(issues, knowns, moments, rules, st.sampled_from([Asker.PASS, Asker.POST]))
def test_what_is_on_the_account_is_not_posted_again(issue, known, now, rl, by):
    """Per the store (posted) or per the PDS (a lost database), only --force posts again."""
    known = dataclasses.replace(known, state=st_posted_or_not(known.state),
                                on_account=OnAccount((ROOT,)))
    p = plan(issue, known, BASE, now, rl, by=by)
    assert p.step is Step.ALREADY_POSTED and p.where
    assert p.describe().startswith("already on Bluesky at https://bsky.app/profile/did:plc:abc/")
    forced = plan(issue, known, BASE, now, rl, by=Asker.FORCE)
    assert forced.step in (Step.POST, Step.COMPLETE)


def st_posted_or_not(state: IssueState | None) -> IssueState | None:
    return None if state is IssueState.POSTING else state


@given(issues, knowns, reviews, moments, rules)
def test_the_editor_posts_as_read_now(issue, known, rv, now, rl):
    """`post` and `approve`: no window, no review, no backfill — unless it is on the account."""
    known = dataclasses.replace(known, on_account=None)
    p = plan(issue, known, dataclasses.replace(BASE, review=rv), now, rl, by=Asker.POST)
    if known.state is IssueState.POSTED:
        assert p.step is Step.ALREADY_POSTED
    elif known.state is IssueState.POSTING:
        assert p.step is Step.COMPLETE
    else:
        assert p.step is Step.POST


@given(issues, reviews, moments, st.floats(0.5, 120), st.floats(0, 200), st.booleans())
def test_a_queued_issue_waits_out_the_window_then_the_review_decides(
        issue, rv, first_seen, delay, minutes, approved):
    profile = dataclasses.replace(BASE, review=rv)
    known = Known(state=IssueState.QUEUED, first_seen=first_seen, approved=approved)
    now = first_seen + timedelta(minutes=minutes)
    p = plan(issue, known, profile, now, Rules(post_delay=delay), threads=[thread(5)])
    if minutes < delay:
        assert p.step is Step.WAIT and p.due == first_seen + timedelta(minutes=delay)
        return
    verdict = review(issue, profile)
    if approved or verdict.action is Action.POST:
        assert p.step is Step.POST and p.posts == 5
    elif verdict.action is Action.HOLD:
        assert p.step is Step.HOLD and p.describe() == f"held: {verdict.reason}"
    else:
        assert p.step is Step.ANNOUNCE and p.posts == 1


@given(issues, knowns, moments, rules)
def test_the_pass_leaves_alone_what_is_not_news(issue, known, now, rl):
    known = dataclasses.replace(known, on_account=None, left_feed=False)
    p = plan(issue, known, BASE, now, rl)
    if known.state in (IssueState.SEEN, IssueState.SKIPPED, IssueState.FAILED):
        assert p.step is Step.IGNORE and "--entry https://x.test/p/one" in p.reason
    if known.state is IssueState.HELD:
        assert p.step is Step.HOLD and p.reason == (known.error or p.reason)


def test_a_new_issue_outside_the_backfill_on_a_first_run_is_only_seen():
    old = issue_of(published=NOW - timedelta(days=10))
    p = plan(old, Known(first_run=True), BASE, NOW, Rules(backfill_hours=48))
    assert p.step is Step.IGNORE
    assert p.describe() == ("not posted: outside the backfill window of 48 h; "
                            "post --entry LINK posts it")


def test_a_new_issue_waits_from_the_moment_it_is_first_seen():
    p = plan(issue_of(), Known(), BASE, NOW, Rules(post_delay=10))
    assert p.step is Step.WAIT and p.describe() == "waits until 2026-12-02 15:40 UTC (POST_DELAY)"


def test_a_queued_issue_gone_from_the_feed_is_gone_and_one_back_is_news_again():
    assert plan(None, Known(state=IssueState.QUEUED), BASE, NOW, in_feed=False) == Plan(
        Step.GONE, GONE)
    back = Known(state=IssueState.FAILED, left_feed=True, first_seen=NOW - timedelta(days=1))
    assert plan(issue_of(), back, BASE, NOW, Rules(post_delay=10)).step is Step.POST


def test_a_lost_database_finds_the_approved_thread_instead_of_holding_it_again():
    """Held, approved and posted; the database lost: the new row would be held by the review,
    but the account has the thread."""
    short = issue_of(takeaways=0)
    assert plan(short, Known(), BASE, NOW).step is Step.HOLD
    p = plan(short, Known(on_account=OnAccount((ROOT,))), BASE, NOW)
    assert p.step is Step.ALREADY_POSTED and p.where == (ROOT,)


def test_a_half_written_thread_found_on_the_account_is_completed():
    p = plan(issue_of(), Known(state=IssueState.QUEUED, on_account=OnAccount((ROOT,), False)),
             BASE, NOW, threads=[thread(7)])
    assert p.step is Step.COMPLETE and p.describe() == "completes its interrupted thread (7 posts)"


def test_a_new_issue_past_the_flood_guard_is_held_with_its_message():
    """More new issues than a pass may post (bot.core.news.flood_guard): the plan holds the
    ones past the cap for the editor; an issue the store knows is not the guard's to hold."""
    message = "7 new issues at once (more than 5): held for the editor"
    p = plan(issue_of(), Known(flooded=message), BASE, NOW)
    assert p.step is Step.HOLD and p.describe() == f"held: {message}"
    known = Known(state=IssueState.QUEUED, first_seen=NOW, flooded=message)
    assert plan(issue_of(), known, BASE, NOW, threads=[thread(3)]).step is Step.POST


def test_a_held_issue_that_changed_is_reviewed_again_unless_the_flood_guard_held_it():
    short, fixed = issue_of(takeaways=0), issue_of(takeaways=2)
    held = Known(state=IssueState.HELD, first_seen=NOW - timedelta(hours=1),
                 error="0 takeaways found, the profile expects at least 1")
    assert plan(fixed, held, BASE, NOW).step is Step.HOLD  # unchanged: the editor's
    changed = dataclasses.replace(held, changed=True)
    assert plan(fixed, changed, BASE, NOW, threads=[thread(4)]).step is Step.POST
    assert plan(short, changed, BASE, NOW).step is Step.HOLD
    from bot.core.news import FLOOD_WORDS

    flooded = dataclasses.replace(changed, error=f"7 new issues: {FLOOD_WORDS}")
    assert plan(fixed, flooded, BASE, NOW).step is Step.HOLD
