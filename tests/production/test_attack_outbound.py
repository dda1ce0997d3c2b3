"""Attacks through the requests GaaP makes to addresses agencies give it (issue 13,
items 3 and 7): one agency's broken or hostile webhook URL must not stop other
agencies' deliveries, and no agency may aim the platform at its own network.

The delivery tests drive the shared ``webhooks.Outbox`` (payments' webhooks,
notify's callbacks and identity's back-channel logouts all run on it) against
receivers on 127.0.0.1 reached through names that an injected resolver answers,
so no test depends on DNS. Registration is refused through each service's gRPC
API and through ``gaap-admin``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from gaap.identity.v1 import identity_pb2
from gaap.notify.v1 import notify_pb2, notify_pb2_grpc
from gaap.payments.v1 import payments_pb2, payments_pb2_grpc
from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters.sms_http import HttpSmsProvider
from services.notify.domain.providers import RetryableError, SmsMessage
from services.payments.domain import events
from services.runtime import db, egress_http, urls, webhook_tables, webhooks
from services.runtime.config import PlatformSettings
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.egress import LOOPBACK, PUBLIC_ONLY, Egress, system_resolver
from tests.integration.identity_ops.support import OPERATOR_SCOPES, caller, violations
from tests.integration.test_admin_cli import admin, identity_database
from tests.support import databases
from tests.support import platform as platform_support
from tests.support.databases import for_service
from tests.support.platform import Platform, bearer, running_platform

BAD_URL = "https://a..example/hook"
INTERNAL = [
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/hook",
    "http://127.0.0.1:8080/hook",
    "https://[::1]/hook",
    "https://100.64.0.1/hook",
    "https://224.0.0.1/hook",
    "https://[::ffff:127.0.0.1]/hook",
]
ENDLESS = 64 * 1024 * 1024  # what the endless receiver would send if let
CAP = 16 * 1024


# -- receivers ------------------------------------------------------------------------


class Receivers:
    """One HTTP server on 127.0.0.1; the path says how it behaves."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.released = threading.Event()
        self.slow_saw_release: list[bool] = []
        self.endless_written: list[int] = []
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                receivers.hits.append(f"{self.headers['host']}{self.path}")
                getattr(self, "_" + self.path.strip("/").split("/")[0], self._ok)()

            def _ok(self) -> None:
                self._answer(200)

            def _slow(self) -> None:
                # Answers only once another receiver has been reached: a bound,
                # not a timing (the old serial outbox never gets there).
                released = receivers.released.wait(20)
                receivers.slow_saw_release.append(released)
                self._answer(200 if released else 503)

            def _fast(self) -> None:
                receivers.released.set()
                self._answer(200)

            def _redirect(self) -> None:
                self.send_response(302)
                self.send_header("location", "/landing")
                self.send_header("content-length", "0")
                self.end_headers()

            def _endless(self) -> None:
                self.send_response(200)
                self.end_headers()  # HTTP/1.0: the body ends when the connection does
                written = 0
                try:
                    while written < ENDLESS:
                        self.wfile.write(b"x" * 65536)
                        written += 65536
                except OSError:
                    pass
                receivers.endless_written.append(written)

            def _answer(self, code: int) -> None:
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}/{path}"


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    running = Receivers()
    yield running
    running.server.shutdown()


def names_to_loopback(host: str, port: int) -> Sequence[str]:
    """The injected resolver: ``*.test.example`` is this machine, the rest is DNS."""
    if host.endswith(".test.example"):
        return ["127.0.0.1"]
    return system_resolver(host, port)


LOCAL = Egress.from_setting(LOOPBACK, resolver=names_to_loopback)


# -- the outbox on its own database -------------------------------------------------------


@pytest.fixture(scope="module")
def outbox_db(database_url: str) -> Iterator[tuple[sessionmaker[Session], sa.Table, sa.Table]]:
    metadata = sa.MetaData()
    deliveries, attempts = webhook_tables.define_tables(metadata)
    if database_url.startswith("sqlite"):
        fresh: Any = contextlib.nullcontext(for_service(database_url, "outbound"))
    else:
        fresh = databases.fresh_postgres_database(databases.require_postgres())
    with fresh as url:
        engine = db.create_engine(url)
        metadata.create_all(engine)
        yield db.session_factory(engine), deliveries, attempts
        engine.dispose()


def outbox(
    tables: tuple[sessionmaker[Session], sa.Table, sa.Table], sender: webhooks.Sender
) -> webhooks.Outbox:
    sessions, deliveries, attempts = tables
    return webhooks.Outbox(
        sessions,
        deliveries,
        attempts,
        prepare=webhooks.signed_json(lambda session, d: "whsec_test", "GaaP-Test/1"),
        policy=webhooks.RetryPolicy([timedelta(minutes=1)]),
        sender=sender,
    )


def enqueue(tables: tuple[sessionmaker[Session], sa.Table, sa.Table], *targets: str) -> list[str]:
    sessions, deliveries, _ = tables
    ids = []
    for i, url in enumerate(targets):
        with transaction(sessions) as session:
            ids.append(
                webhooks.Outbox.enqueue(
                    session,
                    deliveries,
                    tenant=f"ag_{uuid.uuid4().hex[:8]}",
                    subscription_id="whs_1",
                    url=url,
                    event_id=uuid.uuid4().hex,
                    event_type="payment.succeeded",
                    payload={"n": i},
                    # In this order: the old outbox sent one after the other.
                    now=utcnow() - timedelta(seconds=len(targets) - i),
                )
            )
    return ids


def outcome(
    tables: tuple[sessionmaker[Session], sa.Table, sa.Table], delivery_id: str
) -> tuple[str, list[webhooks.Attempt]]:
    sessions, deliveries, _ = tables
    box = outbox(tables, webhooks.http_sender(PUBLIC_ONLY))
    with sessions() as session:
        state = session.execute(
            sa.select(deliveries.c.state).where(deliveries.c.id == delivery_id)
        ).scalar_one()
        return state, box.attempts_of(session, delivery_id)


# -- item 3: one bad URL, one slow receiver, one endless answer ---------------------------------


def test_a_bad_url_is_its_own_failed_attempt_and_every_other_agency_is_delivered(
    outbox_db: tuple[sessionmaker[Session], sa.Table, sa.Table], receivers: Receivers
) -> None:
    good_before, bad, good_after = enqueue(
        outbox_db,
        receivers.url("before.test.example", "ok"),
        BAD_URL,
        receivers.url("after.test.example", "ok"),
    )
    assert outbox(outbox_db, webhooks.http_sender(LOCAL)).deliver_due() >= 3

    for delivered in (good_before, good_after):
        state, attempts = outcome(outbox_db, delivered)
        assert (state, [a.status_code for a in attempts]) == ("succeeded", [200])
    state, attempts = outcome(outbox_db, bad)
    assert state == "pending"  # retried on the policy's schedule, not forever at once
    assert [(a.status_code, a.error) for a in attempts] == [
        (None, "destination refused: the host name does not resolve")
    ]


def test_a_slow_receiver_does_not_hold_up_another(
    outbox_db: tuple[sessionmaker[Session], sa.Table, sa.Table], receivers: Receivers
) -> None:
    slow, fast = enqueue(
        outbox_db,
        receivers.url("slow.test.example", "slow"),
        receivers.url("fast.test.example", "fast"),
    )
    outbox(outbox_db, webhooks.http_sender(LOCAL)).deliver_due()
    # The slow receiver answered only after the fast one had been reached.
    assert receivers.slow_saw_release == [True]
    assert outcome(outbox_db, slow)[0] == outcome(outbox_db, fast)[0] == "succeeded"


def test_an_endless_answer_is_cut_at_the_cap(
    outbox_db: tuple[sessionmaker[Session], sa.Table, sa.Table], receivers: Receivers
) -> None:
    client = egress_http.client(LOCAL, timeout=10)
    reply = egress_http.post(
        client,
        receivers.url("endless.test.example", "endless"),
        content=b"{}",
        headers={},
        seconds=10,
        max_body=CAP,
    )
    assert (reply.status, len(reply.body), reply.truncated) == (200, CAP, True)

    (endless,) = enqueue(outbox_db, receivers.url("endless.test.example", "endless"))
    outbox(outbox_db, webhooks.http_sender(LOCAL, max_body=CAP)).deliver_due()
    assert outcome(outbox_db, endless)[0] == "succeeded"
    # The receiver found the connection closed long before it had sent it all.
    assert len(receivers.endless_written) == 2
    assert all(written < ENDLESS for written in receivers.endless_written)


# -- item 7: where the platform connects ------------------------------------------------------


def test_a_name_that_resolves_to_loopback_is_refused_when_connecting(
    outbox_db: tuple[sessionmaker[Session], sa.Table, sa.Table], receivers: Receivers
) -> None:
    # Both pass registration (names); what they resolve to is checked at connection.
    public_only = Egress(resolver=names_to_loopback)
    rebinding = receivers.url("rebinding.test.example", "rebinding")
    local = receivers.url("localhost", "local")
    for url in (rebinding.replace("http://", "https://"), local):
        urls.check_target(url, public_only)
    before = list(receivers.hits)
    ids = enqueue(outbox_db, rebinding, local)
    outbox(outbox_db, webhooks.http_sender(public_only)).deliver_due()

    assert receivers.hits == before  # nothing reached the receiver
    for delivery in ids:
        state, attempts = outcome(outbox_db, delivery)
        assert state == "pending"
        assert [a.error for a in attempts] == ["destination refused: a loopback address"]


def test_the_operators_allowance_lets_a_loopback_receiver_through(
    outbox_db: tuple[sessionmaker[Session], sa.Table, sa.Table], receivers: Receivers
) -> None:
    settings = PlatformSettings(allow_private_targets="127.0.0.0/8")
    (delivery,) = enqueue(outbox_db, receivers.url("127.0.0.1", "allowed"))
    outbox(outbox_db, webhooks.http_sender(settings.egress)).deliver_due()
    assert outcome(outbox_db, delivery)[0] == "succeeded"
    assert f"127.0.0.1:{receivers.port}/allowed" in receivers.hits


def test_a_redirect_is_not_followed(
    outbox_db: tuple[sessionmaker[Session], sa.Table, sa.Table], receivers: Receivers
) -> None:
    (delivery,) = enqueue(outbox_db, receivers.url("redirect.test.example", "redirect"))
    outbox(outbox_db, webhooks.http_sender(LOCAL)).deliver_due()
    _, attempts = outcome(outbox_db, delivery)
    assert [a.status_code for a in attempts] == [302]
    assert not any(hit.endswith("/landing") for hit in receivers.hits)


def test_an_sms_provider_on_an_internal_address_is_not_reached(receivers: Receivers) -> None:
    async def send() -> None:
        async with egress_http.async_client(PUBLIC_ONLY, timeout=5) as http:
            provider = HttpSmsProvider(
                "internal",
                receivers.url("127.0.0.1", "sms"),
                "key",
                sender="GaaP",
                receipts_url="https://notify.example/receipts/sms/internal",
                client=http,
            )
            await provider.send_sms(
                message=SmsMessage(notification_id="n1", to="+447700900123", body="hi")
            )

    before = list(receivers.hits)
    with pytest.raises(RetryableError, match="destination refused: a loopback address"):
        asyncio.run(send())
    assert receivers.hits == before


# -- registration through every API that takes a target ----------------------------------------


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    # As in production: no private range allowed (the tests' default allows loopback).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            platform_support,
            "settings_for",
            functools.partial(platform_support.settings_for, private_targets=""),
        )
        with running_platform(database_url, tmp_path_factory.mktemp("var")) as running:
            yield running


def _refused_with(call: Any, field: str) -> str:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value
    found = violations(caught.value)
    assert set(found) == {field}
    return found[field]


@pytest.mark.parametrize("url", [*INTERNAL, BAD_URL, "https://[::1"])
def test_internal_or_broken_targets_are_refused_at_registration(
    platform: Platform, url: str
) -> None:
    agency = platform.secret_agency()
    metadata = bearer(platform.token(agency))
    payments = payments_pb2_grpc.PaymentsServiceStub(platform.channel("payments"))
    _refused_with(
        lambda: payments.CreateWebhookSubscription(
            payments_pb2.CreateWebhookSubscriptionRequest(
                url=url,
                event_types=[events.WEBHOOK_EVENTS[0]],
                idempotency_key=uuid.uuid4().hex,
            ),
            metadata=metadata,
        ),
        "url",
    )
    notify = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
    _refused_with(
        lambda: notify.SetStatusCallback(
            notify_pb2.SetStatusCallbackRequest(url=url, idempotency_key=uuid.uuid4().hex),
            metadata=metadata,
        ),
        "url",
    )
    operator = caller(platform, OPERATOR_SCOPES)
    _refused_with(
        lambda: operator.stub.CreateAgency(
            identity_pb2.CreateAgencyRequest(
                name="Parking Permits",
                scopes=["openid"],
                redirect_uris=["https://parking.example.gov/callback"],
                backchannel_logout_uri=url,
                idempotency_key=uuid.uuid4().hex,
            ),
            metadata=operator.metadata,
        ),
        "backchannel_logout_uri",
    )


@pytest.mark.usefixtures(identity_database.__name__)
@pytest.mark.parametrize("url", [INTERNAL[0], INTERNAL[-1], BAD_URL])
def test_gaap_admin_refuses_an_internal_back_channel_logout_uri(
    tmp_path: Path, database_url: str, url: str
) -> None:
    result = admin(
        tmp_path,
        database_url,
        "create-agency",
        "--name",
        "Parking",
        "--scope",
        "openid",
        "--redirect-uri",
        "https://parking.example.gov/cb",
        "--backchannel-logout-uri",
        url,
        ok=False,
    )
    assert result.returncode == 2
    assert "backchannel_logout_uri" in result.stderr
