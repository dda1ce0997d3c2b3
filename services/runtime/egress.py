"""The one guard on where GaaP connects when an agency or an operator chose the URL.

Agency webhooks, notify's status callbacks, identity's back-channel logout
URIs and notify's SMS providers all make this platform send a request to an
address somebody else typed. Without a guard that is server-side request
forgery: ``http://169.254.169.254/`` reads the cloud's instance credentials,
``https://10.0.0.5/`` probes the internal network, and the recorded attempts
(status code, timing) tell the agency what it found.

``Egress`` refuses every address that is not globally routable: loopback,
private, link-local, carrier-grade NAT (100.64.0.0/10), multicast, reserved,
unspecified, documentation and benchmarking ranges, for IPv4 and IPv6. An IPv6
address that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, 6to4
``2002::/16``, NAT64 ``64:ff9b::/96``) is judged by the IPv4 address inside;
Teredo and the deprecated IPv4-compatible form are refused outright.

The check runs twice: at registration for an IP literal (``urls.check_target``),
and at connection time against every address the name resolved to, by the
transport in ``egress_http`` that then connects to the checked address, so a
name that resolves to a public address at registration and to 127.0.0.1 later
(DNS rebinding) is still refused.

``GAAP_ALLOW_PRIVATE_TARGETS`` (CIDR list) lets an operator allow some ranges,
for example loopback for ``make run``'s demo agency.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
# host, port -> the addresses the host resolves to (tests inject their own).
Resolver = Callable[[str, int], Sequence[str]]

UNRESOLVED = "destination refused: the host name does not resolve"
# What ``make run`` and the tests that run local receivers allow.
LOOPBACK = "127.0.0.0/8,::1/128"

_CARRIER_GRADE_NAT = IPv4Network("100.64.0.0/10")
_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = IPv6Network("::/96")


class EgressRefused(Exception):
    """A destination this platform must not connect to. ``str()`` is safe to
    show the agency: it names the kind of address, never the address."""


def parse_networks(value: str) -> tuple[Network, ...]:
    """``"127.0.0.0/8, ::1/128"`` -> networks; raises ValueError on a bad entry."""
    return tuple(ip_network(part.strip(), strict=True) for part in value.split(",") if part.strip())


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: Address) -> str | None:
    """Why ``address`` is not a public destination, or None."""
    if isinstance(address, IPv6Address):
        if address.teredo is not None:
            return "Teredo"
        if address in _IPV4_COMPATIBLE and not address.is_unspecified and not address.is_loopback:
            return "IPv4-compatible"
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, IPv4Address) and address in _CARRIER_GRADE_NAT, "carrier-grade NAT"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not globally routable"),
    )
    return next((kind for refused, kind in checks if refused), None)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Egress:
    """Which addresses outbound requests may reach; ``allowed`` are the
    operator's exceptions (``GAAP_ALLOW_PRIVATE_TARGETS``)."""

    allowed: tuple[Network, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_setting(cls, value: str, resolver: Resolver = system_resolver) -> Egress:
        return cls(parse_networks(value), resolver)

    def refusal(self, address: Address) -> str | None:
        """Why a connection to ``address`` is refused, or None if it may go."""
        if any(address.version == net.version and address in net for net in self.allowed):
            return None
        if isinstance(address, IPv6Address):
            inner = _embedded_ipv4(address)
            if inner is not None:
                why = self.refusal(inner)
                return f"{why} (inside an IPv6 address)" if why else None
        why = _kind(address)
        return f"a {why} address" if why else None

    def check(self, address: Address) -> None:
        why = self.refusal(address)
        if why:
            raise EgressRefused(f"destination refused: {why}")

    def resolve(self, host: str, port: int) -> list[Address]:
        """``host``'s addresses, every one of them checked; refuses the lot if
        any is refused (a name must not mix public and internal answers)."""
        literal = _literal(host)
        if literal is not None:
            self.check(literal)
            return [literal]
        try:
            found = [ip_address(a.partition("%")[0]) for a in self.resolver(host, port)]
        except (OSError, UnicodeError) as exc:
            raise EgressRefused(UNRESOLVED) from exc
        if not found:
            raise EgressRefused(UNRESOLVED)
        for address in found:
            self.check(address)
        return found


def _literal(host: str) -> Address | None:
    try:
        return ip_address(host.strip("[]"))
    except ValueError:
        return None


# No exceptions: public addresses only (what an empty setting means).
PUBLIC_ONLY = Egress()
