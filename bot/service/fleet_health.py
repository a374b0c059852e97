"""`status --check` over every bot at once: the same verdict per bot as bot.service.health.check,
from two reads of the store (every heartbeat, every failed or held issue) instead of three per
bot, so 10,000 bots are checked in about a second; and, for a daemon of many bots, whether the
daemons keep up (bots not checked for longer than their interval allows)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.service.health import Health, judge
from bot.store.api import Heartbeat, IssueState, Store, StoredIssue

SHOWN = 5  # bots named in the line when many have problems
LATE_AFTER = 1.5  # poll intervals without a check (and no error to explain it): behind
LATE_GRACE = timedelta(seconds=60)
MANY = 50  # from this many bots the line also says whether the daemons keep up


def check_all(store: Store, bots: Sequence[str], now: datetime) -> Health:
    """One line for `bots` (see the module docstring); `store` reads every bot's rows."""
    beats = {b.bot: b for b in store.leases.fleet_heartbeats()}
    issues: dict[str, list[StoredIssue]] = defaultdict(list)
    for issue in store.issues.all([IssueState.FAILED, IssueState.HELD]):
        issues[issue.bot].append(issue)
    results = [judge(b, beats.get(b), issues.get(b, []), now) for b in bots]
    bad = [h for h in results if not h.ok]
    behind = keeping_up(list(beats.get(b) for b in bots), now) if len(bots) >= MANY else None
    if not bad and behind is None:
        if len(results) >= MANY:
            return Health(True, f"all {len(results)} bots ok")
        return Health(True, " | ".join(h.line for h in results))
    shown = bad[:SHOWN] if len(bots) >= MANY else bad  # a few bots: every line, as ever
    lines = [h.line for h in shown]
    if len(bad) > len(shown):
        lines.append(f"and {len(bad) - SHOWN} more of {len(bots)} bots with problems")
    if behind is not None:
        lines.insert(0, behind)
    return Health(False, " | ".join(lines))


def serving(store: Store) -> dict[str, int]:
    """Which daemon serves how many bots now (its live leases), for `status`."""
    return store.leases.serving()


def keeping_up(beats: Sequence[Heartbeat | None], now: datetime) -> str | None:
    """None when every bot that is not failing was checked within LATE_AFTER of its interval;
    else one line with the numbers: late bots, checks due and done per minute."""
    late = 0
    due = done = 0.0
    for beat in beats:
        if beat is None or beat.last_pass_at is None:
            continue
        rate = 60.0 / max(beat.interval, 1)  # checks a minute this bot asks for
        due += rate
        allowed = timedelta(seconds=beat.interval * LATE_AFTER) + LATE_GRACE
        if now - beat.last_pass_at <= allowed:
            done += rate  # checked on time: its checks are being done
        elif beat.last_error is None:  # a failing feed backs off: that is not being behind
            late += 1
    if not late:
        return None
    return (f"the daemons are behind: {late} of {len(beats)} bots not checked within "
            f"{LATE_AFTER:g} poll intervals (checks due {due:.0f}/min, done on time "
            f"{done:.0f}/min): add a daemon or lengthen POLL_INTERVAL")
