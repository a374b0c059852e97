"""One line per event, with its fields: `thread.posted link=… posts=9 root=at://…`.

Readable on a Procfile host's log stream, greppable, and assertable in tests (caplog). Values
with spaces are quoted. Never pass a secret as a field."""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_KEYS = ("password", "token", "jwt", "secret", "session")
_SECRET_PARAMS = ("token", "key", "secret", "password", "passwd", "auth", "sig", "signature",
                  "code")
# C0 and C1 control characters and DEL, but not tab/newline/CR (those are escaped below): an
# ESC from a feed's title must never reach the operator's terminal.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"']+")


def redact_url(url: str) -> str:
    """`url` with its user:password@ and secret-looking query values (token=, key=, …) shown as
    `***`, fit to be logged or printed; anything that is not such a URL comes back as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_param(k) for k, _ in pairs):
            query = urlencode([(k, "***" if _secret_param(k) else v) for k, v in pairs],
                              safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secret_param(name: str) -> bool:
    low = name.lower()
    return any(low == s or low.endswith(("_" + s, "-" + s)) for s in _SECRET_PARAMS)


def redact(text: str) -> str:
    """`text` with every URL in it redacted (`redact_url`) and control characters dropped."""
    if "://" in text:
        text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    return printable(text)


def printable(text: str) -> str:
    """`text` without control characters (tab and newlines kept): fit for a terminal or a chat
    message, whatever a feed's author put in it."""
    return _CONTROLS.sub("", text)


def _fmt(key: str, value: Any) -> str:
    if any(s in key.lower() for s in _SECRET_KEYS):
        return "***"
    text = redact(str(value))
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


class _Redacting(logging.Formatter):
    """Every line, the bot's or a library's, with URLs redacted and control characters dropped
    (a traceback keeps its newlines)."""

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(redact(line) for line in super().format(record).split("\n"))


def configure(debug: bool = False) -> None:
    """Log to stderr, one line per event, with a UTC timestamp and level."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = _Redacting("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime  # this formatter's timestamps in UTC, as the Z says
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # The SDK and HTTP client are chatty at INFO and may log URLs with tokens at DEBUG.
    for noisy in ("httpx", "httpcore", "atproto", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
