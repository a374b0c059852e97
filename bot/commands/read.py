"""`inspect` and `preview`: how the bot reads a feed and the threads it would post."""

from __future__ import annotations

import click

from bot.cli import cli, echo_json


@cli.command()
@click.option("--feed", "feed", required=True, metavar="PATH|URL", help="The feed to read.")
@click.option("--json", "as_json", is_flag=True, help="Print the contract JSON instead of a summary.")
def inspect(feed: str, as_json: bool) -> None:
    """Show how the bot reads each issue of a feed (sections found).

    Example: python -m bot inspect --feed ../shared/fixtures/bwr/feed.xml
    """
    raise click.ClickException("not built yet")
