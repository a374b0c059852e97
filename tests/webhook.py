"""A webhook receiver on 127.0.0.1 that records what it is sent and answers as scripted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Webhook:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200
    hits: int = 0
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The first `n` payloads, waiting for them to arrive."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= n, timeout)
        return self.received[:n]


@contextmanager
def webhook_server(path: str = "/hooks/T0KEN-s3cret") -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with hook.arrived:
                hook.hits += 1
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.received.append(
                        {"path": self.path, "json": json.loads(body),
                         "agent": self.headers.get("User-Agent")}
                    )  # fmt: skip
                hook.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_port}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
