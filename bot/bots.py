"""Which bots this process serves: one named `default` from the environment (as always), or the
`[[bots]]` of BOTS_FILE — each a newsletter feed, its profile and a Bluesky account, with its own
interval and settings. Secrets stay in the environment: a bot names the VARIABLE that holds its
app password (`app_password_env`), never the password.

Validated at start-up, every problem of the file at once, one line each (file, bot, field). The
environment's settings (POST_DELAY, POLL_INTERVAL, …) are the defaults of every bot; a bot's
table overrides them. A bot whose password variable is unset is a dry run, and one whose webhook
variable is unset sends no alerts: each is said once, as a warning, not refused."""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import rtoml

from bot.errors import ConfigError
from bot.settings import Passed, Settings, load_dotenv_files, load_settings, origin_of

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A bot's field → the environment variable it stands for (validated by load_settings).
_FIELDS = {
    "feed_url": "FEED_URL",
    "profile": "BOT_CONFIG",
    "service": "BSKY_SERVICE",
    "handle": "BSKY_HANDLE",
    "poll_interval": "POLL_INTERVAL",
    "backfill_hours": "BACKFILL_HOURS",
    "post_delay": "POST_DELAY",
    "cards": "CARDS",
    "notify_on": "NOTIFY_ON",
    "notify_format": "NOTIFY_FORMAT",
    "max_new_per_pass": "MAX_NEW_PER_PASS",
}
_SECRETS = {"app_password_env": "BSKY_APP_PASSWORD", "notify_url_env": "NOTIFY_URL"}
_KNOWN = frozenset({"name", *_FIELDS, *_SECRETS})
_REQUIRED = ("name", "feed_url", "handle", "app_password_env")
# Settings that belong to the process, not to a bot: taken from the environment for all bots.
_SHARED = ("DATABASE_URL", "CARDS_ALLOW_PRIVATE")
# Settings the environment gives every bot of the file unless its table says otherwise. Not the
# feed, the handle or its password: those are one bot's (the file must name them).
_DEFAULTS = ("BSKY_SERVICE", "BOT_CONFIG", "POLL_INTERVAL", "BACKFILL_HOURS", "POST_DELAY",
             "CARDS", "NOTIFY_ON", "NOTIFY_FORMAT", "NOTIFY_URL", "MAX_NEW_PER_PASS")
# The trust model (README, "Security"): whoever edits the bots file chooses where each app
# password it names is sent (`service`). So a bots file may name only variables that hold an app
# password (Bluesky's xxxx-xxxx-xxxx-xxxx), never one of the bot's own settings (the database's
# URL and password, the webhook's token, …), and a variable goes to one service only: another
# secret of the host, or an account's password meant for bsky.social, is never sent elsewhere.
APP_PASSWORD = re.compile(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}")
_OWN_SETTINGS = frozenset({
    "FEED_URL", "BSKY_SERVICE", "BSKY_HANDLE", "BSKY_APP_PASSWORD", "DATABASE_URL",
    "POLL_INTERVAL", "BOT_CONFIG", "BACKFILL_HOURS", "CARDS", "CARDS_ALLOW_PRIVATE", "POST_DELAY",
    "NOTIFY_URL", "NOTIFY_ON", "NOTIFY_FORMAT", "BOTS_FILE", "MAX_NEW_PER_PASS",
})
_OWN_PREFIXES = ("NOTIFY_", "DATABASE_", "BOTS_", "PG")  # PG*: libpq's password and service
# The one setting each secret field may name among the bot's own: the environment's own bot's.
_OWN_SECRET = {"app_password_env": "BSKY_APP_PASSWORD", "notify_url_env": "NOTIFY_URL"}


def load_bots(env: Mapping[str, str] | None = None, dotenv: bool = True) -> list[Settings]:
    """The bots to serve, each as its Settings (see the module docstring)."""
    if env is None:
        if dotenv:
            load_dotenv_files()
        env = dict(os.environ)
    path = (env.get("BOTS_FILE") or "").strip()
    if not path:
        return [load_settings(dict(env), dotenv=False)]
    return bots_from_file(Path(path), env)


def bots_from_file(path: Path, env: Mapping[str, str]) -> list[Settings]:
    """The bots of the file. ConfigError with every problem found, one line each."""
    tables = _tables(path)
    passed: Passed = set()  # the checks of values the bots share, done once for all of them
    found = [_bot(path, n, table, env, passed) for n, table in enumerate(tables, 1)]
    problems = [line for f in found for line in f.problems]
    bots = [f.settings for f in found if f.settings is not None]
    problems += _duplicates(path, bots)
    problems += _one_service_each(path, found, env)
    if problems:
        raise ConfigError("\n".join(dict.fromkeys(problems)))  # each problem once
    for f in found:
        for note in f.notes:
            name = f.settings.name if f.settings else ""
            logger.warning('bots.note bot=%s note="%s"', name, note)
    return bots


def _tables(path: Path) -> list[dict[str, Any]]:
    """The file's [[bots]] tables; a file that cannot be read as such is one line."""
    try:
        text = path.read_text(encoding="utf-8")
        data = read_toml(text)
    except FileNotFoundError:
        raise ConfigError(f"BOTS_FILE: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"BOTS_FILE: cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"BOTS_FILE: {path} is not valid TOML: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses once per level of nesting
        raise ConfigError(f"BOTS_FILE: {path} nests arrays or tables too deep to read; "
                          "a bots file is a list of flat [[bots]] tables") from exc
    extra = set(data) - {"bots"}
    if extra:
        raise ConfigError(f"BOTS_FILE: {path}: {sorted(extra)[0]!r} is not a setting; "
                          "the file holds [[bots]] tables only")
    tables = data.get("bots")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"BOTS_FILE: {path}: no [[bots]] tables (one per bot)")
    return tables


def read_toml(text: str) -> dict[str, Any]:
    """The bots file's TOML. rtoml (TOML 1.0, in Rust) reads 10,000 bots in ~0.05 s where the
    standard library's pure-Python tomllib takes ~0.3–0.45 s, which `status --check` over a big
    fleet cannot afford. A file rtoml refuses is read again by tomllib, so a person sees
    tomllib's message (line and column) as before, or tomllib reads what rtoml's stricter limits
    refused (rtoml stops at a fixed nesting depth instead of recursing)."""
    try:
        data: dict[str, Any] = rtoml.loads(text)
    except (rtoml.TomlParsingError, ValueError):
        return tomllib.loads(text)
    return data


@dataclass
class _Found:
    """One table read: its settings (None when it has problems), its problems and its notes."""

    settings: Settings | None
    problems: list[str]
    notes: list[str]
    password_env: str | None = None  # the variable its app password came from


def _bot(path: Path, n: int, table: dict[str, Any], env: Mapping[str, str],
         passed: Passed) -> _Found:
    """One [[bots]] table as Settings. Every check of a bot's fields is here, in order: the
    fields the table names, then the values (load_settings), so a new rule has one place."""
    name = table.get("name")
    who = f"bot {name!r}" if isinstance(name, str) and name else f"bot #{n}"
    problems: list[str] = []
    notes: list[str] = []
    failed: set[str] = set()

    def fail(field: str, why: str) -> None:
        if field not in failed:  # one line per field: its first problem
            failed.add(field)
            problems.append(f"BOTS_FILE: {path}: {who}: {field}: {why}")

    for key in table:
        if key not in _KNOWN:
            fail(key, f"is not a setting; known: {', '.join(sorted(_KNOWN))}")
    for key in _REQUIRED:
        if table.get(key) in (None, ""):
            fail(key, "missing")
    if isinstance(name, str) and name and not _NAME.fullmatch(name):
        fail("name", "use letters, digits and '-' only (at most 64)")
    elif name not in (None, "") and not isinstance(name, str):
        fail("name", "use letters, digits and '-' only (at most 64)")

    values: dict[str, str] = {k: env[k] for k in _SHARED if k in env}
    from_env = {var: env[var] for var in _DEFAULTS if (env.get(var) or "").strip()}
    values.update(from_env)
    for key, var in _FIELDS.items():
        if key not in table:
            continue
        from_env.pop(var, None)
        value = table[key]
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            fail(key, "must be a string or a number")
            continue
        values[var] = str(value)
    if "profile" in table and not Path(values["BOT_CONFIG"]).is_absolute():
        values["BOT_CONFIG"] = str(path.parent / values["BOT_CONFIG"])
    dry = False
    password_env: str | None = None
    for key, var in _SECRETS.items():
        if key not in table:
            continue
        from_env.pop(var, None)
        values.pop(var, None)
        secret_var = table[key]
        if not isinstance(secret_var, str) or not _VARIABLE.fullmatch(secret_var):
            fail(key, "must be the NAME of an environment variable (not the secret)")
            continue
        if secret_var != _OWN_SECRET[key] and (
                secret_var in _OWN_SETTINGS or secret_var.startswith(_OWN_PREFIXES)):
            fail(key, f"{secret_var} is one of the bot's own settings, not a secret a bots file "
                      "may name; name the variable that holds this bot's "
                      + ("app password" if key == "app_password_env" else "webhook address"))
            continue
        secret = (env.get(secret_var) or "").strip()
        if secret and key == "app_password_env" and not APP_PASSWORD.fullmatch(secret):
            # Checked before any request: no other secret of the host is ever sent anywhere.
            fail(key, f"{secret_var} does not hold an app password (xxxx-xxxx-xxxx-xxxx, made "
                      "in Bluesky's settings); a bots file may name app passwords only")
            continue
        if key == "app_password_env":
            password_env = secret_var
        if secret:
            values[var] = secret
        elif key == "app_password_env":  # no password: this bot composes, never posts
            dry = True
            notes.append(f"{secret_var} is not set: a dry run for this bot, nothing is posted")
        else:  # no webhook: this bot's alerts go nowhere, and it says so
            notes.append(f"{secret_var} is not set: no alerts for this bot")
    if dry:  # checked as a bot that posts would be; the stand-in password is never kept
        values["BSKY_APP_PASSWORD"] = "dry-run"
    try:
        settings = load_settings(values, dotenv=False, name=str(name), passed=passed)
    except ConfigError as exc:
        var, _, why = str(exc).partition(": ")
        var = var.split(" ", 1)[0]
        if var in from_env:  # the environment's default, not the table, is wrong
            where = origin_of(var, from_env[var])
            problems.append(f"{var} ({where}, the default of every bot of BOTS_FILE {path}): "
                            f"{why}")
        else:  # the values are checked too when a field is wrong: every problem at once
            field = next((k for k, v in {**_FIELDS, **_SECRETS}.items() if v == var), var)
            fail(field, why)
        return _Found(None, problems, [])
    if problems:
        return _Found(None, problems, [])
    if dry:
        settings = replace(settings, bsky_app_password=None)
    return _Found(settings, problems, notes, password_env)


def _duplicates(path: Path, bots: Sequence[Settings]) -> list[str]:
    """Two bots of one name, or of one feed on one account. Two bots of one account may hold
    different passwords (an account can have several app passwords): each signs in with its
    own, and one that is refused stops only its bot."""
    problems: list[str] = []
    names: set[str] = set()
    pairs: dict[tuple[str, str, str | None], str] = {}
    for b in bots:
        if b.name in names:
            problems.append(f"BOTS_FILE: {path}: bot {b.name!r}: name: used by two bots")
        names.add(b.name)
        if b.dry_run:
            continue
        pair = (b.feed_url, b.bsky_service, b.bsky_handle)
        if pair in pairs:
            problems.append(
                f"BOTS_FILE: {path}: bot {b.name!r}: feed_url: bot {pairs[pair]!r} posts the same "
                "feed to the same account already"
            )
        pairs.setdefault(pair, b.name)
    return problems


def _one_service_each(path: Path, found: Sequence[_Found], env: Mapping[str, str]) -> list[str]:
    """A password variable is sent to one service only: two bots naming it with two services,
    or BSKY_APP_PASSWORD (the environment's bot's) with another service than BSKY_SERVICE, would
    let a bots file send an account's password where its owner never meant it to go."""
    problems: list[str] = []
    first: dict[str, tuple[str, str]] = {}
    own = (env.get("BSKY_SERVICE") or "").strip().rstrip("/") or Settings.bsky_service
    first["BSKY_APP_PASSWORD"] = (own.lower(), "BSKY_SERVICE in the environment")
    for f in found:
        if f.settings is None or f.password_env is None:
            continue
        service = f.settings.bsky_service.rstrip("/").lower()
        taken = first.setdefault(f.password_env, (service, f"bot {f.settings.name!r}"))
        if taken[0] != service:
            problems.append(
                f"BOTS_FILE: {path}: bot {f.settings.name!r}: app_password_env: "
                f"{f.password_env} goes to {taken[0]} ({taken[1]}), not to {service}; one "
                "password variable is sent to one service only")
    return problems


def pick_bot(bots: Sequence[Settings], name: str | None) -> Settings:
    """The bot named by --bot; the only one when there is one. ConfigError otherwise."""
    if name is None:
        if len(bots) == 1:
            return bots[0]
        names = ", ".join(b.name for b in bots)
        raise ConfigError(f"--bot: several bots are configured ({names}); say which one")
    for b in bots:
        if b.name == name:
            return b
    raise ConfigError(f"--bot: no bot named {name!r}; configured: "
                      f"{', '.join(b.name for b in bots)}")
