"""The click group every command is added to, and what all commands share: one-line errors,
JSON output.

Each command parses its options, calls one library function, and turns a BotError into one line
on stderr with exit status 1 (2 for usage or configuration errors). `--debug` shows tracebacks.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from bot.errors import BotError, FeedError
from bot.log import redact


class OneLineUsageError(click.ClickException):
    """A usage error as one line on stderr (click's own form is four), exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def _one_line(exc: click.UsageError) -> OneLineUsageError:
    """`exc` as one line that says where help is."""
    message = exc.format_message().rstrip(".")
    where = exc.ctx.command_path if exc.ctx is not None else "python -m bot"
    return OneLineUsageError(f"{message}; see '{where} --help'")


class BotGroup(click.Group):
    """Turns our errors and usage errors into one line `Error: …` and the right exit code
    (a BotError's traceback shows with --debug)."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError:
            raise  # no arguments: the help text, as click shows it
        except click.UsageError as exc:
            raise _one_line(exc) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _one_line(exc) from exc
        except BotError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            # redact: a FEED_URL's user:password@ or ?token= never reaches the terminal.
            for line in redact(str(exc)).splitlines():  # several problems: one line each
                click.echo(f"Error: {line}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=BotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="bwr-bot", prog_name="bwr-bot", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Cross-posts the Barbershop Whispers…Russia newsletter to Bluesky as threads.

    Settings come from the environment and .env (see .env.example).

    Example: python -m bot preview --feed examples/bwr-feed.xml --latest
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    setup_logging(debug)


def setup_logging(debug: bool = False) -> None:
    """One log format for every command (`<UTC time>Z LEVEL event …` on stderr), unless logging
    is set up already (e.g. under pytest, whose handlers capture it)."""
    from bot.log import configure

    if not logging.getLogger().handlers:
        configure(debug=debug)
        logging.getLogger("alembic").setLevel(logging.WARNING)  # a line per migration step


def check_writable(path: str) -> None:
    """An output file the user named can be written, checked before any work is done: one line
    naming it otherwise (exit 1)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise BotError(f"cannot write {path}: it is a folder")
    if not os.path.isdir(folder):
        raise BotError(f"cannot write {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise BotError(f"cannot write {path}: permission denied")


def write_output(path: str, text: str) -> None:
    """Write an output file the user named; any failure is one line naming it (exit 1)."""
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise BotError(f"cannot write {path}: {exc.strerror or exc}") from exc
    click.echo(f"Wrote {path}", err=True)


@contextmanager
def feed_named_by(option: str | None) -> Iterator[None]:
    """Errors about a feed the user gave with an option name that option, not FEED_URL (the
    feed module's hints speak of the setting, which the option stands in for)."""
    try:
        yield
    except FeedError as exc:
        message = str(exc)
        if option is None or "FEED_URL" not in message:
            raise
        raise FeedError(message.replace("FEED_URL", option)) from exc


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))
