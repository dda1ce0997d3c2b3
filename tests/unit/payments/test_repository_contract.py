"""The repository ports' rules, run on both implementations: the SQL unit of work
(SQLite file; ``adapters/unit_of_work.py``) and the in-memory fakes the use-case
tests run on (``tests/fakes/payments.py``), so the fakes stay honest."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.payments.adapters import tables
from services.payments.adapters.unit_of_work import SqlPaymentsTransactions
from services.payments.domain import ledger
from services.payments.domain.cards import CardSummary
from services.payments.domain.payments import HoldClaim, Payment, State
from services.payments.domain.refunds import Refund, RefundState
from services.payments.domain.views import PaymentFilter
from services.payments.domain.webhooks import PastEvent, Subscription
from services.payments.service_layer.unit_of_work import PaymentsTransactions
from services.runtime.db import create_engine, session_factory
from services.runtime.idempotency import Keyed
from tests.fakes.payments import FakePaymentsTransactions

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture(params=["sql", "memory"])
def uow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PaymentsTransactions]:
    if request.param == "memory":
        yield FakePaymentsTransactions()
        return
    engine = create_engine(f"sqlite:///{tmp_path / 'payments.db'}")
    tables.metadata.create_all(engine)
    try:
        yield SqlPaymentsTransactions(session_factory(engine), None)
    finally:
        engine.dispose()


def payment(n: int, tenant: str = "a", **fields: object) -> Payment:
    values: dict[str, object] = {
        "id": f"pay_{n:04d}",
        "tenant": tenant,
        "amount": 1000 + n,
        "currency": "GBP",
        "reference": f"R{n}",
        "description": "Fee",
        "return_url": "https://agency.example/done",
        "email": "",
        "language": "en",
        "metadata": {"n": str(n)},
        "delayed_capture": False,
        "state": State.CREATED,
        "provider": "sandbox",
        "created_at": T0 + n * MINUTE,
        "updated_at": T0 + n * MINUTE,
    }
    values.update(fields)
    return Payment(**values)  # type: ignore[arg-type]


def test_payments_are_found_by_tenant_id_and_provider_reference(
    uow: PaymentsTransactions,
) -> None:
    p = payment(1, provider_ref="ch_1")
    with uow() as tx:
        tx.payments.add(p)
        tx.payments.add(payment(2, "b"))
    with uow.read() as tx:
        assert tx.payments.get("a", p.id) == p
        assert tx.payments.get("b", p.id) is None
        assert tx.payments.get_by_id(p.id, lock=True) == p
        assert tx.payments.get_by_provider_ref("sandbox", "ch_1") == p
        assert tx.payments.get_by_provider_ref("stripe", "ch_1") is None
        assert tx.payments.references("a", [p.id, "pay_0002"]) == {p.id: "R1"}
    assert uow.get_payment("a", p.id) == p
    assert uow.get_payment("b", p.id) is None


def test_a_saved_payment_keeps_every_field(uow: PaymentsTransactions) -> None:
    p = payment(1)
    with uow() as tx:
        tx.payments.add(p)
    moved = replace(
        p,
        state=State.SUBMITTED,
        provider_ref="ch_1",
        authorised_at=T0 + 5 * MINUTE,
        hold_claim=HoldClaim.CAPTURE,
        late_hold_ref="ch_0",
        updated_at=T0 + 5 * MINUTE,
    )
    with uow() as tx:
        tx.payments.save(moved)
    assert uow.get_payment("a", p.id) == moved


def test_a_unit_of_work_that_fails_writes_nothing(uow: PaymentsTransactions) -> None:
    def add_then_fail() -> None:
        with uow() as tx:
            tx.payments.add(payment(1))
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        add_then_fail()
    assert uow.get_payment("a", "pay_0001") is None


def test_search_filters_newest_first_from_before_an_id(uow: PaymentsTransactions) -> None:
    with uow() as tx:
        for n in range(1, 6):
            card = CardSummary("visa", "1111" if n == 4 else "4242", "12/39", "Ada")
            tx.payments.add(payment(n, email="x@example.com" if n == 2 else "", card=card))
        tx.payments.add(payment(9, "b"))

    def ids(filters: PaymentFilter, before: str | None = None, limit: int = 10) -> list[str]:
        with uow.read() as tx:
            return [p.id for p in tx.payments.search("a", filters, before_id=before, limit=limit)]

    assert ids(PaymentFilter(), limit=2) == ["pay_0005", "pay_0004"]
    assert ids(PaymentFilter(), before="pay_0003") == ["pay_0002", "pay_0001"]
    assert ids(PaymentFilter(reference="R3")) == ["pay_0003"]
    assert ids(PaymentFilter(email="x@example.com")) == ["pay_0002"]
    assert ids(PaymentFilter(state=State.STARTED)) == []
    assert ids(PaymentFilter(card_last_four="1111")) == ["pay_0004"]
    assert ids(PaymentFilter(card_last_four="0000")) == []
    window = PaymentFilter(created_after=T0 + 2 * MINUTE, created_before=T0 + 4 * MINUTE)
    assert ids(window) == ["pay_0003", "pay_0002"]


def test_the_sweeper_queries(uow: PaymentsTransactions) -> None:
    with uow() as tx:
        tx.payments.add(payment(1))
        tx.payments.add(payment(2, state=State.SUCCESS))
        tx.payments.add(payment(3, state=State.CAPTURABLE, authorised_at=T0))
        tx.payments.add(payment(4, state=State.FAILED, late_hold_ref="ch_4"))
    with uow.read() as tx:
        assert tx.payments.due_for_page_expiry(T0 + MINUTE, 10) == ["pay_0001"]
        assert tx.payments.due_for_page_expiry(T0, 10) == []
        assert tx.payments.due_for_capture_expiry(T0, 10) == ["pay_0003"]
        assert tx.payments.with_late_holds(10) == ["pay_0004"]


def test_events_page_in_order(uow: PaymentsTransactions) -> None:
    p = payment(1)
    with uow() as tx:
        tx.payments.add(p)
        tx.events.add(p, "payment.created", T0)
        tx.events.add(replace(p, state=State.STARTED), "payment.started", T0 + MINUTE)
        tx.events.add(p, "refund.submitted", T0 + MINUTE, "rfd_1")
    with uow.read() as tx:
        first = tx.events.page(p.id, after_seq=0, limit=2)
        rest = tx.events.page(p.id, after_seq=first[-1].seq, limit=5)
    assert [(e.type, e.state) for e in first] == [
        ("payment.created", State.CREATED),
        ("payment.started", State.STARTED),
    ]
    assert [(e.type, e.refund_id) for e in rest] == [("refund.submitted", "rfd_1")]


def refund(n: int, **fields: object) -> Refund:
    values: dict[str, object] = {
        "id": f"rfd_{n:04d}",
        "tenant": "a",
        "payment_id": "pay_0001",
        "amount": 100,
        "currency": "GBP",
        "state": RefundState.SUBMITTED,
        "created_at": T0 + n * MINUTE,
        "updated_at": T0 + n * MINUTE,
    }
    values.update(fields)
    return Refund(**values)  # type: ignore[arg-type]


def test_refunds(uow: PaymentsTransactions) -> None:
    with uow() as tx:
        for n in (1, 2, 3):
            tx.refunds.add(refund(n))
        tx.refunds.save(replace(refund(2), state=RefundState.SUCCESS, provider_ref="re_2"))
    with uow.read() as tx:
        assert tx.refunds.get("a", "rfd_0002") == replace(
            refund(2), state=RefundState.SUCCESS, provider_ref="re_2"
        )
        assert tx.refunds.get("b", "rfd_0002") is None
        assert tx.refunds.get_by_id("rfd_0001") == refund(1)
        by_ref = tx.refunds.get_by_provider_ref("re_2")
        assert by_ref is not None
        assert by_ref.id == "rfd_0002"
        listed = tx.refunds.of_payment("pay_0001", after_id="rfd_0001", limit=5)
        assert [r.id for r in listed] == ["rfd_0002", "rfd_0003"]
        unsent = tx.refunds.unsent(T0 + 3 * MINUTE, 10)
        assert [r.id for r in unsent] == ["rfd_0001"]


def test_the_ledger_as_the_agency_sees_it(uow: PaymentsTransactions) -> None:
    with uow() as tx:
        for n, kind, amount in ((1, "capture", 1000), (2, "capture", 500), (3, "refund", 300)):
            entry = ledger.capture_entry if kind == "capture" else ledger.refund_entry
            tx.ledger.post(
                entry(tenant="a", provider="sandbox", amount=amount, currency="GBP"),
                tenant="a",
                payment_id=f"pay_{n}",
                refund_id="rfd_1" if kind == "refund" else None,
                kind=kind,
                at=T0 + n * MINUTE,
            )
    end = T0 + 10 * MINUTE
    with uow.read() as tx:
        assert tx.ledger.agency_net("a", "GBP", T0, end) == 1200
        assert tx.ledger.totals("a", "GBP", T0, end) == {"capture": 1500, "refund": 300}
        assert tx.ledger.totals("a", "EUR", T0, end) == {}
        first = tx.ledger.movements("a", "GBP", T0, end, after=None, limit=2)
        last = first[-1]
        rest = tx.ledger.movements("a", "GBP", T0, end, after=(last.at, last.line_id), limit=5)
    assert [(m.kind, m.amount) for m in first] == [("capture", 1000), ("capture", 500)]
    assert [(m.kind, m.amount, m.refund_id) for m in rest] == [("refund", -300, "rfd_1")]


def test_subscriptions_and_their_deliveries(uow: PaymentsTransactions) -> None:
    wants = Subscription("whs_1", "a", "https://a.example/1", ("payment.created",), T0, None)
    with uow() as tx:
        tx.subscriptions.add(wants, "whsec_1")
        tx.subscriptions.add(replace(wants, id="whs_2", event_types=()), "whsec_2")
        tx.subscriptions.disable("a", "whs_2", T0 + MINUTE)
        for n in (1, 2, 3):
            tx.deliveries.enqueue(
                tenant="a",
                subscription_id="whs_1",
                url=wants.url,
                event_id=f"evt_{n}",
                event_type="payment.created",
                payload={"n": n},
                now=T0 + n * MINUTE,
            )
    with uow.read() as tx:
        assert tx.subscriptions.get("a", "whs_1") == wants
        assert tx.subscriptions.get("b", "whs_1") is None
        assert tx.subscriptions.active("a") == [wants]
        assert [s.id for s in tx.subscriptions.page("a", after_id="whs_1", limit=5)] == ["whs_2"]
        assert tx.subscriptions.secret_for("whs_1") == "whsec_1"
        assert tx.subscriptions.secret_for("whs_2") is None
        first = tx.deliveries.of_subscription("a", "whs_1", before=None, limit=2)
        last = first[-1]
        rest = tx.deliveries.of_subscription(
            "a", "whs_1", before=(last.created_at, last.id), limit=5
        )
        assert tx.deliveries.of_subscription("b", "whs_1", before=None, limit=5) == []
    assert [d.event_id for d in first] == ["evt_3", "evt_2"]
    assert [(d.event_id, d.state, d.attempts) for d in rest] == [("evt_1", "pending", ())]


def test_a_delivery_and_its_event_are_found_by_tenant_and_id(uow: PaymentsTransactions) -> None:
    with uow() as tx:
        made = tx.deliveries.enqueue(
            tenant="a",
            subscription_id="whs_1",
            url="https://a.example/1",
            event_id="evt_1",
            event_type="payment.refunded",
            payload={"id": "evt_1", "payment": {"amount": 5, "state": "PAYMENT_STATE_SUCCESS"}},
            now=T0,
        )
    with uow.read() as tx:
        found = tx.deliveries.get("a", made)
        assert found is not None
        assert (found.id, found.event_id, found.state, found.created_at) == (
            made,
            "evt_1",
            "pending",
            T0,
        )
        assert tx.deliveries.event_of("a", made) == PastEvent(
            "whs_1",
            "evt_1",
            "payment.refunded",
            {"id": "evt_1", "payment": {"amount": 5, "state": "PAYMENT_STATE_SUCCESS"}},
        )
        assert tx.deliveries.get("b", made) is None
        assert tx.deliveries.event_of("b", made) is None
        assert tx.deliveries.get("a", "whd_missing") is None


def test_a_provider_event_is_recorded_once(uow: PaymentsTransactions) -> None:
    with uow() as tx:
        assert tx.stripe_events.first_time("evt_1", "payment_intent.succeeded", T0)
        assert not tx.stripe_events.first_time("evt_1", "payment_intent.succeeded", T0)


def test_without_a_one_step_path_create_at_once_declines_and_writes_nothing(
    uow: PaymentsTransactions,
) -> None:
    assert uow.create_at_once(payment(1), Keyed("a", "k", "f")) is False
    assert uow.get_payment("a", "pay_0001") is None


def test_day_stats_group_the_agency_ledger_by_utc_day_and_currency(
    uow: PaymentsTransactions,
) -> None:
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    moves = (
        ("a", "capture", 1000, "GBP", midnight - MINUTE),
        ("a", "capture", 200, "EUR", midnight - MINUTE),
        ("a", "capture", 500, "GBP", midnight),
        ("a", "refund", 300, "GBP", midnight + MINUTE),
        ("b", "capture", 7000, "GBP", midnight),
    )
    with uow() as tx:
        for n, (tenant, kind, amount, currency, at) in enumerate(moves):
            entry = ledger.capture_entry if kind == "capture" else ledger.refund_entry
            tx.ledger.post(
                entry(tenant=tenant, provider="sandbox", amount=amount, currency=currency),
                tenant=tenant,
                payment_id=f"pay_{n}",
                refund_id="rfd_1" if kind == "refund" else None,
                kind=kind,
                at=at,
            )
    with uow.read() as tx:
        found = tx.ledger.day_stats("a", midnight - timedelta(days=1), midnight + timedelta(days=1))
        before = tx.ledger.day_stats("a", midnight - timedelta(days=1), midnight)
    assert [
        (d.day.isoformat(), d.currency, d.captured_count, d.captured_amount, d.refunded_count)
        for d in found
    ] == [
        ("2026-03-01", "EUR", 1, 200, 0),
        ("2026-03-01", "GBP", 1, 1000, 0),
        ("2026-03-02", "GBP", 1, 500, 1),
    ]
    assert found[-1].refunded_amount == 300
    assert [d.day.isoformat() for d in before] == ["2026-03-01", "2026-03-01"]
