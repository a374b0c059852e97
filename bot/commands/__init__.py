"""CLI commands, one module per command family, each registering on `bot.cli.cli`."""

from bot.commands import read as _read  # noqa: F401  (inspect, preview)
