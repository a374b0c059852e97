"""BOTS_FILE: which bots a process serves, validated at start-up. A wrong field is one line
naming the file, the bot and the field (exit 2 from the CLI); without BOTS_FILE the environment
is one bot named `default`; `--bot` picks one bot, and is required when there are several."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.bots import load_bots, pick_bot
from bot.errors import ConfigError
from bot.settings import BUNDLED_PROFILE, PROJECT_ROOT

GOOD = """
[[bots]]
name = "bwr"
feed_url = "https://aablanco.substack.com/feed"
handle = "bwr.bsky.social"
app_password_env = "BWR_PASSWORD"
poll_interval = 600

[[bots]]
name = "bwr-es"
feed_url = "https://aablanco.substack.com/feed"
handle = "bwr-es.bsky.social"
app_password_env = "BWR_ES_PASSWORD"
"""
ENV = {"BWR_PASSWORD": "pwon-esec-ret1-abcd", "BWR_ES_PASSWORD": "pwtw-osec-ret2-abcd"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bots.toml"
    path.write_text(text, encoding="utf-8")
    return path


def bots_env(tmp_path: Path, text: str, **extra: str) -> dict[str, str]:
    return {"BOTS_FILE": str(write(tmp_path, text)),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", **ENV, **extra}


def error_of(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_bots(env, dotenv=False)
    message = str(caught.value)
    assert "\n" not in message
    return message


def one_bot(**fields: object) -> str:
    """A [[bots]] table of one bot with these fields (None leaves a field out)."""
    table = {"name": "bwr", "feed_url": "https://aablanco.substack.com/feed",
             "handle": "bwr.bsky.social", "app_password_env": "BWR_PASSWORD", **fields}
    lines = ["[[bots]]"]
    for key, value in table.items():
        if value is None:
            continue
        shown = json.dumps(value)  # strings, numbers, booleans and lists are TOML this way too
        lines.append(f"{key} = {shown}")
    return "\n".join(lines) + "\n"


def test_bots_file_gives_each_bot_its_settings_and_its_secret_from_the_environment(tmp_path):
    """Each [[bots]] table is a bot with its own feed, account, interval and password (read from
    the variable it names); settings it leaves out are the defaults."""
    bots = load_bots(bots_env(tmp_path, GOOD), dotenv=False)
    assert [(b.name, b.bsky_handle, b.bsky_app_password, b.poll_interval) for b in bots] == [
        ("bwr", "bwr.bsky.social", "pwon-esec-ret1-abcd", 600),
        ("bwr-es", "bwr-es.bsky.social", "pwtw-osec-ret2-abcd", 300),
    ]
    assert all(b.database_url == f"sqlite:///{tmp_path / 'bot.db'}" for b in bots)
    assert all(b.bot_config == BUNDLED_PROFILE for b in bots)
    assert "pwon-esec-ret1-abcd" not in repr(bots)


def test_without_bots_file_the_environment_is_one_bot_named_default(tmp_path):
    """No BOTS_FILE: one bot, `default`, from the environment, as before several bots existed."""
    env = {"FEED_URL": "https://x.test/feed", "BSKY_HANDLE": "me.test",
           "BSKY_APP_PASSWORD": "secret", "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}
    [bot] = load_bots(env, dotenv=False)
    assert (bot.name, bot.feed_url, bot.bsky_handle) == ("default", "https://x.test/feed",
                                                         "me.test")


def test_a_relative_profile_is_found_beside_the_bots_file(tmp_path):
    """`profile = "bwr.toml"` means the file next to bots.toml, wherever the daemon runs."""
    (tmp_path / "bwr.toml").write_text(Path(BUNDLED_PROFILE).read_text(encoding="utf-8"))
    [bot] = load_bots(bots_env(tmp_path, one_bot(profile="bwr.toml")), dotenv=False)
    assert bot.bot_config == str(tmp_path / "bwr.toml")


@pytest.mark.parametrize(
    ("fields", "field", "why"),
    [
        ({"name": None}, "name", "missing"),
        ({"name": "bwr es"}, "name", "letters, digits and '-'"),
        ({"feed_url": None}, "feed_url", "missing"),
        ({"feed_url": "ftp://x.test/feed"}, "feed_url", "is not an http(s) URL"),
        ({"handle": None}, "handle", "missing"),
        ({"handle": "nodots"}, "handle", "is not a handle"),
        ({"app_password_env": None}, "app_password_env", "missing"),
        ({"app_password_env": "pwon-esec-ret1-abcd!"}, "app_password_env",
         "NAME of an environment"),
        ({"service": "bsky.social"}, "service", "is not an http(s) URL"),
        ({"poll_interval": 5}, "poll_interval", "too small"),
        ({"poll_interval": "often"}, "poll_interval", "is not a number"),
        ({"poll_interval": True}, "poll_interval", "must be a string or a number"),
        ({"backfill_hours": -1}, "backfill_hours", "too small"),
        ({"post_delay": "soon"}, "post_delay", "is not a number"),
        ({"cards": "all"}, "cards", "is not one of"),
        ({"notify_on": ["held", "weather"]}, "notify_on", "weather is not an alert"),
        ({"notify_format": "email"}, "notify_format", "is not one of"),
        ({"profile": "missing.toml"}, "profile", "does not exist"),
        ({"poll_intervall": 60}, "poll_intervall", "is not a setting; known:"),
    ],
)
def test_a_wrong_field_is_one_line_naming_file_bot_and_field(tmp_path, fields, field, why):
    """Every wrong field of a bot says, in one line, which file, which bot, which field, why."""
    message = error_of(bots_env(tmp_path, one_bot(**fields)))
    name = fields.get("name", "bwr")
    who = f"bot {name!r}" if name is not None else "bot #1"  # a bot without a name: its place
    assert message.startswith(f"BOTS_FILE: {tmp_path / 'bots.toml'}: {who}: {field}: "), message
    assert why in message


def test_a_bot_whose_password_variable_is_unset_is_a_dry_run_and_says_so(tmp_path, caplog):
    """A bot whose password variable is unset (or empty) composes but never posts, and a
    warning names it and the variable; the other bots are untouched."""
    env = bots_env(tmp_path, GOOD, BWR_ES_PASSWORD="")
    with caplog.at_level("WARNING", logger="bot.bots"):
        bots = load_bots(env, dotenv=False)
    assert [(b.name, b.dry_run) for b in bots] == [("bwr", False), ("bwr-es", True)]
    assert bots[1].bsky_handle == "bwr-es.bsky.social"  # still shown in status, never signed in
    assert [r.getMessage() for r in caplog.records] == [
        'bots.note bot=bwr-es note="BWR_ES_PASSWORD is not set: a dry run for this bot, '
        'nothing is posted"']


def test_every_problem_of_a_bots_file_is_one_line_at_once(tmp_path):
    """Two broken bots (and a bot broken twice): every problem, one line each, in file order."""
    text = (one_bot(poll_interval=5, color="red")
            + one_bot(name="second", handle="nodots", feed_url="https://x.test/f"))
    with pytest.raises(ConfigError) as caught:
        load_bots(bots_env(tmp_path, text), dotenv=False)
    where = f"BOTS_FILE: {tmp_path / 'bots.toml'}"
    assert str(caught.value).splitlines() == [
        f"{where}: bot 'bwr': color: is not a setting; known: app_password_env, backfill_hours, "
        "cards, feed_url, handle, max_new_per_pass, name, notify_format, notify_on, "
        "notify_url_env, poll_interval, post_delay, profile, service",
        f"{where}: bot 'bwr': poll_interval: 5 is too small (at least 10)",
        f"{where}: bot 'second': handle: 'nodots' is not a handle like name.bsky.social",
    ]


def test_the_environment_gives_every_bot_its_defaults_and_a_table_overrides_them(tmp_path):
    """POST_DELAY, POLL_INTERVAL, CARDS… set in the environment apply to every bot of the file;
    a bot's own table wins."""
    env = bots_env(tmp_path, GOOD, POST_DELAY="3", POLL_INTERVAL="120", CARDS="off")
    bots = load_bots(env, dotenv=False)
    assert [(b.name, b.post_delay, b.poll_interval, b.cards) for b in bots] == [
        ("bwr", 3.0, 600, "off"), ("bwr-es", 3.0, 120, "off")]


def test_a_wrong_default_from_the_environment_says_so_once(tmp_path):
    """A bad value the environment gives every bot is one line naming the variable and where it
    came from, not one line per bot blaming the bots."""
    message = error_of(bots_env(tmp_path, GOOD, POST_DELAY="soon"))
    assert message == (f"POST_DELAY (set in the environment, the default of every bot of "
                       f"BOTS_FILE {tmp_path / 'bots.toml'}): 'soon' is not a number")


def test_a_bots_file_with_two_broken_bots_exits_2_naming_both(tmp_path):
    """The CLI prints every problem, each on its own `Error:` line, and touches nothing."""
    text = one_bot(poll_interval=1) + one_bot(name="two", cards="all", feed_url="https://x.test/f")
    done = _cli(["status"], bots_env(tmp_path, text), tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("Error: BOTS_FILE: ") for line in lines)
    assert "bot 'bwr': poll_interval: 1 is too small" in lines[0]
    assert "bot 'two': cards: 'all' is not one of" in lines[1]
    assert not (tmp_path / "bot.db").exists()


def test_no_secret_is_echoed_when_a_password_setting_is_wrong(tmp_path):
    """A password put in the file by mistake (instead of a variable's name) is not repeated."""
    message = error_of(bots_env(tmp_path, one_bot(app_password_env="abcd-efgh-ijkl-mnop")))
    assert "abcd-efgh-ijkl-mnop" not in message


def test_two_bots_with_one_name_are_refused(tmp_path):
    """Names key each bot's rows: two bots cannot share one."""
    text = GOOD.replace('name = "bwr-es"', 'name = "bwr"')
    assert error_of(bots_env(tmp_path, text)) == (
        f"BOTS_FILE: {tmp_path / 'bots.toml'}: bot 'bwr': name: used by two bots")


def test_two_bots_posting_one_feed_to_one_account_are_refused(tmp_path):
    """The same feed to the same account twice would post every issue twice."""
    text = GOOD.replace("bwr-es.bsky.social", "bwr.bsky.social")
    assert error_of(bots_env(tmp_path, text)) == (
        f"BOTS_FILE: {tmp_path / 'bots.toml'}: bot 'bwr-es': feed_url: bot 'bwr' posts the "
        "same feed to the same account already")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no [[bots]] tables"),
        ("[bots]\nname = 'x'\n", "no [[bots]] tables"),
        ("poll_interval = 60\n" + GOOD, "'poll_interval' is not a setting"),
        ("[[bots]\n", "is not valid TOML"),
    ],
)
def test_a_file_that_is_not_a_list_of_bots_is_one_line(tmp_path, text, why):
    """A file without [[bots]] tables, with a stray top-level key or not TOML is named."""
    message = error_of(bots_env(tmp_path, text))
    assert message.startswith(f"BOTS_FILE: {tmp_path / 'bots.toml'}")
    assert why in message


def test_a_missing_bots_file_is_named(tmp_path):
    """BOTS_FILE pointing nowhere says so."""
    missing = tmp_path / "nope.toml"
    assert error_of({"BOTS_FILE": str(missing)}) == f"BOTS_FILE: {missing} does not exist"


def test_pick_bot_needs_a_name_when_several_and_knows_only_configured_ones(tmp_path):
    """One bot needs no --bot; several do; an unknown name lists the configured ones."""
    bots = load_bots(bots_env(tmp_path, GOOD), dotenv=False)
    assert pick_bot(bots[:1], None).name == "bwr"
    assert pick_bot(bots, "bwr-es").name == "bwr-es"
    with pytest.raises(ConfigError, match=r"^--bot: several bots are configured \(bwr, bwr-es\); "
                                          r"say which one$"):
        pick_bot(bots, None)
    with pytest.raises(ConfigError, match=r"^--bot: no bot named 'nope'; configured: bwr, "
                                          r"bwr-es$"):
        pick_bot(bots, "nope")


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("BSKY_", "FEED_URL", "BOTS_FILE", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd,
                          env={**base, "PYTHONPATH": str(PROJECT_ROOT), **env},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(
    ("args", "text", "expected"),
    [
        (["status"], one_bot(poll_interval=1),
         "bot 'bwr': poll_interval: 1 is too small (at least 10)"),
        (["run"], one_bot(color="blue"), "bot 'bwr': color: is not a setting"),
        (["retry", "--entry", "https://x.test/p/a"], GOOD,
         "--bot: several bots are configured (bwr, bwr-es); say which one"),
        (["status", "--bot", "nope"], GOOD, "--bot: no bot named 'nope'; configured: bwr, bwr-es"),
    ],
)
def test_the_cli_says_what_is_wrong_in_one_line_and_exits_2(tmp_path, args, text, expected):
    """`python -m bot` with a bad BOTS_FILE or --bot prints one line and exits 2, before it
    touches the database or the network."""
    done = _cli(args, bots_env(tmp_path, text), tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr
    assert "pwon-esec-ret1-abcd" not in done.stderr + done.stdout
    assert not (tmp_path / "bot.db").exists()


@pytest.mark.parametrize("text", [
    GOOD,
    GOOD.replace("\n", "\r\n"),  # written on Windows
    "# our bots\n" + GOOD.replace('"bwr"', '"bwr"  # the English one'),
    GOOD.replace("[[bots]]", "[[ bots ]]\t# a bot").replace(" = ", "="),
    GOOD + 'cards = "off"\npost_delay = 0\nnotify_on = ["held", "failed"]\n',  # arrays: TOML's
    GOOD + "backfill_hours = 1.5\nmax_new_per_pass = +3\n",  # floats: TOML's own reader
    GOOD + 'cards = "o\\u0066f"\n',  # an escape: TOML's own reader
    GOOD + 'cards = \'off\'\n',  # a literal string: TOML's own reader
], ids=["plain", "crlf", "comments", "spacing", "array", "float", "escape", "literal"])
def test_a_bots_file_reads_the_same_in_every_toml_spelling(tmp_path, text):
    """A bots file is read by rtoml (10,000 bots in a fraction of a second): every spelling
    TOML allows gives what the standard library's reader gives, so the same bots."""
    import tomllib

    from bot.bots import read_toml

    assert read_toml(text) == tomllib.loads(text)
    bots = load_bots(bots_env(tmp_path, text), dotenv=False)
    assert [b.name for b in bots] == ["bwr", "bwr-es"]
    assert bots[0].poll_interval == 600 and bots[1].cards == ("rich" if text.count("cards") < 1
                                                               else "off")


@pytest.mark.parametrize("text, why", [
    (GOOD + 'name = "again"\n', "Cannot overwrite a value"),  # a key twice in one table
    ('name = "lonely"\n' + GOOD, "not a setting"),  # a key before the first [[bots]]
    (GOOD + 'poll_interval = 0600\n', "not valid TOML"),  # a leading zero
    (GOOD + 'cards = "o\x01ff"\n', "not valid TOML"),  # a control character
])
def test_a_bots_file_that_is_not_toml_is_reported_in_tomls_words(tmp_path, text, why):
    """A file that is not TOML is reported in the standard reader's words (line and column),
    the same one line as ever."""
    assert why in error_of(bots_env(tmp_path, text))
