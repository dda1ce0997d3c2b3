"""Who is on the other end of an HTTP request, behind proxies we trust.

Behind an ingress every request arrives from the ingress's address, so anything
keyed on the peer (throttles, audit events) would lump every citizen together.
``X-Forwarded-For`` names the real client, but anyone can send it: each proxy
appends the address it saw, so only the entries appended by proxies we trust
are facts. ``client_and_scheme`` walks the list from the right, past trusted
proxies, and stops at the first address a trusted proxy vouched for that is
not itself a trusted proxy. The left-most entry (written by whoever started the
chain) is used only when every hop is trusted. ``X-Forwarded-Proto`` counts
only from a trusted peer too.

``ForwardedHeaders`` applies it to every request before the app sees it, so
``request.client`` and ``request.url.scheme`` are the client's everywhere
(uvicorn's own proxy-header handling is switched off: one way only).

Throttles key on ``throttle_key``: IPv6 clients by their /64. Audit events and
logs keep the full address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    """The networks whose forwarding headers are believed (none by default)."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, cidrs: str | Iterable[str]) -> TrustedProxies:
        """From ``"10.0.0.0/8, 192.168.1.7"``; raises ValueError on a bad entry."""
        items = cidrs.split(",") if isinstance(cidrs, str) else cidrs
        return cls(tuple(ipaddress.ip_network(i.strip()) for i in items if i.strip()))

    def __contains__(self, host: str | None) -> bool:
        address = _address(host)
        return address is not None and any(address in network for network in self.networks)


NO_PROXIES = TrustedProxies()


def client_and_scheme(
    peer: str | None,
    forwarded_for: Sequence[str],
    forwarded_proto: str | None,
    trusted: TrustedProxies,
) -> tuple[str | None, str | None]:
    """The client's address and the scheme it used (None: keep the connection's).

    ``forwarded_for``: every ``X-Forwarded-For`` header value, in order.
    """
    if peer not in trusted:
        return peer, None
    scheme = None
    if forwarded_proto is not None:
        # A chain of proxies may list several: the nearest trusted one's is last.
        nearest = forwarded_proto.rpartition(",")[2].strip().lower()
        scheme = nearest if nearest in ("http", "https") else None
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # garbage where a trusted proxy should have written an address
        client = str(address)
        if client not in trusted:
            break
    return client, scheme


def client_ip(request: Request) -> str | None:
    """The client's address (after ``ForwardedHeaders``), for audit and logs;
    throttles count it under ``throttle_key``."""
    return request.client.host if request.client else None


def throttle_key(host: str | None) -> str:
    """What a per-address throttle counts ``host`` under: an IPv4 address as it
    is, an IPv6 address's /64 (a household, or an attacker, holds a whole /64
    and could otherwise rotate through 2^64 addresses, each with a fresh
    count), an IPv4-mapped IPv6 address as its IPv4 address. Something that is
    not an address is its own key; no address at all is ``"unknown"``."""
    address = _address(host)
    if address is None:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ForwardedHeaders:
    """Pure ASGI middleware: the scope's client and scheme become the real
    client's, by ``client_and_scheme``."""

    def __init__(self, app: ASGIApp, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.trusted.networks:
            peer = scope.get("client")
            forwarded_for: list[str] = []
            proto = None
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    forwarded_for.append(value.decode("latin-1"))
                elif name == b"x-forwarded-proto":
                    proto = value.decode("latin-1")
            host, scheme = client_and_scheme(
                peer[0] if peer else None, forwarded_for, proto, self.trusted
            )
            if peer and host != peer[0]:
                scope["client"] = (host, 0)
            if scheme is not None:
                scope["scheme"] = scheme
        await self.app(scope, receive, send)


def _address(host: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address from a peer or a hop (``[v6]:port`` and ``v4:port`` allowed)."""
    if not host:
        return None
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
