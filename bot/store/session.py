"""The saved Bluesky session of one account on one PDS, so the bot logs in once, not every poll."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.store.api import Store


class SessionStore:
    """load/save the SDK's exported session string. The string is a secret: it never appears in
    this object's repr, in logs, or in errors."""

    def __init__(self, store: Store, handle: str, service: str) -> None:
        self.handle = handle
        self.service = service
        self._store = store

    def __repr__(self) -> str:
        return f"SessionStore(handle={self.handle!r}, service={self.service!r})"

    def load(self) -> str | None:
        """The saved session, or None if there is none."""
        return self._store._load_session(self.handle, self.service)

    def save(self, session: str) -> None:
        """Save (replace) the session."""
        self._store._save_session(self.handle, self.service, session)

    def clear(self) -> None:
        """Forget the session (e.g. after the PDS refused it)."""
        self._store._save_session(self.handle, self.service, None)
