"""One line per event, with its fields: `thread.posted link=… posts=9 root=at://…`.

Readable on a Procfile host's log stream, greppable, and assertable in tests (caplog). Values
with spaces are quoted. Never pass a secret as a field."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

_SECRET_KEYS = ("password", "token", "jwt", "secret", "session")


def _fmt(key: str, value: Any) -> str:
    if any(s in key.lower() for s in _SECRET_KEYS):
        return "***"
    text = str(value)
    if text == "" or any(c.isspace() for c in text) or '"' in text:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        text = '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'
    return text


def format_event(name: str, **fields: Any) -> str:
    parts = [name] + [f"{k}={_fmt(k, v)}" for k, v in fields.items() if v is not None]
    return " ".join(parts)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event line: its dotted name, then key=value fields."""
    logger.log(level, format_event(name, **fields))


def configure(debug: bool = False) -> None:
    """Log to stderr, one line per event, with a UTC timestamp and level."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime  # this formatter's timestamps in UTC, as the Z says
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # The SDK and HTTP client are chatty at INFO and may log URLs with tokens at DEBUG.
    for noisy in ("httpx", "httpcore", "atproto", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
