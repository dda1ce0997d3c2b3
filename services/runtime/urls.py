"""One parser for every URL an agency or an operator gives GaaP.

Webhook subscriptions (payments), status callbacks (notify), back-channel
logout URIs and redirect URIs (identity), payment return URLs and SMS provider
URLs are all checked here, so a URL that one service accepts is a URL every
HTTP client can send to: ``https://a..example/hook`` once passed a looser check
and then made the client raise mid-batch.

The rules (RFC 3986 with RFC 1123 host names, as a resolver will take them):

- an absolute ``https`` URL; ``http`` only for ``localhost`` and loopback
  literals (local development), or anywhere for an operator's own setting
  (``http="any"``: SMS providers, whose local stand-ins speak plain HTTP);
- printable ASCII outside the host; anything else percent-encoded (``%XX``);
- no user information (``user:password@``);
- the host: an IPv4 dotted quad, a bracketed IPv6 address (no zone), or a name
  of labels 1-63 characters long, 253 in all, no empty label (no trailing dot),
  encoded with IDNA 2008 as the HTTP client will encode it, so
  ``Bücher.example`` is sent to ``xn--bcher-kva.example``; a name whose last
  label is numeric (``127.1``, ``0x7f.1``, ``2130706433``) is refused, since
  resolvers read those as addresses;
- a port, if given, from 1 to 65535;
- at most 2000 characters; a fragment only where the caller allows one.

``check_target`` adds the egress rule for outbound targets: an IP literal must
be an address the ``Egress`` guard would connect to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address
from typing import Literal
from urllib.parse import urlsplit

import idna

from services.runtime.egress import Address, Egress
from services.runtime.errors import FieldViolation, InvalidArgument

MAX_URL = 2000
MAX_HOST = 253
MAX_LABEL = 63
LOOPBACK_NAME = "localhost"
DEFAULT_PORTS = {"https": 443, "http": 80}

# RFC 3986's unreserved and reserved characters, and '%' for escapes.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")

HTTPS_RULE = "must be an absolute https URL (http only for localhost, 127.0.0.1 or [::1])"
Http = Literal["loopback", "any"]  # where plain http is allowed


class UrlError(ValueError):
    """Why a URL is refused, worded for the person who typed it."""


@dataclass(frozen=True)
class WebUrl:
    text: str  # as given
    scheme: str
    host: str  # ASCII: IDNA-encoded and lower-case; an IPv6 literal without brackets
    port: int  # as given, or the scheme's default
    address: Address | None  # the host, when it is an IP literal

    @property
    def loopback(self) -> bool:
        return self.host == LOOPBACK_NAME or (self.address is not None and self.address.is_loopback)


def parse(value: str, *, http: Http = "loopback", fragment: bool = False) -> WebUrl:
    """The checked URL, or ``UrlError`` saying what is wrong."""
    https_rule = HTTPS_RULE if http == "loopback" else "must be an absolute http(s) URL"
    if not value:
        raise UrlError("required")
    if len(value) > MAX_URL:
        raise UrlError(f"at most {MAX_URL} characters")
    if not value.isprintable() or any(c.isspace() for c in value):
        raise UrlError("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # unbalanced brackets, a bad IPv6 literal
        raise UrlError(f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not value.lower().startswith(scheme + "://"):
        raise UrlError(https_rule)
    if "@" in parts.netloc:
        raise UrlError("must not contain credentials")
    if (parts.fragment or "#" in value) and not fragment:
        raise UrlError("must not contain a fragment")
    rest = value[len(scheme) + 3 + len(parts.netloc) :]
    if not _URL_CHARS.fullmatch(rest) or _BAD_ESCAPE.search(rest):
        raise UrlError("characters outside RFC 3986 must be percent-encoded (%XX)")
    raw_host, port = _host_and_port(parts.netloc, scheme)
    host, address = _host(raw_host)
    url = WebUrl(value, scheme, host, port, address)
    if scheme == "http" and not (http == "any" or url.loopback):
        raise UrlError(https_rule)
    return url


def _host_and_port(netloc: str, scheme: str) -> tuple[str, int]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise UrlError("the IPv6 address has no closing ']'")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise UrlError("nothing may follow the IPv6 address but a port")
        port_text = rest[1:] if rest else ""
        has_port = bool(rest)
    else:
        host, has_port_sep, port_text = netloc.rpartition(":")
        if not has_port_sep:
            host, port_text = netloc, ""
        has_port = bool(has_port_sep)
    if has_port:
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise UrlError("the port must be a number from 1 to 65535")
        return host, int(port_text)
    return host, DEFAULT_PORTS[scheme]


def _host(raw: str) -> tuple[str, Address | None]:
    if not raw:
        raise UrlError("must have a host")
    if raw.startswith("["):
        if "%" in raw:
            raise UrlError("an IPv6 host must not carry a zone (%)")
        try:
            v6 = IPv6Address(raw[1:-1])
        except ValueError:
            raise UrlError("the host is not a valid IPv6 address") from None
        return str(v6), v6
    try:
        # As the HTTP client encodes it (lower case, IDNA 2008, no further mapping).
        name = idna.encode(raw.lower()).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise UrlError(f"the host name is not valid ({exc})") from None
    labels = name.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            address = ip_address(name)
        except ValueError:
            raise UrlError("the host is neither a dotted IPv4 address nor a name") from None
        return str(address), address
    if len(name) > MAX_HOST:
        raise UrlError(f"the host name is longer than {MAX_HOST} characters")
    for label in labels:
        if not label:
            raise UrlError("the host name has an empty label")
        if len(label) > MAX_LABEL or not _LABEL.fullmatch(label):
            raise UrlError(
                f"each label of the host name is 1-{MAX_LABEL} letters, digits or inner hyphens"
            )
    return name, None


def problem(value: str, *, http: Http = "loopback", fragment: bool = False) -> str | None:
    """Why ``value`` is refused, or None."""
    try:
        parse(value, http=http, fragment=fragment)
    except UrlError as exc:
        return str(exc)
    return None


def check_target(value: str, egress: Egress) -> WebUrl:
    """A URL this platform will POST to: ``parse``'s rules, and an IP literal
    must be an address ``egress`` lets through (names are checked when a
    connection is made, against what they resolve to then)."""
    url = parse(value)
    if url.address is not None:
        why = egress.refusal(url.address)
        if why:
            raise UrlError(f"must not point at {why}")
    return url


def target_violations(field: str, value: str, egress: Egress) -> list[FieldViolation]:
    try:
        check_target(value, egress)
    except UrlError as exc:
        return [FieldViolation(field, str(exc))]
    return []


def require_target(field: str, value: str, egress: Egress) -> None:
    """``check_target`` as the API's INVALID_ARGUMENT with the field named."""
    violations = target_violations(field, value, egress)
    if violations:
        raise InvalidArgument.from_violations(violations)
