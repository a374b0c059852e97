"""A daemon of several bots whose feeds have not changed stays light: its passes answered 304
neither make a publisher (no sign-in, no Bluesky SDK in memory) nor load the feed reader; the
bots of one account still share one publisher when they post."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drivers.newsletter_feed import NewsletterServer

from bot.settings import PROJECT_ROOT

# Runs in a fresh process (this one has every module loaded already): one pass of every bot
# of the fleet, then what that pass left in memory.
PASS = """
import json, sys
from bot.bots import load_bots
from bot.service.fleet import Fleet
from bot.store.api import Store

bots = load_bots(dotenv=False)
store = Store(bots[0].database_url, bot=None)
store.upgrade()
fleet = Fleet(bots, store)
fetched = {name: w.poll().fetched.value for name, w in fleet.workers.items()}
loaded = {m: m in sys.modules for m in ("atproto_client", "bot.core.reader")}
w = fleet.workers
shared = w["a-one"].publisher is w["a-two"].publisher is not w["b-one"].publisher
fleet.close()
store.close()
print(json.dumps({"fetched": fetched, "loaded": loaded, "shared": shared}))
"""


def one_pass(env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", PASS], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_passes_answered_304_load_neither_bluesky_nor_the_reader(tmp_path: Path) -> None:
    """After a pass answered 304 no Bluesky SDK or reader is loaded; one account, one publisher."""
    old = datetime.now(UTC) - timedelta(days=30)
    with NewsletterServer() as first, NewsletterServer() as second:
        first.add("old", published=old)
        second.add("old", published=old)
        bots_file = tmp_path / "bots.toml"
        # Never contacted: a 304 pass makes no request to Bluesky (the port is closed).
        service = "http://127.0.0.1:9"
        bots_file.write_text(
            f'[[bots]]\nname = "a-one"\nfeed_url = "{first.feed_url}"\nservice = "{service}"\n'
            'handle = "a.test"\napp_password_env = "PASSWORD_A"\n'
            f'[[bots]]\nname = "a-two"\nfeed_url = "{second.feed_url}"\nservice = "{service}"\n'
            'handle = "a.test"\napp_password_env = "PASSWORD_A"\n'
            f'[[bots]]\nname = "b-one"\nfeed_url = "{first.feed_url}"\nservice = "{service}"\n'
            'handle = "b.test"\napp_password_env = "PASSWORD_B"\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BSKY_", "FEED_URL"))}
        env.update(BOTS_FILE=str(bots_file), DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
                   PASSWORD_A="aaaa-bbbb-cccc-dddd", PASSWORD_B="eeee-ffff-gggg-hhhh")
        primed = one_pass(env)
        assert set(primed["fetched"].values()) == {"fetched"}
        idle = one_pass(env)
    assert idle["fetched"] == dict.fromkeys(("a-one", "a-two", "b-one"), "not_modified")
    assert idle["loaded"] == {"atproto_client": False, "bot.core.reader": False}
    assert idle["shared"] is True
