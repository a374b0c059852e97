"""`inspect`: how the bot reads each issue of a feed (sections found, what was left out)."""

from __future__ import annotations

import click

from bot.cli.app import echo_json, feed_named_by
from bot.core.model import Feed, Issue
from bot.core.profile import Profile
from bot.core.review import Verdict, review

NOT_BWR = "not a BWR-shaped issue: announced with title and link only"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def issue_summary(issue: Issue, verdict: Verdict | None = None) -> list[str]:
    """The readable lines `inspect` prints for one issue (with the daemon's review when it would
    not simply post it)."""
    lines = [issue.title or "(untitled)", f"  link:      {issue.link}"]
    published = issue.published.isoformat() if issue.published else "unknown"
    lines.append(f"  published: {published}")
    lines.append(f"  volume:    {issue.volume or '-'}")
    if verdict is not None and verdict.reason:
        lines.append(f"  review:    {verdict.describe()}")
    if not issue.is_bwr_shaped:
        lines.append(f"  {NOT_BWR}")
    else:
        lines.append(f"  takeaways ({len(issue.takeaways)}):")
        lines += [f"    - {t.label or '(no label)'}" for t in issue.takeaways]
        for name, items in (("follow-ups", issue.follow_ups), ("quick bites", issue.quick_bites)):
            lines.append(f"  {name} ({len(items)}):")
            lines += [
                f"    - {item.headline} ({_plural(len(item.paragraphs), 'paragraph')}, "
                f"{_plural(len(item.links), 'link')})"
                for item in items
            ]
    if issue.warnings:
        lines.append(f"  warnings ({len(issue.warnings)}):")
        lines += [f"    - {w}" for w in issue.warnings]
    if issue.notes:
        lines.append(f"  notes ({len(issue.notes)}):")
        lines += [f"    - {n}" for n in issue.notes]
    return lines


def feed_summary(feed: Feed, profile: Profile | None = None) -> str:
    """The readable summary `inspect` prints for a whole feed."""
    head = f"{feed.info.title or '(untitled feed)'} ({feed.info.link or 'no link'})"
    lines = [head, _plural(len(feed.issues), "issue")]
    if feed.problem:
        lines.append(f"feed is malformed but readable: {feed.problem}")
    if feed.skipped:
        lines.append(f"not posted ({len(feed.skipped)}):")
        lines += [f"  - {line}" for line in feed.skipped]
    for issue in feed.issues:
        lines.append("")
        lines += issue_summary(issue, review(issue, profile) if profile else None)
    return "\n".join(lines)


@click.command()
@click.option("--feed", "feed", required=True, metavar="PATH|URL", help="The feed to read.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the contract JSON instead of a summary."
)
@click.option("--bot", "bot_name", metavar="NAME",
              help="Read with this bot's profile (BOTS_FILE; needed when several).")
def inspect(feed: str, as_json: bool, bot_name: str | None) -> None:
    """Show how the bot reads each issue of a feed (sections found).

    Prints each issue's title, link, date, volume line, takeaway labels, follow-ups and quick
    bites with their link counts, and anything seen but left out. --json prints the same as
    JSON, for scripts (README.md, "Commands").

    Example: python -m bot inspect --feed examples/bwr-feed.xml
    """
    # Imported here so `--help` stays light (feedparser and lxml load only when reading).
    from bot.bots import load_bots, pick_bot
    from bot.core.profile import load_profile
    from bot.core.reader import parse_feed
    from bot.feed import read_source

    profile = load_profile(pick_bot(load_bots(), bot_name).bot_config)
    with feed_named_by("--feed"):
        result = parse_feed(read_source(feed), profile, source=feed)
    if as_json:
        data = result.to_json()
        for issue, shown in zip(result.issues, data["issues"], strict=True):
            verdict = review(issue, profile)
            if verdict.reason:  # a new key, only when the daemon would not simply post it
                shown["review"] = {"action": verdict.action.value, "reason": verdict.reason}
        echo_json(data)
    else:
        click.echo(feed_summary(result, profile))
