"""FaultProxy: a scriptable HTTP proxy on 127.0.0.1 in front of the test PDS.

It forwards every request to the PDS and can, per XRPC method (e.g. "com.atproto.repo.applyWrites")
or raw path (e.g. "/xrpc/_health"), answer with an error instead, answer 429 with rate-limit
headers, drop the connection (before the PDS sees the request, or after the PDS handled it so the
write happened but the client never hears so), delay, or call a test's callback when a request
arrives or after its response went out. It counts requests per method.

Session responses are rewritten so the client keeps talking through the proxy: the atproto SDK
switches its base URL to the PDS endpoint in the session's DID document after login/refresh.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["FaultProxy", "ProxiedRequest"]

# Requests and responses whose bodies carry a DID document with the PDS endpoint in it.
_SESSION_METHODS = frozenset(
    {
        "com.atproto.server.createSession",
        "com.atproto.server.refreshSession",
        "com.atproto.server.getSession",
        "com.atproto.server.createAccount",
    }
)
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
    }
)


@dataclass(frozen=True)
class ProxiedRequest:
    """One request seen by the proxy. `method` is the XRPC NSID ("" when not an XRPC path)."""

    method: str
    path: str
    http_method: str
    body: bytes = field(repr=False)  # may hold passwords: never printed
    status: int | None = None  # status the client got; None when dropped or not yet answered
    injected: bool = False  # True when the proxy, not the PDS, decided the outcome


Callback = Callable[[ProxiedRequest], None]


@dataclass
class _Rule:
    match: str
    action: str  # "fail" | "drop" | "delay"
    times: int | None  # None: every matching request
    after_forward: bool = False
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    transform: Callable[[bytes], bytes] | None = None


@dataclass
class _Hook:
    match: str
    phase: str  # "request" | "response"
    callback: Callback
    times: int | None


def _nsid(path: str) -> str:
    bare = path.split("?", 1)[0]
    return bare[len("/xrpc/") :] if bare.startswith("/xrpc/") else ""


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]
        # A client killed mid-request (the SIGKILL tests, the soak) is expected, not news.


class FaultProxy:
    """A forwarding proxy on 127.0.0.1 with per-method fault rules; see the module docstring.

    Rules for one method are used in the order they were added; each request uses at most one
    fault rule (fail/rate_limit/drop/delay). Hooks (on_request/on_response) are separate and all
    fire. An exception raised by a callback is kept and re-raised by close().
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = upstream.rstrip("/")
        self._up_host = parts.hostname or "127.0.0.1"
        self._up_port = parts.port or 80
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._hooks: list[_Hook] = []
        self._counts: Counter[str] = Counter()
        self._injected: Counter[str] = Counter()
        self._requests: list[ProxiedRequest] = []
        self._errors: list[BaseException] = []
        self._sockets: set[socket.socket] = set()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="faultproxy", daemon=True
        )
        self._thread.start()

    # ---- scripting -------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        times: int | None = 1,
        status: int = 500,
        error: str = "InternalServerError",
        message: str = "injected by FaultProxy",
        headers: dict[str, str] | None = None,
        after_forward: bool = False,
    ) -> None:
        """Answer the next `times` calls with an XRPC error. after_forward: the PDS handles the
        request first (a write really happens), then the client gets the error instead."""
        body = json.dumps({"error": error, "message": message}).encode()
        self._add_rule(
            _Rule(method, "fail", times, after_forward, status, dict(headers or {}), body)
        )

    def rate_limit(self, method: str, times: int | None = 1, reset_in: float = 60.0) -> None:
        """Answer the next `times` calls with 429 RateLimitExceeded and ratelimit-* headers;
        ratelimit-reset is epoch seconds `reset_in` from now."""
        reset = int(time.time() + reset_in)
        headers = {
            "ratelimit-limit": "5000",
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(reset),
            "ratelimit-policy": "5000;w=3600",
        }
        self.fail(method, times, 429, "RateLimitExceeded", "Rate Limit Exceeded", headers)

    def rewrite(self, method: str, transform: Callable[[bytes], bytes],
                times: int | None = 1) -> None:
        """The PDS handles the next `times` calls (a write really happens); the client gets its
        status and headers with the body `transform(body)`: malformed JSON, another cid."""
        self._add_rule(_Rule(method, "rewrite", times, True, transform=transform))

    def drop(self, method: str, times: int | None = 1, after_forward: bool = False) -> None:
        """Close the connection without any response to the next `times` calls. after_forward:
        the PDS handles the request first, so the write is done but the client never learns it."""
        self._add_rule(_Rule(method, "drop", times, after_forward))

    def delay(self, method: str, seconds: float, times: int | None = 1) -> None:
        """Hold the next `times` calls for `seconds` before forwarding them."""
        self._add_rule(_Rule(method, "delay", times, seconds=seconds))

    def on_request(self, method: str, callback: Callback, times: int | None = None) -> None:
        """Call `callback(request)` when a call arrives, before it is forwarded (body included).
        The call is forwarded afterwards even if the callback killed the client; add
        drop(method) too to keep it from reaching the PDS."""
        with self._lock:
            self._hooks.append(_Hook(method, "request", callback, times))

    def on_response(self, method: str, callback: Callback, times: int | None = None) -> None:
        """Call `callback(request)` after the call's response was sent to the client (or the
        connection dropped); request.status is what the client got."""
        with self._lock:
            self._hooks.append(_Hook(method, "response", callback, times))

    def clear(self) -> None:
        """Forget all rules and hooks (counts and the request log stay)."""
        with self._lock:
            self._rules.clear()
            self._hooks.clear()

    # ---- observing -------------------------------------------------------------------------

    def count(self, method: str) -> int:
        """How many calls to `method` (NSID or raw path) arrived, injected faults included."""
        with self._lock:
            return self._counts[method]

    def injected(self) -> dict[str, int]:
        """Faults played so far, by kind: "fail 502", "fail 429", "drop", "drop after forward",
        "delay" (a rule counts when a request used it)."""
        with self._lock:
            return dict(self._injected)

    def counts(self) -> dict[str, int]:
        """Calls per XRPC method so far."""
        with self._lock:
            return dict(self._counts)

    @property
    def requests(self) -> list[ProxiedRequest]:
        """Every finished call, in order, with the status the client got."""
        with self._lock:
            return list(self._requests)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._requests.clear()

    def close(self) -> None:
        """Stop the proxy, cut open connections, and re-raise the first callback error."""
        self._server.shutdown()
        with self._lock:
            open_socks = list(self._sockets)
        for sock in open_socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._errors:
            raise self._errors[0]

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals -------------------------------------------------------------------------

    def _add_rule(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def _take_rule(self, method: str, path: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.match in (method, path.split("?", 1)[0]):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    kind = f"fail {rule.status}" if rule.action == "fail" else rule.action
                    self._injected[kind + (" after forward" if rule.after_forward else "")] += 1
                    return rule
        return None

    def _fire(self, phase: str, req: ProxiedRequest) -> None:
        with self._lock:
            hooks = []
            for hook in list(self._hooks):
                if hook.phase == phase and hook.match in (req.method, req.path.split("?", 1)[0]):
                    hooks.append(hook)
                    if hook.times is not None:
                        hook.times -= 1
                        if hook.times <= 0:
                            self._hooks.remove(hook)
        for hook in hooks:
            try:
                hook.callback(req)
            except BaseException as exc:  # noqa: BLE001 - kept for close() to re-raise
                with self._lock:
                    self._errors.append(exc)

    def _forward(
        self, verb: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self._up_host, self._up_port, timeout=60)
        try:
            send = {k: v for k, v in headers if k.lower() not in _HOP_BY_HOP}
            send["Host"] = f"{self._up_host}:{self._up_port}"
            send["Accept-Encoding"] = "identity"  # so session bodies can be rewritten
            conn.request(
                verb, path, body=body if body or verb in ("POST", "PUT") else None, headers=send
            )
            resp = conn.getresponse()
            data = resp.read()
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
            return resp.status, out, data
        finally:
            conn.close()

    def _rewrite_session(self, data: bytes) -> bytes:
        try:
            doc = json.loads(data)
        except ValueError:
            return data
        services = (doc.get("didDoc") or {}).get("service") or []
        for svc in services:
            if isinstance(svc, dict) and svc.get("serviceEndpoint", "").rstrip("/") == (
                self.upstream
            ):
                svc["serviceEndpoint"] = self.url
        return json.dumps(doc).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy._sockets.add(self.connection)

            def finish(self) -> None:
                with proxy._lock:
                    proxy._sockets.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # quiet: request lines could be noisy and carry nothing we need

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                self.wfile.flush()

            def _drop(self) -> None:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            def _handle(self) -> None:
                method = _nsid(self.path)
                body = self._read_body()
                with proxy._lock:
                    proxy._counts[method or self.path.split("?", 1)[0]] += 1
                arrived = ProxiedRequest(method, self.path, self.command, body)
                proxy._fire("request", arrived)
                rule = proxy._take_rule(method, self.path)

                if rule is not None and rule.action == "delay":
                    time.sleep(rule.seconds)
                    rule = None

                # Decide what the client gets, log it, then answer: a test that asserts on
                # `requests` right after its call returns must find that call logged.
                reply: tuple[int, list[tuple[str, str]], bytes] | None = None
                if rule is None or rule.after_forward:
                    try:
                        reply = proxy._forward(
                            self.command, self.path, list(self.headers.items()), body
                        )
                    except OSError as exc:  # the PDS is down: say so like a gateway would
                        msg = json.dumps({"error": "BadGateway", "message": str(exc)}).encode()
                        reply = (502, [("Content-Type", "application/json")], msg)
                    if method in _SESSION_METHODS and reply[0] == 200:
                        reply = (reply[0], reply[1], proxy._rewrite_session(reply[2]))
                if rule is not None and rule.action == "rewrite" and reply is not None:
                    assert rule.transform is not None
                    reply = (reply[0], reply[1], rule.transform(reply[2]))
                elif rule is not None:
                    reply = None
                    if rule.action == "fail":
                        headers = [("Content-Type", "application/json"), *rule.headers.items()]
                        reply = (rule.status, headers, rule.body)

                status = reply[0] if reply else None
                done = ProxiedRequest(
                    method, self.path, self.command, body, status, rule is not None
                )
                with proxy._lock:
                    proxy._requests.append(done)
                if reply is None:
                    self._drop()
                else:
                    try:
                        self._send(*reply)
                    except OSError:  # the client is gone (a test may have killed it)
                        self.close_connection = True
                proxy._fire("response", done)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815

        return Handler
