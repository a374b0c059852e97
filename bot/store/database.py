"""The database every repository of the store works on: the engine, the clock, the bot whose
rows it reads and writes, and the one way to run a transaction (any database error becomes a
StoreError here). Each repository (feeds, issues, posts, leases, sessions) is handed one."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot.errors import StoreError, StoreOutage, one_line
from bot.store.engine import make_engine, normalize_url
from bot.store.models import FeedRow

# Rows written in one statement at most (SQLite allows ~32,000 bound values per statement): a
# round of up to CHUNK bots is one statement per table.
CHUNK = 1000


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def upsert_for(dialect: str) -> Any:
    """INSERT … ON CONFLICT for this database (both dialects spell it the same way)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def updated(s: Session, stmt: Any) -> int:
    """Run an UPDATE and return how many rows it changed (the atomic test of a transition)."""
    result = s.execute(stmt.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount


class Database:
    """One database as one bot sees it (`bot` None: every bot's rows, read only)."""

    def __init__(self, url: str | None, clock: Callable[[], datetime], bot: str | None) -> None:
        self.engine: Engine = make_engine(normalize_url(url))
        self.read_engine = self.engine.execution_options(bot_read_only=True)
        self.clock = clock
        self.bot = bot

    def for_bot(self, bot: str | None) -> Database:
        """The same engine and clock, bot `bot`'s rows."""
        view = copy.copy(self)
        view.bot = bot
        return view

    @property
    def url(self) -> str:
        """The database URL with any password masked (safe to log)."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    def now(self) -> datetime:
        return self.clock()

    @property
    def writer(self) -> str:
        """The bot that writes; StoreError for a store that reads every bot's rows."""
        if self.bot is None:
            raise StoreError("this store reads every bot's issues; writing needs one bot")
        return self.bot

    def scoped(self, q: Any) -> Any:
        return q if self.bot is None else q.where(FeedRow.bot == self.bot)

    @contextmanager
    def tx(self, action: str, read_only: bool = False) -> Iterator[Session]:
        """One transaction; any database error becomes a StoreError naming `action`."""
        try:
            with Session(self.read_engine if read_only else self.engine) as session:
                with session.begin():
                    yield session
        except IntegrityError:
            raise  # callers that expect races retry on it; write turns it into StoreError
        except (OperationalError, InterfaceError) as exc:  # down, refused, locked: an outage
            msg = (f"database ({self.dialect}) unreachable: {action} failed: {one_line(exc)}; "
                   "nothing was changed, the next pass tries again")
            raise StoreOutage(msg) from exc
        except SQLAlchemyError as exc:
            msg = f"database ({self.dialect}): {action} failed: {one_line(exc)}"
            raise StoreError(msg) from exc

    def write(self, action: str, fn: Callable[[Session], Any]) -> Any:
        """Run `fn` in a write transaction, once more if a concurrent insert won a unique race."""
        for attempt in (1, 2):
            try:
                with self.tx(action) as session:
                    return fn(session)
            except IntegrityError as exc:
                if attempt == 2:
                    raise StoreError(f"database: {action} failed: {one_line(exc)}") from exc
        raise AssertionError("unreachable")
