"""The bot's health: each pass leaves a heartbeat in the store (and alerts the editor when
Bluesky refuses the credentials or the feed has been failing for an hour); `status --check`
reads the heartbeats and the issues, and nothing else (no network), to say in one line whether
all is well."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import AuthError, FeedError
from bot.log import event, redact_url
from bot.notify import Alert
from bot.service.outcomes import Outcome, PollResult
from bot.store.api import Heartbeat, IssueState, Store, StoredIssue

if TYPE_CHECKING:  # status --check judges heartbeats: it loads no worker, no Bluesky client
    from bot.service.worker import Worker

logger = logging.getLogger(__name__)

STALE_AFTER_INTERVALS = 3  # a daemon whose last good pass is older than this is unwell


def record_pass(
    worker: Worker, result: PollResult | None = None, error: BaseException | None = None
) -> Heartbeat | None:
    """After a pass: its heartbeat in the store, and the alerts it calls for. A dry run writes
    nothing (and has no credentials to be refused)."""
    settings = worker.settings
    if worker.dry_run:
        return None
    beat = worker.store.leases.record_pass(
        settings.name,
        interval=settings.poll_interval,
        error=None if error is None else str(error),
        feed_failed=isinstance(error, FeedError),
        auth_error=str(error) if isinstance(error, AuthError) else None,
        auth_ok=result is not None and result.count(Outcome.POSTED) > 0,  # it just posted
    )
    if isinstance(error, AuthError):
        worker.notifier.send(
            Alert.AUTH,
            f"Bluesky refused the credentials of {settings.bsky_handle}: {error}. Nothing is "
            "posted until BSKY_APP_PASSWORD is fixed and the bot restarted.",
        )
    if beat.feed_alert_due:
        worker.notifier.send(
            Alert.FEED,
            f"The feed {redact_url(settings.feed_url)} has been failing since "
            f"{_when(beat.feed_failing_since)}: {error}",
        )
    return beat


def verify_refused_credentials(worker: Worker) -> None:
    """At a daemon's start: if Bluesky refused the credentials before, try them once now (the
    operator restarts after fixing them), so `status --check` does not stay red until the next
    issue; a sign-in that reuses the saved session costs no createSession."""
    beat = worker.store.leases.heartbeat(worker.settings.name)
    if worker.settings.dry_run or beat is None or beat.auth_error is None:
        return
    try:
        worker.publisher.connection.sign_in()
    except AuthError as exc:
        event(logger, "bluesky.still_refused", logging.ERROR, error=str(exc))
        return
    worker.store.leases.record_pass(
        worker.settings.name, interval=worker.settings.poll_interval, error=beat.last_error,
        auth_ok=True,
    )  # fmt: skip
    event(logger, "bluesky.credentials_accepted", handle=worker.settings.bsky_handle)


@dataclass(frozen=True)
class Health:
    ok: bool
    line: str


def _when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t is not None else "never"


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute ago"
    if minutes < 120:
        return f"{minutes} min ago"
    return f"{minutes // 60} h ago"


def check(store: Store, bot: str, now: datetime) -> Health:
    """`status --check` for one bot: healthy, or one line naming every problem."""
    issues = store.issues.all([IssueState.FAILED, IssueState.HELD])
    return judge(bot, store.leases.heartbeat(bot), issues, now)


def judge(bot: str, beat: Heartbeat | None, issues: list[StoredIssue], now: datetime) -> Health:
    """The health of `bot` from its heartbeat and its failed and held issues (oldest first)."""
    problems: list[str] = []
    if beat is None:
        problems.append("no pass has run yet (is the daemon running? `run` records a heartbeat)")
    else:
        limit = timedelta(seconds=beat.interval * STALE_AFTER_INTERVALS)
        if beat.last_ok_at is None or now - beat.last_ok_at > limit:
            if beat.last_ok_at is None:
                stale = "no pass has succeeded yet"
            else:
                since = _ago(now - beat.last_ok_at).removesuffix(" ago")
                stale = (f"no successful pass for {since} (more than {STALE_AFTER_INTERVALS} "
                         "poll intervals)")
            # The refused credentials are said below, in their own words: not twice.
            if beat.last_error and beat.last_error != beat.auth_error:
                stale += f"; the last error: {beat.last_error}"
            problems.append(stale)
        if beat.auth_error:
            problems.append(f"Bluesky refused the credentials: {beat.auth_error}")
    for state, what, fix in (
        (IssueState.FAILED, "failed", "retry --entry LINK"),
        (IssueState.HELD, "held for review", "approve, post or skip --entry LINK"),
    ):
        issues_now = [i for i in issues if i.state is state]
        if issues_now:
            first = issues_now[0]
            more = f" and {len(issues_now) - 1} more" if len(issues_now) > 1 else ""
            why = f" ({first.error})" if first.error else ""
            problems.append(f"{what}: {first.link}{why}{more}; {fix}")
    if problems:
        return Health(False, f"{bot}: " + "; ".join(problems))
    assert beat is not None
    return Health(True, f"{bot}: ok, last pass {_ago(now - beat.last_pass_at)}"
                        if beat.last_pass_at else f"{bot}: ok")
