"""Settings from the environment and `.env` (python-dotenv), as the README's Configuration
table lists them. A wrong setting stops start-up with one line naming it. Also where the bot's
own files go and how they are protected (`private_dir`): the store holds the account's session.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from dotenv import dotenv_values, find_dotenv
from dotenv.parser import parse_stream

from bot import bundled
from bot.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_BOT = "default"  # the one bot the environment describes when there is no BOTS_FILE
DEFAULT_FEED_URL = "https://aablanco.substack.com/feed"
DEFAULT_SERVICE = "https://bsky.social"
_CHECKOUT = Path(__file__).resolve().parent.parent
# The checkout (its .env, data/) when run from one; installed from a wheel, the working directory.
PROJECT_ROOT = _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() else Path.cwd()
BUNDLED_PROFILE = str(bundled("config") / "bwr.toml")


@dataclass(frozen=True)
class Settings:
    name: str = DEFAULT_BOT  # the bot's name (its heartbeat, and later its rows, are keyed by it)
    feed_url: str = DEFAULT_FEED_URL
    bsky_service: str = DEFAULT_SERVICE
    bsky_handle: str | None = None
    bsky_app_password: str | None = field(default=None, repr=False)  # never printed
    database_url: str = ""
    poll_interval: int = 300
    bot_config: str = BUNDLED_PROFILE
    backfill_hours: float = 48.0
    # Link cards (bot.cards): which cards' pages are fetched; loopback/private pages (tests only).
    cards: str = "rich"
    cards_allow_private: bool = False
    # The editor's controls: minutes a new issue waits in the feed before the daemon posts it;
    # alerts to a webhook (its URL holds a token: a secret, never printed), which, what shape.
    post_delay: float = 10.0
    notify_url: str | None = field(default=None, repr=False)
    notify_on: tuple[str, ...] = ("held", "failed", "auth", "feed")
    notify_format: str = "generic"
    # The flood guard: more new issues in one pass than this are held for the editor.
    max_new_per_pass: int = 5

    @property
    def dry_run(self) -> bool:
        """Without credentials the bot composes but never posts."""
        return not (self.bsky_handle and self.bsky_app_password)


DATA_DIR = PROJECT_ROOT / "data"
# Upper bounds: a value past them is a typo (a timer of 30 years overflows the scheduler).
MAX_POLL_INTERVAL = 7 * 24 * 3600  # a week, in seconds
MAX_POST_DELAY = 7 * 24 * 60  # a week, in minutes
MAX_HOURS = 10_000_000  # hours: over a thousand years, "all of it" (a datetime reaches year 1)


def default_database_url() -> str:
    return f"sqlite:///{DATA_DIR / 'bot.db'}"


def card_cache_dir(settings: Settings) -> Path:
    """Where link-card data is cached: beside the SQLite file when there is one (so tests and
    hosts keep it with the data), else data/cache."""
    db = sqlite_path(settings.database_url)
    return db.parent / "cache" if db is not None else DATA_DIR / "cache"


def private_dir(path: Path) -> Path:
    """Make the folder `path` (and missing parents) readable by the owner only (0700): the bot's
    data and card cache sit beside the saved Bluesky session. An existing folder is left as it
    is (its owner chose its mode)."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.is_dir()]
    for folder in reversed(missing):  # each folder made here, parents too, is the owner's
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)  # mkdir's mode is filtered by the umask
    return path


class _DotenvParseWarnings(logging.Filter):
    """python-dotenv warns about a malformed line on every read; we say it once ourselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "could not parse" not in record.getMessage()


logging.getLogger("dotenv.main").addFilter(_DotenvParseWarnings())
_warned: set[tuple[str, int]] = set()


def _dotenv_files() -> list[Path]:
    """The project's .env, then one in the working directory (plain load_dotenv() would search
    from this file's folder instead), each once."""
    found: list[Path] = []
    for candidate in (PROJECT_ROOT / ".env", find_dotenv(usecwd=True)):
        if candidate and Path(candidate).is_file():
            path = Path(candidate).resolve()
            if path not in found:
                found.append(path)
    return found


def read_dotenv(path: Path) -> dict[str, str]:
    """The settings a `.env` file sets. ConfigError naming the file when it cannot be read or is
    not UTF-8; a line that is not KEY=VALUE is warned about once (file and line) and skipped."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "save the .env file as UTF-8"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the .env file ({exc.strerror or exc})") from exc
    for binding in parse_stream(io.StringIO(text)):
        if binding.error and (str(path), binding.original.line) not in _warned:
            _warned.add((str(path), binding.original.line))
            logger.warning(
                'dotenv.malformed file=%s line=%d note="not KEY=VALUE; this line is ignored"',
                path,
                binding.original.line,
            )
    values = dotenv_values(stream=io.StringIO(text), interpolate=True)
    return {k: v for k, v in values.items() if v is not None}


# The settings a .env file gave (not the environment), and that file: errors name where a bad
# value came from.
_FROM_DOTENV: dict[str, tuple[Path, str]] = {}


def load_dotenv_files() -> None:
    """Set from `.env` files what the environment does not set already."""
    for path in _dotenv_files():
        for key, value in read_dotenv(path).items():
            if key not in os.environ:
                os.environ[key] = value
                _FROM_DOTENV[key] = (path, value)


def origin_of(var: str, value: str | None = None) -> str:
    """Where the variable's value (by default the one in os.environ) came from, in words: the
    `.env` file that set it, or the environment."""
    value = os.environ.get(var) if value is None else value
    path, dotenv_value = _FROM_DOTENV.get(var, (None, None))
    return f"set in {path}" if path is not None and dotenv_value == value else \
        "set in the environment"


# A check of one value (raises ConfigError), and the checks already passed in one reading of a
# bots file: its bots share most values (the service, the profile, the database), and a check
# that stats a file or parses a URL is then done once, not 10,000 times.
Check = Callable[[str], None]
Passed = set[tuple[Check, str]]


def load_settings(env: dict[str, str] | None = None, dotenv: bool = True,
                  name: str = DEFAULT_BOT, passed: Passed | None = None) -> Settings:
    """Settings from `env` (default: os.environ after reading `.env` without overriding). A
    wrong value read from a `.env` file names that file. `passed`: the checks passed already
    (see Passed), kept by the caller for as long as their answers hold."""
    try:
        return _load_settings(env, dotenv, name, set() if passed is None else passed)
    except ConfigError as exc:
        var, sep, why = str(exc).partition(": ")
        value = (os.environ if env is None else env).get(var)
        if sep and value is not None and origin_of(var, value) != "set in the environment":
            raise ConfigError(f"{var} ({origin_of(var, value)}): {why}") from exc
        raise


def _load_settings(env: dict[str, str] | None, dotenv: bool, name: str,
                   passed: Passed) -> Settings:
    if env is None:
        if dotenv:
            load_dotenv_files()
        env = dict(os.environ)

    def get(name: str) -> str | None:
        v = env.get(name)
        return v.strip() if v is not None and v.strip() != "" else None

    def once(check: Check, value: str) -> None:
        if (check, value) not in passed:
            check(value)
            passed.add((check, value))

    service = get("BSKY_SERVICE") or DEFAULT_SERVICE
    once(_check_service, service)
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
        if any(not c.isprintable() or c.isspace() for c in handle):
            # A newline would split log lines (a forged event after it); no handle has one.
            raise ConfigError(f"BSKY_HANDLE: {handle!r} holds spaces or control characters; "
                              "a handle is like name.bsky.social")
        if "." not in handle and not handle.startswith("did:"):
            raise ConfigError(f"BSKY_HANDLE: {handle!r} is not a handle like name.bsky.social")

    def number(name: str, default: float, minimum: float, maximum: float,
               kind: type = int) -> float:
        raw = get(name)
        if raw is None:
            return default
        try:
            value = kind(raw)
        except ValueError:
            try:  # "1e9", "2.5" where whole seconds are asked: a number, said as such
                value = float(raw)
            except ValueError as exc:
                raise ConfigError(f"{name}: {raw!r} is not a number") from exc
            if not math.isfinite(value) or value != int(value):
                raise ConfigError(f"{name}: {raw!r} is not a whole number") from None
        if math.isnan(value):
            raise ConfigError(f"{name}: {raw!r} is not a number")
        if value > maximum:
            raise ConfigError(f"{name}: {raw} is too large (at most {maximum:g})")
        if value < minimum:
            raise ConfigError(f"{name}: {raw} is too small (at least {minimum})")
        return value

    bot_config = get("BOT_CONFIG") or BUNDLED_PROFILE
    once(_check_profile, bot_config)
    database_url = get("DATABASE_URL") or default_database_url()
    once(_check_database_url, database_url)
    if get("DATABASE_URL"):
        once(_check_sqlite_folder, database_url)
    feed_url = get("FEED_URL") or DEFAULT_FEED_URL
    feed_scheme = urlparse(feed_url).scheme.lower()
    # A path is fine (the feed may be a local file); a scheme the fetcher cannot read is not;
    # an address without its scheme ("aablanco.substack.com/feed") is neither: say what to add.
    if "://" not in feed_url and looks_like_an_address(feed_url):
        raise ConfigError(f"FEED_URL: {feed_url!r} is a web address without its scheme: "
                          f"add https:// (https://{feed_url})")
    if "://" in feed_url and feed_scheme not in ("http", "https", "file"):
        raise ConfigError(
            f"FEED_URL: {feed_url!r} is not an http(s) URL or a local file path, "
            f"like {DEFAULT_FEED_URL}"
        )
    cards, cards_allow_private = _card_settings(get)
    notify_url, notify_on, notify_format = _notify_settings(get)
    return Settings(
        name=name,
        feed_url=feed_url,
        bsky_service=service.rstrip("/"),
        bsky_handle=handle,
        bsky_app_password=password,
        database_url=database_url,
        poll_interval=int(number("POLL_INTERVAL", 300, 10, MAX_POLL_INTERVAL)),
        bot_config=bot_config,
        backfill_hours=float(number("BACKFILL_HOURS", 48.0, 0, MAX_HOURS, float)),
        cards=cards,
        cards_allow_private=cards_allow_private,
        post_delay=float(number("POST_DELAY", 10.0, 0, MAX_POST_DELAY, float)),
        notify_url=notify_url,
        notify_on=notify_on,
        notify_format=notify_format,
        max_new_per_pass=int(number("MAX_NEW_PER_PASS", 5, 1, 10_000)),
    )


def _check_service(service: str) -> None:
    parsed = urlparse(service)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"BSKY_SERVICE: {service!r} is not an http(s) URL like https://bsky.social"
        )


def _check_profile(bot_config: str) -> None:
    if not Path(bot_config).is_file():
        raise ConfigError(f"BOT_CONFIG: profile file {bot_config} does not exist")


def looks_like_an_address(value: str) -> bool:
    """`host.tld/…` or `www.…` that is not a file here: a web address missing `https://`."""
    if Path(value).exists() or value.startswith((".", "/", "~")):
        return False
    host = value.split("/", 1)[0]
    return bool(re.fullmatch(r"(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?::\d+)?", host)) and (
        "/" in value or host.startswith("www.") or not host.endswith((".xml", ".rss", ".atom")))


ALERTS = ("held", "failed", "auth", "feed", "posted")
NOTIFY_FORMATS = ("generic", "slack", "discord")


def _notify_settings(
    get: Callable[[str], str | None],
) -> tuple[str | None, tuple[str, ...], str]:
    """NOTIFY_URL (never echoed: it holds the webhook's token), NOTIFY_ON, NOTIFY_FORMAT."""
    url = get("NOTIFY_URL")
    if url is not None:
        parsed = urlparse(url)
        if parsed.scheme.lower() not in ("http", "https") or not parsed.netloc:
            raise ConfigError("NOTIFY_URL: not an http(s) URL (the value is not shown: a secret)")
    raw = get("NOTIFY_ON")
    on = Settings.notify_on
    if raw is not None:
        on = tuple(dict.fromkeys(n.strip().lower() for n in raw.split(",") if n.strip()))
        wrong = [n for n in on if n not in ALERTS]
        if wrong:
            raise ConfigError(
                f"NOTIFY_ON: {', '.join(wrong)} is not an alert; use some of {', '.join(ALERTS)}"
            )
    fmt = (get("NOTIFY_FORMAT") or "generic").lower()
    if fmt not in NOTIFY_FORMATS:
        raise ConfigError(f"NOTIFY_FORMAT: {fmt!r} is not one of {', '.join(NOTIFY_FORMATS)}")
    return url, on, fmt


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


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory ones)."""
    scheme, _, rest = url.partition("://")
    if scheme.split("+", 1)[0].lower() != "sqlite" or not rest.startswith("/"):
        return None
    db = rest[1:].split("?", 1)[0]
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db).expanduser()


def _check_sqlite_folder(url: str) -> None:
    """A SQLite file the user named must be in a folder that exists: the bot creates only its
    own data/ folder, never one where a typo put it."""
    path = sqlite_path(url)
    # An existing folder first: one stat, where resolve() costs ~30 µs per bot of a BOTS_FILE.
    if path is None or path.parent.is_dir() or path.parent.resolve() == DATA_DIR:
        return  # there, or the bot's own folder (made at need)
    raise ConfigError(
        f"DATABASE_URL: the folder of the SQLite file {path} does not exist; create it "
        "or fix the path"
    )
