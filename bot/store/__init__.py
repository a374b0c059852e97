"""The only package that speaks SQL (SQLite or Postgres via SQLAlchemy): the engine and
migrations, the tables, the store's API (bot.store.api.Store) and the plain values it hands out."""
