"""Many feeds on one loopback server, for the tests of a daemon of many bots: every path is a
feed (one old issue, made here), answering 200 with an ETag and Last-Modified, then 304 while
the client sends them back. Each request is noted (path, time), so a test can tell how often
each bot's feed was asked for; `change(path)` gives one feed a new issue."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Many feeds</title><link>http://example.org/</link>
<description>A feed of the tests</description>
<item><title>{title}</title><link>http://example.org/p/{slug}</link>
<guid>http://example.org/p/{slug}</guid><pubDate>Mon, 06 Jan 2020 10:00:00 GMT</pubDate>
<description>An issue.</description></item>
</channel></rss>"""


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client killed mid-request (a daemon killed by a test) is expected


class ManyFeeds:
    """`with ManyFeeds() as feeds:`; `feeds.url(n)` is feed n; `feeds.statuses[304]` counts."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.asked: dict[str, list[float]] = defaultdict(list)
        self._versions: dict[str, int] = {}
        self.redirects: dict[str, str] = {}  # path → Location: a 301 there
        self.failing: dict[str, int] = {}  # path → the error status it answers
        self._lock = threading.Lock()
        self.last_modified = formatdate(1_700_000_000, usegmt=True)
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                with feeds._lock:
                    version = feeds._versions.get(path, 0)
                    feeds.asked[path].append(time.monotonic())
                    moved = feeds.redirects.get(path)
                    failing = feeds.failing.get(path)
                if failing is not None:
                    self.send_response(failing)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if moved is not None:
                    self.send_response(301)
                    self.send_header("Location", moved)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = f'"v{version}"'
                fresh = self.headers.get("If-None-Match") == etag
                body = b"" if fresh else FEED.format(
                    title=f"Issue {version} of {path}", slug=f"{path.strip('/')}-{version}"
                ).encode()
                with feeds._lock:
                    feeds.statuses[304 if fresh else 200] += 1
                self.send_response(304 if fresh else 200)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", feeds.last_modified)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = _Quiet(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, n: int) -> str:
        return f"{self.base}/f/{n}"

    def etag(self, n: int) -> str:
        return f'"v{self._versions.get(f"/f/{n}", 0)}"'

    def change(self, n: int) -> None:
        with self._lock:
            self._versions[f"/f/{n}"] = self._versions.get(f"/f/{n}", 0) + 1

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ManyFeeds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
