"""Attacks on the edges of the HTTP listeners, shown refused: a spoofed
X-Forwarded-For or X-Forwarded-Proto from a peer that is not a trusted proxy,
citizens behind one trusted proxy sharing a throttle, /metrics on the public
port, a CSRF token minted for one form posted to another, bodies too large
(declared, or streamed without end), and /authorize filling the pending table.

The platform trusts 10.0.0.0/8 as its proxies; the test process connects from
127.0.0.1, which it does not trust. ``served`` drives identity's HTTP app (what
uvicorn serves) with a chosen peer address, as if from behind the ingress.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from services.identity.adapters import tables as identity_tables
from services.identity.adapters.unit_of_work import identity_transactions
from services.identity.domain.audit import EventType
from services.identity.service_layer.pending import PendingStore
from services.runtime.db_types import utcnow
from services.runtime.json_gateway import MAX_BODY
from tests.integration.oidc.conftest import make_rp
from tests.support.platform import Platform, running_platform

PROXIES = "10.0.0.0/8"  # the "ingress"; loopback is not a trusted proxy here
INGRESS = "10.1.2.3"
POSTS_PER_IP = 2
AUTHORIZATIONS_PER_IP = 3
FORM_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(
        database_url,
        tmp_path_factory.mktemp("edges"),
        trusted_proxies=PROXIES,
        posts_per_ip_per_hour=POSTS_PER_IP,
        authorizations_per_ip_per_hour=AUTHORIZATIONS_PER_IP,
    ) as running:
        yield running


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:2000]
    return unescape(found.group(1))


def _throttled_ips(platform: Platform) -> set[str | None]:
    events = identity_tables.audit_events
    with platform.admin.database.sessions() as session:
        rows = session.execute(
            sa.select(events.c.ip).where(events.c.type == EventType.THROTTLED.value)
        )
        return {row.ip for row in rows}


# -- client addresses: trusted proxies only ------------------------------------------


def test_a_spoofed_forwarded_header_from_an_untrusted_peer_changes_nothing(
    platform: Platform,
) -> None:
    statuses = []
    with httpx.Client(base_url=platform.identity.http_url) as browser:
        for n in range(POSTS_PER_IP + 2):
            # A fresh "client address" and scheme on every post: all ignored.
            spoof = {"x-forwarded-for": f"198.51.100.{n}", "x-forwarded-proto": "https"}
            page = browser.get("/account/signin", headers=spoof)
            assert "secure" not in page.headers.get("set-cookie", "").lower()
            posted = browser.post(
                "/account/signin",
                data={
                    "csrf_token": _csrf(page),
                    "email": f"nobody-{n}@example.gov.test",
                    "password": "not the password",
                },
                headers=spoof,
            )
            statuses.append(posted.status_code)
    assert statuses == [400] * POSTS_PER_IP + [429, 429]  # one bucket: the peer's
    ips = _throttled_ips(platform)
    assert "127.0.0.1" in ips
    assert not any(ip and ip.startswith("198.51.100.") for ip in ips)


async def _post_signins(platform: Platform, forwarded_for: list[str]) -> list[int]:
    """One account sign-in post per X-Forwarded-For value, through the ingress."""
    transport = httpx.ASGITransport(app=platform.identity.http.app, client=(INGRESS, 40000))
    statuses = []
    for n, chain in enumerate(forwarded_for):
        headers = {"x-forwarded-for": chain, "x-forwarded-proto": "https"}
        async with httpx.AsyncClient(transport=transport, base_url="http://id.test") as client:
            page = await client.get("/account/signin", headers=headers)
            # Plain HTTP from the ingress, https as the ingress saw it: Secure.
            assert "secure" in page.headers["set-cookie"].lower()
            client.cookies.set("gaap_session", page.cookies["gaap_session"])
            posted = await client.post(
                "/account/signin",
                data={
                    "csrf_token": _csrf(page),
                    "email": f"someone-{n}-{secrets.token_hex(3)}@example.gov.test",
                    "password": "not the password",
                },
                headers=headers,
            )
            statuses.append(posted.status_code)
    return statuses


def test_behind_a_trusted_proxy_each_citizen_has_a_bucket_of_their_own(
    platform: Platform,
) -> None:
    first, second = "203.0.113.10", "203.0.113.11"
    # The first citizen uses up their posts; a left-most entry they write
    # themselves does not move them to another bucket.
    chains = [first, first, f"203.0.113.99, {first}"]
    assert asyncio.run(_post_signins(platform, chains)) == [400, 400, 429]
    # The second citizen, through the same proxy, is not throttled, even when
    # claiming the first one's address on the left.
    assert asyncio.run(_post_signins(platform, [second, f"{first}, {second}"])) == [400, 400]
    ips = _throttled_ips(platform)
    assert first in ips
    assert INGRESS not in ips
    assert second not in ips


def test_an_ipv6_client_rotating_through_its_64_stays_in_one_bucket(platform: Platform) -> None:
    # One household, or one attacker, holds the whole /64: a fresh address on
    # every post must not be a fresh bucket.
    prefix = "2001:db8:613:64"
    rotating = [f"{prefix}::1", f"{prefix}::2", f"{prefix}:ffff:ffff:ffff:ffff"]
    assert asyncio.run(_post_signins(platform, rotating)) == [400, 400, 429]
    # The next /64 is someone else.
    assert asyncio.run(_post_signins(platform, ["2001:db8:613:65::1"])) == [400]
    # The audit event names the address the post came from, not the /64.
    ips = _throttled_ips(platform)
    assert f"{prefix}:ffff:ffff:ffff:ffff" in ips
    assert not any(ip and "/" in ip for ip in ips)


# -- /metrics only on its own listener ---------------------------------------------


@pytest.mark.parametrize("service", ["identity", "payments", "notify"])
def test_metrics_are_not_served_on_the_public_http_port(platform: Platform, service: str) -> None:
    running = platform.service(service)
    assert httpx.get(running.http_url + "/metrics").status_code == 404
    assert httpx.get(running.http_url + "/healthz").status_code == 200  # probes stay
    scraped = httpx.get(running.metrics_url + "/metrics")
    assert scraped.status_code == 200
    assert "process_cpu_seconds_total" in scraped.text
    assert f"gaap_{service}_" in scraped.text
    assert httpx.get(running.metrics_url + "/healthz").status_code == 404  # metrics alone
    assert urlsplit(running.metrics_url).port != urlsplit(running.http_url).port


# -- CSRF: the endpoint decides the form ------------------------------------------------


def test_a_csrf_token_for_one_form_is_refused_by_another(platform: Platform) -> None:
    with httpx.Client(base_url=platform.identity.http_url) as browser:
        reset_token = _csrf(browser.get("/reset"))
        signin_token = _csrf(browser.get("/account/signin"))
        crossed = browser.post(
            "/account/signin",
            data={
                "purpose": "reset",  # what the post claims does not matter
                "csrf_token": reset_token,
                "email": "someone@example.gov.test",
                "password": "not the password",
            },
        )
        assert crossed.status_code == 403
        crossed = browser.post(
            "/reset",
            data={
                "purpose": "account_signin",
                "csrf_token": signin_token,
                "email": "someone@example.gov.test",
            },
        )
        assert crossed.status_code == 403
        own = browser.post(
            "/reset", data={"csrf_token": reset_token, "email": "someone@example.gov.test"}
        )
        assert own.status_code != 403


# -- bodies: refused as soon as they are too large -----------------------------------

CALLER = "/gaap.common.v1.CallerService/GetCallerIdentity"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# (service, path, content type, the path's limit)
LIMITS = [
    ("identity", "/oauth2/token", FORM, FORM_LIMIT),
    ("identity", "/signin?auth=x", FORM, FORM_LIMIT),
    ("identity", CALLER, JSON, MAX_BODY),
    ("payments", "/pay/x/card", FORM, FORM_LIMIT),
    ("payments", "/webhooks/stripe", JSON, 512 * 1024),
    ("payments", CALLER, JSON, MAX_BODY),
    ("notify", "/receipts/sms/local", JSON, FORM_LIMIT),
    ("notify", CALLER, JSON, MAX_BODY),
]
# Those that read the body first (the others answer 401 or 404 without reading).
READ_FIRST = [case for case in LIMITS if case[1] in ("/oauth2/token", "/pay/x/card", CALLER)]


def _raw_post(url: str, path: str, content_type: str, head: str, body: bytes) -> int:
    """Send the request head and ``body`` as they are, then read the status line.

    The body is never finished, so only a server that answers before reading it
    all can answer at all (a server that waits makes the read time out)."""
    parts = urlsplit(url)
    assert parts.hostname
    assert parts.port
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
            f"Content-Type: {content_type}\r\nAuthorization: Bearer x\r\n{head}\r\n".encode()
        )
        if body:
            sock.sendall(body)
        reply = b""
        while b"\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ", 2)[1])


@pytest.mark.parametrize(("service", "path", "content_type", "limit"), LIMITS)
def test_a_declared_length_over_the_limit_is_refused_before_any_body(
    platform: Platform, service: str, path: str, content_type: str, limit: int
) -> None:
    url = platform.service(service).http_url
    assert _raw_post(url, path, content_type, f"Content-Length: {limit + 1}\r\n", b"") == 413


@pytest.mark.parametrize(("service", "path", "content_type", "limit"), READ_FIRST)
def test_a_streamed_body_is_refused_at_the_first_byte_over_the_limit(
    platform: Platform, service: str, path: str, content_type: str, limit: int
) -> None:
    piece = 16 * 1024
    chunks = b"".join(
        f"{piece:x}\r\n".encode() + b"a" * piece + b"\r\n" for _ in range(limit // piece + 1)
    )
    # Chunked, with no final chunk: the body never ends.
    url = platform.service(service).http_url
    assert _raw_post(url, path, content_type, "Transfer-Encoding: chunked\r\n", chunks) == 413


# -- /authorize: bounded per client address -------------------------------------------------


def test_authorize_is_throttled_per_client_address_and_its_rows_expire(
    platform: Platform,
) -> None:
    rp = make_rp(platform)
    statuses = []
    for _ in range(AUTHORIZATIONS_PER_IP + 2):
        # A fresh browser each time: no cookie to key on, only the address.
        with httpx.Client() as browser:
            statuses.append(browser.get(rp.auth_request().url).status_code)
    assert statuses == [303] * AUTHORIZATIONS_PER_IP + [429, 429]
    table = identity_tables.pending_authorizations
    count = sa.select(sa.func.count()).select_from(table).where(table.c.client_id == rp.client_id)
    with platform.admin.database.sessions() as session:
        assert session.execute(count).scalar_one() == AUTHORIZATIONS_PER_IP
    # ...and what was inserted goes: expired rows are purged.
    later = PendingStore(
        identity_transactions(platform.admin.database.sessions),
        clock=lambda: utcnow() + timedelta(minutes=31),
    )
    assert later.purge() >= AUTHORIZATIONS_PER_IP
    with platform.admin.database.sessions() as session:
        assert session.execute(count).scalar_one() == 0


# -- the JSON gateway's 413: a Connect error ------------------------------------------------


def _exchange(url: str, path: str, head: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send a request head and ``body`` as they are; read back the whole answer
    (its headers and ``Content-Length`` bytes of body)."""
    parts = urlsplit(url)
    assert parts.hostname
    assert parts.port
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
            f"Content-Type: {JSON}\r\nAuthorization: Bearer x\r\n{head}\r\n".encode()
        )
        if body:
            sock.sendall(body)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(4096)
            assert chunk, reply
            reply += chunk
        top, _, rest = reply.partition(b"\r\n\r\n")
        status_line, *lines = top.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        while len(rest) < int(headers["content-length"]):
            chunk = sock.recv(4096)
            assert chunk, rest
            rest += chunk
    return int(status_line.split(" ", 2)[1]), headers, rest


@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
@pytest.mark.parametrize("service", ["identity", "payments", "notify"])
def test_a_json_client_gets_a_connect_error_for_a_body_too_large(
    platform: Platform, service: str, streamed: bool
) -> None:
    if streamed:
        piece = 256 * 1024
        head = "Transfer-Encoding: chunked\r\n"
        body = b"".join(
            f"{piece:x}\r\n".encode() + b"a" * piece + b"\r\n" for _ in range(MAX_BODY // piece + 1)
        )
    else:
        head, body = f"Content-Length: {MAX_BODY + 1}\r\n", b""
    url = platform.service(service).http_url
    status, headers, answer = _exchange(url, CALLER, head, body)
    assert status == 413
    assert headers["content-type"] == JSON
    assert json.loads(answer) == {
        "code": "resource_exhausted",
        "message": f"the request body is larger than {MAX_BODY} bytes",
    }
