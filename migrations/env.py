"""Alembic environment. The bot passes its own connection (Store.upgrade); the alembic CLI gets
one from DATABASE_URL or the default SQLite file, through the same engine set-up as the bot."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bot.store.models import Base

target_metadata = Base.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Our UTC type is a DateTime(timezone=True) in the database; migrations need no bot import.
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
elif context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
else:
    # Only DATABASE_URL matters here, so other settings (credentials…) are not validated.
    import os

    from dotenv import load_dotenv

    from bot.settings import PROJECT_ROOT
    from bot.store.engine import make_engine, migration_connection, normalize_url

    load_dotenv(PROJECT_ROOT / ".env", override=False)
    engine = make_engine(normalize_url(os.environ.get("DATABASE_URL")))
    try:
        with migration_connection(engine) as conn:
            run(conn)
    finally:
        engine.dispose()
