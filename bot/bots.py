"""Which bots this process serves: one named `default` from the environment (as always), or the
`[[bots]]` of BOTS_FILE — each a newsletter feed, its profile and a Bluesky account, with its own
interval and settings. Secrets stay in the environment: a bot names the VARIABLE that holds its
app password (`app_password_env`), never the password. Validated at start-up: one line naming
the file, the bot and the field that is wrong."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.settings import Settings, load_dotenv_files, load_settings

_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
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
}
_SECRETS = {"app_password_env": "BSKY_APP_PASSWORD", "notify_url_env": "NOTIFY_URL"}
_REQUIRED = ("name", "feed_url", "handle", "app_password_env")
# Settings that belong to the process, not to a bot: taken from the environment for all bots.
_SHARED = ("DATABASE_URL", "CARDS_ALLOW_PRIVATE")


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
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
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
    bots = [_bot(path, n, table, env) for n, table in enumerate(tables, 1)]
    _no_duplicates(path, bots)
    return bots


def _bot(path: Path, n: int, table: dict[str, Any], env: Mapping[str, str]) -> Settings:
    name = table.get("name")
    who = f"bot {name!r}" if isinstance(name, str) and name else f"bot #{n}"

    def fail(field: str, why: str) -> ConfigError:
        return ConfigError(f"BOTS_FILE: {path}: {who}: {field}: {why}")

    for key in table:
        if key not in {"name", *_FIELDS, *_SECRETS}:
            known = ", ".join(sorted({"name", *_FIELDS, *_SECRETS}))
            raise fail(key, f"is not a setting; known: {known}")
    for key in _REQUIRED:
        if table.get(key) in (None, ""):
            raise fail(key, "missing")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise fail("name", "use letters, digits and '-' only (at most 64)")
    values: dict[str, str] = {k: env[k] for k in _SHARED if k in env}
    for key, var in _FIELDS.items():
        if key in table:
            value = table[key]
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            elif isinstance(value, bool) or not isinstance(value, str | int | float):
                raise fail(key, "must be a string or a number")
            values[var] = str(value)
    if "profile" in table and not Path(values["BOT_CONFIG"]).is_absolute():
        values["BOT_CONFIG"] = str(path.parent / values["BOT_CONFIG"])
    for key, var in _SECRETS.items():
        if key not in table:
            continue
        secret_var = table[key]
        if not isinstance(secret_var, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*",
                                                                secret_var):
            raise fail(key, "must be the NAME of an environment variable (not the secret)")
        secret = (env.get(secret_var) or "").strip()
        if not secret:
            raise fail(key, f"the environment variable {secret_var} is not set")
        values[var] = secret
    try:
        settings = load_settings(values, dotenv=False)
    except ConfigError as exc:
        var, _, why = str(exc).partition(": ")
        field = next((k for k, v in {**_FIELDS, **_SECRETS}.items() if v == var), var)
        raise fail(field, why) from exc
    return replace(settings, name=name)


def _no_duplicates(path: Path, bots: Sequence[Settings]) -> None:
    names: set[str] = set()
    pairs: dict[tuple[str, str, str | None], str] = {}
    accounts: dict[tuple[str, str | None], Settings] = {}
    for b in bots:
        if b.name in names:
            raise ConfigError(f"BOTS_FILE: {path}: bot {b.name!r}: name: used by two bots")
        names.add(b.name)
        pair = (b.feed_url, b.bsky_service, b.bsky_handle)
        if pair in pairs:
            raise ConfigError(
                f"BOTS_FILE: {path}: bot {b.name!r}: feed_url: bot {pairs[pair]!r} posts the same "
                "feed to the same account already"
            )
        pairs[pair] = b.name
        first = accounts.setdefault((b.bsky_service, b.bsky_handle), b)
        if first.bsky_app_password != b.bsky_app_password:  # one account, one session
            raise ConfigError(
                f"BOTS_FILE: {path}: bot {b.name!r}: app_password_env: bot {first.name!r} posts "
                f"to {b.bsky_handle} with another app password; give both the same variable"
            )


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
