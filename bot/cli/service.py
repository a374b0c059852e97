"""The service's commands: run, poll, post, status, db upgrade, and the editor's fixes (skip,
retry, mark-posted). Thin: each parses its options, calls one library function (bot.service)
and prints. Progress goes to stderr as log lines, results to stdout."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from bot.cli.app import check_writable, echo_json, feed_named_by, setup_logging, write_output
from bot.errors import BotError, PublishError

ENTRY_HELP = "The issue's link (or guid), as in the feed."
FEED_HELP = "Read the issue from this feed when the database does not know it."
# A dry run's store: in memory, so a dry run writes nothing anywhere (no data/bot.db).
DRY_RUN_DATABASE = "sqlite://"


def _logging(ctx: click.Context) -> None:
    setup_logging(bool(ctx.obj and ctx.obj.get("debug")))


def _setup(ctx: click.Context, settings: Any = None) -> tuple[Any, Any]:
    """Settings, and the store with its migrations applied."""
    from bot.settings import load_settings
    from bot.store.api import Store

    _logging(ctx)
    settings = settings or load_settings()
    store = Store(settings.database_url)
    ctx.call_on_close(store.close)
    store.upgrade()
    return settings, store


def _dry(settings: Any) -> Any:
    """The settings of a dry run: no credentials and a store in memory (nothing written)."""
    return replace(
        settings, database_url=DRY_RUN_DATABASE, bsky_handle=None, bsky_app_password=None
    )


def _no_store(settings: Any) -> str | None:
    """The SQLite file of the settings when it does not exist yet (nothing recorded yet)."""
    from bot.settings import sqlite_path

    path = sqlite_path(settings.database_url)
    return str(path) if path is not None and not path.exists() else None


@click.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the bot: poll the feed every POLL_INTERVAL seconds and post new issues.

    Applies database migrations first. Stops cleanly on SIGTERM or Ctrl-C (the thread being
    written is finished, or left for the next run to complete). Without BSKY_HANDLE and
    BSKY_APP_PASSWORD it runs as a dry run and says so.

    Example: python -m bot run
    """
    from bot.service.daemon import run_daemon
    from bot.settings import load_settings

    _logging(ctx)
    settings = load_settings()
    ctx.exit(run_daemon(_dry(settings) if settings.dry_run else settings))


@click.command()
@click.pass_context
def poll(ctx: click.Context) -> None:
    """One pass of what `run` does, then exit: fetch the feed, post what is new.

    Prints a summary. Exits 1 when the feed, the database or Bluesky failed, or an issue could
    not be posted. SIGTERM/Ctrl-C: the thread being written is finished first.

    Example: python -m bot poll
    """
    from bot.service.daemon import install_signal_handlers
    from bot.service.health import record_pass
    from bot.service.worker import Worker
    from bot.settings import load_settings

    _logging(ctx)
    settings = load_settings()
    settings, store = _setup(ctx, _dry(settings) if settings.dry_run else settings)
    with Worker(settings, store) as worker:
        install_signal_handlers(worker.stop)
        try:
            result = worker.poll()
        except BotError as exc:
            record_pass(worker, error=exc)
            raise
        record_pass(worker, result)
    click.echo(result.summary())
    if result.problems:
        first = result.problems[0]
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        raise BotError(f"{first.link} was not posted: {first.error}{more}")


@click.command()
@click.option("--entry", metavar="LINK", help=ENTRY_HELP)
@click.option("--latest", is_flag=True, help="The newest issue in the feed.")
@click.option("--dry-run", is_flag=True, help="Show the thread it would post; post nothing.")
@click.option(
    "--force", is_flag=True, help="Post a new thread even if the issue is already on Bluesky."
)
@click.option(
    "--feed", metavar="PATH|URL", help="Read the issue from this feed (default FEED_URL)."
)
@click.pass_context
def post(
    ctx: click.Context,
    entry: str | None,
    latest: bool,
    dry_run: bool,
    force: bool,
    feed: str | None,
) -> None:
    """Post one issue now, by its link or the newest in the feed.

    An issue already on the account (per the database, or found on Bluesky) is not posted
    again: it says where it is. --force posts a new thread anyway.

    Example: python -m bot post --entry https://aablanco.substack.com/p/russias-eroding-influence-in-the
    """
    if (entry is None) == (not latest):
        raise click.UsageError("choose one of --entry LINK and --latest")
    from bot.service.editor import post_one
    from bot.service.worker import Worker

    if dry_run:  # no database, no Bluesky, no card cache: it writes nothing anywhere
        from bot.settings import load_settings

        _logging(ctx)
        settings, store = _setup(ctx, _dry(load_settings()))
    else:
        settings, store = _setup(ctx)
    with Worker(settings, store) as worker, feed_named_by("--feed" if feed else None):
        issue, outcome, threads = post_one(
            worker, entry=entry, source=feed, force=force, dry_run=dry_run
        )
    _print_posted(issue, outcome, threads)


def _print_posted(issue: Any, outcome: Any, threads: Any) -> None:
    """What `post` and `approve` say about the issue they posted (or why they did not)."""
    from bot.cli.preview import render_text
    from bot.service.outcomes import Outcome

    if outcome.outcome is Outcome.WOULD_POST:
        click.echo(render_text(issue, threads))
        click.echo(f"\ndry run: would post {issue.link} ({outcome.posts} posts); nothing posted")
    elif outcome.outcome is Outcome.POSTED:
        click.echo(f"Posted {issue.link}: {outcome.posts} posts")
        click.echo("\n".join(f"  {u}" for u in outcome.urls))
    elif outcome.outcome is Outcome.ALREADY_POSTED:
        click.echo(
            f"Already on Bluesky, not posted again (--force posts a new thread): {issue.link}"
        )
        click.echo("\n".join(f"  {u}" for u in outcome.urls) or "  (no post address recorded)")
    elif outcome.outcome is Outcome.DEFERRED:
        raise PublishError(f"{issue.link} was not posted: {outcome.error}")
    else:
        raise BotError(f"{issue.link} was not posted: {outcome.error}")


@click.command()
@click.option("--entry", metavar="LINK", required=True, help=ENTRY_HELP)
@click.option(
    "--feed", metavar="PATH|URL", help="Read the issue from this feed (default FEED_URL)."
)
@click.pass_context
def approve(ctx: click.Context, entry: str, feed: str | None) -> None:
    """Post an issue the review held (status shows why), as the bot composes it, now.

    It is never held again. `post --entry LINK` does the same for any issue; `skip --entry
    LINK` drops a held issue instead.

    Example: python -m bot approve --entry https://aablanco.substack.com/p/some-issue
    """
    from bot.service.editor import approve as approve_issue
    from bot.service.worker import Worker

    settings, store = _setup(ctx)
    with Worker(settings, store) as worker, feed_named_by("--feed" if feed else None):
        issue, outcome, threads = approve_issue(worker, entry, source=feed)
    _print_posted(issue, outcome, threads)


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
@click.pass_context
def status(
    ctx: click.Context, as_json: bool, limit: int, html_path: str | None, check: bool
) -> None:
    """Recent issues: their state, when they were posted, and their threads on Bluesky.

    Example: python -m bot status --limit 5 --html posted.html
    """
    from bot.service.editor import status_rows
    from bot.settings import load_settings

    _logging(ctx)
    settings = load_settings()
    if check:
        _check(ctx, settings)
        return
    if html_path is not None:
        from bot.errors import ConfigError
        from bot.service.posted import NEEDS_CREDENTIALS

        if settings.dry_run:  # before the store: one line, nothing else
            raise ConfigError(NEEDS_CREDENTIALS)
        check_writable(html_path)
    missing = _no_store(settings)
    if missing is None:  # status only reads: it creates no database
        settings, store = _setup(ctx, settings)
        if html_path is not None:
            from bot.service.posted import posted_page

            write_output(html_path, posted_page(settings, store, limit))
        rows = status_rows(store, limit, settings.post_delay)
    elif html_path is not None:
        raise BotError(f"no database at {missing} yet: nothing posted to draw")
    else:
        rows = []
    if as_json:
        echo_json({"issues": rows})
        return
    if not rows:
        click.echo("No issues recorded yet (`python -m bot poll` reads the feed).")
        return
    click.echo(f"{'STATE':<8} {'PUBLISHED':<16} {'POSTED':<16} ISSUE")
    for r in rows:
        state = "waiting" if r["due"] else r["state"]
        click.echo(
            f"{state:<8} {_when(r['published']):<16} {_when(r['posted_at']):<16} {r['title']}"
        )
        click.echo(f"{'':<42} {r['link']}")
        for t in r["threads"]:
            click.echo(f"{'':<42} → {t['url']}")
        if r["due"]:
            click.echo(f"{'':<42} goes out at {_when(r['due'])} UTC (POST_DELAY)")
        if r["error"] and r["state"] == "held":
            click.echo(f"{'':<42} held: {r['error']}")
            click.echo(f"{'':<42} approve, post or skip --entry {r['link']}")
        elif r["error"]:
            click.echo(f"{'':<42} error: {r['error']}")


def _check(ctx: click.Context, settings: Any) -> None:
    """`status --check`: one line, exit 0 (healthy) or 1. Reads only the database."""
    from bot.service.health import check

    missing = _no_store(settings)
    if missing is not None:
        click.echo(f"{settings.name}: no database at {missing} (has the bot ever run?)")
        ctx.exit(1)
    settings, store = _setup(ctx, settings)
    health = check(store, settings.name, store.now())
    click.echo(health.line)
    ctx.exit(0 if health.ok else 1)


def _when(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "-"


@click.group()
def db() -> None:
    """The database: apply migrations.

    Example: python -m bot db upgrade
    """


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply pending migrations (safe to run at every release, and by several processes).

    Example: python -m bot db upgrade
    """
    _, store = _setup(ctx)
    click.echo(f"database {store.url}: at revision {store.revision()} (newest)")


def _show(action: str, issue: Any) -> None:
    """What was done, and the state the issue is in when that does not say it already."""
    state = issue.state.value
    click.echo(f"{issue.link}: {action}" + ("" if state in action else f" (now {state})"))


@click.command()
@click.option("--entry", metavar="LINK", required=True, help=ENTRY_HELP)
@click.option("--feed", metavar="PATH|URL", help=FEED_HELP)
@click.pass_context
def skip(ctx: click.Context, entry: str, feed: str | None) -> None:
    """Never post this issue (it stays in the database as skipped).

    An issue the database does not know yet is read from --feed (nothing is fetched without it).

    Example: python -m bot skip --entry https://aablanco.substack.com/p/some-issue
    """
    from bot.service.editor import skip as skip_issue

    settings, store = _setup(ctx)
    with feed_named_by("--feed"):
        _show("skipped", skip_issue(settings, store, entry, source=feed))


@click.command()
@click.option("--entry", metavar="LINK", required=True, help=ENTRY_HELP)
@click.option("--feed", metavar="PATH|URL", help=FEED_HELP)
@click.pass_context
def retry(ctx: click.Context, entry: str, feed: str | None) -> None:
    """Post a failed issue again on the next poll.

    Example: python -m bot retry --entry https://aablanco.substack.com/p/some-issue
    """
    from bot.service.editor import retry as retry_issue

    settings, store = _setup(ctx)
    with feed_named_by("--feed"):
        _show("queued again", retry_issue(settings, store, entry, source=feed))


@click.command("mark-posted")
@click.option("--entry", metavar="LINK", required=True, help=ENTRY_HELP)
@click.option("--uri", metavar="AT_URI", help="The at:// URI of the thread's first post.")
@click.option("--feed", metavar="PATH|URL", help=FEED_HELP)
@click.pass_context
def mark_posted(ctx: click.Context, entry: str, uri: str | None, feed: str | None) -> None:
    """Record that this issue is on Bluesky already (posted by hand): the bot will not post it.

    An issue the database does not know yet is read from --feed (nothing is fetched without it).

    Example: python -m bot mark-posted --entry https://aablanco.substack.com/p/some-issue
    --uri at://did:plc:abc/app.bsky.feed.post/3lxyz
    """
    from bot.service.editor import mark_posted as mark

    settings, store = _setup(ctx)
    with feed_named_by("--feed"):
        _show("marked as posted", mark(settings, store, entry, uri, source=feed))
