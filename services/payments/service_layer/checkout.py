"""The citizen's side: open the page, send card details, confirm or cancel.

The card reaches the provider inside ``submit`` and is dropped there: only its
brand, last four digits, expiry and name are saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from services.payments.domain.cards import Card
from services.payments.domain.payments import Failure, HoldClaim, Payment, State
from services.payments.domain.providers import (
    Outcome,
    ProviderError,
    ProviderRefused,
    operation_key,
)
from services.payments.service_layer.changes import Changes
from services.payments.service_layer.late_holds import LateHolds
from services.payments.service_layer.providers import Providers
from services.payments.service_layer.unit_of_work import PaymentsWork
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import FailedPrecondition, NotFound, Unavailable
from services.runtime.unit_of_work import Transactions

_OUTCOME_FAILURES = {
    Outcome.DECLINED: (State.FAILED, Failure.DECLINED),
    Outcome.CARD_EXPIRED: (State.FAILED, Failure.CARD_EXPIRED),
    Outcome.ERROR: (State.ERROR, Failure.PROVIDER_ERROR),
}


class Checkout:
    def __init__(
        self, uow: Transactions[PaymentsWork], providers: Providers, *, clock: Clock = utcnow
    ) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock
        self._late_holds = LateHolds(uow, providers, clock=clock)

    def open(self, payment_id: str) -> Payment:
        """The payment as the page should show it; the first visit starts it, and a
        page past its 90 minutes fails it."""
        now = self._clock()
        with self._uow.read() as uow:
            payment = _get(uow, payment_id)
        if payment.state is State.CREATED or (
            payment.state is State.STARTED and not payment.page_open(now)
        ):
            return self._change(payment_id, self._open_or_expire)
        return payment

    def _open_or_expire(self, changes: Changes, payment: Payment) -> Payment:
        if not payment.page_open(changes.now):
            if payment.state in (State.CREATED, State.STARTED):
                return changes.move(payment, State.FAILED, Failure.PAGE_EXPIRED)
            return payment
        if payment.state is State.CREATED:
            return changes.move(payment, State.STARTED)
        return payment

    def submit(self, payment_id: str, card: Card) -> Payment:
        """Card details to the provider; the payment is then authorised (awaiting
        the citizen's confirmation) or failed. An authorisation that lands after
        the payment stopped waiting for it (expired, cancelled) is recorded as a
        late hold and released (``LateHolds``), never taken as the payment's."""

        def mark_submitted(changes: Changes, payment: Payment) -> Payment:
            self._require_open(changes, payment, State.STARTED)
            moved = changes.move(payment, State.SUBMITTED)
            moved = replace(moved, card=card.summary)
            changes.payments.save(moved)
            return moved

        payment = self._change(payment_id, mark_submitted)
        provider = self._providers.named(payment.provider)
        result = provider.authorise(
            payment_id=payment.id,
            amount=payment.amount,
            currency=payment.currency,
            card=card,
            idempotency_key=operation_key(payment.id, "authorise"),
        )

        def record(changes: Changes, current: Payment) -> Payment:
            if result.outcome is Outcome.AUTHORISED and _late(current, result.reference):
                return changes.authorised_late(current, result.reference)
            if current.state is not State.SUBMITTED or current.authorised_at is not None:
                return current  # moved on meanwhile; a card not authorised holds nothing
            if result.outcome is Outcome.AUTHORISED:
                authorised = replace(
                    current,
                    provider_ref=result.reference,
                    authorised_at=changes.now,
                    updated_at=changes.now,
                )
                changes.payments.save(authorised)
                changes.events.add(authorised, "payment.authorised", changes.now)
                return authorised
            target, failure = _OUTCOME_FAILURES[result.outcome]
            failed = changes.move(current, target, failure)
            if result.reference:
                failed = replace(failed, provider_ref=result.reference)
                changes.payments.save(failed)
            return failed

        recorded = self._change(payment_id, record)
        if recorded.late_hold_ref:
            # Expired or cancelled meanwhile: the card must not stay held.
            return self._late_holds.release(payment_id) or recorded
        return recorded

    def confirm(self, payment_id: str) -> Payment:
        """The citizen confirms: capture now, or hold for the agency (delayed capture).

        A capture first claims the hold (``HoldClaim``) while the page is open;
        from then on the sweeper finishes the capture rather than releasing the
        hold, so a capture that happens always ends ``success`` with its ledger
        lines, whichever of the two records it."""
        claimed = self._change(payment_id, _claim_confirmation)
        if claimed.state is not State.SUBMITTED:
            return claimed  # a second click, or delayed capture (now capturable)
        return self.finish_capture(claimed)

    def finish_capture(self, payment: Payment) -> Payment:
        """Carry out the capture claimed on a confirmed payment and record it; safe
        to repeat (the provider key is the payment's own)."""
        try:
            self._providers.named(payment.provider).capture(
                reference=payment.provider_ref,
                amount=payment.amount,
                idempotency_key=operation_key(payment.id, "capture"),
            )
        except ProviderError:
            raise Unavailable("the payment provider is unavailable; try again") from None
        except ProviderRefused:
            return self._change(
                payment.id,
                lambda changes, current: (
                    changes.move(current, State.ERROR, Failure.PROVIDER_ERROR)
                    if current.state is State.SUBMITTED
                    else current
                ),
            )
        return self._change(
            payment.id,
            lambda changes, current: (
                changes.move(current, State.SUCCESS)
                if current.state is State.SUBMITTED
                else current
            ),
        )

    def cancel(self, payment_id: str) -> Payment:
        """The citizen gives up: claim the hold for release, release it, then fail
        the payment. A capture claimed first wins."""
        claimed = self._change(payment_id, _claim_cancellation)
        if _past_cancelling(claimed):
            return claimed
        if claimed.authorised_at is not None:
            try:
                self._providers.named(claimed.provider).cancel(
                    reference=claimed.provider_ref,
                    idempotency_key=operation_key(claimed.id, "cancel"),
                )
            except ProviderError:
                raise Unavailable("the payment provider is unavailable; try again") from None
            except ProviderRefused:
                return claimed  # the sweeper finishes the release, or records the error

        def give_up(changes: Changes, current: Payment) -> Payment:
            if _past_cancelling(current):
                return current
            return changes.move(current, State.FAILED, Failure.CANCELLED_BY_CITIZEN)

        return self._change(payment_id, give_up)

    def _require_open(self, changes: Changes, payment: Payment, state: State) -> None:
        if payment.state is not state:
            raise FailedPrecondition(f"this payment is {payment.state.value}")
        if not payment.page_open(changes.now):
            raise FailedPrecondition("this payment page has expired")

    def _change(self, payment_id: str, change: Callable[[Changes, Payment], Payment]) -> Payment:
        with self._uow() as uow:
            payment = _get(uow, payment_id, lock=True)
            return change(Changes(uow, self._clock()), payment)


def _claim_confirmation(changes: Changes, payment: Payment) -> Payment:
    """Under the row lock: the payment, claimed for capture, or moved to
    ``capturable`` for delayed capture (no provider call, so no claim needed)."""
    if payment.state in (State.CAPTURABLE, State.SUCCESS) or (
        payment.state is State.SUBMITTED and payment.hold_claim is HoldClaim.CAPTURE
    ):
        return payment  # a second click
    if payment.state is not State.SUBMITTED or payment.authorised_at is None:
        raise FailedPrecondition("this payment is not waiting for confirmation")
    if payment.hold_claim is HoldClaim.RELEASE:
        raise FailedPrecondition("this payment is being cancelled")
    if not payment.page_open(changes.now):
        raise FailedPrecondition("this payment page has expired")
    if payment.delayed_capture:
        return changes.move(payment, State.CAPTURABLE)
    return changes.claim_hold(payment, HoldClaim.CAPTURE)


def _late(payment: Payment, reference: str) -> bool:
    """Whether an authorisation (``reference``) came too late for the payment: it
    is no longer waiting for one (expired, cancelled, anything else not open) and
    the hold is not already its own or already on record."""
    if reference == payment.late_hold_ref or (
        payment.authorised_at is not None and reference == payment.provider_ref
    ):
        return False  # on record already
    return payment.state is not State.SUBMITTED or payment.authorised_at is not None


def _past_cancelling(payment: Payment) -> bool:
    return (
        payment.finished
        or payment.state is State.CAPTURABLE
        or payment.hold_claim is HoldClaim.CAPTURE
    )


def _claim_cancellation(changes: Changes, payment: Payment) -> Payment:
    if _past_cancelling(payment) or payment.authorised_at is None or payment.hold_claim:
        return payment
    return changes.claim_hold(payment, HoldClaim.RELEASE)


def _get(uow: PaymentsWork, payment_id: str, *, lock: bool = False) -> Payment:
    found = uow.payments.get_by_id(payment_id, lock=lock)
    if found is None:
        raise NotFound("no such payment")
    return found
