"""The citizen's hosted page on the fakes: open, submit the card, confirm or
cancel; each provider outcome; and an authorisation that lands too late."""

from __future__ import annotations

import pytest

from services.payments.domain.payments import PAGE_LIFETIME, Failure, HoldClaim, State
from services.payments.domain.providers import Outcome, ProviderError, ProviderRefused
from services.runtime.errors import FailedPrecondition, NotFound, Unavailable
from tests.unit.payments.conftest import CARD, World


def test_the_first_visit_starts_the_payment(w: World) -> None:
    payment = w.create()
    assert w.checkout.open(payment.id).state is State.STARTED
    assert w.checkout.open(payment.id).state is State.STARTED
    assert w.state.events.types(payment.id) == ["payment.created", "payment.started"]


def test_a_page_past_its_lifetime_fails(w: World) -> None:
    payment = w.create()
    w.clock.advance(PAGE_LIFETIME)
    expired = w.checkout.open(payment.id)
    assert (expired.state, expired.failure) == (State.FAILED, Failure.PAGE_EXPIRED)


def test_an_unknown_page_is_not_found(w: World) -> None:
    with pytest.raises(NotFound):
        w.checkout.open("pay_missing")


def test_an_authorised_card_waits_for_confirmation_and_only_its_summary_is_kept(
    w: World,
) -> None:
    payment = w.create()
    w.checkout.open(payment.id)
    submitted = w.checkout.submit(payment.id, CARD)
    assert submitted.state is State.SUBMITTED
    assert submitted.authorised_at == w.clock.now
    assert submitted.provider_ref == f"ch_{payment.id}"
    assert submitted.card is not None
    assert (submitted.card.brand, submitted.card.last_four) == ("visa", "4242")
    assert w.provider.calls == [("authorise", f"gaap-{payment.id}-authorise")]
    assert CARD.number not in repr(w.state.payments.rows)
    assert w.state.events.types(payment.id)[-1] == "payment.authorised"


@pytest.mark.parametrize(
    ("outcome", "state", "failure"),
    [
        (Outcome.DECLINED, State.FAILED, Failure.DECLINED),
        (Outcome.CARD_EXPIRED, State.FAILED, Failure.CARD_EXPIRED),
        (Outcome.ERROR, State.ERROR, Failure.PROVIDER_ERROR),
    ],
)
def test_a_card_not_authorised_fails_the_payment(
    w: World, outcome: Outcome, state: State, failure: Failure
) -> None:
    payment = w.create()
    w.checkout.open(payment.id)
    w.provider.outcome = outcome
    failed = w.checkout.submit(payment.id, CARD)
    assert (failed.state, failed.failure, failed.authorised_at) == (state, failure, None)


def test_card_details_need_an_open_started_page(w: World) -> None:
    payment = w.create()
    with pytest.raises(FailedPrecondition):
        w.checkout.submit(payment.id, CARD)  # never opened
    w.checkout.open(payment.id)
    w.clock.advance(PAGE_LIFETIME)
    with pytest.raises(FailedPrecondition, match="expired"):
        w.checkout.submit(payment.id, CARD)
    assert w.provider.calls == []


def test_confirming_captures_and_books_the_payment(w: World) -> None:
    payment = w.paid(amount=2500)
    assert (payment.state, payment.captured_amount) == (State.SUCCESS, 2500)
    assert w.provider.operations() == ["authorise", "capture"]
    assert len(w.state.ledger.rows) == 2
    assert w.state.ledger.balanced()
    assert w.checkout.confirm(payment.id).state is State.SUCCESS  # a second click
    assert w.provider.operations() == ["authorise", "capture"]


def test_confirming_a_delayed_capture_holds_it_for_the_agency(w: World) -> None:
    payment = w.create(delayed_capture=True)
    w.checkout.open(payment.id)
    w.checkout.submit(payment.id, CARD)
    assert w.checkout.confirm(payment.id).state is State.CAPTURABLE
    assert "capture" not in w.provider.operations()
    assert w.state.ledger.rows == []


def test_a_confirmation_while_the_provider_is_down_keeps_its_claim(w: World) -> None:
    payment = w.create()
    w.checkout.open(payment.id)
    w.checkout.submit(payment.id, CARD)
    w.provider.fail["capture"] = ProviderError("down")
    with pytest.raises(Unavailable):
        w.checkout.confirm(payment.id)
    held = w.stored(payment.id)
    assert (held.state, held.hold_claim) == (State.SUBMITTED, HoldClaim.CAPTURE)
    assert w.checkout.cancel(payment.id) == held  # the capture claimed first wins
    assert "cancel" not in w.provider.operations()


def test_a_capture_the_provider_refuses_ends_in_error(w: World) -> None:
    payment = w.create()
    w.checkout.open(payment.id)
    w.checkout.submit(payment.id, CARD)
    w.provider.fail["capture"] = ProviderRefused("no")
    confirmed = w.checkout.confirm(payment.id)
    assert (confirmed.state, confirmed.failure) == (State.ERROR, Failure.PROVIDER_ERROR)
    assert w.state.ledger.rows == []


def test_a_confirmation_after_the_page_expired_is_refused(w: World) -> None:
    payment = w.create()
    w.checkout.open(payment.id)
    w.checkout.submit(payment.id, CARD)
    w.clock.advance(PAGE_LIFETIME)
    with pytest.raises(FailedPrecondition, match="expired"):
        w.checkout.confirm(payment.id)
    assert "capture" not in w.provider.operations()


def test_the_citizen_cancelling_releases_the_hold(w: World) -> None:
    payment = w.create()
    w.checkout.open(payment.id)
    w.checkout.submit(payment.id, CARD)
    cancelled = w.checkout.cancel(payment.id)
    assert (cancelled.state, cancelled.failure) == (State.FAILED, Failure.CANCELLED_BY_CITIZEN)
    assert w.provider.calls[-1] == ("cancel", f"gaap-{payment.id}-cancel")


def test_the_citizen_cancelling_before_paying_calls_no_provider(w: World) -> None:
    payment = w.create()
    w.checkout.open(payment.id)
    assert w.checkout.cancel(payment.id).state is State.FAILED
    assert w.provider.calls == []


def test_a_release_that_failed_keeps_its_claim_and_blocks_confirming(w: World) -> None:
    payment = w.create()
    w.checkout.open(payment.id)
    w.checkout.submit(payment.id, CARD)
    w.provider.fail["cancel"] = ProviderError("down")
    with pytest.raises(Unavailable):
        w.checkout.cancel(payment.id)
    assert w.stored(payment.id).hold_claim is HoldClaim.RELEASE
    with pytest.raises(FailedPrecondition, match="being cancelled"):
        w.checkout.confirm(payment.id)


def test_a_cancel_after_a_confirmed_capture_changes_nothing(w: World) -> None:
    payment = w.paid()
    assert w.checkout.cancel(payment.id) == w.stored(payment.id)
    assert w.stored(payment.id).state is State.SUCCESS


def test_an_authorisation_landing_after_the_page_expired_is_released_at_once(
    w: World,
) -> None:
    payment = w.create()
    w.checkout.open(payment.id)

    def expire_meanwhile() -> None:
        w.clock.advance(PAGE_LIFETIME)
        w.sweeper.run_once()

    w.provider.meanwhile["authorise"] = expire_meanwhile
    after = w.checkout.submit(payment.id, CARD)
    assert (after.state, after.failure) == (State.FAILED, Failure.PAGE_EXPIRED)
    assert after.late_hold_ref == ""
    assert w.provider.calls[-1] == ("cancel", f"gaap-{payment.id}-release-late")
    assert w.state.events.types(payment.id)[-2:] == [
        "payment.authorised_late",
        "payment.authorisation_released",
    ]
