"""The service's commands: run, poll, post, status, db upgrade, and the editor's fixes (skip,
retry, mark-posted). Thin: each parses its options, calls one library function (bot.service)
and prints. Progress goes to stderr as log lines, results to stdout."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import click

from bot.cli.app import feed_named_by, setup_logging
from bot.errors import BotError, ConfigError, PublishError

_LOG = logging.getLogger(__name__)
ENTRY_HELP = "The issue's link (or guid), as in the feed."
FEED_HELP = "Read the issue from this feed when the database does not know it."
# A dry run's store: in memory, so a dry run writes nothing anywhere (no data/bot.db).
DRY_RUN_DATABASE = "sqlite://"


def _logging(ctx: click.Context) -> None:
    setup_logging(bool(ctx.obj and ctx.obj.get("debug")))


BOT_HELP = "Which bot (BOTS_FILE): required when several are configured."
EVERY_BOT_HELP = "Only this bot (BOTS_FILE); every bot by default."


def bot_option(f: Any) -> Any:
    return click.option("--bot", "bot_name", metavar="NAME", help=BOT_HELP)(f)


def _bot(bot_name: str | None) -> Any:
    """The settings of the bot the command acts on (the environment's, without BOTS_FILE)."""
    from bot.bots import load_bots, pick_bot

    return pick_bot(load_bots(), bot_name)


def _setup(ctx: click.Context, settings: Any = None, bot_name: str | None = None,
           every_bot: bool = False, feed: str | None = None,
           feed_option: bool = True) -> tuple[Any, Any]:
    """Settings, and the store (the bot's rows; every bot's with `every_bot`) with its
    migrations applied — after the feed file the command will read (`feed`, given with --feed
    or not) is found: a wrong input is said before the database is touched."""
    from bot.store.api import Store

    _logging(ctx)
    settings = settings or _bot(bot_name)
    if feed is not None:
        _feed_file_exists(feed, feed_label(settings, feed if feed_option else None))
    store = Store(settings.database_url, bot=None if every_bot else settings.name)
    ctx.call_on_close(store.close)
    store.upgrade()
    return settings, store


def feed_label(settings: Any, option_feed: str | None) -> str | None:
    """What a feed error should name as the feed's source: `--feed`, the bots file's bot, or
    (None) FEED_URL, which the feed module's hints already name."""
    import os

    if option_feed is not None:
        return "--feed"
    bots_file = os.environ.get("BOTS_FILE", "").strip()
    return f"feed_url of bot {settings.name!r} in {bots_file}" if bots_file else None


def _feed_file_exists(source: str, label: str | None) -> None:
    """A local feed file that is not there, said as the feed module says it (FeedError)."""
    from pathlib import Path

    from bot.errors import FeedError
    from bot.settings import looks_like_an_address

    if "://" not in source and not Path(source).expanduser().exists():
        if looks_like_an_address(source):
            raise FeedError(f"{source} is a web address without its scheme: add https:// "
                            f"(https://{source}); check {label or 'FEED_URL'}")
        raise FeedError(f"feed file {source} does not exist: check {label or 'FEED_URL'}")


def _dry(settings: Any) -> Any:
    """The settings of a dry run: no credentials and a store in memory (nothing written)."""
    # A bot of BOTS_FILE without its password keeps its handle: it is shown, and it was said to
    # be a dry run when the file was read (the daemon does not say it again).
    handle = settings.bsky_handle if settings.dry_run else None
    return replace(
        settings, database_url=DRY_RUN_DATABASE, bsky_handle=handle, bsky_app_password=None
    )


def read_store(settings: Any, bot: str | None = "") -> Any:
    """The bot's database to read (never written, not migrated; every bot's with `bot=None`),
    or None — said in a log line — when there is none yet, it cannot be read, or it is not at
    the newest migration (`db upgrade`). The caller closes it."""
    import logging

    from bot.errors import StoreError
    from bot.log import event
    from bot.store.api import Store

    if _no_store(settings) is not None:
        return None
    store = Store(settings.database_url, bot=settings.name if bot == "" else bot)
    try:
        revision = store.revision()
    except StoreError as exc:
        event(_LOG, "dry_run.database_not_read", logging.WARNING, error=str(exc))
        store.close()
        return None
    if revision == store.head_revision():
        return store
    event(_LOG, "dry_run.database_not_read", logging.WARNING, revision=revision,
          note="not at the newest migration (`db upgrade`): read as if empty")
    store.close()
    return None


def dry_store(ctx: click.Context, settings: Any, bot: str | None = "") -> Any:
    """A dry run's store: the bot's database when it can be read (`read_store`: never
    written, not even migrated); else an empty one in memory."""
    from bot.store.api import Store

    store = read_store(settings, bot)
    if store is None:
        store = Store(DRY_RUN_DATABASE, bot=settings.name if bot == "" else bot)
        store.upgrade()
    ctx.call_on_close(store.close)
    return store


def _no_store(settings: Any) -> str | None:
    """The SQLite file of the settings when it does not exist yet (nothing recorded yet)."""
    from bot.settings import sqlite_path

    path = sqlite_path(settings.database_url)
    return str(path) if path is not None and not path.exists() else None


@click.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the bot: poll the feed every POLL_INTERVAL seconds and post new issues (every bot of
    BOTS_FILE, each on its own interval).

    Applies database migrations first. Stops cleanly on SIGTERM or Ctrl-C (the thread being
    written is finished, or left for the next run to complete). Without BSKY_HANDLE and
    BSKY_APP_PASSWORD it runs as a dry run and says so.

    Example: python -m bot run
    """
    from bot.bots import load_bots
    from bot.service.daemon import run_daemon

    _logging(ctx)
    bots = load_bots()
    if all(b.dry_run for b in bots):  # nothing to post: a store in memory, nothing written
        bots = [_dry(b) for b in bots]
    ctx.exit(run_daemon(bots))


@click.command()
@click.option("--bot", "bot_name", metavar="NAME", help=EVERY_BOT_HELP)
@click.option("--dry-run", is_flag=True,
              help="Say what the pass would do; read the database and the account, write nothing.")
@click.pass_context
def poll(ctx: click.Context, bot_name: str | None, dry_run: bool) -> None:
    """One pass of what `run` does, then exit: fetch each bot's feed, post what is new.

    Prints a summary. Exits 1 when a feed, the database or Bluesky failed, or an issue could
    not be posted. SIGTERM/Ctrl-C: the thread being written is finished first. Without
    credentials, or with --dry-run, it says what the pass would do (each issue in the words of
    `post --dry-run`, `preview` and `status`) and writes nothing.

    Example: python -m bot poll --dry-run
    """
    from bot.bots import load_bots, pick_bot
    from bot.service.daemon import install_signal_handlers
    from bot.service.fleet import Fleet
    from bot.service.health import record_pass
    from bot.service.worker import Worker
    from bot.store.api import Store

    _logging(ctx)
    bots = load_bots()
    if bot_name is not None:
        bots = [pick_bot(bots, bot_name)]
    dry_run = dry_run or all(b.dry_run for b in bots)  # nothing to post: nothing written
    fleet = None
    if dry_run:  # it reads the database (and each account it has credentials for), writes nothing
        store = dry_store(ctx, bots[0], bot=None)
    else:
        store = Store(bots[0].database_url, bot=None)
        ctx.call_on_close(store.close)
        store.upgrade()
        fleet = Fleet(bots, store)
        install_signal_handlers(fleet.stop)

    @contextmanager
    def turn(settings: Any) -> Iterator[Any]:
        if fleet is not None:
            with fleet.turn(settings.name) as worker:
                yield worker
        else:
            with Worker(settings, store.for_bot(settings.name), dry_run=True) as worker:
                yield worker

    problems: list[str] = []
    try:
        for settings in bots:
            with turn(settings) as worker:
                try:
                    with feed_named_by(feed_label(settings, None)):
                        result = worker.poll()
                except BotError as exc:
                    record_pass(worker, error=exc)
                    if len(bots) == 1:
                        raise
                    problems.append(f"bot {settings.name}: {exc}")
                    continue
                record_pass(worker, result)
            click.echo(result.summary())
            problems += [f"{o.link} was not posted: {o.error}" for o in result.problems]
    finally:
        if fleet is not None:
            fleet.close()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BotError(f"{problems[0]}{more}")


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
@bot_option
@click.pass_context
def post(
    ctx: click.Context,
    bot_name: str | None,
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

    _logging(ctx)
    chosen = _bot(bot_name)
    # Without a password the issue is still read (a wrong --feed or entry is said first), as in
    # --dry-run: it reads the database and (with credentials) the account, writes nothing.
    cannot_post = chosen.dry_run and not dry_run
    if dry_run or cannot_post:
        _feed_file_exists(feed or chosen.feed_url, feed_label(chosen, feed))
        settings, store = chosen, dry_store(ctx, chosen)
    else:
        settings, store = _setup(ctx, chosen, feed=feed or chosen.feed_url,
                                 feed_option=feed is not None)
    with Worker(settings, store, dry_run=dry_run or cannot_post) as worker, \
            feed_named_by(feed_label(chosen, feed)):
        issue, outcome, threads = post_one(
            worker, entry=entry, source=feed, force=force, dry_run=dry_run or cannot_post
        )
    if cannot_post:
        raise ConfigError(_needs_password(chosen))
    _print_posted(issue, outcome, threads)


def _needs_password(settings: Any, instead: str = "or use --dry-run") -> str:
    """Why a bot without its password cannot post, in its own terms, and what to do instead."""
    if settings.bsky_handle:  # a bot of BOTS_FILE whose app_password_env variable is unset
        return (f"bot {settings.name!r} has no app password (the variable its app_password_env "
                f"names is not set): set it to post, {instead}")
    return f"BSKY_HANDLE and BSKY_APP_PASSWORD are needed to post ({instead})"


def _print_posted(issue: Any, outcome: Any, threads: Any) -> None:
    """What `post` and `approve` say about the issue they posted (or why they did not)."""
    from bot.cli.preview import render_text
    from bot.service.outcomes import Outcome

    if outcome.outcome is Outcome.WOULD_POST:
        click.echo(render_text(issue, threads))
        click.echo(f"\ndry run: would post {issue.link} ({outcome.posts} posts); nothing posted")
    elif outcome.plan is not None:  # a dry run that would not post: what the real one would do
        click.echo(f"dry run: {issue.link}: {outcome.plan}; nothing posted")
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
@click.option("--dry-run", is_flag=True,
              help="Say what approving would post; read the database and account, write nothing.")
@click.option("--as-now", is_flag=True,
              help="Post the issue as the feed has it now, also when it changed since it was held.")
@bot_option
@click.pass_context
def approve(ctx: click.Context, entry: str, feed: str | None, bot_name: str | None,
            dry_run: bool, as_now: bool) -> None:
    """Post an issue the review held (status shows why), as the bot composes it, now.

    It is posted as it was when held (what `preview` showed the editor); if the feed has changed
    it since, nothing is posted and it says so (--as-now posts the feed's version). It is never
    held again. `post --entry LINK` does the same for any issue; `skip --entry
    LINK` drops a held issue instead.

    Example: python -m bot approve --entry https://aablanco.substack.com/p/some-issue
    """
    from bot.service.editor import approve as approve_issue
    from bot.service.worker import Worker

    chosen = _bot(bot_name)
    if chosen.dry_run and not dry_run:  # approving posts: said before the database is touched
        raise ConfigError(_needs_password(chosen, "or see the thread with preview --entry LINK"))
    if dry_run:
        _logging(ctx)
        if feed is not None:
            _feed_file_exists(feed, feed_label(chosen, feed))
        settings, store = chosen, dry_store(ctx, chosen)
    else:
        settings, store = _setup(ctx, chosen, feed=feed)
    with Worker(settings, store, dry_run=dry_run) as worker, \
            feed_named_by(feed_label(chosen, feed)):
        issue, outcome, threads = approve_issue(worker, entry, source=feed, dry_run=dry_run,
                                                as_now=as_now)
    _print_posted(issue, outcome, threads)


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
    from bot.bots import load_bots

    _, store = _setup(ctx, load_bots()[0], every_bot=True)
    click.echo(f"database {store.url}: at revision {store.revision()} (newest)")


def _show(action: str, issue: Any) -> None:
    """What was done, and the state the issue is in when that does not say it already."""
    state = issue.state.value
    click.echo(f"{issue.link}: {action}" + ("" if state in action else f" (now {state})"))


@click.command()
@click.option("--entry", metavar="LINK", required=True, help=ENTRY_HELP)
@click.option("--feed", metavar="PATH|URL", help=FEED_HELP)
@bot_option
@click.pass_context
def skip(ctx: click.Context, entry: str, feed: str | None, bot_name: str | None) -> None:
    """Never post this issue (it stays in the database as skipped).

    An issue the database does not know yet is read from --feed (nothing is fetched without it).

    Example: python -m bot skip --entry https://aablanco.substack.com/p/some-issue
    """
    from bot.service.editor import skip as skip_issue

    settings, store = _setup(ctx, bot_name=bot_name, feed=feed)
    with feed_named_by("--feed"):
        _show("skipped", skip_issue(settings, store, entry, source=feed))


@click.command()
@click.option("--entry", metavar="LINK", required=True, help=ENTRY_HELP)
@click.option("--feed", metavar="PATH|URL", help=FEED_HELP)
@bot_option
@click.pass_context
def retry(ctx: click.Context, entry: str, feed: str | None, bot_name: str | None) -> None:
    """Post a failed issue again on the next poll.

    Example: python -m bot retry --entry https://aablanco.substack.com/p/some-issue
    """
    from bot.service.editor import retry as retry_issue

    settings, store = _setup(ctx, bot_name=bot_name, feed=feed)
    with feed_named_by("--feed"):
        _show("queued again", retry_issue(settings, store, entry, source=feed))


@click.command("mark-posted")
@click.option("--entry", metavar="LINK", required=True, help=ENTRY_HELP)
@click.option("--uri", metavar="AT_URI", help="The at:// URI of the thread's first post.")
@click.option("--feed", metavar="PATH|URL", help=FEED_HELP)
@bot_option
@click.pass_context
def mark_posted(
    ctx: click.Context, entry: str, uri: str | None, feed: str | None, bot_name: str | None
) -> None:
    """Record that this issue is on Bluesky already (posted by hand): the bot will not post it.

    An issue the database does not know yet is read from --feed (nothing is fetched without it).

    Example: python -m bot mark-posted --entry https://aablanco.substack.com/p/some-issue
    --uri at://did:plc:abc/app.bsky.feed.post/3lxyz
    """
    from bot.service.editor import mark_posted as mark

    settings, store = _setup(ctx, bot_name=bot_name, feed=feed)
    with feed_named_by("--feed"):
        _show("marked as posted", mark(settings, store, entry, uri, source=feed))
