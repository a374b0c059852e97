"""CLI commands, one module per command family, each registering on `bot.cli.cli` on import."""

from bot.commands import preview as _preview  # noqa: F401  (preview)
from bot.commands import read as _read  # noqa: F401  (inspect)
from bot.commands import service as _service  # noqa: F401  (run, poll, post, status, db, skip, retry, mark-posted)
