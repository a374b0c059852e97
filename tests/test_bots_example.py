"""The example BOTS_FILE the README shows is valid as it is, once its passwords are set."""

from __future__ import annotations

from conftest import ROOT

from bot.bots import load_bots

EXAMPLE = ROOT / "config" / "bots.example.toml"


def test_the_example_bots_file_loads():
    bots = load_bots({"BOTS_FILE": str(EXAMPLE), "BWR_APP_PASSWORD": "aaaa-bbbb-cccc-dddd",
                      "BWR_RU_APP_PASSWORD": "eeee-ffff-gggg-hhhh", "BWR_WEBHOOK_URL": "https://x.test/h"},
                     dotenv=False)
    assert [(b.name, b.bsky_handle, b.poll_interval, b.post_delay) for b in bots] == [
        ("bwr", "bwr.bsky.social", 300, 10.0),
        ("bwr-ru", "bwr-ru.bsky.social", 600, 30.0),
    ]
    assert bots[0].bot_config == str(ROOT / "config" / "bwr.toml")
    assert bots[0].notify_url == "https://x.test/h" and bots[1].notify_url is None
    assert "aaaa-bbbb-cccc-dddd" not in repr(bots[0])


def test_two_bots_of_one_account_may_hold_different_app_passwords(tmp_path):
    """An account can have several app passwords (or one bot's is mistyped): the file is valid,
    each bot keeps its own, and the fleet still counts one account (one lock, one session)."""
    from bot.service.fleet import Fleet
    from bot.store.api import Store

    f = tmp_path / "bots.toml"
    f.write_text(
        '[[bots]]\nname = "a"\nfeed_url = "https://x.test/a.xml"\nhandle = "one.test"\n'
        'app_password_env = "PW_A"\n'
        '[[bots]]\nname = "b"\nfeed_url = "https://x.test/b.xml"\nhandle = "one.test"\n'
        'app_password_env = "PW_B"\n'
    )
    env = {"BOTS_FILE": str(f), "PW_A": "aaaa-aaaa-aaaa-aaaa", "PW_B": "bbbb-bbbb-bbbb-bbbb",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    bots = load_bots(env, dotenv=False)
    assert [b.bsky_app_password for b in bots] == ["aaaa-aaaa-aaaa-aaaa", "bbbb-bbbb-bbbb-bbbb"]
    store = Store(env["DATABASE_URL"], bot=None)
    store.upgrade()
    fleet = Fleet(bots, store)
    try:
        assert fleet.accounts == 1
        assert fleet._locks["a"] is fleet._locks["b"]  # one of the account's bots posts at a time
    finally:
        fleet.close()
        store.close()


def test_the_example_copied_as_the_readme_says_runs_every_command_as_a_dry_run(tmp_path):
    """`BOTS_FILE=config/bots.example.toml` with none of its variables set: commands run (each
    bot a dry run, said once per bot; no alerts, said too) instead of refusing one variable at a
    time."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BSKY_", "FEED_URL", "BOTS_FILE", "DATABASE_URL", "BWR_", "POST_"))}
    env.update(BOTS_FILE=str(EXAMPLE), DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
               PYTHONPATH=str(ROOT), CARDS="off")  # nothing fetched

    def bot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    status = bot("status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines() == [  # then each bot's settings, as it runs with them
        "No issues recorded yet (`python -m bot poll` reads the feed).",
        "",
        "bot bwr: https://aablanco.substack.com/feed · dry run (no password) · every 300 s · "
        "POST_DELAY 10 min · BACKFILL_HOURS 48 · CARDS off · alerts none",
        "bot bwr-ru: https://bwr-ru.substack.com/feed · dry run (no password) · every 600 s · "
        "POST_DELAY 30 min · BACKFILL_HOURS 48 · CARDS off · alerts none",
    ]
    notes = [line.split(" WARNING ", 1)[1] for line in status.stderr.splitlines()]
    assert notes == [
        'bots.note bot=bwr note="BWR_APP_PASSWORD is not set: a dry run for this bot, nothing is '
        'posted"',
        'bots.note bot=bwr note="BWR_WEBHOOK_URL is not set: no alerts for this bot"',
        'bots.note bot=bwr-ru note="BWR_RU_APP_PASSWORD is not set: a dry run for this bot, '
        'nothing is posted"',
    ]
    preview = bot("preview", "--bot", "bwr", "--offline", "--feed", str(ROOT / "examples" /
                                                                        "bwr-feed.xml"))
    assert preview.returncode == 0, preview.stderr
    assert "Thread 1 of 1: " in preview.stdout
    posted = bot("post", "--bot", "bwr-ru", "--latest", "--feed", str(ROOT / "examples" /
                                                                    "bwr-feed.xml"))
    assert posted.returncode == 2
    assert posted.stderr.splitlines()[-1] == (
        "Error: bot 'bwr-ru' has no app password (the variable its app_password_env names is not "
        "set): set it to post, or use --dry-run")
    assert not (tmp_path / "bot.db").exists()  # nothing was written by any of them


def test_status_json_lists_each_bots_effective_settings_without_secrets(tmp_path):
    """The environment's POST_DELAY is every bot's unless its table says otherwise; `status
    --json` lists what each bot runs with under "bots", never a password or a webhook."""
    import json

    from click.testing import CliRunner

    from bot.cli.app import cli

    env = {"BOTS_FILE": str(EXAMPLE), "BWR_APP_PASSWORD": "aaaa-bbbb-cccc-dddd", "POST_DELAY": "2",
           "BWR_WEBHOOK_URL": "https://hooks.x.test/secret-token", "BWR_RU_APP_PASSWORD": "",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "NOTIFY_ON": "failed,auth"}
    done = CliRunner().invoke(cli, ["status", "--json"], env=env)
    assert done.exit_code == 0, done.output
    assert "aaaa-bbbb-cccc-dddd" not in done.output and "secret-token" not in done.output
    bots = {b["bot"]: b for b in json.loads(done.stdout)["bots"]}
    assert (bots["bwr"]["post_delay"], bots["bwr"]["dry_run"], bots["bwr"]["alerts"]) == (
        2.0, False, ["failed", "auth"])
    assert (bots["bwr-ru"]["post_delay"], bots["bwr-ru"]["dry_run"], bots["bwr-ru"]["alerts"]) == (
        30.0, True, [])

