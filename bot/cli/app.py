"""The click group every command is added to, and what all commands share: one-line errors,
JSON output.

Each command parses its options, calls one library function, and turns a BotError into one line
on stderr with exit status 1 (2 for usage or configuration errors). `--debug` shows tracebacks.
"""

from __future__ import annotations

import json
from typing import Any

import click

from bot.errors import BotError


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
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=BotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="bwr-bot")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Cross-posts the Barbershop Whispers…Russia newsletter to Bluesky as threads.

    Settings come from the environment and .env (see .env.example).

    Example: python -m bot preview --feed ../shared/fixtures/bwr/feed.xml --latest
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))
