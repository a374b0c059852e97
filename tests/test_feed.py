"""The feed fetcher against a real HTTP server on 127.0.0.1 that plays scripted replies."""

from __future__ import annotations

import email.utils
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from bot import USER_AGENT
from bot.errors import FeedError
from bot.feed import FetchResult, Validators, fetch_feed, parse_retry_after, read_source

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>BWR</title></channel></rss>'
ETAG = '"bwr-28"'
LAST_MODIFIED = "Mon, 24 Nov 2025 06:00:00 GMT"
TEN_MB = 10 * 1024 * 1024


@dataclass
class Reply:
    """One scripted answer. `length` overrides Content-Length; `chunked` streams without it."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    chunked: bool = False
    length: int | None = None


Script = Reply | Callable[[dict[str, str]], Reply]


class FeedServer:
    """A ThreadingHTTPServer on a free loopback port; plays its script, the last reply repeating."""

    def __init__(self) -> None:
        self.script: list[Script] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                headers = dict(self.headers.items())
                server.requests.append((self.path, headers))
                step = server.script[min(len(server.requests), len(server.script)) - 1]
                reply = step(headers) if callable(step) else step
                if reply.delay and server.stop.wait(reply.delay):
                    return
                try:
                    self._send(reply)
                except OSError:  # the client gave up (timeout, size cap): expected
                    pass
                self.close_connection = True

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Connection", "close")
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(reply.body), 65536):
                        piece = reply.body[start : start + 65536]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                length = len(reply.body) if reply.length is None else reply.length
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        # A short poll interval so shutdown() at the end of each test is quick.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str = "/feed") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def play(self, *replies: Script) -> None:
        self.script = list(replies)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    srv.thread.start()
    yield srv
    srv.stop.set()
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join(timeout=5)


@pytest.fixture
def waits() -> list[float]:
    return []


def fetch(server: FeedServer, waits: list[float], **kwargs: object) -> FetchResult:
    kwargs.setdefault("sleep", waits.append)
    return fetch_feed(server.url(), **kwargs)  # type: ignore[arg-type]


def feed_reply(headers: dict[str, str]) -> Reply:
    """The feed with validators; 304 when the request's validators match, as Substack does."""
    if headers.get("If-None-Match") == ETAG or headers.get("If-Modified-Since") == LAST_MODIFIED:
        return Reply(304, headers={"ETag": ETAG})
    return Reply(200, FEED, {"ETag": ETAG, "Last-Modified": LAST_MODIFIED})


# --- 200 and 304 ---------------------------------------------------------------------------


def test_200_returns_body_and_validators(server: FeedServer, waits: list[float]) -> None:
    """A first fetch returns the feed's bytes and its ETag/Last-Modified for next time."""
    server.play(feed_reply)
    result = fetch(server, waits)
    assert result == FetchResult(server.url(), 200, FEED, Validators(ETAG, LAST_MODIFIED))
    assert result.not_modified is False
    path, headers = server.requests[0]
    assert path == "/feed"
    assert headers["User-Agent"] == USER_AGENT
    assert "If-None-Match" not in headers and "If-Modified-Since" not in headers
    assert waits == []


def test_unchanged_feed_is_304_with_no_body(server: FeedServer, waits: list[float]) -> None:
    """Sending the last ETag and Last-Modified gets a 304: no body, the sent validators kept."""
    server.play(feed_reply)
    sent = Validators(ETAG, LAST_MODIFIED)
    result = fetch_feed(server.url(), sent, sleep=waits.append)
    assert result == FetchResult(server.url(), 304, None, sent)
    assert result.not_modified is True
    headers = server.requests[0][1]
    assert headers["If-None-Match"] == ETAG
    assert headers["If-Modified-Since"] == LAST_MODIFIED
    assert headers["User-Agent"] == USER_AGENT
    assert len(server.requests) == 1


def test_last_modified_alone_gets_304(server: FeedServer, waits: list[float]) -> None:
    """A feed without an ETag is still checked conditionally by If-Modified-Since alone."""
    server.play(feed_reply)
    result = fetch_feed(server.url(), Validators(last_modified=LAST_MODIFIED), sleep=waits.append)
    assert (result.status, result.body) == (304, None)
    headers = server.requests[0][1]
    assert headers["If-Modified-Since"] == LAST_MODIFIED
    assert "If-None-Match" not in headers


def test_changed_feed_is_200_with_new_validators(server: FeedServer, waits: list[float]) -> None:
    """A stale ETag gets the new feed and the new validators."""
    server.play(feed_reply)
    result = fetch_feed(server.url(), Validators('"bwr-27"'), sleep=waits.append)
    assert result == FetchResult(server.url(), 200, FEED, Validators(ETAG, LAST_MODIFIED))
    assert server.requests[0][1]["If-None-Match"] == '"bwr-27"'


def test_redirects_are_followed(server: FeedServer, waits: list[float]) -> None:
    """A moved feed (301) is followed to its new address."""
    server.play(Reply(301, headers={"Location": "/new-feed"}), Reply(200, FEED))
    result = fetch(server, waits)
    assert (result.status, result.body) == (200, FEED)
    assert [path for path, _ in server.requests] == ["/feed", "/new-feed"]


def test_redirect_loop_is_a_feed_error(server: FeedServer, waits: list[float]) -> None:
    """A feed that redirects forever fails with one line after a bounded number of hops."""
    server.play(Reply(302, headers={"Location": "/feed"}))
    with pytest.raises(FeedError) as info:
        fetch(server, waits)
    assert str(info.value) == f"feed {server.url()} redirects more than 5 times: check FEED_URL"
    assert len(server.requests) == 6
    assert isinstance(info.value.__cause__, httpx.TooManyRedirects)


# --- waiting and retrying --------------------------------------------------------------------


def test_429_waits_as_retry_after_says(
    server: FeedServer, waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    """A 429 with Retry-After: 7 waits 7 seconds (logged as feed.retry), then gets the feed."""
    server.play(Reply(429, headers={"Retry-After": "7"}), Reply(200, FEED))
    with caplog.at_level(logging.INFO, logger="bot.feed"):
        result = fetch(server, waits)
    assert result.body == FEED
    assert waits == [7.0]
    assert len(server.requests) == 2
    lines = [r.getMessage() for r in caplog.records]
    assert [line for line in lines if line.startswith("feed.retry")] == [
        f'feed.retry url={server.url()} attempt=1 wait=7.0 cause="HTTP 429 Too Many Requests"'
    ]


def test_503_with_http_date_retry_after(server: FeedServer, waits: list[float]) -> None:
    """A 503 whose Retry-After is an HTTP-date 30 s ahead waits until then."""
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.play(Reply(503, headers={"Retry-After": when}), Reply(200, FEED))
    result = fetch(server, waits)
    assert result.body == FEED
    assert len(waits) == 1
    assert 28.0 < waits[0] <= 30.0  # the date has whole seconds


def test_retry_after_is_capped_at_max_wait(server: FeedServer, waits: list[float]) -> None:
    """A server asking for a 10-minute pause gets at most max_wait seconds."""
    server.play(Reply(429, headers={"Retry-After": "600"}), Reply(200, FEED))
    assert fetch(server, waits, max_wait=120.0).body == FEED
    assert waits == [120.0]


def test_5xx_then_success_backs_off_exponentially(server: FeedServer, waits: list[float]) -> None:
    """After a 500 and a 502 the fetch waits about 1 s then 2 s (plus ≤10 % jitter) and succeeds."""
    server.play(Reply(500), Reply(502), Reply(200, FEED))
    result = fetch(server, waits, backoff=1.0)
    assert result.body == FEED
    assert len(server.requests) == 3
    assert len(waits) == 2
    assert 1.0 <= waits[0] <= 1.1
    assert 2.0 <= waits[1] <= 2.2


def test_persistent_5xx_fails_after_retries(server: FeedServer, waits: list[float]) -> None:
    """A feed that keeps answering 500 is asked retries + 1 times, then fails naming the cause."""
    server.play(Reply(500))
    with pytest.raises(FeedError) as info:
        fetch(server, waits, retries=3, backoff=0.5)
    assert str(info.value) == (
        f"feed {server.url()} failed after 4 tries: HTTP 500 Internal Server Error; "
        "check FEED_URL or try again later"
    )
    assert len(server.requests) == 4
    assert len(waits) == 3
    for wait, base in zip(waits, (0.5, 1.0, 2.0), strict=True):
        assert base <= wait <= base * 1.1


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (403, "HTTP 403 Forbidden: the server refuses the bot; check FEED_URL is the public feed"),
        (404, "HTTP 404 Not Found: no feed there; check FEED_URL"),
        (410, "HTTP 410 Gone: the feed is gone; check FEED_URL"),
        (400, "HTTP 400 Bad Request: check FEED_URL"),
    ],
)
def test_4xx_fails_at_once(server: FeedServer, waits: list[float], status: int, line: str) -> None:
    """A 403/404/410 or other 4xx fails after one request with a line naming URL, status and fix."""
    server.play(Reply(status))
    with pytest.raises(FeedError) as info:
        fetch(server, waits)
    assert str(info.value) == f"feed {server.url()} answered {line}"
    assert len(server.requests) == 1
    assert waits == []


def test_slow_server_times_out_retries_then_fails(server: FeedServer, waits: list[float]) -> None:
    """A server slower than the read timeout is retried, then fails quickly with 'timed out'."""
    server.play(Reply(200, FEED, delay=2.0))
    with pytest.raises(FeedError) as info:
        fetch(server, waits, timeout=0.3, retries=1, backoff=0.01)
    assert str(info.value) == (
        f"feed {server.url()} failed after 2 tries: timed out (ReadTimeout); "
        "check FEED_URL or try again later"
    )
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert len(server.requests) == 2
    assert len(waits) == 1


def test_refused_connection_is_retried_then_fails(waits: list[float]) -> None:
    """Nothing listening: the connection error is retried, then reported as a FeedError."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the fetch: nothing listens there
    url = f"http://127.0.0.1:{port}/feed"
    with pytest.raises(FeedError) as info:
        fetch_feed(url, retries=2, sleep=waits.append)
    assert str(info.value).startswith(f"feed {url} failed after 3 tries: ConnectError")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(waits) == 2


# --- size cap ----------------------------------------------------------------------------------


def test_oversize_content_length_refused_up_front(server: FeedServer, waits: list[float]) -> None:
    """A Content-Length over 10 MB is refused before the body is read (no retry)."""
    # The body is cut short: reading it would give a protocol error, not the size error.
    server.play(Reply(200, b"<rss>", length=TEN_MB + 1))
    with pytest.raises(FeedError) as info:
        fetch(server, waits)
    assert str(info.value) == f"feed {server.url()} is larger than 10 MB: check FEED_URL"
    assert len(server.requests) == 1


def test_oversize_chunked_body_refused_while_streaming(
    server: FeedServer, waits: list[float]
) -> None:
    """A body without Content-Length is counted as it arrives and refused past 10 MB."""
    server.play(Reply(200, b"x" * (TEN_MB + 65536), chunked=True))
    with pytest.raises(FeedError) as info:
        fetch(server, waits)
    assert str(info.value) == f"feed {server.url()} is larger than 10 MB: check FEED_URL"
    assert len(server.requests) == 1


def test_chunked_body_under_cap_is_read_whole(server: FeedServer, waits: list[float]) -> None:
    """A chunked feed under the cap arrives whole."""
    body = FEED * 5000
    server.play(Reply(200, body, chunked=True))
    assert fetch(server, waits).body == body


# --- read_source ---------------------------------------------------------------------------------


def test_read_source_local_path_and_file_url(tmp_path) -> None:
    """A local path and its file:// URL both give the file's bytes."""
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED)
    assert read_source(str(path)) == FEED
    assert read_source(path.as_uri()) == FEED


def test_read_source_missing_file(tmp_path) -> None:
    """A missing feed file is one line naming it and FEED_URL."""
    missing = tmp_path / "nope.xml"
    with pytest.raises(FeedError) as info:
        read_source(str(missing))
    assert str(info.value) == f"feed file {missing} does not exist: check FEED_URL"


def test_read_source_file_over_cap(tmp_path) -> None:
    """A local file over the cap is refused like an oversize download."""
    path = tmp_path / "big.xml"
    path.write_bytes(b"x" * 101)
    with pytest.raises(FeedError) as info:
        read_source(str(path), max_bytes=100)
    assert str(info.value) == f"feed {path} is larger than 100 bytes: check FEED_URL"


def test_read_source_http_fetches(server: FeedServer) -> None:
    """An http URL is fetched unconditionally and its body returned."""
    server.play(feed_reply)
    assert read_source(server.url(), sleep=lambda s: None) == FEED
    assert "If-None-Match" not in server.requests[0][1]


def test_read_source_other_scheme() -> None:
    """A source that is neither a file nor http(s) is refused with one line."""
    with pytest.raises(FeedError) as info:
        read_source("ftp://example.invalid/feed")
    assert str(info.value) == (
        "feed ftp://example.invalid/feed is neither a local file nor an http(s) URL: check FEED_URL"
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("Wed, 26 Nov 2025 12:00:30 GMT", 30.0),
        ("Wed, 26 Nov 2025 11:00:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    """Retry-After is read as seconds or as an HTTP-date relative to now; junk is ignored."""
    now = datetime(2025, 11, 26, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == seconds
