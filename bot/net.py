"""The network's common rules for every HTTP edge (feed, cards, webhook, PDS): which addresses
may be reached (`Guard`), a whole-request deadline enforced by the clock (`DeadlineTransport`),
and DNS lookups with a timeout (`resolve`).

Why a deadline of our own: httpx's timeouts are per socket operation, so a server that sends
its headers or body a byte a second never trips them and holds the bot for hours. Here every
read, write and connect is given at most what is left of the request's budget, and the request
fails once the budget is spent, however the bytes trickle.

Why the guard sits in the socket backend: the host is resolved ONCE, every address it resolves
to is checked, and the connection goes to the checked address itself (no second lookup that
could answer differently), for every redirect hop."""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import httpcore
import httpx

from bot.errors import BotError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

DNS_TIMEOUT = 5.0  # seconds a name may take to resolve

# Ranges `ipaddress` calls global (or does not flag) that are not a public unicast host.
_NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in (
    "fec0::/10",  # site-local (deprecated, still routed inside some networks)
    "192.0.0.0/24",  # IETF protocol assignments (192.0.0.8, 192.0.0.9, 192.0.0.10 …)
    "64:ff9b:1::/48",  # local-use NAT64
    "2001::/23",  # IETF protocol assignments (Teredo lives in 2001::/32, judged by its IPv4)
    "2002::/16",  # 6to4 without a public IPv4 inside
    "100::/64",  # discard-only
    "198.18.0.0/15",  # benchmarking
))


class Refused(BotError):
    """An address the guard will not connect to, or a name that cannot be resolved in time."""


# -- addresses --------------------------------------------------------------------------------

_dns_pool = ThreadPoolExecutor(4, thread_name_prefix="dns")


def resolve(host: str, port: int, timeout: float = DNS_TIMEOUT) -> list[str]:
    """Every address `host` resolves to (TCP), in the resolver's order, within `timeout`
    seconds (getaddrinfo has no timeout of its own: it runs in a helper thread)."""
    future = _dns_pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(timeout, 0.001))
    except FutureTimeout as exc:
        raise Refused(f"cannot resolve {host}: no answer within {timeout:g} s") from exc
    except (OSError, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refused_kind(ip: Address, *, allow_private: bool = False) -> str | None:
    """Why `ip` may not be reached ("loopback", "private", …), or None for a public unicast
    address. `allow_private` (tests) lets loopback and private addresses through; the other
    kinds (link-local and its metadata service, multicast, …) are refused all the same."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:  # an IPv4 address in IPv6 clothes is judged as itself
            return refused_kind(embedded, allow_private=allow_private)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_link_local:
        return "link-local"
    if ip.is_loopback:
        return None if allow_private else "loopback"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return None if allow_private else "private"
    if not ip.is_global or any(ip in net for net in _NOT_GLOBAL if net.version == ip.version):
        return None if allow_private else "not public"
    return None


class Guard:
    """The policy: `allow_private` (CARDS_ALLOW_PRIVATE, tests only, or a feed configured at a
    private address); `resolver` and `trusted` (addresses to treat as public) let tests stand a
    loopback server in for a public site."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver = resolve,
        trusted: Iterable[str] = (),
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.trusted = frozenset(ipaddress.ip_address(a) for a in trusted)

    def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses to connect to for host:port; Refused when any is refused (one
        bad answer among good ones is how a rebinding attack looks)."""
        try:
            literal: list[str] | None = [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            literal = None
        found = literal if literal is not None else self.resolver(host, port)
        if not found:
            raise Refused(f"{host} has no address")
        for raw in found:
            ip = ipaddress.ip_address(raw.split("%", 1)[0])
            if ip in self.trusted:
                continue
            kind = refused_kind(ip, allow_private=self.allow_private)
            if kind is not None:
                raise Refused(f"refused: {host} is a {kind} address ({ip})")
        return found


# -- the whole-request deadline ---------------------------------------------------------------

_deadline = threading.local()  # the monotonic time the current request must end by, per thread


def _left() -> float | None:
    """Seconds left of the current request's budget (None: no deadline set)."""
    end = getattr(_deadline, "end", None)
    return None if end is None else end - time.monotonic()


def _bounded(timeout: float | None, exc: type[Exception]) -> float | None:
    left = _left()
    if left is None:
        return timeout
    if left <= 0:
        raise exc("the request took longer than its deadline")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation ends by the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname,
                                      _bounded(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.SyncBackend):
    """httpcore's socket backend: names resolved within the deadline (and checked by the guard,
    when there is one), connections made to the resolved addresses themselves."""

    def __init__(self, guard: Guard | None) -> None:
        self.guard = guard

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None,
                    ) -> httpcore.NetworkStream:
        budget = _bounded(timeout, httpcore.ConnectTimeout)
        try:
            if self.guard is not None:
                addresses = self.guard.addresses(host, port)
            else:
                addresses = _literal(host) or resolve(
                    host, port, DNS_TIMEOUT if budget is None else min(budget, DNS_TIMEOUT))
        except Refused as exc:
            # httpcore passes ConnectError up as httpx.ConnectError; callers read the reason.
            raise httpcore.ConnectError(str(exc)) from exc
        error: Exception | None = None
        for address in addresses:  # the checked addresses themselves: no second lookup
            try:
                stream = super().connect_tcp(address, port,
                                             _bounded(timeout, httpcore.ConnectTimeout),
                                             local_address, socket_options)
                return _DeadlineStream(stream)
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error


def _literal(host: str) -> list[str] | None:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        return None


class DeadlineTransport(httpx.HTTPTransport):
    """An httpx transport where a request (connect, headers and body) ends within `budget`
    seconds by the clock, names resolve within the budget, and, with a `guard`, every connection
    goes only where the guard allows. No proxies (a proxy would connect for us, past both).

    A request may carry its own end in `request.extensions["deadline"]` (a `time.monotonic()`
    value: the card fetcher's one deadline over several redirect hops). The body is read in the
    same thread after `handle_request` returns, so the deadline is kept per thread until the
    next request of that thread."""

    def __init__(self, budget: float, *, guard: Guard | None = None,
                 verify: ssl.SSLContext | None = None, max_connections: int = 20) -> None:
        context = verify or tls_context()
        super().__init__(verify=context, trust_env=False)
        self.budget = budget
        # httpx offers no way to pass a network backend: its pool is replaced by one with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=max_connections,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=_Backend(guard),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        end = request.extensions.get("deadline")
        _deadline.end = float(end) if end is not None else time.monotonic() + self.budget
        return super().handle_request(request)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context (httpx's default: certifi's CAs) for every client: loading the CA bundle
    is the costly part."""
    return httpx.create_ssl_context()
