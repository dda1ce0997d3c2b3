"""Stripe's webhook events on the fakes: applied once, forward only, and never
taken as money moved when their amount or currency is not the payment's."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from services.payments.domain.payments import Failure, Payment, State
from services.payments.domain.refunds import Refund, RefundState
from tests.unit.payments.conftest import World

INTENT = "pi_1"


def on_stripe(w: World, state: State, *, authorised: bool = True, amount: int = 1500) -> Payment:
    """A payment Stripe handles, in ``state``."""
    created = w.create(amount=amount)
    payment = replace(
        created,
        provider="stripe",
        provider_ref=INTENT,
        state=state,
        authorised_at=w.clock.now if authorised else None,
    )
    w.state.payments.save(payment)
    return payment


def intent(type_: str, event_id: str = "evt_1", **fields: Any) -> dict[str, Any]:
    obj = {"id": INTENT, "object": "payment_intent", "currency": "gbp", **fields}
    return {"id": event_id, "type": f"payment_intent.{type_}", "data": {"object": obj}}


def test_something_that_is_not_an_event_is_refused(w: World) -> None:
    with pytest.raises(ValueError, match="not a Stripe event"):
        w.stripe.apply({"type": "payment_intent.succeeded"})


def test_a_succeeded_intent_pays_the_payment_once(w: World) -> None:
    payment = on_stripe(w, State.CAPTURABLE)
    event = intent("succeeded", amount_received=1500)
    assert w.stripe.apply(event) is True
    paid = w.stored(payment.id)
    assert (paid.state, paid.captured_amount) == (State.SUCCESS, 1500)
    assert w.stripe.apply(event) is False  # redelivered
    assert len(w.state.ledger.rows) == 2


def test_an_amount_that_is_not_the_payment_is_a_provider_error(w: World) -> None:
    payment = on_stripe(w, State.CAPTURABLE)
    w.stripe.apply(intent("succeeded", amount_received=1))
    errored = w.stored(payment.id)
    assert (errored.state, errored.failure) == (State.ERROR, Failure.PROVIDER_ERROR)
    assert w.state.ledger.rows == []


def test_a_late_event_never_moves_a_payment_back(w: World) -> None:
    payment = on_stripe(w, State.SUCCESS)
    w.stripe.apply(intent("amount_capturable_updated", amount_capturable=1500))
    w.stripe.apply(intent("canceled", "evt_2"))
    assert w.stored(payment.id) == payment


def test_a_failed_intent_not_yet_authorised_is_declined(w: World) -> None:
    payment = on_stripe(w, State.SUBMITTED, authorised=False)
    w.stripe.apply(intent("payment_failed"))
    failed = w.stored(payment.id)
    assert (failed.state, failed.failure) == (State.FAILED, Failure.DECLINED)


def test_a_cancelled_intent_ends_a_held_payment(w: World) -> None:
    payment = on_stripe(w, State.CAPTURABLE)
    w.stripe.apply(intent("canceled"))
    assert w.stored(payment.id).failure is Failure.CAPTURE_WINDOW_EXPIRED


def test_a_capturable_amount_authorises_a_submitted_payment(w: World) -> None:
    payment = on_stripe(w, State.SUBMITTED, authorised=False)
    w.stripe.apply(intent("amount_capturable_updated", amount_capturable=1500))
    assert w.stored(payment.id).authorised_at == w.clock.now
    assert w.state.events.types(payment.id)[-1] == "payment.authorised"


def test_an_event_for_no_payment_of_ours_is_recorded_and_ignored(w: World) -> None:
    assert w.stripe.apply(intent("succeeded", amount_received=1500)) is True
    assert w.state.stripe_events.seen == {"evt_1": "payment_intent.succeeded"}


def reserved(w: World, provider_ref: str = "") -> tuple[Payment, Refund]:
    payment = on_stripe(w, State.SUCCESS)
    payment = replace(payment, captured_amount=1500, refunded_amount=500)
    w.state.payments.save(payment)
    refund = Refund(
        "rfd_1", payment.tenant, payment.id, 500, "GBP", RefundState.SUBMITTED,
        w.clock.now, w.clock.now, provider_ref,
    )  # fmt: skip
    w.state.refunds.add(refund)
    return payment, refund


def refund_event(status: str, amount: int = 500, **item: Any) -> dict[str, Any]:
    obj = {"id": "re_1", "object": "refund", "amount": amount, "currency": "gbp", **item}
    return {"id": "evt_r", "type": "refund.updated", "data": {"object": {**obj, "status": status}}}


def test_a_refund_found_by_its_reference_is_settled(w: World) -> None:
    _payment, refund = reserved(w, provider_ref="re_1")
    w.stripe.apply(refund_event("succeeded"))
    assert w.state.refunds.rows[refund.id].state is RefundState.SUCCESS
    assert [r.kind for r in w.state.ledger.rows] == ["refund", "refund"]


def test_a_refund_found_by_our_id_fails_and_frees_its_amount(w: World) -> None:
    payment, refund = reserved(w)
    w.stripe.apply(refund_event("failed", metadata={"gaap_refund_id": refund.id}))
    assert w.state.refunds.rows[refund.id].state is RefundState.FAILED
    assert w.stored(payment.id).refundable_amount == 1500


def test_a_refund_reported_with_another_amount_stays_reserved(w: World) -> None:
    _payment, refund = reserved(w, provider_ref="re_1")
    w.stripe.apply(refund_event("succeeded", amount=499))
    assert w.state.refunds.rows[refund.id].state is RefundState.SUBMITTED
    assert w.state.ledger.rows == []
