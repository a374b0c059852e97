"""The only package that speaks SQL (SQLite or Postgres via SQLAlchemy): the engine and
migrations, the tables, the plain values it hands out, and the store callers open
(bot.store.api.Store), made of small repositories (feeds, issues, posts, leases, sessions) on one
database (bot.store.database)."""
