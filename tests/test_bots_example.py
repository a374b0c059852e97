"""The example BOTS_FILE the README shows is valid as it is, once its passwords are set."""

from __future__ import annotations

from conftest import ROOT

from bot.bots import load_bots

EXAMPLE = ROOT / "config" / "bots.example.toml"


def test_the_example_bots_file_loads():
    bots = load_bots({"BOTS_FILE": str(EXAMPLE), "BWR_APP_PASSWORD": "a-b-c-d",
                      "BWR_RU_APP_PASSWORD": "e-f-g-h", "BWR_WEBHOOK_URL": "https://x.test/h"},
                     dotenv=False)
    assert [(b.name, b.bsky_handle, b.poll_interval, b.post_delay) for b in bots] == [
        ("bwr", "bwr.bsky.social", 300, 10.0),
        ("bwr-ru", "bwr-ru.bsky.social", 600, 30.0),
    ]
    assert bots[0].bot_config == str(ROOT / "config" / "bwr.toml")
    assert bots[0].notify_url == "https://x.test/h" and bots[1].notify_url is None
    assert "a-b-c-d" not in repr(bots[0])


def test_two_bots_of_one_account_must_share_its_app_password(tmp_path):
    """Bots of one account share its session: two passwords for it is a mistake, named."""
    import pytest

    from bot.errors import ConfigError

    f = tmp_path / "bots.toml"
    f.write_text(
        '[[bots]]\nname = "a"\nfeed_url = "https://x.test/a.xml"\nhandle = "one.test"\n'
        'app_password_env = "PW_A"\n'
        '[[bots]]\nname = "b"\nfeed_url = "https://x.test/b.xml"\nhandle = "one.test"\n'
        'app_password_env = "PW_B"\n'
    )
    env = {"BOTS_FILE": str(f), "PW_A": "aaaa-aaaa", "PW_B": "bbbb-bbbb"}
    with pytest.raises(ConfigError) as err:
        load_bots(env, dotenv=False)
    assert "bot 'b': app_password_env: bot 'a' posts to one.test with another app password" in (
        str(err.value))
    assert "aaaa" not in str(err.value) and "bbbb" not in str(err.value)
    assert len(load_bots({**env, "PW_B": "aaaa-aaaa"}, dotenv=False)) == 2
