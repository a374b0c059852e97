"""A feed on 127.0.0.1 that answers conditional GETs as Substack does: 200 with ETag and
Last-Modified, then 304 Not Modified while the client sends them back, at any path (so one
server is the feeds of many bots). Counts what it answered."""

from __future__ import annotations

import threading
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client killed mid-request (a daemon killed by the benchmark) is expected


class FeedServer:
    """`with FeedServer(data) as feed:` serves `data` at feed.url; `feed.answers[304]` counts."""

    ETAG = '"bwr-bench-1"'

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.last_modified = formatdate(1_700_000_000, usegmt=True)
        self.answers: Counter[int] = Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                fresh = (self.headers.get("If-None-Match") == server.ETAG
                         or self.headers.get("If-Modified-Since") == server.last_modified)
                status = 304 if fresh else 200
                with server._lock:
                    server.answers[status] += 1
                self.send_response(status)
                self.send_header("ETag", server.ETAG)
                self.send_header("Last-Modified", server.last_modified)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                body = b"" if fresh else server.data
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = _Quiet(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return self.url_for("feed")

    def url_for(self, path: str) -> str:
        """Another feed on this server (every path answers the same feed): one per bot."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/{path}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
