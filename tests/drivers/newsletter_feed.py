"""A newsletter on loopback for the service tests: a real HTTP server on 127.0.0.1 serving a
Substack-shaped feed built from the seed issue (examples/bwr-feed.xml), with each
"new issue" a copy of the seed with its own guid, link, title and date. Every URL the bot
fetches (feed, issue pages for cards, cover images) points back at this server, so nothing
leaves the machine.

The feed answers with an ETag and honours If-None-Match (304). `fail_with(500)` makes it fail.
Requests are counted by path, with the statuses answered. Faults of a flapping feed, played on
the next feed requests (`play("cut", "short")`) or chosen per request (`inject(choose)`): "500";
"cut", a 200 whose XML stops halfway (Content-Length says that is all); "short", a Content-Length
for the whole feed and half of it sent before the connection closes; "slow", the answer
`slow_seconds` late. `faults` counts those played.
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SEED_FEED = Path(__file__).resolve().parents[2] / "examples" / "bwr-feed.xml"
SEED_LINK = "https://aablanco.substack.com/p/russias-eroding-influence-in-the"
_ITEM = re.compile(r"<item>.*?</item>", re.S)


def _cover_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (160, 100), (30, 60, 150)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client killed mid-request (the SIGKILL tests) is expected, not news


@dataclass
class FeedIssue:
    """One issue the server lists: a copy of the seed under its own slug and date."""

    slug: str
    published: datetime
    title: str
    extra: str = ""  # appended to the content: an edit changes the content hash
    takeaways: bool = True  # False: the Takeaways section is left out (a drifted issue)


class NewsletterServer:
    """`with NewsletterServer() as nl:`; `nl.add(...)` a new issue; `nl.feed_url` for FEED_URL."""

    def __init__(self) -> None:
        seed = SEED_FEED.read_text(encoding="utf-8")
        match = _ITEM.search(seed)
        assert match, "the seed feed has no <item>"
        self._head, self._item = seed[: match.start()], match.group()
        self._tail = seed[match.end():]
        self.issues: list[FeedIssue] = []
        self.counts: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.fail_status: int | None = None
        self.faults: Counter[str] = Counter()
        self.window: int | None = None  # list only the newest N issues, as Substack lists 20
        self.slow_seconds = 3.0
        self._planned: list[str] = []
        self._choose: Callable[[], str | None] | None = None
        self._lock = threading.Lock()
        self._cover = _cover_jpeg()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def feed_url(self) -> str:
        return f"{self.base}/feed"

    def link(self, slug: str) -> str:
        return f"{self.base}/p/{slug}"

    def add(self, slug: str, published: datetime | None = None, title: str | None = None,
            takeaways: bool = True) -> FeedIssue:
        """A new issue, published `published` (default: an hour ago); without its takeaways
        when `takeaways` is False."""
        issue = FeedIssue(slug, published or datetime.now(UTC) - timedelta(hours=1),
                          title or f"Russia’s Eroding Influence, issue {slug}",
                          takeaways=takeaways)
        with self._lock:
            self.issues.append(issue)
        return issue

    def edit(self, slug: str, extra: str | None = None, title: str | None = None,
             takeaways: bool | None = None) -> None:
        """Change an issue's content or title (same guid and link)."""
        with self._lock:
            issue = next(i for i in self.issues if i.slug == slug)
            if extra is not None:
                issue.extra = extra
            if title is not None:
                issue.title = title
            if takeaways is not None:
                issue.takeaways = takeaways

    def play(self, *faults: str) -> None:
        """The next feed requests get these faults, one each, in order (see the docstring)."""
        with self._lock:
            self._planned.extend(faults)

    def inject(self, choose: Callable[[], str | None] | None) -> None:
        """`choose()` names the fault of each feed request (None: answer well); None stops."""
        self._choose = choose

    def _fault(self) -> str | None:
        with self._lock:
            if self._planned:
                fault: str | None = self._planned.pop(0)
            else:
                fault = self._choose() if self._choose is not None else None
            if fault:
                self.faults[fault] += 1
        return fault

    def remove(self, slug: str) -> None:
        with self._lock:
            self.issues = [i for i in self.issues if i.slug != slug]

    def fail_with(self, status: int | None) -> None:
        self.fail_status = status

    def feed_bytes(self) -> bytes:
        with self._lock:
            issues = sorted(self.issues, key=lambda i: i.published, reverse=True)
            if self.window is not None:
                issues = issues[: self.window]
            items = [self._render(i) for i in issues]
        return (self._head + "".join(items) + self._tail).encode("utf-8")

    def feed_of(self, slug: str) -> bytes:
        """The feed with this one issue as it is now (to compose what the bot would post)."""
        with self._lock:
            issue = next(i for i in self.issues if i.slug == slug)
            return (self._head + self._render(issue) + self._tail).encode("utf-8")

    def _render(self, issue: FeedIssue) -> str:
        item = self._item.replace(SEED_LINK, self.link(issue.slug))
        item = re.sub(r"<title><!\[CDATA\[.*?\]\]></title>",
                      f"<title><![CDATA[{issue.title}]]></title>", item, count=1)
        item = re.sub(r"<pubDate>[^<]*</pubDate>",
                      f"<pubDate>{email.utils.format_datetime(issue.published, usegmt=True)}"
                      "</pubDate>", item)
        item = re.sub(r'<enclosure url="[^"]*"', f'<enclosure url="{self.base}/cover.jpg"', item)
        if not issue.takeaways:
            item = re.sub(r"<h3>Takeaways</h3><ul>.*?</ul>", "", item, count=1, flags=re.S)
        if issue.extra:
            end = "]]></content:encoded>"
            item = item.replace(end, f"<p>{issue.extra}</p>{end}")
        return item

    def _page(self, slug: str) -> bytes:
        return (f'<html><head><title>Issue {slug}</title>'
                f'<meta property="og:title" content="Issue {slug} (from its page)">'
                f'<meta property="og:description" content="The page of issue {slug}">'
                f'<meta property="og:image" content="{self.base}/cover.jpg">'
                f'</head><body>issue</body></html>').encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _send(self, status: int, body: bytes = b"", ctype: str = "text/plain",
                      headers: dict[str, str] | None = None) -> None:
                with server._lock:
                    server.statuses[status] += 1
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if status != 304:
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.counts[path] += 1
                if path == "/feed":
                    if server.fail_status:
                        return self._send(server.fail_status, b"broken")
                    fault = server._fault()
                    if fault == "500":
                        return self._send(500, b"broken")
                    if fault == "slow":
                        time.sleep(server.slow_seconds)
                    body = server.feed_bytes()
                    if fault == "cut":
                        return self._send(200, body[: len(body) // 2],
                                          "application/rss+xml; charset=utf-8")
                    if fault == "short":
                        self.send_response(200)
                        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return None
                    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                    if self.headers.get("If-None-Match") == etag:
                        return self._send(304, headers={"ETag": etag})
                    return self._send(200, body, "application/rss+xml; charset=utf-8",
                                      {"ETag": etag})
                if path.startswith("/p/"):
                    return self._send(200, server._page(path[3:]), "text/html; charset=utf-8")
                if path == "/cover.jpg":
                    return self._send(200, server._cover, "image/jpeg")
                return self._send(404, b"not found")

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> NewsletterServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
