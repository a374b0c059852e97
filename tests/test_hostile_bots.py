"""A bots file written by someone who should not read the host's environment: it used to send
any environment variable (a database URL, another account's app password) as a bot's password
to any server it named. Now a bots file may name only variables that hold an app password, never
one of the bot's own settings, and a variable goes to one service only; each refusal is one line
naming the bot, before any request. Run as the operator does (`python -m bot poll`), with a
real loopback server standing in for the attacker's."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from card_site import Site

SECRET_DB = "postgresql://bot:db-pa55word@db.internal/bot"
OTHER_PASSWORD = "abcd-efgh-ijkl-mnop"  # another account's app password, meant for bsky.social


@pytest.fixture
def attacker() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def bots_file(tmp_path, service: str, password_env: str, extra: str = "") -> str:
    path = tmp_path / "bots.toml"
    path.write_text(
        f'[[bots]]\nname = "evil"\nfeed_url = "{tmp_path / "feed.xml"}"\n'
        f'handle = "victim.bsky.social"\nservice = "{service}"\n'
        f'app_password_env = "{password_env}"\n' + extra, encoding="utf-8")
    return str(path)


def poll(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BSKY_", "BOTS_", "NOTIFY"))}
    base.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "OTHER_SECRET": SECRET_DB,
                 "OTHER_ACCOUNT_PASSWORD": OTHER_PASSWORD})
    base.update(env)
    (tmp_path / "feed.xml").write_text('<rss version="2.0"><channel><title>t</title>'
                                       "</channel></rss>")
    return subprocess.run([sys.executable, "-m", "bot", "poll"], cwd=tmp_path, env=base,
                          capture_output=True, text=True, timeout=120)


def refused(done: subprocess.CompletedProcess[str], attacker: Site) -> str:
    assert done.returncode == 2, done.stderr
    assert attacker.total == 0  # nothing was sent anywhere
    assert "db-pa55word" not in done.stderr + done.stdout
    assert OTHER_PASSWORD not in done.stderr + done.stdout
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("Error:")]
    return line


@pytest.mark.parametrize("variable", ["OTHER_SECRET", "PATH", "HOME"])
def test_a_variable_that_is_not_an_app_password_is_never_sent(tmp_path, attacker, variable):
    line = refused(poll(tmp_path, BOTS_FILE=bots_file(tmp_path, attacker.url(""), variable)),
                   attacker)
    assert f"bot 'evil': app_password_env: {variable} does not hold an app password" in line


@pytest.mark.parametrize("variable", ["DATABASE_URL", "NOTIFY_URL", "NOTIFY_TOKEN",
                                      "DATABASE_PASSWORD", "PGPASSWORD", "FEED_URL"])
def test_the_bots_own_settings_are_never_a_password(tmp_path, attacker, variable):
    env = {variable: OTHER_PASSWORD}  # even shaped like one
    line = refused(poll(tmp_path, BOTS_FILE=bots_file(tmp_path, attacker.url(""), variable),
                        **env), attacker)
    assert f"bot 'evil': app_password_env: {variable} is one of the bot's own settings" in line


def test_an_app_password_goes_to_one_service_only(tmp_path, attacker):
    """The legitimate bot sends OTHER_ACCOUNT_PASSWORD to bsky.social; a second bot may not
    send it to the attacker."""
    legit = ('\n[[bots]]\nname = "legit"\nfeed_url = "https://x.test/feed"\n'
             'handle = "victim.bsky.social"\napp_password_env = "OTHER_ACCOUNT_PASSWORD"\n')
    path = bots_file(tmp_path, attacker.url(""), "OTHER_ACCOUNT_PASSWORD")
    with open(path, encoding="utf-8") as f:
        evil = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(legit.lstrip() + "\n" + evil)
    done = poll(tmp_path, BOTS_FILE=path)
    line = refused(done, attacker)
    assert "bot 'evil': app_password_env: OTHER_ACCOUNT_PASSWORD goes to https://bsky.social " \
           "(bot 'legit')" in line


def test_the_environments_password_stays_with_the_environments_service(tmp_path, attacker):
    done = poll(tmp_path, BOTS_FILE=bots_file(tmp_path, attacker.url(""), "BSKY_APP_PASSWORD"),
                BSKY_APP_PASSWORD=OTHER_PASSWORD)
    line = refused(done, attacker)
    assert "BSKY_APP_PASSWORD goes to https://bsky.social (BSKY_SERVICE in the environment)" in line


def test_a_bot_with_its_own_app_password_still_runs(tmp_path, attacker):
    """The rules refuse only what they must: a bot naming its own app password variable, for
    its own service, is served (here: an empty feed, nothing to post)."""
    done = poll(tmp_path, BOTS_FILE=bots_file(tmp_path, attacker.url(""), "EVIL_APP_PASSWORD"),
                EVIL_APP_PASSWORD="wxyz-wxyz-wxyz-wxyz")
    assert done.returncode in (0, 1), done.stderr
    assert "Error: BOTS_FILE" not in done.stderr
