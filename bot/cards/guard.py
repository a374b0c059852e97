"""Which addresses a card may be fetched from, and a transport that connects only there.

Reading links come from a feed's content, not from the operator, so a link must not make the bot
reach the machine it runs on, its network or a cloud metadata service. The host is resolved
ONCE, every address it resolves to is checked, and the connection goes to the checked address
itself (no second lookup that could answer differently). The check sits where httpcore opens a
connection, so every redirect hop, to whatever host, is checked the same way."""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from bot.errors import CardError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (TCP), in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise CardError(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refused_kind(ip: Address, *, allow_private: bool = False) -> str | None:
    """Why `ip` may not be fetched from ("loopback", "private", …), or None for a public
    unicast address. `allow_private` (tests) lets loopback and private addresses through; the
    other kinds (link-local and its metadata service, multicast, …) are refused all the same."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
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
    if not ip.is_global:
        return None if allow_private else "not public"
    return None


class Guard:
    """The policy: `allow_private` (CARDS_ALLOW_PRIVATE, tests only); `resolver` and `trusted`
    (addresses to treat as public) let tests stand a loopback server in for a public site."""

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
        """The checked addresses to connect to for host:port; CardError when any is refused
        (one bad answer among good ones is how a rebinding attack looks)."""
        try:
            literal: list[str] | None = [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            literal = None
        found = literal if literal is not None else self.resolver(host, port)
        if not found:
            raise CardError(f"{host} has no address")
        for raw in found:
            ip = ipaddress.ip_address(raw.split("%", 1)[0])
            if ip in self.trusted:
                continue
            kind = refused_kind(ip, allow_private=self.allow_private)
            if kind is not None:
                raise CardError(f"refused: {host} is a {kind} address ({ip})")
        return found


class _GuardedBackend(httpcore.SyncBackend):
    """httpcore's own socket backend, connecting only to addresses the guard checked."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None,
                    ) -> httpcore.NetworkStream:
        try:
            addresses = self.guard.addresses(host, port)
        except CardError as exc:
            # httpcore passes ConnectError up as httpx.ConnectError; the fetcher reads the reason.
            raise httpcore.ConnectError(str(exc)) from exc
        error: Exception | None = None
        for address in addresses:  # the checked addresses themselves: no second lookup
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes through the guard. No proxies (a proxy
    would make the connection for us, past the check)."""

    def __init__(self, guard: Guard) -> None:
        super().__init__(verify=_tls_context(), trust_env=False)
        # httpx offers no way to pass a network backend: its pool is replaced by one with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_tls_context(),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(guard),
        )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every fetcher: loading the CA bundle is the costly part."""
    return httpx.create_ssl_context()
