"""What is news: the state a new issue of the feed is recorded in.

The rules: an issue published within the backfill window is
queued; on a feed's first pass (an empty store: first deployment or a wiped disk) an older one
is only recorded as seen, so nothing floods the account; later, a new issue newer than the
newest known is queued however old (a bot that was down for days catches up), and one older than
that is history. And a flood guard: more new issues at once than the operator allows
(`max_new_per_pass`) are held for the editor (`flood_guard`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.model import Issue
from bot.core.state import IssueState

_S = IssueState
_BY_HAND = "post --entry LINK posts it"
# The earliest date a feed item may sensibly carry (before any web feed existed): anything
# earlier, like anything later than a day ahead of the clock, is a wrong or hostile date.
FEED_EPOCH = datetime(1990, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=1)


def sane_published(
    published: datetime | None, *, now: datetime, first_seen: datetime | None = None
) -> tuple[datetime | None, bool]:
    """The date the bot uses for an item dated `published` (record keys, schedules, what is
    news), and whether the feed's date was outside the sane window [FEED_EPOCH, now + 1 day].
    Outside it the issue counts as published when the bot first saw it: `first_seen` (the date
    stored then) or, for a new issue, `now`. An item dated 9999 can then neither break its
    record keys nor jump ahead of every other issue."""
    when = as_utc(published)
    if when is None or FEED_EPOCH <= when <= now + AHEAD:
        return when, False
    return (first_seen or now), True


@dataclass(frozen=True)
class Verdict:
    """The state a new issue is recorded in, and why it is not posted (None when queued)."""

    state: IssueState
    reason: str | None = None


def judge(
    issue: Issue,
    *,
    first_run: bool,
    newest_known: datetime | None,
    now: datetime,
    backfill_hours: float,
) -> Verdict:
    """What becomes of a NEW issue, with the reason when it is not posted (see the module
    docstring)."""
    published = issue.published
    if published is not None and published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    window = f"the backfill window of {backfill_hours:g} h"
    if published is not None and published >= now - timedelta(hours=backfill_hours):
        return Verdict(_S.QUEUED)
    if first_run:
        if published is None:
            why = f"undated, and a feed's first poll posts only issues within {window}"
        else:
            why = f"outside {window}"
        return Verdict(_S.SEEN, f"{why}; {_BY_HAND}")
    if published is None or newest_known is None or published > newest_known:
        return Verdict(_S.QUEUED)
    return Verdict(
        _S.SEEN, f"older than the newest issue already known (history, not news); {_BY_HAND}"
    )


def decide(
    issue: Issue,
    *,
    first_run: bool,
    newest_known: datetime | None,
    now: datetime,
    backfill_hours: float,
) -> IssueState:
    """The state a NEW issue is recorded in (see the module docstring)."""
    return judge(
        issue,
        first_run=first_run,
        newest_known=newest_known,
        now=now,
        backfill_hours=backfill_hours,
    ).state


def as_utc(when: datetime | None) -> datetime | None:
    """`when` in UTC (a naive time is taken as UTC)."""
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def published_key(issue: Issue) -> datetime:
    """Sort key: the issue's date, undated issues first."""
    return as_utc(issue.published) or datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Flood:
    """What the flood guard decided for one pass: the guids of new issues held for the editor
    (empty when the pass is not a flood), and the one alert's words."""

    held: frozenset[str]
    message: str | None = None


FLOOD_WORDS = " new issues at once"  # in every hold reason of the flood guard


def held_by_flood(reason: str | None) -> bool:
    """Whether an issue's hold reason is the flood guard's (not the review's)."""
    return bool(reason) and FLOOD_WORDS in (reason or "")


def flood_guard(queued: Sequence[Issue], *, cap: int, first_run: bool) -> Flood:
    """More new issues queued at once than `cap` (max_new_per_pass) look like a feed that
    changed (a migration, a new guid scheme), not like news: they are held for the editor, all
    of them; on a feed's first pass (an empty store) the newest `cap` still go out and only the
    rest wait. `queued` are the pass's new issues that would be posted (inside the backfill
    window, or newer than the newest known)."""
    if cap < 0 or len(queued) <= cap:
        return Flood(frozenset())
    newest_first = sorted(queued, key=published_key, reverse=True)
    held = newest_first[cap:] if first_run else newest_first
    n = len(queued)
    if first_run:
        message = (
            f"{n} new issues at once on a first pass: the newest {cap} go out, {len(held)} "
            "wait for the editor; approve or skip each"
        )
    else:
        message = f"{n} new issues at once: the feed may have changed; approve or skip"
    return Flood(frozenset(i.guid for i in held), message)
