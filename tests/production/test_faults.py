"""Real faults: a service killed mid-load, PostgreSQL stopped and started, the
SMTP server and SMS gateway down, an agency's webhook receiver down, failing or
slow. Each test ends by checking that nothing accepted was lost or duplicated
and that the ledger balances."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from gaap.notify.v1 import notify_pb2, notify_pb2_grpc
from gaap.payments.v1 import payments_pb2, payments_pb2_grpc
from sqlalchemy.orm import Session, sessionmaker

from services.identity.bootstrap import open_identity
from services.identity.settings import IdentitySettings
from services.notify.adapters import tables as notify_tables
from services.payments.adapters import tables as payment_tables
from services.runtime import db
from services.runtime.config import PlatformSettings
from tests.integration.notify.support import SMS_KEY, SmtpServer, run_worker, worker_settings
from tests.integration.payments.support import (
    Agency,
    Clock,
    assert_ledger_consistent,
    payments_service,
)
from tests.production.fleet import Fleet, SmsProvider, base_environment, token, wait_until
from tests.production.logcheck import assert_no_secrets
from tests.production.private_postgres import private_postgres
from tests.support import databases
from tests.support.databases import SIBLINGS, for_service
from tests.support.devstack import free_ports
from tests.support.platform import Platform, bearer, running_platform


def _sessions(url: str) -> sessionmaker[Session]:
    return db.session_factory(db.create_engine(url))


def _create(stub: Any, access: Any, key: str, timeout: float = 5) -> payments_pb2.Payment:
    payment: payments_pb2.Payment = stub.CreatePayment(
        payments_pb2.CreatePaymentRequest(
            amount=1000 + len(key),
            currency="GBP",
            reference=key[-20:],
            description="Licence fee",
            return_url="https://agency.example/done",
            idempotency_key=key,
        ),
        metadata=access,
        timeout=timeout,
    )
    return payment


def _payments_fleet(folder: Path, database_url: str) -> tuple[Fleet, tuple[str, str]]:
    """identity and payments as real processes on ``database_url``, and an agency."""
    (issuer_port,) = free_ports(1)
    issuer = f"http://127.0.0.1:{issuer_port}"
    fleet = Fleet(folder, base_environment(folder, database_url, issuer=issuer))
    fleet.replica("identity", "identity", IDENTITY_HTTP_ADDRESS=f"127.0.0.1:{issuer_port}")
    fleet.replica(
        "payments",
        "payments",
        GAAP_JWKS_URL=issuer + "/.well-known/jwks.json",
        PAYMENTS_CREATE_RATE_PER_SECOND="1000",
    )
    fleet.start_all()
    admin = open_identity(
        PlatformSettings(issuer=issuer, var_dir=folder), IdentitySettings(database_url=database_url)
    )
    try:
        created = admin.registry.create(
            name="Fault agency", scopes=["payments:create"], mode="test"
        )
    finally:
        admin.database.close()
    assert created.client_secret
    return fleet, (created.agency.client_id, created.client_secret)


def _load(
    fleet: Fleet,
    access: Any,
    keys: list[str],
    accepted: dict[str, str],
    codes: Counter[str],
    stop: threading.Event,
) -> None:
    """Create payments with ``keys`` in order until ``stop``; record what was accepted."""
    for key in keys:
        if stop.is_set():
            return
        try:
            stub = payments_pb2_grpc.PaymentsServiceStub(fleet.channel("payments"))
            accepted[key] = _create(stub, access, key).id
        except grpc.RpcError as exc:
            codes[exc.code().name] += 1
            time.sleep(0.05)
        except ValueError:  # the channel was closed under us by a kill
            codes["CLOSED"] += 1


def _replay_and_check(
    fleet: Fleet,
    access: Any,
    keys: list[str],
    accepted: dict[str, str],
    database_url: str,
    tenant: str,
) -> None:
    """Every key again: the accepted ones answer with their original payment, the
    others are created now; one payment per key, and the ledger balances."""
    stub = payments_pb2_grpc.PaymentsServiceStub(fleet.channel("payments"))
    replayed = {key: _create(stub, access, key, timeout=30).id for key in keys}
    for key, payment_id in accepted.items():
        assert replayed[key] == payment_id, key
    assert len(set(replayed.values())) == len(keys)
    sessions = _sessions(for_service(database_url, "payments"))
    with sessions() as session:
        count = session.scalar(
            sa.select(sa.func.count()).where(payment_tables.payments.c.tenant == tenant)
        )
    assert count == len(keys)
    assert_ledger_consistent(sessions)
    sessions.kw["bind"].dispose()


def test_payments_killed_mid_load_loses_and_duplicates_nothing(
    tmp_path: Path, postgres_server: str
) -> None:
    with databases.fresh_postgres_database(postgres_server) as database_url:
        fleet, agency = _payments_fleet(tmp_path, database_url)
        try:
            access = bearer(token(fleet.replicas["identity"].http, *agency))
            keys = [f"kill-{n}-{uuid.uuid4().hex[:6]}" for n in range(60)]
            accepted: dict[str, str] = {}
            codes: Counter[str] = Counter()
            stop = threading.Event()
            loader = threading.Thread(
                target=_load, args=(fleet, access, keys, accepted, codes, stop)
            )
            loader.start()
            wait_until(lambda: len(accepted) >= 15, what="load to be under way")
            fleet.kill("payments")  # SIGKILL: no graceful anything
            fleet.start("payments")
            fleet.wait_serving("payments")
            loader.join(120)
            assert not loader.is_alive()
            # What a client sees of the kill: the server gone (UNAVAILABLE), or its channel
            # closed under a call about to start (CLOSED) or already in flight (CANCELLED,
            # "Channel closed!"). Whatever it saw, the replay below proves nothing was lost.
            assert set(codes) <= {"UNAVAILABLE", "CLOSED", "CANCELLED"}, codes
            _replay_and_check(fleet, access, keys, accepted, database_url, agency[0])
            assert_no_secrets(fleet.log_records(), [agency[1]])
        finally:
            fleet.stop_all()


def test_postgresql_stopped_and_started_calls_fail_unavailable_then_recover(
    tmp_path: Path,
) -> None:
    # /tmp itself, not pytest's root-only folder: the postgres user must reach it.
    folder = Path(tempfile.mkdtemp(prefix="gaap-pg-", dir="/tmp"))
    try:
        with private_postgres(folder) as cluster:
            database_url = cluster.create_databases("gaap_faults", SIBLINGS)
            fleet, agency = _payments_fleet(tmp_path, database_url)
            try:
                access = bearer(token(fleet.replicas["identity"].http, *agency))
                stub = payments_pb2_grpc.PaymentsServiceStub(fleet.channel("payments"))
                keys = [f"pg-{n}" for n in range(20)]
                accepted = {k: _create(stub, access, k).id for k in keys[:10]}
                pids = {n: r.process.pid for n, r in fleet.replicas.items() if r.process}

                cluster.stop()
                codes: Counter[str] = Counter()
                for key in keys[10:15]:
                    with pytest.raises(grpc.RpcError) as caught:
                        _create(stub, access, key, timeout=20)
                    codes[caught.value.code().name] += 1
                assert codes == Counter({"UNAVAILABLE": 5})

                cluster.start()

                def recovered() -> bool:
                    error: grpc.RpcError | None = None
                    try:
                        accepted[keys[15]] = _create(stub, access, keys[15]).id
                    except grpc.RpcError as exc:
                        error = exc
                    if error is not None:
                        assert error.code() == grpc.StatusCode.UNAVAILABLE
                    return error is None

                wait_until(recovered, timeout=60, what="payments to reconnect by itself")
                # The same processes: nothing was restarted.
                assert {n: r.process.pid for n, r in fleet.replicas.items() if r.process} == pids
                _replay_and_check(fleet, access, keys, accepted, database_url, agency[0])
            finally:
                fleet.stop_all()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(database_url, tmp_path_factory.mktemp("var")) as running:
        yield running


def test_smtp_and_sms_down_notifications_retried_and_delivered_once_back(
    platform: Platform, database_url: str
) -> None:
    agency = platform.secret_agency(scopes=["notify:send", "notify:templates"])
    access = bearer(platform.token(agency))
    stub = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
    templates = {}
    for channel, subject in ((notify_pb2.CHANNEL_EMAIL, "Notice"), (notify_pb2.CHANNEL_SMS, "")):
        templates[channel] = stub.CreateTemplate(
            notify_pb2.CreateTemplateRequest(
                channel=channel,
                name=f"Fault {channel}",
                contents=[notify_pb2.TemplateContent(language="en", subject=subject, body="Hi")],
                idempotency_key=f"fault-{channel}",
            ),
            metadata=access,
        ).id
    emails = [
        stub.SendEmail(
            notify_pb2.SendEmailRequest(
                template_id=templates[notify_pb2.CHANNEL_EMAIL],
                email_address=f"c{n}@example.gov",
                idempotency_key=f"fe{n}",
            ),
            metadata=access,
        ).id
        for n in range(4)
    ]
    texts = [
        stub.SendSms(
            notify_pb2.SendSmsRequest(
                template_id=templates[notify_pb2.CHANNEL_SMS],
                phone_number="07912 345678",
                idempotency_key=f"fs{n}",
            ),
            metadata=access,
        ).id
        for n in range(4)
    ]
    (smtp_port,) = free_ports(1)  # nothing listens there yet: the SMTP server is down
    sms = SmsProvider(SMS_KEY)
    sms.down = True
    clock = Clock()
    clock.now = datetime.now(UTC)  # within the retry period of what was just sent
    settings = worker_settings(
        database_url,
        smtp_port,
        sms.url.removesuffix("/messages"),
        platform.notify.http_url,
        deliver_test_mode=True,
    )
    sessions = _sessions(for_service(database_url, "notify"))
    n = notify_tables.notifications.c
    mine = n.id.in_([*emails, *texts])

    def pending() -> int:
        with sessions() as session:
            return int(
                session.scalar(
                    sa.select(sa.func.count()).where(mine, n.provider_message_id.is_(None))
                )
                or 0
            )

    smtp: SmtpServer | None = None
    try:
        for _ in range(2):  # two outages in a row: each retried on schedule
            run_worker(platform, settings, clock)
            assert pending() == 8
            clock.advance(timedelta(minutes=1))
        with sessions() as session:
            attempts = session.scalars(sa.select(n.attempts).where(mine)).all()
        assert attempts
        assert all(a >= 2 for a in attempts)
        # Both come back.
        smtp = SmtpServer(smtp_port).start()
        sms.down = False
        clock.advance(timedelta(minutes=5))
        run_worker(platform, settings, clock)
        assert pending() == 0
        delivered = Counter(str(m["X-GaaP-Notification-Id"]) for m in smtp.handler.messages)
        assert delivered == Counter(emails)
        assert Counter(r for r in sms.references if r in texts) == Counter(texts)
        # Another pass sends nothing again.
        clock.advance(timedelta(hours=1))
        run_worker(platform, settings, clock)
        assert len(smtp.handler.messages) == 4
    finally:
        if smtp is not None:
            smtp.stop()
        sms.stop()
        sessions.kw["bind"].dispose()


class FlakyReceiver:
    """An agency's webhook endpoint: ``mode`` is ok, 500 or slow (beyond the
    sender's 5 s timeout); ``stop``/``start`` take it off and back on its port."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.received: list[tuple[str, bytes]] = []
        (self.port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append((receiver.mode, body))
                if receiver.mode == "slow":
                    time.sleep(6)
                self.send_response(500 if receiver.mode == "500" else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def test_webhook_receiver_down_failing_or_slow_is_retried_on_schedule_and_recorded(
    platform: Platform, database_url: str
) -> None:
    receiver = FlakyReceiver()
    with payments_service(platform, database_url) as service:
        agency = Agency(service)
        agency.stub.CreateWebhookSubscription(
            payments_pb2.CreateWebhookSubscriptionRequest(url=receiver.url, idempotency_key="w"),
            metadata=agency.metadata,
        )
        payment = agency.create()
        deliveries, attempts = (
            payment_tables.webhook_deliveries.c,
            payment_tables.webhook_attempts.c,
        )

        def state() -> tuple[str, int]:
            with service.sessions() as session:
                row = session.execute(
                    sa.select(deliveries.state, deliveries.attempts).where(
                        deliveries.tenant == agency.client_id
                    )
                ).one()
            return str(row.state), int(row.attempts)

        start = service.clock()
        outbox = service.app.outbox
        try:
            outbox.deliver_due()  # down: nothing listens
            assert state()[1] == 1
            receiver.start()
            receiver.mode = "500"
            clock_steps = [timedelta(seconds=30), timedelta(seconds=30)]  # due after 1 minute
            service.clock.advance(clock_steps[0])
            outbox.deliver_due()
            assert state()[1] == 1  # not due yet: on schedule, not before
            service.clock.advance(clock_steps[1])
            outbox.deliver_due()
            assert state()[1] == 2
            receiver.mode = "slow"
            service.clock.advance(timedelta(minutes=5))
            outbox.deliver_due()
            assert state()[1] == 3
            receiver.mode = "ok"
            service.clock.advance(timedelta(hours=1))
            outbox.deliver_due()
            assert state() == ("succeeded", 4)
            service.clock.advance(timedelta(days=3))
            outbox.deliver_due()
            assert state() == ("succeeded", 4)  # delivered once, never again
        finally:
            receiver.stop()
        with service.sessions() as session:
            recorded = session.execute(
                sa.select(attempts.attempted_at, attempts.status_code, attempts.error)
                .join(payment_tables.webhook_deliveries, deliveries.id == attempts.delivery_id)
                .where(deliveries.tenant == agency.client_id)
                .order_by(attempts.id)
            ).all()
        offsets = [row.attempted_at - start for row in recorded]
        assert offsets == [
            timedelta(0),
            timedelta(minutes=1),
            timedelta(minutes=6),
            timedelta(hours=1, minutes=6),
        ]
        codes = [row.status_code for row in recorded]
        assert codes[0] is None
        assert recorded[0].error
        assert codes[1] == 500
        assert codes[2] is None
        assert recorded[2].error
        assert codes[3] == 200
        assert [mode for mode, _ in receiver.received].count("ok") == 1
        assert all(body == receiver.received[0][1] for _, body in receiver.received)
        assert_ledger_consistent(service.sessions)
        assert payment.id
