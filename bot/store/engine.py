"""Connecting to the store's database and migrating it: the URL forms hosts give, SQLite set up
for two processes at once (WAL, busy timeout, BEGIN IMMEDIATE for writers), and Alembic run
programmatically so `migrations/` is found from any working directory."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from bot import bundled
from bot.errors import ConfigError, StoreError, one_line
from bot.log import event as log_event
from bot.settings import default_database_url, private_dir

logger = logging.getLogger(__name__)

MIGRATIONS = bundled("migrations")
_MIGRATION_LOCK = 0x62777262  # a Postgres advisory lock id ("bwrb"): one upgrade at a time


def normalize_url(url: str | None = None) -> str:
    """The SQLAlchemy URL to use: the default SQLite file when empty; the `postgres://` and
    `postgresql://` forms hosts hand out are mapped to the psycopg 3 driver."""
    url = (url or "").strip() or default_database_url()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Our own BEGIN (below) instead of pysqlite's, so DDL is transactional too.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 30000")  # wait for the other process instead of failing
    # WAL: readers never block the writer, nor it them. Switching a fresh file to WAL ignores
    # busy_timeout when another connection is doing the same, so retry that briefly.
    for attempt in range(300):
        try:
            if cur.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() in ("wal", "memory"):
                break
        except sqlite3.OperationalError:
            if attempt == 299:
                raise
        time.sleep(0.05)
    _private_wal(cur)
    cur.execute("PRAGMA synchronous = FULL")  # a few commits per poll: durability is cheap
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


_warned_readable: set[Path] = set()


def _private_wal(cur: Any) -> None:
    """The -wal and -shm files hold the same data as the database (the saved session, until a
    checkpoint): owner-only, whatever the mode SQLite gave them from a database that is not."""
    cur.execute("PRAGMA schema_version").fetchone()  # a read: SQLite opens -wal and -shm now
    for _, name, file in cur.execute("PRAGMA database_list").fetchall():
        if name != "main" or not file:
            continue
        for suffix in ("-wal", "-shm"):
            try:
                side = Path(file + suffix)
                if stat.S_IMODE(side.stat().st_mode) & 0o077:
                    side.chmod(0o600)
            except OSError:  # gone already, or another user's: the warning names it
                pass


def _prepare_sqlite_file(path: Path) -> None:
    """The SQLite file holds the saved Bluesky session (a refresh token valid for weeks): a new
    one is created readable by its owner only (SQLite gives its -wal and -shm files the same
    mode); an existing one readable by others is warned about, once per process. A missing
    folder is created owner-only (0700): settings have refused a user-named one that does not
    exist, so this is data/ or a folder wiped under a running bot."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create the SQLite file {path}: {exc.strerror or exc}") from exc
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077 and path not in _warned_readable:
        _warned_readable.add(path)
        log_event(
            logger,
            "db.readable_by_others",
            logging.WARNING,
            file=path,
            mode=f"{mode:04o}",
            note=f"it holds the Bluesky session; chmod 600 {path} {path}-wal {path}-shm",
        )


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock at BEGIN, so a read-then-write transaction never meets a
    # snapshot another process has moved on from (SQLITE_BUSY_SNAPSHOT is not retried).
    read_only = conn.get_execution_options().get("bot_read_only", False)
    conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


class DatabaseUrlError(ConfigError, StoreError):
    """DATABASE_URL cannot be used as written: a configuration error (exit status 2) that is
    also the store's error, for callers that catch StoreError."""


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018  (a port that is not a number fails here, not at connect)
    except (ArgumentError, ValueError) as exc:
        # ValueError: a port that is not a number ("host:abc"); the URL may hold a password.
        raise DatabaseUrlError(
            "DATABASE_URL is not a database URL (sqlite:///path or postgresql://user:pw@host/db"
            f"{'; its port is not a number' if isinstance(exc, ValueError) else ''})"
        ) from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            db = parsed.database or ""
            if db and db != ":memory:" and not db.startswith("file:"):
                path = Path(db).expanduser()
                if path.exists():  # warned about now, at start-up, when others can read it
                    _prepare_sqlite_file(path)
                engine = create_engine(parsed, connect_args={"check_same_thread": False})
                # Created at first connect (and again if deleted), not by Store() alone.
                event.listen(engine, "do_connect", lambda *_: _prepare_sqlite_file(path))
            else:
                # In memory (a dry run's store): one connection shared by every thread, or each
                # thread would see its own empty database.
                engine = create_engine(
                    parsed, connect_args={"check_same_thread": False}, poolclass=StaticPool
                )
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        # pre_ping: hosted Postgres drops idle connections between polls.
        # A daemon serving many bots runs several passes at once: room for them.
        return create_engine(parsed, pool_pre_ping=True, pool_size=4, max_overflow=8)
    except ImportError as exc:  # a driver named in the URL that is not installed
        raise DatabaseUrlError(
            f"DATABASE_URL: its driver {parsed.drivername!r} is not installed ({exc.name}); "
            "use postgresql://… (psycopg 3, installed with the bot) or sqlite:///…"
        ) from exc
    except (NoSuchModuleError, SQLAlchemyError, OSError) as exc:
        masked = parsed.render_as_string(hide_password=True)
        raise StoreError(f"cannot use the database {masked}: {exc}") from exc


def _foreign_keys(conn: Connection, *, on: bool) -> None:
    cur = conn.connection.cursor()  # the driver's own: no transaction is begun for it
    try:
        cur.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    finally:
        cur.close()


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that only one migrating process holds at a time."""
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as conn:
            if sqlite:
                # A migration that rebuilds a table (SQLite's ALTER) drops the old one: with
                # foreign keys on, that would cascade to the rows that refer to it. Set outside
                # the transaction (inside, SQLite ignores it), and back on after.
                _foreign_keys(conn, on=False)
            try:
                with conn.begin():  # SQLite: BEGIN IMMEDIATE serialises upgrades
                    if not sqlite:
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                     {"k": _MIGRATION_LOCK})
                    yield conn
            finally:
                if sqlite:
                    _foreign_keys(conn, on=True)
    except SQLAlchemyError as exc:
        raise StoreError(f"database ({engine.dialect.name}): migration failed: "
                         f"{one_line(exc)}") from exc


def alembic_config(connection: Connection | None = None) -> Any:
    """Alembic's config without an ini file; env.py uses `connection` when given."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def revision(engine: Engine) -> str | None:
    """The database's current migration revision (None before the first upgrade)."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(f"database ({engine.dialect.name}): cannot read its revision: "
                         f"{one_line(exc)}") from exc


def head_revision() -> str:
    """The newest migration this code knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations/versions has no revision"
    return head


_REVISION_LINE = re.compile(r"^(down_revision|revision)\b[^=]*=\s*['\"]?(\w+)", re.M)


def known_head() -> str | None:
    """The newest migration, read from the files of migrations/versions without alembic (whose
    import is most of a short command's start-up): the revision no other one comes after."""
    revisions: set[str] = set()
    downs: set[str | None] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found: dict[str, str] = {m.group(1): m.group(2)
                                 for m in _REVISION_LINE.finditer(path.read_text("utf-8"))}
        if "revision" in found:
            revisions.add(found["revision"])
            downs.add(found.get("down_revision"))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    """alembic_version's revision by plain SQL (None when there is none yet, or no table)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return None  # no table yet: the full upgrade says what is wrong, if anything
    return str(rows[0][0]) if len(rows) == 1 else None


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """`alembic upgrade head` on this engine; returns the revisions before and after. A
    database already at the newest revision is left as it is without loading alembic."""
    current = _stored_revision(engine)
    if current is not None and current == known_head():
        return current, current
    from alembic import command

    before = revision(engine)
    with migration_connection(engine) as conn:
        command.upgrade(alembic_config(conn), "head")
    return before, revision(engine)
