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

Resolving a name is bounded by the caller's deadline: ``getaddrinfo`` cannot be
interrupted, and a slow or hostile DNS zone can keep it for many seconds, so
the lookup runs on a daemon thread and the caller waits only for the time it
has. At most ``LOOKUPS_AT_ONCE`` lookups run at a time in the process (a hung
one keeps its slot until the system resolver gives up), so hostile zones cannot
pile up threads; a caller that finds every slot taken fails within its deadline
like one whose lookup is slow.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
# host, port -> the addresses the host resolves to (tests inject their own).
Resolver = Callable[[str, int], Sequence[str]]

UNRESOLVED = "destination refused: the host name does not resolve"
LOOKUPS_AT_ONCE = 16
# What ``make run`` and the tests that run local receivers allow.
LOOPBACK = "127.0.0.0/8,::1/128"

_CARRIER_GRADE_NAT = IPv4Network("100.64.0.0/10")
_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = IPv6Network("::/96")


class EgressRefused(Exception):
    """A destination this platform must not connect to. ``str()`` is safe to
    show the agency: it names the kind of address, never the address."""


class ResolveTimeout(Exception):
    """The name did not resolve within the deadline. ``str()`` is safe to show.
    (Not an OSError, which ``resolve`` reads as a name that does not exist.)"""

    def __init__(self) -> None:
        super().__init__("the host name did not resolve within the deadline")


class Lookups:
    """Runs resolvers on daemon threads, at most ``size`` at once, each caller
    waiting no longer than its timeout (daemon: a lookup that never ends must
    not hold the process at exit, as a ThreadPoolExecutor's workers would)."""

    def __init__(self, size: int = LOOKUPS_AT_ONCE) -> None:
        self._slots = threading.BoundedSemaphore(size)

    def run(self, resolver: Resolver, host: str, port: int, timeout: float) -> Sequence[str]:
        ends = time.monotonic() + timeout
        if not self._slots.acquire(timeout=max(timeout, 0.0)):
            raise ResolveTimeout
        outcome: list[Sequence[str] | BaseException] = []
        done = threading.Event()

        def lookup() -> None:
            try:
                outcome.append(resolver(host, port))
            except BaseException as exc:  # handed to the caller, if it still waits
                outcome.append(exc)
            finally:
                self._slots.release()
                done.set()

        threading.Thread(target=lookup, name="egress-resolve", daemon=True).start()
        if not done.wait(max(ends - time.monotonic(), 0.0)):
            raise ResolveTimeout
        (result,) = outcome
        if isinstance(result, BaseException):
            raise result
        return result


# The process's one bound on lookups in flight.
LOOKUPS = Lookups()


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
    lookups: Lookups = field(default=LOOKUPS, compare=False)

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

    def resolve(self, host: str, port: int, timeout: float | None = None) -> list[Address]:
        """``host``'s addresses, every one of them checked; refuses the lot if
        any is refused (a name must not mix public and internal answers).
        ``timeout``: raise ``ResolveTimeout`` once it has passed (None: wait)."""
        literal = _literal(host)
        if literal is not None:
            self.check(literal)
            return [literal]
        try:
            answer = (
                self.resolver(host, port)
                if timeout is None
                else self.lookups.run(self.resolver, host, port, timeout)
            )
            found = [ip_address(a.partition("%")[0]) for a in answer]
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
# Every address: for the few URLs only the operator sets (identity's JWKS for
# the other services), which are internal by design; lookups stay bounded.
ANY_ADDRESS = Egress(parse_networks("0.0.0.0/0,::/0"))
