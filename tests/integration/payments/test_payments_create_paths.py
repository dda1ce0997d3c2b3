"""CreatePayment's effects, whichever path writes them: on PostgreSQL one
statement (services/payments/adapters/direct.py), on SQLite the general
transaction. Identical racing requests on two replicas, an expired key, and the
``payment.created`` webhook queued only for subscriptions that want it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from gaap.payments.v1 import payments_pb2 as pb

from services.payments.adapters import tables as t
from tests.integration.payments.support import (
    Agency,
    Payments,
    assert_ledger_consistent,
    payments_service,
)
from tests.support.platform import Platform


@pytest.fixture(autouse=True)
def ledger_balances(payments: Payments) -> Iterator[None]:
    yield
    assert_ledger_consistent(payments.sessions)


def test_identical_creates_racing_on_two_replicas_make_one_payment(
    payments: Payments, platform: Platform, database_url: str
) -> None:
    agency = Agency(payments)
    request = pb.CreatePaymentRequest(
        amount=1234,
        reference="RACE-1",
        description="Racing fee",
        return_url="https://agency.example/done",
        idempotency_key="race-key",
    )
    with payments_service(platform, database_url) as replica:
        stubs = [payments.stub(), replica.stub()]

        def create(i: int) -> str:
            found: pb.Payment = stubs[i % 2].CreatePayment(request, metadata=agency.metadata)
            return found.id

        with ThreadPoolExecutor(max_workers=12) as pool:
            ids = set(pool.map(create, range(24)))
    assert len(ids) == 1
    (payment_id,) = ids
    listed = agency.stub.ListPayments(pb.ListPaymentsRequest(), metadata=agency.metadata)
    assert [p.id for p in listed.payments] == [payment_id]
    events = agency.stub.ListPaymentEvents(
        pb.ListPaymentEventsRequest(payment_id=payment_id), metadata=agency.metadata
    )
    assert [e.type for e in events.events] == ["payment.created"]


def test_an_expired_key_is_free_again(payments: Payments) -> None:
    agency = Agency(payments)
    first = agency.create(idempotency_key="old-key", amount=500)
    with payments.sessions.begin() as session:
        k = t.idempotency_keys.c
        session.execute(
            t.idempotency_keys.update()
            .where(k.tenant == agency.client_id, k.key == "old-key")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    second = agency.create(idempotency_key="old-key", amount=700)
    assert second.id != first.id
    assert second.amount == 700
    # The reclaimed key now answers with the new payment.
    assert agency.create(idempotency_key="old-key", amount=700).id == second.id


def test_created_webhook_is_queued_only_for_subscriptions_that_want_it(
    payments: Payments,
) -> None:
    agency = Agency(payments)

    def subscribe(key: str, *types: str) -> str:
        created = agency.stub.CreateWebhookSubscription(
            pb.CreateWebhookSubscriptionRequest(
                url="https://agency.example/hook", event_types=list(types), idempotency_key=key
            ),
            metadata=agency.metadata,
        )
        return str(created.subscription.id)

    every = subscribe("s-all")
    created_only = subscribe("s-created", "payment.created")
    succeeded_only = subscribe("s-succeeded", "payment.succeeded")
    disabled = subscribe("s-disabled", "payment.created")
    agency.stub.DisableWebhookSubscription(
        pb.DisableWebhookSubscriptionRequest(subscription_id=disabled, idempotency_key="d"),
        metadata=agency.metadata,
    )
    other = Agency(payments)
    subscribe_other = other.stub.CreateWebhookSubscription(
        pb.CreateWebhookSubscriptionRequest(url="https://other.example/hook", idempotency_key="o"),
        metadata=other.metadata,
    )

    payment = agency.create()

    d = t.webhook_deliveries.c
    with payments.sessions() as session:
        rows = session.execute(
            sa.select(
                d.subscription_id, d.event_id, d.event_type, d.body, d.state, d.attempts
            ).where(d.tenant.in_([agency.client_id, other.client_id]))
        ).all()
    assert sorted(r.subscription_id for r in rows) == sorted([every, created_only])
    assert subscribe_other.subscription.id not in {r.subscription_id for r in rows}
    assert succeeded_only not in {r.subscription_id for r in rows}
    assert len({r.event_id for r in rows}) == 1
    for row in rows:
        assert (row.event_type, row.state, row.attempts) == ("payment.created", "pending", 0)
        body = json.loads(row.body)
        assert body["id"] == row.event_id
        assert body["type"] == "payment.created"
        assert body["payment"]["id"] == payment.id
        assert body["payment"]["amount"] == payment.amount
        assert body["payment"]["state"] == "PAYMENT_STATE_CREATED"
        # Encoded as the outbox encodes every payload (compact, sorted keys).
        assert bytes(row.body) == json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
