"""Helpers for payments' integration tests: a payments instance with a clock the
test moves, the hosted page driven over HTTP, and the ledger check."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import sqlalchemy as sa
from gaap.payments.v1 import payments_pb2 as pb
from gaap.payments.v1 import payments_pb2_grpc as pb_grpc
from sqlalchemy.orm import Session, sessionmaker

from services.payments.adapters import tables as t
from services.payments.bootstrap import PaymentsApp, open_payments, serve
from services.payments.settings import PaymentsSettings
from services.runtime import process
from services.runtime.process import RunningService
from tests.support.platform import Platform, bearer, server_settings

MAGIC = {
    "success": "4242 4242 4242 4242",
    "declined": "4000 0000 0000 0002",
    "expired": "4000 0000 0000 0069",
    "error": "4000 0000 0000 0119",
}
PUBLIC_URL = "http://127.0.0.1:8082"


class Clock:
    """A clock the test moves. It starts a day ahead of real time, so the
    platform's own payments instance (real clock, same database) never finds
    this one's pages, holds or webhooks due."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(days=1)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.now += delta


@dataclass
class Payments:
    """A payments service (real gRPC, real HTTP) with a movable clock."""

    platform: Platform
    app: PaymentsApp
    running: RunningService
    clock: Clock
    _stubs: dict[str, pb_grpc.PaymentsServiceStub] = field(default_factory=dict)

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.app.database.sessions

    def stub(self) -> pb_grpc.PaymentsServiceStub:
        if "stub" not in self._stubs:
            import grpc

            channel = grpc.insecure_channel(self.running.grpc_target)
            self._stubs["stub"] = pb_grpc.PaymentsServiceStub(channel)
        return self._stubs["stub"]

    def page_url(self, payment: pb.Payment) -> str:
        return payment.next_url.replace(PUBLIC_URL, self.running.http_url)


@contextmanager
def payments_service(platform: Platform, database_url: str, **overrides: Any) -> Iterator[Payments]:
    clock = Clock()
    settings = server_settings(
        PaymentsSettings,
        database_url,
        public_url=PUBLIC_URL,
        create_rate_per_second=overrides.pop("create_rate_per_second", 1000.0),
        read_rate_per_second=overrides.pop("read_rate_per_second", 1000.0),
        **overrides,
    )
    # The platform's own payments already migrated this database; this one
    # shares it, with a clock the test controls and no background jobs racing it.
    app = open_payments(platform.settings, settings, clock=clock)
    spec = serve(platform.settings, settings, app)
    spec.jobs = ()
    running = process.start(spec)
    try:
        yield Payments(platform, app, running, clock)
    finally:
        running.stop(grace=1)


class Agency:
    """An onboarded agency with a token and helpers for its calls."""

    def __init__(self, payments: Payments, mode: str = "test", scopes: Any = None) -> None:
        kwargs: dict[str, Any] = {"mode": mode}
        if scopes is not None:
            kwargs["scopes"] = scopes
        self.secret = payments.platform.secret_agency(**kwargs)
        self.client_id = self.secret.client_id
        self.metadata = bearer(payments.platform.token(self.secret))
        self.stub = payments.stub()
        self.payments = payments
        self._n = 0

    def key(self) -> str:
        self._n += 1
        return f"{self.client_id}-{self._n}-{id(self)}"

    def create(self, **fields: Any) -> pb.Payment:
        values: dict[str, Any] = {
            "amount": 1050,
            "reference": "REF-1",
            "description": "Passport fee",
            "return_url": "https://agency.example/done",
            "idempotency_key": self.key(),
        }
        values.update(fields)
        payment: pb.Payment = self.stub.CreatePayment(
            pb.CreatePaymentRequest(**values), metadata=self.metadata
        )
        return payment

    def get(self, payment_id: str) -> pb.Payment:
        payment: pb.Payment = self.stub.GetPayment(
            pb.GetPaymentRequest(payment_id=payment_id), metadata=self.metadata
        )
        return payment

    def pay(
        self, payment: pb.Payment, card: str = MAGIC["success"], confirm: bool = True
    ) -> httpx.Response:
        """Go through the hosted page as a citizen; returns the last response."""
        return pay_on_page(self.payments.page_url(payment), card, confirm=confirm)

    def paid(self, **fields: Any) -> pb.Payment:
        payment = self.create(**fields)
        self.pay(payment)
        return self.get(payment.id)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pay_on_page(url: str, card: str, *, confirm: bool = True) -> httpx.Response:
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        page = client.get(url)
        assert page.status_code == 200, page.text
        token = CSRF.search(page.text)
        assert token is not None, page.text
        submitted = client.post(
            url + "/card",
            data={
                "csrf_token": token.group(1),
                "card-number": card,
                "expiry": "12/39",
                "security-code": "123",
                "cardholder-name": "Ada Citizen",
            },
        )
        assert submitted.status_code == 303, submitted.text
        page = client.get(url)
        if not confirm:
            return page
        token = CSRF.search(page.text)
        if token is None:  # declined, expired, error: the outcome page
            return page
        return client.post(url + "/confirm", data={"csrf_token": token.group(1)})


def assert_ledger_consistent(sessions: sessionmaker[Session]) -> None:
    """The ledger sums to zero, every entry balances, and what it owes each
    agency for each payment equals captured minus successful refunds."""
    lines, pays, refunds = t.ledger_lines.c, t.payments.c, t.refunds.c
    with sessions() as session:
        total = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(lines.amount), 0)))
        assert total == 0
        unbalanced = session.execute(
            sa.select(lines.payment_id, lines.refund_id, lines.kind)
            .group_by(lines.payment_id, lines.refund_id, lines.kind)
            .having(sa.func.sum(lines.amount) != 0)
        ).all()
        assert unbalanced == []
        owed = dict(
            session.execute(
                sa.select(lines.payment_id, -sa.func.sum(lines.amount))
                .where(lines.account.like("agency:%"))
                .group_by(lines.payment_id)
            ).all()
        )
        refunded = dict(
            session.execute(
                sa.select(refunds.payment_id, sa.func.sum(refunds.amount))
                .where(refunds.state == "success")
                .group_by(refunds.payment_id)
            ).all()
        )
        for row in session.execute(
            sa.select(pays.id, pays.captured_amount, pays.refunded_amount, pays.state)
        ):
            expected = row.captured_amount - int(refunded.get(row.id, 0))
            assert int(owed.get(row.id, 0)) == expected, row.id
            if row.state != "success":
                assert row.captured_amount == 0
            assert row.refunded_amount <= row.captured_amount


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


class WebhookReceiver:
    """A local HTTP endpoint recording what it receives; answers ``status``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                receiver.received.append(
                    Received(body, {k.lower(): v for k, v in self.headers.items()})
                )
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
