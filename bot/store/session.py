"""The saved Bluesky session of one account on one PDS, kept in the database, so the bot signs in
once, not every poll. It is the `bot.bluesky.session.SessionKeeper` the service hands the
connection (store and bluesky never import each other: the shape is all they share)."""

from __future__ import annotations

from typing import Protocol


class SessionRows(Protocol):
    """Where sessions are kept (the Store): the keeper needs only these two, so this module does
    not import the store's API, which imports it."""

    def load_session(self, handle: str, service: str) -> str | None: ...

    def save_session(self, handle: str, service: str, session: str) -> None: ...


class DatabaseSessionKeeper:
    """load/save the SDK's exported session string. The string is a secret: it never appears in
    this object's repr, in logs, or in errors."""

    def __init__(self, store: SessionRows, handle: str, service: str) -> None:
        self.handle = handle
        self.service = service
        self._store = store

    def __repr__(self) -> str:
        return f"DatabaseSessionKeeper(handle={self.handle!r}, service={self.service!r})"

    def load(self) -> str | None:
        """The saved session, or None if there is none."""
        return self._store.load_session(self.handle, self.service)

    def save(self, session: str) -> None:
        """Save (replace) the session."""
        self._store.save_session(self.handle, self.service, session)
