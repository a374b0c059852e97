"""A 15-post thread published on the local reference PDS: the bot's way vs createRecord per post.

The thread: the seed issue's thread cut to 15 posts (root with its card and a thumbnail, then
takeaways, follow-ups, quick bites), the same records on both sides.

- The bot (`bot.bluesky.Publisher.publish`): signs in from the saved session (the steady state:
  the account signed in on an earlier run and the store kept the tokens), asks the PDS whether
  the root exists (one getRecord), uploads the thumbnail, writes the whole thread in ONE
  applyWrites.
- The comparison, the way most bots post: sign in (createSession) on every run, upload the
  thumbnail, then one `com.atproto.repo.createRecord` per post, each reply naming the CID the
  server returned for its parent.

Each run uses two fresh accounts (one per side), so neither writes into a repo the other grew.
Counted: HTTP requests to the PDS, createSession calls, and wall time of the publishing itself.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import SHARED, Config, Figure, log
from bot.cards import Thumb
from bot.post import POST_TYPE, Post

THREAD_POSTS = 15


@dataclass(frozen=True)
class Published:
    """What one way of publishing cost."""

    seconds: float
    requests: int
    create_sessions: int
    by_method: dict[str, int]


def create_sessions(counts: dict[str, int]) -> int:
    """createSession calls among requests counted by XRPC method (full NSID or last part)."""
    return sum(n for method, n in counts.items() if method.endswith("createSession"))


def fifteen_post_thread() -> tuple[tuple[Post, ...], dict[str, Thumb], str, datetime | None]:
    """The seed issue's thread, first 15 posts; a thumbnail for its card; the issue's guid and
    date."""
    from PIL import Image

    from bot.profile import load_profile
    from bot.reader import parse_feed
    from bot.thread import compose

    profile = load_profile()
    feed = parse_feed((SHARED / "fixtures" / "bwr" / "feed.xml").read_bytes(), profile)
    issue = feed.issues[0]
    thread = compose(issue, profile)[0]
    if len(thread) < THREAD_POSTS:
        raise RuntimeError(f"the seed thread has {len(thread)} posts, fewer than {THREAD_POSTS}")
    thread = thread[:THREAD_POSTS]
    buf = io.BytesIO()
    Image.new("RGB", (600, 315), (180, 40, 40)).save(buf, "JPEG", quality=85)
    thumbs: dict[str, Thumb] = {}
    card = thread[0].card
    if card is not None and card.thumb_url:
        thumbs[card.thumb_url] = Thumb(buf.getvalue(), "image/jpeg")
    return thread, thumbs, issue.guid, issue.published


def prime_session(pds: Any, account: Any) -> str:
    """Sign in once (the earlier run) and return the saved session string."""
    from bot.bluesky import MemorySessionStore, Publisher

    sessions = MemorySessionStore()
    with Publisher(pds.url, account.handle, account.app_password, sessions) as pub:
        pub.sign_in()
    saved = sessions.load()
    assert saved is not None
    return saved


def bot_way(pds: Any, account: Any, saved_session: str, thread: tuple[Post, ...],
            thumbs: dict[str, Thumb], guid: str, published: datetime | None) -> Published:
    """Publisher.publish from a saved session: thumbnails, then one applyWrites."""
    from bot.bluesky import MemorySessionStore, Publisher
    from bot.rkey import thread_keys

    keys = thread_keys(guid, published, len(thread))
    sessions = MemorySessionStore(saved_session)
    with Publisher(pds.url, account.handle, account.app_password, sessions) as pub:
        start = time.perf_counter()
        posted = pub.publish(thread, keys, thumbs)
        seconds = time.perf_counter() - start
        counts = dict(pub.requests)
    if posted.written != len(thread) or not posted.complete:
        raise RuntimeError(f"the bot wrote {posted.written} of {len(thread)} posts")
    return Published(seconds, sum(counts.values()), create_sessions(counts), counts)


def one_by_one(pds: Any, account: Any, thread: tuple[Post, ...],
               thumbs: dict[str, Thumb]) -> Published:
    """The usual way: createSession, uploadBlob, then createRecord per post (reply refs from
    the server's answers)."""
    import httpx
    from atproto import Client
    from atproto_client import models
    from atproto_client.request import Request

    counts: Counter[str] = Counter()

    def count(request: httpx.Request) -> None:
        counts[request.url.path.rsplit("/", 1)[-1]] += 1

    client = Client(base_url=pds.url,
                    request=Request(trust_env=False, event_hooks={"request": [count]}))
    try:
        start = time.perf_counter()
        client.login(account.handle, account.app_password, fetch_bsky_profile=False)
        did = client.me.did if client.me else client._session.did  # type: ignore[union-attr]
        blobs = {url: client.upload_blob(t.data).blob for url, t in thumbs.items()}
        root: dict[str, str] | None = None
        parent: dict[str, str] | None = None
        when = datetime.now(tz=UTC)
        for place, post in enumerate(thread):
            thumb = None
            if post.card is not None and post.card.thumb_url in blobs:
                thumb = blobs[post.card.thumb_url].model_dump(by_alias=True, exclude_none=True)
            record = post.record(thumb=thumb)
            record["createdAt"] = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{place:03d}Z"
            if root is not None and parent is not None:
                record["reply"] = {"root": root, "parent": parent}
            made = client.com.atproto.repo.create_record(
                models.ComAtprotoRepoCreateRecord.Data(
                    repo=did, collection=POST_TYPE, record=record
                )
            )
            ref = {"uri": made.uri, "cid": made.cid}
            root = root or ref
            parent = ref
        seconds = time.perf_counter() - start
    finally:
        client.request.close()
    return Published(seconds, sum(counts.values()), create_sessions(counts), dict(counts))


def measure(config: Config, pds: Any) -> list[Figure]:
    thread, thumbs, guid, published = fifteen_post_thread()
    other = "createRecord per post"
    time_fig = Figure(
        name=f"publish {THREAD_POSTS}-post thread: time", unit="s", compared_with=other,
        target="faster than per-post", check=lambda _v, r: r is not None and r < 1.0,
    )
    req_fig = Figure(
        name=f"publish {THREAD_POSTS}-post thread: HTTP requests", unit="count",
        compared_with=other, target="<= 3 (read, blob, 1 write)",
        check=lambda v, _r: v <= 3,
    )
    sess_fig = Figure(
        name=f"publish {THREAD_POSTS}-post thread: createSession", unit="count",
        compared_with=other, target="0 (saved session)", check=lambda v, _r: v == 0,
    )
    for run in range(config.runs):
        ours_acct, theirs_acct = pds.new_account("benchbot"), pds.new_account("benchbase")
        saved = prime_session(pds, ours_acct)
        if run % 2:
            theirs = one_by_one(pds, theirs_acct, thread, thumbs)
            ours = bot_way(pds, ours_acct, saved, thread, thumbs, guid, published)
        else:
            ours = bot_way(pds, ours_acct, saved, thread, thumbs, guid, published)
            theirs = one_by_one(pds, theirs_acct, thread, thumbs)
        time_fig.add(ours.seconds, theirs.seconds)
        req_fig.add(ours.requests, theirs.requests)
        sess_fig.add(ours.create_sessions, theirs.create_sessions)
        if run == 0:
            log(f"publish: bot {ours.by_method}, per-post {theirs.by_method}")
    log(f"publish: {time_fig.value:.3f} s vs {time_fig.comparison:.3f} s")
    return [time_fig, req_fig, sess_fig]
