"""A tiny web server on loopback for the card tests and the card benchmark: routes by path,
counts requests and bytes sent, remembers request headers and how many requests ran at once."""

from __future__ import annotations

import io
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


@dataclass
class Route:
    body: bytes = b""
    ctype: str = "text/html; charset=utf-8"
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    send_length: bool = True
    stream: Callable[[], Iterator[bytes]] | None = None  # a body made as it is sent


class Site:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()  # body bytes the client took, by path
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()  # lets slow handlers finish at teardown
        self.active = 0
        self.most_at_once = 0
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                with site._lock:
                    site.hits[self.path] += 1
                    site.headers.append(dict(self.headers.items()))
                    site.active += 1
                    site.most_at_once = max(site.most_at_once, site.active)
                try:
                    self._answer(site.routes.get(self.path, Route(b"not here", "text/plain", 404)))
                finally:
                    with site._lock:
                        site.active -= 1

            def _answer(self, route: Route) -> None:
                if route.delay:
                    site.release.wait(route.delay)
                self.send_response(route.status)
                self.send_header("Content-Type", route.ctype)
                if route.send_length and route.stream is None:
                    self.send_header("Content-Length", str(len(route.body)))
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                chunks = route.stream() if route.stream is not None else iter([route.body])
                for chunk in chunks:
                    self.wfile.write(chunk)
                    site.sent[self.path] += len(chunk)

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gave up (timeout, read cap) is expected here

        self.server = Server((host, 0), Handler)
        self.host = host
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def noise(size: tuple[int, int], block: int = 1, seed: int = 1) -> Image.Image:
    """Random pixels (compress badly), in blocks of `block` px so big images stay quick to make."""
    w, h = size[0] // block, size[1] // block
    img = Image.frombytes("RGB", (w, h), random.Random(seed).randbytes(w * h * 3))
    return img.resize(size, Image.Resampling.NEAREST) if block > 1 else img


def encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kwargs)
    return out.getvalue()


def page(head: str) -> bytes:
    return f"<!doctype html><html><head>{head}</head><body><p>Hi</p></body></html>".encode()
