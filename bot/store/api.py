"""The store: what the bot has seen and posted, in SQLite (default) or Postgres (DATABASE_URL).

`Store` is the one object callers open; its work is done by a few small repositories, one
module each, all on the same `Database` (bot.store.database): `store.feeds`, `store.issues`,
`store.posts`, `store.leases`, `store.sessions`. Every method is one short transaction and
returns plain values (bot.store.types); SQLAlchemy errors become StoreError. Nothing slow
(network) ever runs inside a transaction, so the daemon and the CLI can share a SQLite file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from bot.log import event as log_event
from bot.settings import DEFAULT_BOT
from bot.store.database import Database
from bot.store.engine import head_revision, normalize_url, revision, upgrade
from bot.store.feeds import Feeds
from bot.store.issues import Issues
from bot.store.leases import Leases
from bot.store.models import IssueState, utcnow
from bot.store.posts import Posts
from bot.store.sessions import DatabaseSessionKeeper, Sessions
from bot.store.types import (
    FeedState,
    Heartbeat,
    IssueWithPosts,
    NewIssue,
    StoredIssue,
    StoredPost,
    Upserted,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DatabaseSessionKeeper", "FeedState", "Heartbeat", "IssueState", "IssueWithPosts", "NewIssue",
    "Store", "StoredIssue", "StoredPost", "Upserted", "normalize_url",
]


def _sqlite_file(engine: Any) -> Path | None:
    db = engine.url.database if engine.dialect.name == "sqlite" else None
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db).expanduser()


def _file_id(path: Path | None) -> tuple[int, int] | None:
    """The identity (device, inode) of the file at `path`; (0, 0) when there is none."""
    if path is None:
        return None
    try:
        st = path.stat()
    except FileNotFoundError:
        return (0, 0)
    return (st.st_dev, st.st_ino)


@dataclass
class _FileWatch:
    """The SQLite file upgrade() left (its identity), watched for deletion under the daemon."""

    file_id: tuple[int, int] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Store:
    """The bot's memory. `Store(url)` connects lazily; call `upgrade()` once at start."""

    feeds: Feeds
    issues: Issues
    posts: Posts
    leases: Leases
    sessions: Sessions

    def __init__(
        self,
        url: str | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        bot: str | None = DEFAULT_BOT,
    ) -> None:
        # The bot whose feeds and issues this store reads and writes; None: every bot's (read
        # only: `status` across bots). `for_bot` gives another bot's view on the same database.
        self._open(Database(url, clock, bot), owner=True)
        self._file = _sqlite_file(self._engine)
        self._watch = _FileWatch()  # shared by every bot's view of this store

    def _open(self, db: Database, *, owner: bool) -> None:
        self._db, self._owner = db, owner
        self.feeds, self.issues, self.posts = Feeds(db), Issues(db), Posts(db)
        self.leases, self.sessions = Leases(db), Sessions(db)

    def for_bot(self, bot: str) -> Store:
        """This store as bot `bot` sees it: same database and connections, its rows only."""
        view = object.__new__(Store)
        view._open(self._db.for_bot(bot), owner=False)
        view._file, view._watch = self._file, self._watch
        return view

    def __repr__(self) -> str:
        return f"Store({self.url!r}, bot={self.bot!r})"

    @property
    def bot(self) -> str | None:
        return self._db.bot

    @property
    def _engine(self) -> Engine:
        return self._db.engine

    @property
    def url(self) -> str:
        """The database URL with any password masked (safe to log)."""
        return self._db.url

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self._db.dialect

    def now(self) -> datetime:
        return self._db.now()

    def close(self) -> None:
        if self._owner:  # a bot's view shares the engine of the store it came from
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- migrations -----------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Apply every pending migration (`alembic upgrade head`); safe from any cwd, and when
        several processes start at once. Logs `db.upgraded` when it changed something."""
        before, after = upgrade(self._engine)
        # A store in memory (a dry run's) is made afresh every time: nothing was upgraded.
        if after != before and self._engine.url.database not in (None, "", ":memory:"):
            log_event(logger, "db.upgraded", db=self.url, revision=after, previous=before or "none")
        self._watch.file_id = _file_id(self._file)

    def reopen_if_lost(self) -> bool:
        """After upgrade(): when the SQLite file was deleted (or replaced) since, start on the
        file now at that path, migrated; True if so. Open connections would otherwise go on
        writing to the deleted file, unseen by any other process and lost at the next start."""
        with self._watch.lock:
            if self._watch.file_id is None or _file_id(self._file) == self._watch.file_id:
                return False
            self._reopen()
            return True

    def _reopen(self) -> None:
        log_event(logger, "db.lost", logging.WARNING, db=self.url,
                  note="the database file was deleted; starting a new one")
        self._engine.dispose()
        assert self._file is not None
        self._file.parent.mkdir(parents=True, exist_ok=True)  # data/ may have gone with it
        self.upgrade()

    def revision(self) -> str | None:
        """The database's current migration revision (None before the first upgrade)."""
        return revision(self._db.read_engine)

    def head_revision(self) -> str:
        """The newest migration this code knows."""
        return head_revision()
