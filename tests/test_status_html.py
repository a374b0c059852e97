"""`status --html PATH`: the page of threads already posted, drawn from the records as they are on
Bluesky (read back from the reference PDS), with the cards' real thumbnails inlined."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from drivers.newsletter_feed import NewsletterServer
from faultproxy import FaultProxy
from test_worker import make_worker, settings_for

from bot.bluesky.lexicon import NOT_FOUND
from bot.cli.app import cli
from bot.cli.preview import sections_from_preview
from bot.html.page import render_page
from bot.service.posted import NEEDS_CREDENTIALS
from bot.store.api import IssueState, Store

POST = "app.bsky.feed.post"
GONE_PLACE = 4  # the post deleted on Bluesky (the fifth of the newest thread)


class PagePosts(HTMLParser):
    """Each drawn post: its attributes, shown text, thumbnail src and findings, in page order."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.posts: list[dict] = []
        self.sections = 0
        self._in: str | None = None  # "text" | "finding" while inside one
        self._depth = 0
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        if self._in:
            self._depth += 1
            return
        if tag == "section" and "issue" in classes:
            self.sections += 1
        elif tag == "li" and "post" in classes:
            self.posts.append({"classes": classes, "n": int(a["data-post"]), "text": "",
                               "img": None, "placeholder": None, "findings": []})
        elif self.posts and tag == "div" and "text" in classes:
            self._in, self._depth = "text", 1
        elif self.posts and tag == "li" and "finding" in classes:
            self.posts[-1]["findings"].append("")
            self._in, self._depth = "finding", 1
        elif self.posts and tag == "img" and "thumb" in classes:
            self.posts[-1]["img"] = a["src"]
        elif self.posts and tag == "div" and "placeholder" in classes:
            self._in, self._depth = "placeholder", 1
            self.posts[-1]["placeholder"] = ""

    def handle_endtag(self, tag):
        if self._in:
            self._depth -= 1
            if self._depth == 0:
                self._in = None

    def handle_data(self, data):
        if self._in == "text":
            self.posts[-1]["text"] += data
        elif self._in == "finding":
            self.posts[-1]["findings"][-1] += data
        elif self._in == "placeholder":
            self.posts[-1]["placeholder"] += data


@dataclass
class Posted:
    """Two issues posted by the worker to a fresh account; one post of the newest deleted."""

    acct: object
    nl: NewsletterServer
    db_url: str
    proxy: FaultProxy
    newest: list[dict]  # the newest thread's records from the PDS, by place (None: deleted)
    gone_uri: str


@pytest.fixture(scope="module")
def posted(pds, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("status_html")
    acct = pds.new_account("shtml")
    with NewsletterServer() as nl, FaultProxy(pds.url) as proxy:
        now = datetime.now(UTC)
        nl.add("older", published=now - timedelta(hours=3))
        nl.add("newer", published=now - timedelta(hours=1))
        db_url = f"sqlite:///{tmp / 'bot.db'}"
        store = Store(db_url)
        store.upgrade()
        with make_worker(settings_for(nl.feed_url, db_url, proxy.url, acct), store,
                         tmp) as worker:
            result = worker.poll()
        assert [o.outcome for o in result.outcomes] == ["posted", "posted"]
        stored = store.issues.find_by_link(nl.link("newer"))
        assert stored is not None and stored.state is IssueState.POSTED
        refs = store.posts.of(stored.id)
        store.close()
        newest = [pds.get_record(acct.did, POST, p.rkey) for p in refs]
        with pds.login(acct) as client:
            client.com.atproto.repo.delete_record(
                {"repo": acct.did, "collection": POST, "rkey": refs[GONE_PLACE].rkey})
        yield Posted(acct, nl, db_url, proxy, newest, refs[GONE_PLACE].uri)


def status_html(posted: Posted, monkeypatch, out: Path, *args: str):
    for name, value in {
        "FEED_URL": posted.nl.feed_url, "DATABASE_URL": posted.db_url,
        "BSKY_SERVICE": posted.proxy.url, "BSKY_HANDLE": posted.acct.handle,
        "BSKY_APP_PASSWORD": posted.acct.app_password, "BACKFILL_HOURS": "",
    }.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(cli, ["status", "--html", str(out), *args])


def blob(pds, did: str, cid: str) -> bytes:
    with httpx.Client(trust_env=False, timeout=30) as http:
        resp = http.get(f"{pds.url}/xrpc/com.atproto.sync.getBlob",
                        params={"did": did, "cid": cid})
    resp.raise_for_status()
    return resp.content


@pytest.mark.pds
def test_page_shows_the_posted_records_the_real_thumbnail_and_the_deleted_post(
        posted, pds, monkeypatch, tmp_path):
    """The page draws each post's text as it is on Bluesky, the card's uploaded image, and warns
    where a post was deleted; it reuses the saved login."""
    out = tmp_path / "posted.html"
    posted.proxy.reset_counts()
    result = status_html(posted, monkeypatch, out, "--limit", "1")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Wrote {out}\n"
    root_uri = posted.newest[0]["uri"]
    assert f"https://bsky.app/profile/{posted.acct.did}/post/{root_uri.rsplit('/', 1)[1]}" \
        in result.stdout
    assert posted.proxy.count("com.atproto.server.createSession") == 0
    page = out.read_text(encoding="utf-8")
    assert posted.acct.app_password not in page
    drawn = PagePosts(page)
    assert drawn.sections == 1  # --limit 1: the newest issue only
    assert [p["n"] for p in drawn.posts] == list(range(1, len(posted.newest) + 1))
    for place, (post, record) in enumerate(zip(drawn.posts, posted.newest, strict=True)):
        if place == GONE_PLACE:
            assert "gone" in post["classes"]
            assert post["findings"] == [
                f"warning this post is gone from Bluesky (deleted?): {posted.gone_uri}"]
        else:
            assert post["text"] == record["value"]["text"]
            assert not any("gone" in f for f in post["findings"])
    thumb = posted.newest[0]["value"]["embed"]["external"]["thumb"]
    data = blob(pds, posted.acct.did, thumb["ref"]["$link"])
    assert data[:2] == b"\xff\xd8"  # the JPEG the card fetcher uploaded
    assert drawn.posts[0]["img"] == "data:image/jpeg;base64," + base64.b64encode(data).decode()
    assert drawn.posts[0]["findings"] == []


@pytest.mark.pds
def test_unreadable_thumbnail_says_uploaded_without_a_warning(posted, monkeypatch, tmp_path):
    """When the image cannot be fetched the card says "thumbnail uploaded", with no warning."""
    out = tmp_path / "posted.html"
    posted.proxy.fail("com.atproto.sync.getBlob", times=None, status=400,
                      error="InvalidRequest", message="Blob not found")
    try:
        result = status_html(posted, monkeypatch, out)
    finally:
        posted.proxy.clear()
    assert result.exit_code == 0, result.output
    drawn = PagePosts(out.read_text(encoding="utf-8"))
    assert drawn.sections == 2  # both posted issues (default --limit)
    roots = [p for p in drawn.posts if p["n"] == 1]
    assert len(roots) == 2
    for root in roots:
        assert root["img"] is None
        assert root["placeholder"] == "thumbnail uploaded, not shown offline"
        assert root["findings"] == []


def test_without_credentials_it_fails_in_one_line(monkeypatch, tmp_path):
    """A dry run cannot read posted threads: one error line, exit 2, no page written."""
    out = tmp_path / "posted.html"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    for name in ("BSKY_HANDLE", "BSKY_APP_PASSWORD"):
        monkeypatch.setenv(name, "")
    result = CliRunner().invoke(cli, ["status", "--html", str(out)])
    assert result.exit_code == 2
    assert result.stderr == f"Error: {NEEDS_CREDENTIALS}\n"
    assert result.stdout == ""
    assert not out.exists()


def test_records_read_back_and_missing_posts_render():
    """Records with `reply` and `createdAt` draw like composed ones; a missing post is a warning."""
    ref = {"uri": "at://did:plc:x/app.bsky.feed.post/3lroot", "cid": "bafyx"}
    records = [
        {"$type": POST, "text": "Root", "createdAt": "2025-07-06T14:03:00.000Z", "langs": ["en"]},
        {"$type": NOT_FOUND, "uri": "at://did:plc:x/app.bsky.feed.post/3lgone", "notFound": True},
        {"$type": POST, "text": "Reply", "createdAt": "2025-07-06T14:03:00.001Z",
         "reply": {"root": ref, "parent": ref}},
    ]
    entry = {"guid": "g", "link": "https://x.test/p/one", "title": "One",
             "bsky_urls": ["https://bsky.app/profile/did:plc:x/post/3lroot"]}
    page = render_page(sections_from_preview([{"entry": entry, "threads": [records]}]),
                       account_name="BWR", handle="b.test",
                       posted=True)
    drawn = PagePosts(page)
    assert [(p["text"], p["findings"]) for p in drawn.posts] == [
        ("Root", []),
        ("Post not found", ["warning this post is gone from Bluesky (deleted?): "
                            "at://did:plc:x/app.bsky.feed.post/3lgone"]),
        ("Reply", []),
    ]
    assert "<h1>Posted threads</h1>" in page and "Posted as <b>BWR</b>" in page
    assert 'href="https://bsky.app/profile/did:plc:x/post/3lroot"' in page
