"""Migrations: they build the schema from nothing, agree with the models, and run from anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fixtures_store import run_at_once
from sqlalchemy import create_engine, inspect

from bot.store.api import Store, normalize_url
from bot.store.engine import alembic_config
from bot.store.models import Base

ROOT = Path(__file__).resolve().parent.parent
TABLES = {"alembic_version", "feeds", "issues", "posts", "bsky_session"}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_database(db_url, tmp_path, monkeypatch):
    """Upgrading an empty database from another cwd creates every table at the head revision."""
    monkeypatch.chdir(tmp_path)
    store = Store(db_url)
    try:
        assert store.revision() is None
        assert _tables(db_url) == set()
        store.upgrade()
        assert store.revision() == store.head_revision() == "0001"
        assert _tables(db_url) == TABLES
        store.upgrade()  # a second upgrade has nothing to do
        assert store.revision() == "0001"
    finally:
        store.close()


def test_models_and_migrations_agree(store, db_url):
    """Alembic autogenerate finds nothing to change between the migrated database and the models."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_round_trips(store, db_url):
    """Downgrading to base drops every table and upgrading again restores them."""
    from alembic import command

    with store.migration_connection() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert _tables(db_url) == {"alembic_version"}
    assert store.revision() is None
    store.upgrade()
    assert _tables(db_url) == TABLES


def test_concurrent_upgrades_both_succeed(db_url):
    """Two processes starting at once (daemon and release phase) both upgrade without error."""
    stores = [Store(db_url), Store(db_url)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(s: Store) -> None:
        barrier.wait()
        try:
            s.upgrade()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    run_at_once(run, stores)
    try:
        assert errors == []
        assert [s.revision() for s in stores] == ["0001", "0001"]
    finally:
        for s in stores:
            s.close()


def test_alembic_cli_upgrades_from_any_cwd(db_url, tmp_path):
    """`alembic -c alembic.ini upgrade head` run elsewhere migrates the DATABASE_URL database."""
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert _tables(normalize_url(db_url)) == TABLES
