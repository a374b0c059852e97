"""Alerts to the editor: a JSON POST to a webhook (NOTIFY_URL) when an issue is held, failed or
posted, when Bluesky refuses the credentials, or when the feed has been failing for an hour.

Delivery never delays posting: `Notifier.send` only queues; one background thread POSTs, with
a few retries and backoff, and a notice that cannot be delivered is logged and dropped. The URL
carries the webhook's token, so it is a secret: it is never logged, printed or put in an error.
"""

from __future__ import annotations

import enum
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot import USER_AGENT
from bot.log import event, printable, redact_url
from bot.settings import Settings

if TYPE_CHECKING:  # httpx is imported by the sending thread: `status` never sends
    import httpx

logger = logging.getLogger(__name__)


class Alert(enum.StrEnum):
    """What the editor can be told about (NOTIFY_ON names them)."""

    HELD = "held"  # an issue is held for review
    FAILED = "failed"  # an issue could not be posted
    AUTH = "auth"  # Bluesky refused the credentials
    FEED = "feed"  # the feed has been failing for an hour
    POSTED = "posted"  # an issue was posted


class Format(enum.StrEnum):
    """The JSON shape a webhook accepts (NOTIFY_FORMAT)."""

    GENERIC = "generic"  # {"text", "event", "link"}: Slack and Mattermost take it as it is
    SLACK = "slack"  # {"text"}
    DISCORD = "discord"  # {"content"}


@dataclass(frozen=True)
class Notice:
    alert: Alert
    text: str
    link: str | None = None

    def payload(self, fmt: Format) -> dict[str, Any]:
        """The JSON for the webhook. The text carries feed text (titles, links) that an author
        or attacker wrote: it may mention nobody and link nothing of its own making."""
        text = printable(self.text)
        if fmt is Format.DISCORD:
            # Discord's limit for a message; no @everyone, @here, role or user pings, whatever
            # the text says.
            return {"content": text[:2000], "allowed_mentions": {"parse": []}}
        text = slack_escape(text)
        if fmt is Format.SLACK:
            return {"text": text}
        return {"text": text, "event": self.alert.value, "link": self.link}


_BROADCAST = re.compile(r"@(channel|here|everyone|all)\b", re.IGNORECASE)


def slack_escape(text: str) -> str:
    """`text` as Slack and Mattermost show it literally: `&`, `<`, `>` escaped (so `<!channel>`
    or `<https://evil|innocent>` are text, not a ping or a disguised link) and `@channel`,
    `@here`, `@everyone`, `@all` broken by a zero-width space so they notify nobody."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@\u200b" + m.group(1), text)


_STOP = object()


class _Hide(logging.Filter):
    """Drops any log record that would show the webhook's address (httpx logs each request's
    URL at INFO): the address holds the webhook's token."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        return self.secret not in record.getMessage()


class Notifier:
    """Sends notices for the alerts in `on` to `url` from a background thread (see the module
    docstring). Without a URL it does nothing. `close()` waits a bounded time for what is
    queued, so a one-shot command still delivers its alerts."""

    def __init__(
        self,
        url: str | None,
        on: Iterable[Alert | str] = ("held", "failed", "auth", "feed"),
        fmt: Format | str = Format.GENERIC,
        *,
        attempts: int = 3,
        timeout: float = 5.0,
        backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url
        self.on = frozenset(Alert(a) for a in on)
        self.format = Format(fmt)
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep
        self._timeout = timeout
        self._transport = transport
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.delivered = 0
        self.dropped = 0
        self._hide = _Hide(url) if url else None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Notifier:
        return cls(settings.notify_url, settings.notify_on, settings.notify_format, **kwargs)

    def __repr__(self) -> str:  # the URL is a secret
        return f"Notifier(configured={self._url is not None}, on={sorted(self.on)})"

    @property
    def enabled(self) -> bool:
        return self._url is not None

    def wants(self, alert: Alert) -> bool:
        return self._url is not None and alert in self.on

    def send(self, alert: Alert, text: str, link: str | None = None) -> None:
        """Queue a notice (when `alert` is one the editor asked for); returns at once."""
        if not self.wants(alert):
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
                self._thread.start()
        # A link may be FEED_URL (the feed alerts), whose user:password@ or ?token= stay here.
        self._queue.put(Notice(alert, text, redact_url(link) if link else link))

    def close(self, timeout: float = 15.0) -> None:
        """Deliver what is queued (waiting at most `timeout` seconds), then stop."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)
        thread.join(timeout)
        if thread.is_alive():
            event(logger, "notify.abandoned", logging.WARNING, note="still sending at exit")

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        http_log = logging.getLogger("httpx")
        if self._hide is not None:
            http_log.addFilter(self._hide)
        try:
            self._deliver_all()
        finally:
            if self._hide is not None:
                http_log.removeFilter(self._hide)

    def _deliver_all(self) -> None:
        import httpx

        from bot.net import DeadlineTransport

        # Each POST, connect to the last byte of the answer, ends within `timeout` by the clock:
        # a webhook that answers a byte a second cannot hold the alerts (or a command's exit).
        with httpx.Client(
            timeout=self._timeout,
            transport=self._transport or DeadlineTransport(self._timeout),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        ) as client:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                self._deliver(client, item)

    def _deliver(self, client: httpx.Client, notice: Notice) -> None:
        import httpx

        assert self._url is not None
        problem = ""
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
            try:
                answer = client.post(self._url, json=notice.payload(self.format))
            except httpx.HTTPError as exc:
                problem = type(exc).__name__  # str(exc) may carry the URL
                continue
            if answer.is_success:
                self.delivered += 1
                event(logger, "notify.sent", alert=notice.alert.value, link=notice.link)
                return
            problem = f"HTTP {answer.status_code}"
            if answer.status_code < 500 and answer.status_code != 429:
                break  # the webhook refuses it: sending again will not help
        self.dropped += 1
        event(
            logger,
            "notify.failed",
            logging.WARNING,
            alert=notice.alert.value,
            link=notice.link,
            error=problem,
            note="the alert is dropped; posting goes on",
        )
