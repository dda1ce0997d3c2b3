"""An agency's CapturePayment and CancelPayment on the fakes: the state machine,
the hold at the provider, the ledger, and replays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.payments.domain.payments import CAPTURE_WINDOW, Failure, HoldClaim, Payment, State
from services.payments.domain.providers import ProviderError, ProviderRefused
from services.runtime.errors import FailedPrecondition, Unavailable
from tests.unit.payments.conftest import CARD, World, caller, key


def capturable(w: World) -> Payment:
    """A delayed-capture payment the citizen has confirmed: held for the agency."""
    payment = w.create(delayed_capture=True)
    w.checkout.open(payment.id)
    w.checkout.submit(payment.id, CARD)
    confirmed = w.checkout.confirm(payment.id)
    assert confirmed.state is State.CAPTURABLE
    return confirmed


def test_a_capture_takes_the_money_once_and_books_it(w: World) -> None:
    payment = capturable(w)
    captured = w.payments.capture(caller(), payment.id, key("cap"))
    assert (captured.state, captured.captured_amount) == (State.SUCCESS, payment.amount)
    assert captured.captured_at == w.clock.now
    assert w.provider.calls[-1] == ("capture", f"gaap-{payment.id}-capture")
    assert len(w.state.ledger.rows) == 2
    assert w.state.ledger.balanced()
    assert w.state.events.types(payment.id)[-1] == "payment.succeeded"
    again = w.payments.capture(caller(), payment.id, key("cap"))
    assert again.state is State.SUCCESS
    assert w.provider.operations().count("capture") == 1
    assert len(w.state.ledger.rows) == 2


def test_only_a_capturable_payment_is_captured(w: World) -> None:
    payment = w.create()
    with pytest.raises(FailedPrecondition):
        w.payments.capture(caller(), payment.id, key("cap"))
    assert w.stored(payment.id) == payment
    assert w.state.ledger.rows == []
    assert (caller().client_id, "cap") not in w.state.idempotency.rows


def test_a_hold_past_its_capture_window_is_not_captured(w: World) -> None:
    payment = capturable(w)
    w.clock.advance(CAPTURE_WINDOW)
    with pytest.raises(FailedPrecondition, match="120 hours"):
        w.payments.capture(caller(), payment.id, key("cap"))
    assert "capture" not in w.provider.operations()
    assert w.stored(payment.id).state is State.CAPTURABLE


def test_a_capture_while_the_provider_is_down_can_be_retried(w: World) -> None:
    payment = capturable(w)
    w.provider.fail["capture"] = ProviderError("down")
    with pytest.raises(Unavailable):
        w.payments.capture(caller(), payment.id, key("cap"))
    held = w.stored(payment.id)
    assert (held.state, held.hold_claim) == (State.CAPTURABLE, HoldClaim.CAPTURE)
    assert w.state.ledger.rows == []
    del w.provider.fail["capture"]
    assert w.payments.capture(caller(), payment.id, key("cap")).state is State.SUCCESS


def test_a_capture_the_provider_refuses_is_refused(w: World) -> None:
    payment = capturable(w)
    w.provider.fail["capture"] = ProviderRefused("no")
    with pytest.raises(FailedPrecondition, match="refused"):
        w.payments.capture(caller(), payment.id, key("cap"))
    assert w.stored(payment.id).state is State.CAPTURABLE


def test_cancelling_a_payment_nobody_paid_calls_no_provider(w: World) -> None:
    payment = w.create()
    cancelled = w.payments.cancel(caller(), payment.id, key("c"))
    assert (cancelled.state, cancelled.failure) == (State.CANCELLED, Failure.CANCELLED_BY_AGENCY)
    assert w.provider.calls == []
    assert w.state.events.types(payment.id)[-1] == "payment.cancelled"
    assert w.payments.cancel(caller(), payment.id, key("c")) == w.stored(payment.id)


def test_cancelling_a_held_payment_releases_the_hold(w: World) -> None:
    payment = capturable(w)
    cancelled = w.payments.cancel(caller(), payment.id, key("c"))
    assert cancelled.state is State.CANCELLED
    assert w.provider.calls[-1] == ("cancel", f"gaap-{payment.id}-cancel")
    assert w.state.ledger.rows == []


def test_a_finished_payment_cannot_be_cancelled(w: World) -> None:
    payment = w.paid()
    with pytest.raises(FailedPrecondition):
        w.payments.cancel(caller(), payment.id, key("c"))
    assert w.stored(payment.id).state is State.SUCCESS


def test_a_hold_being_released_cannot_be_captured(w: World) -> None:
    payment = capturable(w)
    w.provider.fail["cancel"] = ProviderError("down")
    with pytest.raises(Unavailable):
        w.payments.cancel(caller(), payment.id, key("c"))
    assert w.stored(payment.id).hold_claim is HoldClaim.RELEASE
    with pytest.raises(FailedPrecondition, match="being released"):
        w.payments.capture(caller(), payment.id, key("cap"))
    assert "capture" not in w.provider.operations()


def test_an_unfinished_agency_capture_is_finished_by_finish_capture(w: World) -> None:
    payment = capturable(w)
    w.provider.fail["capture"] = ProviderError("down")
    with pytest.raises(Unavailable):
        w.payments.capture(caller(), payment.id, key("cap"))
    del w.provider.fail["capture"]
    finished = w.payments.finish_capture(w.stored(payment.id))
    assert finished.state is State.SUCCESS
    assert w.state.ledger.balanced()
    assert len(w.state.ledger.rows) == 2


def test_a_claimed_capture_the_provider_refuses_ends_in_error(w: World) -> None:
    payment = capturable(w)
    w.provider.fail["capture"] = ProviderRefused("no")
    finished = w.payments.finish_capture(payment)
    assert (finished.state, finished.failure) == (State.ERROR, Failure.PROVIDER_ERROR)
    w.clock.advance(timedelta(seconds=1))
    assert w.payments.finish_capture(finished).state is State.ERROR  # recorded once
