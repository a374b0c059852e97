"""Store fixtures: every store test runs on SQLite and on a real Postgres.

`db_url` is a fresh, empty database URL: a SQLite file in tmp_path, or a schema of its own on the
Postgres server named by DATABASE_URL_POSTGRES (scripts/postgres.sh prints it; scripts/test.sh
exports it). Without that variable the postgres case FAILS: it is never skipped.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

__all__ = ["Clock", "clock", "db_url", "open_store", "postgres_admin_url", "store"]


def postgres_admin_url() -> str:
    """The Postgres server for tests, or a test failure saying how to get one."""
    url = os.environ.get("DATABASE_URL_POSTGRES", "").strip()
    if not url:
        pytest.fail(
            "DATABASE_URL_POSTGRES is not set: start the test server with "
            "`eval export $(bash scripts/postgres.sh)` or run the suite with scripts/test.sh",
            pytrace=False,
        )
    return url


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as a plain postgresql:// URI psycopg understands."""
    return "postgresql://" + url.split("://", 1)[1]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    import psycopg

    base = postgres_admin_url()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_libpq(base), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    # search_path makes the schema this URL's whole world (tables, alembic_version, inspection).
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote('-csearch_path=' + schema)}"
    with psycopg.connect(_libpq(base), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '20s'")
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


class Clock:
    """A clock the test moves by hand (timezone-aware UTC)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 7, 6, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db_url: str):
    """An upgraded Store on the test database (real clock)."""
    from bot.store.api import Store

    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()


@pytest.fixture
def open_store():
    """Opens upgraded Stores at the URLs a test names (beside `store`: a second database, or a
    file the test deletes), and closes each when the test ends, also when it fails."""
    from bot.store.api import Store

    opened: list[Store] = []

    def open_at(url: str) -> Store:
        store = Store(url)
        opened.append(store)
        store.upgrade()
        return store

    yield open_at
    for store in opened:
        store.close()


def run_at_once(target: Callable[..., object], args: Iterable[object]) -> None:
    """Run `target(arg)` for every arg in threads started together; wait (60 s each) for all."""
    threads = [threading.Thread(target=target, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
