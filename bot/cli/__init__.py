"""The editor's and operator's CLI: the click group (bot.cli.app) and its commands, one module
per family, added to the group here."""

from bot.cli import inspect, preview, service, status
from bot.cli.app import cli

cli.add_command(inspect.inspect)
cli.add_command(preview.preview)
for command in (
    service.run,
    service.poll,
    service.post,
    service.approve,
    status.status,
    service.db,
    service.skip,
    service.retry,
    service.mark_posted,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="python -m bot")
