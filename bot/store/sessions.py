"""The saved Bluesky session of one account on one PDS, kept in the database, so the bot signs in
once, not every poll. `Sessions.keeper` is the `bot.bluesky.session.SessionKeeper` the service
hands the connection (store and bluesky never import each other: the shape is all they share)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.database import Database
from bot.store.models import BskySessionRow


class Sessions:
    """Session strings by (handle, service): secrets, never logged."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def keeper(self, handle: str, service: str) -> DatabaseSessionKeeper:
        """Where the SDK's session for this account on this PDS is kept."""
        return DatabaseSessionKeeper(self, handle, service)

    def load(self, handle: str, service: str) -> str | None:
        """The saved session string of this account on this PDS, or None."""
        with self._db.tx("reading the saved session", read_only=True) as s:
            return s.scalar(select(BskySessionRow.session).where(
                BskySessionRow.handle == handle, BskySessionRow.service == service))

    def save(self, handle: str, service: str, session: str) -> None:
        """Save (replace) the session string of this account on this PDS."""
        db = self._db

        def fn(s: Session) -> None:
            row = s.scalar(select(BskySessionRow).where(
                BskySessionRow.handle == handle, BskySessionRow.service == service))
            if row is None:
                s.add(BskySessionRow(handle=handle, service=service, session=session,
                                     updated_at=db.now()))
            else:
                row.session, row.updated_at = session, db.now()
            s.flush()

        db.write("saving the session", fn)


class DatabaseSessionKeeper:
    """load/save the SDK's exported session string. The string is a secret: it never appears in
    this object's repr, in logs, or in errors."""

    def __init__(self, sessions: Sessions, handle: str, service: str) -> None:
        self.handle = handle
        self.service = service
        self._sessions = sessions

    def __repr__(self) -> str:
        return f"DatabaseSessionKeeper(handle={self.handle!r}, service={self.service!r})"

    def load(self) -> str | None:
        """The saved session, or None if there is none."""
        return self._sessions.load(self.handle, self.service)

    def save(self, session: str) -> None:
        """Save (replace) the session."""
        self._sessions.save(self.handle, self.service, session)
