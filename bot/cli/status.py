"""`status`: what the bots have seen and posted, and `status --check`, the health check. Both
read only the database (`--html` also reads the posted threads back from Bluesky)."""

from __future__ import annotations

import os
from shlex import quote
from typing import Any

import click

from bot.cli.app import check_writable, echo_json, write_output
from bot.cli.service import EVERY_BOT_HELP, _logging, _no_store, _setup
from bot.errors import BotError
from bot.log import printable, redact_url


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1),
    help="How many issues, newest first.",
)
@click.option(
    "--html",
    "html_path",
    metavar="PATH",
    help="Also write their posted threads, read back from Bluesky, as one self-contained HTML "
    "page (as `preview --html` draws them). Needs BSKY_HANDLE and BSKY_APP_PASSWORD.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Health check: exit 0 and one line when all is well, exit 1 and one line saying what "
    "is wrong (no recent pass, an issue failed or held, credentials refused). Reads only the "
    "database.",
)
@click.option("--bot", "bot_name", metavar="NAME", help=EVERY_BOT_HELP)
@click.pass_context
def status(
    ctx: click.Context,
    as_json: bool,
    limit: int,
    html_path: str | None,
    check: bool,
    bot_name: str | None,
) -> None:
    """Recent issues of every bot: their state, when they were posted, and their threads on
    Bluesky.

    Example: python -m bot status --limit 5 --html posted.html
    """
    from bot.bots import load_bots, pick_bot

    _logging(ctx)
    bots = load_bots()
    if bot_name is not None:
        bots = [pick_bot(bots, bot_name)]
    if check:
        _check(ctx, bots)
        return
    from bot.service.editor import status_rows  # not for --check: it reads heartbeats only
    first = bots[0]
    if html_path is not None:
        from bot.errors import ConfigError
        from bot.service.posted import NEEDS_CREDENTIALS

        first = pick_bot(bots, bot_name)  # the page is one account's
        if first.dry_run:  # before the store: one line, nothing else
            raise ConfigError(NEEDS_CREDENTIALS)
        check_writable(html_path)
    missing = _no_store(first)
    if missing is None:  # status only reads: it creates no database
        _, store = _setup(ctx, first, every_bot=True)
        if html_path is not None:
            from bot.service.posted import posted_page

            write_output(html_path, posted_page(first, store.for_bot(first.name), limit))
        names = [b.name for b in bots] if bot_name is not None else None
        rows = status_rows(store, limit, {b.name: b.post_delay for b in bots}, names)
        daemons = _serving(store) if len(bots) > 1 else None
    elif html_path is not None:
        raise BotError(f"no database at {missing} yet: nothing posted to draw")
    else:
        rows, daemons = [], None
    from_file = bool(os.environ.get("BOTS_FILE", "").strip())
    if as_json:
        listed: dict[str, Any] = {"issues": rows, "bots": [bot_settings(b) for b in bots]}
        if daemons is not None:
            listed["daemons"] = daemons
        echo_json(listed)
        return
    if not rows:
        click.echo("No issues recorded yet (`python -m bot poll` reads the feed).")
    else:
        feeds = {b.name: redact_url(b.feed_url) for b in bots}
        _table(rows, several=len(load_bots()) > 1, feeds=feeds)
    if daemons is not None:
        click.echo(_daemons_line(daemons))
    if from_file:  # each bot's settings as it runs with them (the environment's defaults applied)
        click.echo()
        for b in bots:
            click.echo(_settings_line(bot_settings(b)))


def _serving(store: Any) -> dict[str, int]:
    from bot.service.fleet_health import serving

    return serving(store)


def _daemons_line(daemons: dict[str, int]) -> str:
    """Which daemon serves how many bots (several bots only: one bot has one daemon)."""
    if not daemons:
        return "Daemons: none serving any bot now (is `run` running?)"
    return "Daemons: " + " · ".join(f"{d} serves {n} bots" for d, n in daemons.items())


def bot_settings(settings: Any) -> dict[str, Any]:
    """A bot's effective settings, as `status --json` lists them under "bots" (no secrets:
    whether it has a password and a webhook, never what they are)."""
    return {
        "bot": settings.name,
        "feed": redact_url(settings.feed_url),  # a user:password@ or ?token= stays hidden
        "handle": settings.bsky_handle,
        "service": settings.bsky_service,
        "dry_run": settings.dry_run,
        "poll_interval": settings.poll_interval,
        "post_delay": settings.post_delay,
        "backfill_hours": settings.backfill_hours,
        "max_new_per_pass": settings.max_new_per_pass,
        "cards": settings.cards,
        "alerts": list(settings.notify_on) if settings.notify_url else [],
        "profile": settings.bot_config,
    }


def _settings_line(s: dict[str, Any]) -> str:
    account = f"@{s['handle']}" if s["handle"] else "no account"
    mode = "dry run (no password)" if s["dry_run"] else f"posts to {account}"
    alerts = ",".join(s["alerts"]) or "none"
    return (f"bot {s['bot']}: {s['feed']} · {mode} · every {s['poll_interval']} s · "
            f"POST_DELAY {s['post_delay']:g} min · BACKFILL_HOURS {s['backfill_hours']:g} · "
            f"CARDS {s['cards']} · alerts {alerts}")


def _table(rows: list[dict[str, Any]], several: bool, feeds: dict[str, str]) -> None:
    """The rows as `status` prints them; a BOT column when several bots are configured, and the
    feed an issue was read from when it is not its bot's (`post --feed`)."""
    bot_w = max([3, *(len(r["bot"]) for r in rows)]) + 1 if several else 0
    head = f"{'BOT':<{bot_w}}" if several else ""
    click.echo(f"{head}{'STATE':<8} {'PUBLISHED':<16} {'POSTED':<16} ISSUE")
    pad = " " * (bot_w + 42)
    for r in rows:
        state = "waiting" if r["due"] else r["state"]
        bot = f"{r['bot']:<{bot_w}}" if several else ""
        click.echo(
            f"{bot}{state:<8} {_when(r['published']):<16} {_when(r['posted_at']):<16} "
            f"{printable(r['title'])}"
        )
        click.echo(f"{pad} {printable(r['link'])}")
        if r["feed"] != feeds.get(r["bot"]):
            click.echo(f"{pad} read from {r['feed']}")
        for t in r["threads"]:
            click.echo(f"{pad} → {t['url']}")
        if r["due"]:
            click.echo(f"{pad} goes out at {_when(r['due'])} UTC (POST_DELAY)")
        if r["state"] in ("queued", "posting") and not r["due"]:
            click.echo(f"{pad} {r['plan']}")
        if r["error"] and r["state"] == "held":
            click.echo(f"{pad} held: {printable(r['error'])}")
            click.echo(f"{pad} approve, post or skip --entry {quote(r['link'])}")
        elif r["error"]:
            click.echo(f"{pad} error: {printable(r['error'])}")


def _check(ctx: click.Context, bots: list[Any]) -> None:
    """`status --check`: one line for all the bots, exit 0 (all healthy) or 1."""
    from bot.service.health import check

    missing = _no_store(bots[0])
    if missing is not None:
        click.echo(f"no database at {missing} (has the bot ever run?)")
        ctx.exit(1)
    _, store = _setup(ctx, bots[0], every_bot=True)
    now = store.now()
    if len(bots) == 1:
        health = check(store.for_bot(bots[0].name), bots[0].name, now)
    else:  # two reads for every bot, not three per bot
        from bot.service.fleet_health import check_all

        health = check_all(store, [b.name for b in bots], now)
    click.echo(health.line)
    ctx.exit(0 if health.ok else 1)


def _when(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "-"
