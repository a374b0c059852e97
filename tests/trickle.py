"""A server on loopback that answers every request a byte at a time: the slow server an attacker
stands up to hold a client for hours while every single read still succeeds within its timeout.

`part="headers"` trickles the status line and headers; `part="body"` sends the headers at once
and trickles the body. Counts connections, so a test can tell whether anything connected."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Trickle:
    url: str
    connections: int = 0


@contextmanager
def trickle_server(part: str = "body", every: float = 1.0, ctype: str = "text/html",
                   body: bytes = b"<html><head><title>slow</title>" + b" " * 100_000,
                   ) -> Iterator[Trickle]:
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "X-Padding: " + "x" * 10_000 + "\r\n\r\n").encode()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    info = Trickle(url=f"http://127.0.0.1:{listener.getsockname()[1]}")

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                slow = head + body if part == "headers" else body
                if part == "body":
                    conn.sendall(head)
                for i in range(len(slow)):
                    if stop.wait(every):
                        return
                    conn.sendall(slow[i:i + 1])
            except OSError:
                return  # the client gave up: what the tests want

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            info.connections += 1
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield info
    finally:
        stop.set()
        thread.join(2)
        listener.close()
