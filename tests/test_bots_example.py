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
