"""Threads already posted, drawn as the preview page (`status --html`).

The page is built from the records AS THEY ARE ON BLUESKY, read back from the PDS by their
stored record keys (never re-composed from the feed, which may have changed since), and each
card's thumbnail is the blob on the PDS, inlined. A post whose record is gone is drawn in its
place with a warning; a thumbnail that cannot be read shows "thumbnail uploaded" (no warning:
it was uploaded, the page just cannot show it)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.core.media import Thumb
from bot.core.post import Post, post_url
from bot.errors import ConfigError, PublishError
from bot.html.page import Gone, PageSection, render_page
from bot.log import event
from bot.service.outcomes import thread_roots
from bot.settings import Settings
from bot.store.api import IssueWithPosts, Store

if TYPE_CHECKING:
    from bot.bluesky.publisher import Publisher

logger = logging.getLogger(__name__)

NEEDS_CREDENTIALS = (
    "BSKY_HANDLE and BSKY_APP_PASSWORD are needed to read posted threads from Bluesky "
    "(status --html)"
)


def posted_page(
    settings: Settings, store: Store, limit: int = 20, publisher: Publisher | None = None
) -> str:
    """The page of the threads of the `limit` most recent issues that have posts, read back from
    Bluesky with the account's saved session (ConfigError without credentials)."""
    if settings.dry_run:
        raise ConfigError(NEEDS_CREDENTIALS)
    from bot.core.profile import load_profile

    profile = load_profile(settings.bot_config)
    if publisher is not None:
        sections, thumbs = posted_sections(store, publisher, limit)
    else:
        from bot.bluesky.connection import Connection
        from bot.bluesky.publisher import Publisher

        sessions = store.sessions.keeper(settings.bsky_handle or "", settings.bsky_service)
        with Publisher(Connection.from_settings(settings, sessions)) as own:
            sections, thumbs = posted_sections(store, own, limit)
    return render_page(
        sections,
        account_name=profile.name,
        handle=settings.bsky_handle or "",
        thumbs=thumbs,
        posted=True,
    )


def posted_sections(
    store: Store, publisher: Publisher, limit: int = 20
) -> tuple[list[PageSection], dict[str, Thumb]]:
    """One section per recent issue with recorded posts (newest first), its threads' records
    read from the PDS, and the cards' thumbnails (by card URI) read from the PDS."""
    did = publisher.connection.sign_in()
    sections = [_section(item, publisher, did) for item in store.posts.recent(limit) if item.posts]
    thumbs: dict[str, Thumb] = {}
    for section in sections:
        for thread in section.threads:
            for post in thread:
                if isinstance(post, Post):
                    _add_thumb(post, publisher, thumbs)
    return sections, thumbs


def _section(item: IssueWithPosts, publisher: Publisher, did: str) -> PageSection:
    issue = item.issue
    posts = sorted(item.posts, key=lambda p: p.place)
    roots = thread_roots(issue, posts)
    # Read only what is on our account; a post recorded by hand under another account's URI
    # cannot be read with this session and is shown as not found.
    ours = [p.address.at.is_post and p.address.repo == did for p in posts]
    read = iter(publisher.read_posts([p.rkey for p, mine in zip(posts, ours, strict=True)
                                      if mine]))
    shown: list[Post | Gone] = []
    for post, mine in zip(posts, ours, strict=True):
        got = next(read) if mine else None
        shown.append(got or Gone(post.uri))
    threads: list[list[Post | Gone]] = []
    for post, drawn in zip(posts, shown, strict=True):
        if not threads or post.uri in roots:
            threads.append([])
        threads[-1].append(drawn)
    gone = sum(1 for d in shown if isinstance(d, Gone))
    event(logger, "posted.read", link=issue.link, posts=len(posts), gone=gone or None)
    entry = {
        "guid": issue.guid,
        "link": issue.link,
        "title": issue.title,
        "bsky_urls": [post_url(r) for r in roots],
    }
    return PageSection(entry=entry, threads=threads)


def _add_thumb(post: Post, publisher: Publisher, thumbs: dict[str, Thumb]) -> None:
    blob = post.card.uploaded if post.card is not None else None
    if post.card is None or blob is None or not blob.cid or post.card.uri in thumbs:
        return
    try:
        data = publisher.read_blob(blob.cid)
    except PublishError as exc:  # the page still shows the card, with "thumbnail uploaded"
        event(logger, "posted.thumb_unreadable", logging.WARNING, cid=blob.cid, error=str(exc))
        return
    if data is not None:
        thumbs[post.card.uri] = Thumb(data, blob.mime)
