"""`preview`: the thread(s) the bot would post for an issue, read from a feed, without posting. The
records shown are bot.bluesky.lexicon's `post_record`, what is posted. Cards are fetched as CARDS
says (and cached, so a later `post` fetches nothing again); `--offline` fetches nothing: the feed's
cards."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from bot.bluesky.lexicon import is_gone, post_of, post_record
from bot.cli.app import check_writable, echo_json, feed_named_by, write_output
from bot.core.model import Issue
from bot.core.plan import Plan, Step
from bot.core.post import Link, Post, Tag, Thread
from bot.core.profile import Profile, ThreadLayout
from bot.core.review import Verdict, review
from bot.core.text import graphemes, utf8_len

if TYPE_CHECKING:
    from bot.cards import CardFetcher
    from bot.html.page import Gone, PageSection


@click.command()
@click.option("--feed", "feed", required=True, metavar="PATH|URL", help="The feed to read.")
@click.option("--entry", "entry", metavar="LINK", help="The issue with this link (or guid).")
@click.option("--latest", is_flag=True, help="The newest issue in the feed (the default).")
@click.option("--all", "all_", is_flag=True, help="Every issue in the feed, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print the contract JSON (post records).")
@click.option("--offline", is_flag=True,
              help="Fetch no card's page or picture: cards as the feed gives them.")
@click.option(
    "--html",
    "html_path",
    metavar="PATH",
    help="Also write the thread(s) as one self-contained HTML page, drawn as Bluesky shows them.",
)
@click.option("--bot", "bot_name", metavar="NAME",
              help="Use this bot's profile and settings (BOTS_FILE; needed when several).")
def preview(
    feed: str,
    entry: str | None,
    latest: bool,
    all_: bool,
    as_json: bool,
    offline: bool,
    html_path: str | None,
    bot_name: str | None,
) -> None:
    """Show the thread(s) the bot would post for an issue, post by post.

    Each post shows its text, its size (graphemes / bytes, limits 300 / 3000), its links
    (visible text → full address) and its card: the title, description and picture address
    its page gives (CARDS), or the feed's. Nothing is posted. With --all, progress goes to
    stderr, card pages are fetched for the newest 25 issues only, and an entry that cannot be
    posted (no link) is named on stderr while the others are shown.

    Example: python -m bot preview --feed examples/bwr-feed.xml --latest --html p.html
    """
    if sum((entry is not None, latest, all_)) > 1:
        raise click.UsageError("choose one of --entry LINK, --latest and --all")
    # Imported here: reading and parsing a feed are other modules' jobs, loaded only when used.
    from bot.bots import load_bots, pick_bot
    from bot.cards import CardFetcher, cards_of
    from bot.cli.service import read_store
    from bot.core.profile import load_profile
    from bot.core.reader import parse_feed, pick_issue
    from bot.feed import read_source
    from bot.service.editor import preview_plans
    from bot.settings import card_cache_dir

    if html_path is not None:
        check_writable(html_path)
    settings = pick_bot(load_bots(), bot_name)
    profile = load_profile(settings.bot_config)
    with feed_named_by("--feed"):
        parsed = parse_feed(read_source(feed), profile, source=feed)
    issues = list(parsed.issues) if all_ else [pick_issue(parsed.issues, entry, feed)]
    if all_:
        for line in parsed.skipped:
            click.echo(f"warning: {line}", err=True)
    mode = "feed" if offline and settings.cards == "rich" else settings.cards
    fetcher = None
    if not offline and mode != "off":
        fetcher = CardFetcher(card_cache_dir(settings),
                              allow_private=settings.cards_allow_private)
    if fetcher is not None and len(issues) > MAX_CARD_ISSUES:
        click.echo(f"cards: pages fetched for the newest {MAX_CARD_ISSUES} issues; the other "
                   f"{len(issues) - MAX_CARD_ISSUES} show the feed's cards", err=True)
    store = read_store(settings)
    try:
        composed = _compose_all(issues, profile, fetcher, mode, several=all_)
        # What the bot does with each (the plan), and the thread(s) it would write: an issue
        # announced only is its root post and card.
        plans = preview_plans(settings, store, profile, composed, fetcher)
        previews = [(i, list(p.threads) if p.threads is not None and p.writes else t)
                    for (i, t), p in zip(composed, plans, strict=True)]
        fetched = {c.uri: fetcher.fetched(c.uri) for _, t in previews[:MAX_CARD_ISSUES]
                   for c in cards_of(t)} if fetcher is not None else {}  # fmt: skip
        if html_path is not None:
            from bot.html.page import render_page

            # The pictures as they would be uploaded (fitted), inlined; keyed by card address.
            cards = [c for _, t in previews for c in cards_of(t)]
            found = fetcher.thumbs(c.thumb_url for c in cards) if fetcher is not None else {}
            thumbs = {c.uri: found[c.thumb_url] for c in cards if c.thumb_url in found}
            sections = sections_from_preview([preview_json(i, t, plan=p) for (i, t), p
                                               in zip(previews, plans, strict=True)])
            page = render_page(sections, account_name=profile.name,
                               handle=settings.bsky_handle or "", thumbs=thumbs)
            write_output(html_path, page)
    finally:
        if fetcher is not None:
            fetcher.close()
        if store is not None:
            store.close()
    if as_json:
        echo_json([preview_json(issue, threads, fetched, review(issue, profile), plan=p)
                   for (issue, threads), p in zip(previews, plans, strict=True)])
    else:
        click.echo("\n\n".join(render_text(issue, threads, profile.thread,
                                            review(issue, profile), plan=p)
                                for (issue, threads), p in zip(previews, plans, strict=True)))


# A preview of a whole feed fetches card pages for its newest issues only: a 730-entry podcast
# feed would otherwise fetch 730 pages (minutes); the rest show the feed's own cards.
MAX_CARD_ISSUES = 25


def _compose_all(
    issues: Sequence[Issue],
    profile: Profile,
    fetcher: CardFetcher | None,
    mode: str,
    several: bool,
) -> list[tuple[Issue, list[Thread]]]:
    """Each issue with its thread(s), as composed (the plan then says which it writes). With
    `several`, progress goes to stderr (a bar on a terminal) and an issue that cannot be
    composed is named there and left out."""
    from bot.cards import compose_with_cards
    from bot.errors import BotError

    out: list[tuple[Issue, list[Thread]]] = []
    stderr = sys.stderr
    with click.progressbar(issues, label=f"previewing {len(issues)} issues", file=stderr,
                           show_pos=True) if several and len(issues) > 1 else _as_is(
                               issues) as steps:  # fmt: skip
        for n, issue in enumerate(steps):
            cards = fetcher if n < MAX_CARD_ISSUES else None
            try:
                threads = compose_with_cards(issue, profile, cards, mode)
            except BotError as exc:
                if not several:
                    raise
                click.echo(f"\nwarning: {exc}: not previewed", err=True)  # names the issue
                continue
            out.append((issue, threads))
    return out


@contextlib.contextmanager
def _as_is(items: Sequence[Issue]) -> Iterator[Sequence[Issue]]:
    yield items


def preview_json(
    issue: Issue,
    threads: Sequence[Thread],
    fetched: Mapping[str, Mapping[str, str]] | None = None,
    verdict: Verdict | None = None,
    plan: Plan | None = None,
) -> dict[str, Any]:
    """contracts.md `preview --json` element: the entry and each thread's post records; and,
    when any card's page was read, `cards`: each such card's address, title, description and
    picture address (a record carries no picture before it is uploaded); `review` when the
    daemon would not simply post it: {"action": hold|announce|post, "reason"}; and `plan`, what
    the bot does with it (bot.core.plan): {"step", "says", "due" (RFC 3339 or null)}."""
    element: dict[str, Any] = {
        "entry": {"guid": issue.guid, "link": issue.link, "title": issue.title},
        "threads": [[post_record(post) for post in thread] for thread in threads],
    }
    if verdict is not None and verdict.reason:
        element["review"] = {"action": verdict.action.value, "reason": verdict.reason}
    if plan is not None:
        element["plan"] = {"step": plan.step.value, "says": plan.describe(),
                           "due": plan.due.isoformat() if plan.due else None}
    from bot.cards.thread import cards_of

    fetched = fetched or {}
    cards = [
        {"uri": c.uri, "title": c.title, "description": c.description, "image": c.thumb_url}
        for c in cards_of(list(threads))
        if fetched.get(c.uri)
    ]
    if cards:
        element["cards"] = cards
    return element


def render_text(
    issue: Issue,
    threads: Sequence[Thread],
    layout: ThreadLayout | None = None,
    verdict: Verdict | None = None,
    plan: Plan | None = None,
) -> str:
    """A readable rendering: the issue (given the profile's `layout`, Bluesky's settings for its
    threads; given the review's `verdict`, what the review says when it would not simply post
    it; given the `plan`, what the bot does with it when that is not simply posting it), then
    each thread's posts in order with their sizes, links and cards."""
    lines = [f"Issue: {issue.title}", f"       {issue.link}"]
    if layout is not None:
        quotes, pin = "on" if layout.quotes else "off", "yes" if layout.pin_latest else "no"
        lines.append(f"       replies: {layout.replies} · quotes: {quotes} · pin: {pin}")
    if verdict is not None and verdict.reason:
        lines.append(f"Review: {verdict.describe()}")
    if plan is not None and plan.step is not Step.POST:
        lines.append(f"Plan: {plan.describe()}")
    for t, thread in enumerate(threads, start=1):
        lines.append("")
        lines.append(f"Thread {t} of {len(threads)}: {len(thread)} posts")
        for n, post in enumerate(thread, start=1):
            lines.append("")
            lines.extend(_render_post(post, n, len(thread)))
    return "\n".join(lines)


def _render_post(post: Post, n: int, total: int) -> list[str]:
    size = f"{graphemes(post.text)} graphemes, {utf8_len(post.text)} bytes"
    out = [f"── {n}/{total} · {post.kind} · {size}"]
    out.extend(("  " + line).rstrip() for line in post.text.split("\n"))
    for shown, feature in post.spans():
        if isinstance(feature, Link):
            out.append(f"  link: {shown} → {feature.uri}")
        elif isinstance(feature, Tag):
            out.append(f"  tag:  {shown} → #{feature.tag}")
    if post.card is not None:
        card = post.card
        out.append(f"  card: {card.title} → {card.uri}")
        if card.description:
            out.append(f"        {card.description}")
        if card.thumb_url:
            out.append(f"        image: {card.thumb_url}")
    return out


def sections_from_preview(data: Sequence[Mapping[str, Any]]) -> list[PageSection]:
    """The HTML page's sections of a `preview --json` array: each element's entry, its threads
    read back from the records (so the page draws exactly what is posted), and its `plan` when
    the bot would not simply post it (held, waiting, announced only, already on Bluesky…)."""
    from bot.html.page import Gone, PageSection

    def drawn(record: Mapping[str, Any]) -> Post | Gone:
        return Gone(str(record.get("uri", ""))) if is_gone(record) else post_of(record)

    sections = []
    for element in data:
        plan = element.get("plan") or {}
        says = plan.get("says") if plan.get("step") != "post" else None
        sections.append(PageSection(
            entry=dict(element["entry"]),
            threads=[[drawn(r) for r in thread] for thread in element["threads"]],
            plan=str(says) if says else None))
    return sections
