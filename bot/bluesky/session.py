"""Where the Bluesky session (access + refresh tokens) is kept between runs, and the SDK client.

Bluesky locks out accounts that call createSession on every run (30 per 5 minutes, a few hundred
a day), so the session string is saved after sign-in and after every refresh (the refresh token
rotates each time) and reused on the next run. A `SessionKeeper` is what the connection needs:
the store's `DatabaseSessionKeeper` (bot.store.sessions) in the service, `FileSessionKeeper` and
`MemorySessionKeeper` here for scripts and tests. The session string holds tokens: never log it,
never put it in a repr.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from atproto_client import Client
from atproto_client.request import Request

from bot import USER_AGENT


class SessionKeeper(Protocol):
    """Keeps one session string (the SDK's `export_session_string()` format)."""

    def load(self) -> str | None: ...

    def save(self, session_string: str) -> None: ...


class MemorySessionKeeper:
    """A session kept in memory (tests, one-off runs). `saves` counts saves."""

    def __init__(self, session_string: str | None = None) -> None:
        self._value = session_string
        self.saves = 0

    def load(self) -> str | None:
        return self._value

    def save(self, session_string: str) -> None:
        self._value = session_string
        self.saves += 1

    def __repr__(self) -> str:
        return f"MemorySessionKeeper(saved={self._value is not None}, saves={self.saves})"


class FileSessionKeeper:
    """A session kept in a file readable by its owner only, replaced atomically on save."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> str | None:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def save(self, session_string: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".session-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(session_string)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def __repr__(self) -> str:
        return f"FileSessionKeeper({str(self.path)!r})"


class PdsClient(Client):
    """The SDK client, pinned to the configured service, on an injectable clock.

    Pinned: the SDK switches to the PDS named in the account's DID document after sign-in. We
    keep talking to BSKY_SERVICE instead (bsky.social forwards repo calls to the account's PDS),
    so every call goes where the operator pointed the bot, and the tests' fault proxy sees all
    traffic. The clock decides when the SDK refreshes the access token (15 minutes early)."""

    def __init__(
        self,
        service: str,
        *,
        clock: Callable[[], float],
        timeout: float,
        on_request: Callable[[Any], None] | None = None,
    ) -> None:
        self._pinned_service = service
        self._clock = clock
        from bot.net import DeadlineTransport

        hooks = {"request": [on_request]} if on_request else {}
        # Each XRPC call, connect to the last byte of the answer, ends within `timeout` by the
        # clock (a PDS or proxy that trickles bytes cannot hold a pass); the connection's retry
        # policy then applies as to any network error.
        super().__init__(service, request=Request(
            timeout=timeout, event_hooks=hooks, transport=DeadlineTransport(timeout)))
        self.request.add_additional_header("User-Agent", USER_AGENT)

    def _update_pds_endpoint(self, pds_endpoint: str) -> None:
        super()._update_pds_endpoint(self._pinned_service)

    def get_current_time(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    def __repr__(self) -> str:
        return f"PdsClient({self._pinned_service!r})"
