"""Settings from the environment and `.env` (python-dotenv), as ../shared/docs/contracts.md
lists them. A wrong setting stops start-up with one line naming it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from dotenv import find_dotenv, load_dotenv

from bot.errors import ConfigError

DEFAULT_FEED_URL = "https://aablanco.substack.com/feed"
DEFAULT_SERVICE = "https://bsky.social"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    feed_url: str = DEFAULT_FEED_URL
    bsky_service: str = DEFAULT_SERVICE
    bsky_handle: str | None = None
    bsky_app_password: str | None = field(default=None, repr=False)  # never printed
    database_url: str = ""
    poll_interval: int = 300
    bot_config: str = str(PROJECT_ROOT / "config" / "bwr.toml")
    backfill_hours: float = 48.0
    # Link cards (bot.cards): which cards' pages are fetched; loopback/private pages (tests only).
    cards: str = "rich"
    cards_allow_private: bool = False

    @property
    def dry_run(self) -> bool:
        """Without credentials the bot composes but never posts."""
        return not (self.bsky_handle and self.bsky_app_password)


def default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'data' / 'bot.db'}"


def load_settings(env: dict[str, str] | None = None, dotenv: bool = True) -> Settings:
    """Settings from `env` (default: os.environ after reading `.env` without overriding)."""
    if env is None:
        if dotenv:
            load_dotenv(PROJECT_ROOT / ".env", override=False)
            # A .env in the working directory, if any (plain load_dotenv() would search from
            # this file's folder instead).
            load_dotenv(find_dotenv(usecwd=True), override=False)
        env = dict(os.environ)

    def get(name: str) -> str | None:
        v = env.get(name)
        return v.strip() if v is not None and v.strip() != "" else None

    service = get("BSKY_SERVICE") or DEFAULT_SERVICE
    parsed = urlparse(service)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"BSKY_SERVICE: {service!r} is not an http(s) URL like https://bsky.social"
        )
    handle = get("BSKY_HANDLE")
    password = get("BSKY_APP_PASSWORD")
    if handle and not password:
        raise ConfigError(
            "BSKY_APP_PASSWORD: missing; set an app password for BSKY_HANDLE "
            "(or unset BSKY_HANDLE for a dry run)"
        )
    if password and not handle:
        raise ConfigError("BSKY_HANDLE: missing; set the account's handle for BSKY_APP_PASSWORD")
    if handle:
        handle = handle.lstrip("@")
        if "." not in handle and not handle.startswith("did:"):
            raise ConfigError(f"BSKY_HANDLE: {handle!r} is not a handle like name.bsky.social")

    def number(name: str, default: float, minimum: float, kind: type = int) -> float:
        raw = get(name)
        if raw is None:
            return default
        try:
            value = kind(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}: {raw!r} is not a number") from exc
        if value < minimum:
            raise ConfigError(f"{name}: {raw} is too small (at least {minimum})")
        return value

    bot_config = get("BOT_CONFIG") or str(PROJECT_ROOT / "config" / "bwr.toml")
    if not Path(bot_config).is_file():
        raise ConfigError(f"BOT_CONFIG: profile file {bot_config} does not exist")
    database_url = get("DATABASE_URL") or default_database_url()
    _check_database_url(database_url)
    feed_url = get("FEED_URL") or DEFAULT_FEED_URL
    feed_scheme = urlparse(feed_url).scheme.lower()
    # A path is fine (the feed may be a local file); a scheme the fetcher cannot read is not.
    if "://" in feed_url and feed_scheme not in ("http", "https", "file"):
        raise ConfigError(
            f"FEED_URL: {feed_url!r} is not an http(s) URL or a local file path, "
            f"like {DEFAULT_FEED_URL}"
        )
    cards, cards_allow_private = _card_settings(get)
    return Settings(
        feed_url=feed_url,
        bsky_service=service.rstrip("/"),
        bsky_handle=handle,
        bsky_app_password=password,
        database_url=database_url,
        poll_interval=int(number("POLL_INTERVAL", 300, 10)),
        bot_config=bot_config,
        backfill_hours=float(number("BACKFILL_HOURS", 48.0, 0, float)),
        cards=cards,
        cards_allow_private=cards_allow_private,
    )


CARD_MODES = ("rich", "feed", "off")


def _card_settings(get: Callable[[str], str | None]) -> tuple[str, bool]:
    """CARDS (rich | feed | off) and CARDS_ALLOW_PRIVATE (1/0; tests serve pages on loopback)."""
    cards = (get("CARDS") or "rich").lower()
    if cards not in CARD_MODES:
        raise ConfigError(
            f"CARDS: {cards!r} is not one of rich (fetch every card's page), feed (only the "
            "newsletter's page), off (no card but the root's)"
        )
    raw = (get("CARDS_ALLOW_PRIVATE") or "0").lower()
    if raw not in ("1", "0", "true", "false", "yes", "no"):
        raise ConfigError(f"CARDS_ALLOW_PRIVATE: {raw!r} is not 1 or 0")
    return cards, raw in ("1", "true", "yes")


DATABASE_URL_HELP = "like sqlite:///data/bot.db or postgresql://user:password@host/db"


def _check_database_url(url: str) -> None:
    """The store speaks SQLite and Postgres only. The URL is not echoed whole: it may hold the
    database password."""
    if "://" not in url:
        shown = repr(url) if "@" not in url else "the value"
        raise ConfigError(f"DATABASE_URL: {shown} is not a SQLAlchemy URL {DATABASE_URL_HELP}")
    backend = url.split("://", 1)[0].split("+", 1)[0].lower()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise ConfigError(
            f"DATABASE_URL: {backend!r} is not a database the bot speaks; use SQLite or "
            f"Postgres, {DATABASE_URL_HELP}"
        )
