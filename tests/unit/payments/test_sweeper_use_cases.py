"""The sweeper on the fakes: expired pages and capture windows (releasing holds
first), captures claimed but unfinished, late holds, unsent refunds, old keys."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.payments.domain.payments import (
    CAPTURE_WINDOW,
    PAGE_LIFETIME,
    Failure,
    HoldClaim,
    Payment,
    State,
)
from services.payments.domain.providers import ProviderError, ProviderRefused
from services.payments.domain.refunds import RefundState
from services.runtime.errors import Unavailable
from tests.unit.payments.conftest import CARD, World, caller, key


def authorised(w: World, **fields: object) -> Payment:
    payment = w.create(**fields)
    w.checkout.open(payment.id)
    return w.checkout.submit(payment.id, CARD)


def test_nothing_due_changes_nothing(w: World) -> None:
    payment = w.create()
    assert w.sweeper.run_once() == 0
    assert w.stored(payment.id) == payment


def test_an_expired_page_fails(w: World) -> None:
    payment = w.create()
    w.clock.advance(PAGE_LIFETIME)
    assert w.sweeper.run_once() == 1
    expired = w.stored(payment.id)
    assert (expired.state, expired.failure) == (State.FAILED, Failure.PAGE_EXPIRED)
    assert w.provider.calls == []


def test_an_expired_page_holding_a_card_releases_it_first(w: World) -> None:
    payment = authorised(w)
    w.clock.advance(PAGE_LIFETIME)
    assert w.sweeper.run_once() == 1
    assert w.provider.calls[-1] == ("cancel", f"gaap-{payment.id}-cancel")
    assert w.stored(payment.id).state is State.FAILED


def test_a_release_that_fails_is_tried_again_next_sweep(w: World) -> None:
    payment = authorised(w)
    w.clock.advance(PAGE_LIFETIME)
    w.provider.fail["cancel"] = ProviderError("down")
    assert w.sweeper.run_once() == 0
    held = w.stored(payment.id)
    assert (held.state, held.hold_claim) == (State.SUBMITTED, HoldClaim.RELEASE)
    del w.provider.fail["cancel"]
    assert w.sweeper.run_once() == 1
    assert w.stored(payment.id).state is State.FAILED


def test_a_release_the_provider_refuses_ends_in_error(w: World) -> None:
    payment = authorised(w)
    w.clock.advance(PAGE_LIFETIME)
    w.provider.fail["cancel"] = ProviderRefused("no")
    w.sweeper.run_once()
    errored = w.stored(payment.id)
    assert (errored.state, errored.failure) == (State.ERROR, Failure.PROVIDER_ERROR)


def test_a_hold_past_its_capture_window_is_cancelled(w: World) -> None:
    payment = authorised(w, delayed_capture=True)
    w.checkout.confirm(payment.id)
    w.clock.advance(CAPTURE_WINDOW)
    assert w.sweeper.run_once() == 1
    cancelled = w.stored(payment.id)
    assert (cancelled.state, cancelled.failure) == (
        State.CANCELLED,
        Failure.CAPTURE_WINDOW_EXPIRED,
    )
    assert w.provider.calls[-1] == ("cancel", f"gaap-{payment.id}-cancel")


def test_a_confirmation_that_did_not_finish_is_captured_by_the_sweeper(w: World) -> None:
    payment = authorised(w)
    w.provider.fail["capture"] = ProviderError("down")
    with pytest.raises(Unavailable):
        w.checkout.confirm(payment.id)
    del w.provider.fail["capture"]
    w.clock.advance(PAGE_LIFETIME)
    assert w.sweeper.run_once() == 1
    paid = w.stored(payment.id)
    assert (paid.state, paid.captured_amount) == (State.SUCCESS, payment.amount)
    assert "cancel" not in w.provider.operations()
    assert len(w.state.ledger.rows) == 2


def test_an_agency_capture_that_did_not_finish_beats_the_capture_window(w: World) -> None:
    payment = authorised(w, delayed_capture=True)
    w.checkout.confirm(payment.id)
    w.provider.fail["capture"] = ProviderError("down")
    with pytest.raises(Unavailable):
        w.payments.capture(caller(), payment.id, key("cap"))
    del w.provider.fail["capture"]
    w.clock.advance(CAPTURE_WINDOW)
    assert w.sweeper.run_once() == 1
    assert w.stored(payment.id).state is State.SUCCESS
    assert "cancel" not in w.provider.operations()


def test_a_late_hold_whose_release_failed_is_released_by_the_next_sweep(w: World) -> None:
    payment = w.create()
    w.checkout.open(payment.id)

    def expire_meanwhile() -> None:
        w.clock.advance(PAGE_LIFETIME)
        w.sweeper.run_once()
        w.provider.fail["cancel"] = ProviderError("down")

    w.provider.meanwhile["authorise"] = expire_meanwhile
    recorded = w.checkout.submit(payment.id, CARD)
    assert recorded.late_hold_ref == f"ch_{payment.id}"
    assert w.state.events.types(payment.id)[-1] == "payment.authorised_late"
    del w.provider.fail["cancel"]
    assert w.sweeper.run_once() == 1
    assert w.stored(payment.id).late_hold_ref == ""
    assert w.state.events.types(payment.id)[-1] == "payment.authorisation_released"
    assert w.sweeper.run_once() == 0  # settled once


def test_a_refund_the_provider_never_acknowledged_is_sent_again(w: World) -> None:
    payment = w.paid(amount=1000)
    w.provider.fail["refund"] = ProviderError("down")
    refund = w.payments.create_refund(caller(), payment.id, 400, None, key("r"))
    del w.provider.fail["refund"]
    assert w.sweeper.run_once() == 0  # not stuck yet
    w.clock.advance(timedelta(minutes=6))
    assert w.sweeper.run_once() == 1
    assert w.state.refunds.rows[refund.id].state is RefundState.SUCCESS


def test_each_sweep_forgets_expired_idempotency_keys(w: World) -> None:
    w.sweeper.run_once()
    assert w.state.idempotency.purged_at == [w.clock.now]
