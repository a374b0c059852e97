"""Posts one issue of a feed the way the worker does, in its own process, so tests can kill it.

    python tests/drivers/publish_issue.py FEED_PATH INDEX RECORD_PATH SESSION_PATH

Env: BSKY_SERVICE, BSKY_HANDLE, BSKY_APP_PASSWORD (the account), BOT_FAILPOINT=after_publish
(SIGKILL itself after publish returned, before recording: the "crash before the database wrote
it" moment), DRIVER_MAX_ATTEMPTS (default 5). Backoff sleeps are 50 ms so outages end quickly.

Like the worker: if RECORD_PATH (its "database") says the issue is posted, stop; else ask the
PDS (find_thread), and publish only when the thread is not there or incomplete; then record.
Exit codes: 0 posted or found, 1 a BotError (printed as one line).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bluesky_helpers import card_image  # noqa: E402

from bot.bluesky.connection import Connection  # noqa: E402
from bot.bluesky.publisher import Publisher  # noqa: E402
from bot.bluesky.session import FileSessionKeeper  # noqa: E402
from bot.core.profile import load_profile  # noqa: E402
from bot.core.reader import parse_feed  # noqa: E402
from bot.core.rkey import thread_keys  # noqa: E402
from bot.core.thread import compose  # noqa: E402
from bot.errors import BotError  # noqa: E402


def main(feed_path: str, index: str, record_path: str, session_path: str) -> int:
    record = Path(record_path)
    if record.exists():
        print("recorded already")
        return 0
    profile = load_profile()
    issue = parse_feed(Path(feed_path).read_bytes(), profile).issues[int(index)]
    thread = compose(issue, profile)[0]
    keys = thread_keys(issue.guid, issue.published, len(thread))
    thumbs = {p.card.thumb_url: card_image() for p in thread if p.card and p.card.thumb_url}
    pub = Publisher(Connection(
        os.environ["BSKY_SERVICE"],
        os.environ["BSKY_HANDLE"],
        os.environ["BSKY_APP_PASSWORD"],
        FileSessionKeeper(session_path),
        sleep=lambda s: __import__("time").sleep(0.05),
        max_attempts=int(os.environ.get("DRIVER_MAX_ATTEMPTS", "5")),
        timeout=10,
    ))
    try:
        found = pub.find_thread(issue.link, keys)
        if found is not None and (found.complete or found.found_by == "link_scan"):
            posted = found
        else:
            posted = pub.publish(thread, keys, thumbs, link=issue.link)
            if os.environ.get("BOT_FAILPOINT") == "after_publish":
                os.kill(os.getpid(), signal.SIGKILL)
    except BotError as exc:
        print(f"Error: {exc}")
        return 1
    finally:
        pub.close()
    record.write_text(json.dumps({"root": posted.root_uri, "posts": len(posted.posts),
                                  "written": posted.written, "found_by": posted.found_by}))
    print(f"posted {posted.root_uri} written={posted.written}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
