"""What an agency does with payments: create, read, capture, cancel, refund.

Provider calls never run inside a database transaction: each carries a
provider idempotency key derived from the payment and the operation, so it is
safe to repeat, and the transaction that records its outcome re-reads the
payment under a row lock and applies the state machine again. Each durable
change (payment, events, ledger, outbox, idempotency key) is one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from services.payments.domain import payments as rules
from services.payments.domain.payments import Failure, HoldClaim, NewPayment, Payment, State
from services.payments.domain.providers import (
    ProviderError,
    ProviderMismatch,
    ProviderRefused,
    operation_key,
)
from services.payments.domain.refunds import Refund, RefundState, check_refund
from services.payments.domain.views import DayStats, EventRecord, PaymentFilter
from services.payments.service_layer import reports
from services.payments.service_layer.changes import Changes
from services.payments.service_layer.providers import Providers
from services.payments.service_layer.reports import Report
from services.payments.service_layer.unit_of_work import PaymentsTransactions, PaymentsWork
from services.runtime.clock import Clock, utcnow
from services.runtime.context import Principal
from services.runtime.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from services.runtime.idempotency import Keyed, claim_id, complete_id
from services.runtime.ids import new_id
from services.runtime.pagination import Page, PageRequest

log = logging.getLogger(__name__)


def agency_display_name(caller: Principal) -> str:
    """The name the citizen sees on the page: identity puts the agency's registered
    name in its access tokens; the client id stands in for tokens without one."""
    return caller.agency_name or caller.client_id


class PaymentsService:
    def __init__(
        self,
        uow: PaymentsTransactions,
        providers: Providers,
        *,
        max_amount: int,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._providers = providers
        self.max_amount = max_amount
        self._clock = clock

    # -- payments ----------------------------------------------------------------

    def create(self, caller: Principal, new: NewPayment, keyed: Keyed) -> Payment:
        now = self._clock()
        payment = Payment(
            id=new_id("pay"),
            tenant=caller.client_id,
            amount=new.amount,
            currency=new.currency,
            reference=new.reference,
            description=new.description,
            return_url=new.return_url,
            email=new.email,
            language=new.language,
            metadata=new.metadata,
            delayed_capture=new.delayed_capture,
            state=State.CREATED,
            provider=self._providers.for_mode(caller.mode).name,
            agency_name=agency_display_name(caller),
            created_at=now,
            updated_at=now,
        )
        # The common case (a fresh key) in one step where the store has one; any
        # other case (a replay, a conflict, an expired key) is answered below.
        if self._uow.create_at_once(payment, keyed):
            return payment
        with self._uow() as uow:
            replay = claim_id(uow.idempotency, keyed)
            if replay is not None:
                return _payment(uow, caller.client_id, replay)
            Changes(uow, now).created(payment)
            complete_id(uow.idempotency, keyed, payment.id)
            return payment

    def get(self, tenant: str, payment_id: str) -> Payment:
        found = self._uow.get_payment(tenant, payment_id)
        if found is None:
            raise NotFound(f"no payment {payment_id!r}")
        return found

    def list(self, tenant: str, filters: PaymentFilter, page: PageRequest) -> Page[Payment]:
        with self._uow.read() as uow:
            found = uow.payments.search(tenant, filters, before_id=page.after, limit=page.size + 1)
        return Page.from_overfetch(found, page.size, lambda p: p.id)

    def events(self, tenant: str, payment_id: str, page: PageRequest) -> Page[EventRecord]:
        after = _int_token(page.after)
        with self._uow.read() as uow:
            _payment(uow, tenant, payment_id)
            found = uow.events.page(payment_id, after_seq=after, limit=page.size + 1)
        return Page.from_overfetch(found, page.size, lambda e: str(e.seq))

    def capture(self, caller: Principal, payment_id: str, keyed: Keyed) -> Payment:
        tenant = caller.client_id
        before = self.get(tenant, payment_id)
        captured_here = False
        if before.state is State.CAPTURABLE:
            claimed = self._claim_hold(tenant, payment_id, HoldClaim.CAPTURE)
            if claimed.state is State.CAPTURABLE and claimed.hold_claim is HoldClaim.CAPTURE:
                self._provider_call(lambda: self._capture_at_provider(claimed))
                captured_here = True
        now = self._clock()
        with self._uow() as uow:
            replay = claim_id(uow.idempotency, keyed)
            if replay is not None:
                return _payment(uow, tenant, replay)
            payment = _payment(uow, tenant, payment_id, lock=True)
            if captured_here and payment.state is State.SUCCESS:
                captured = payment  # the sweeper recorded this call's capture first
            elif payment.state is State.CAPTURABLE:
                captured = Changes(uow, now).move(payment, State.SUCCESS)
            else:
                raise FailedPrecondition(
                    f"payment {payment.id} is {payment.state.value}; only capturable "
                    "(delayed-capture, confirmed) payments can be captured"
                )
            complete_id(uow.idempotency, keyed, payment.id)
            return captured

    def finish_capture(self, payment: Payment) -> Payment:
        """Carry out an agency's capture claimed on a capturable payment (its
        caller stopped); the sweeper's way to make a claimed capture win."""
        try:
            self._capture_at_provider(payment)
        except ProviderError:
            raise Unavailable("the payment provider is unavailable") from None
        except ProviderRefused:
            log.error("provider refused a claimed capture", extra={"payment": payment.id})
            return self._record(payment, State.ERROR, Failure.PROVIDER_ERROR)
        return self._record(payment, State.SUCCESS, None)

    def _record(self, payment: Payment, target: State, failure: Failure | None) -> Payment:
        with self._uow() as uow:
            current = _payment(uow, payment.tenant, payment.id, lock=True)
            if current.state is not State.CAPTURABLE:
                return current
            return Changes(uow, self._clock()).move(current, target, failure)

    def _capture_at_provider(self, payment: Payment) -> None:
        self._providers.named(payment.provider).capture(
            reference=payment.provider_ref,
            amount=payment.amount,
            idempotency_key=operation_key(payment.id, "capture"),
        )

    def _claim_hold(self, tenant: str, payment_id: str, claim: HoldClaim) -> Payment:
        """Claim a capturable (or authorised) payment's hold under its row lock
        before any provider call; the first claim wins (``HoldClaim``)."""
        with self._uow() as uow:
            payment = _payment(uow, tenant, payment_id, lock=True)
            wanted = State.SUCCESS if claim is HoldClaim.CAPTURE else State.CANCELLED
            if not rules.can_move(payment.state, wanted) or payment.authorised_at is None:
                return payment  # moved on meanwhile: the caller's final step says what
            if payment.hold_claim is not None and payment.hold_claim is not claim:
                doing = "captured" if payment.hold_claim is HoldClaim.CAPTURE else "released"
                raise FailedPrecondition(f"payment {payment.id} is being {doing}; try again")
            if payment.hold_claim is None:
                if claim is HoldClaim.CAPTURE:
                    self._check_window(payment)  # a claim made in time is carried through
                payment = Changes(uow, self._clock()).claim_hold(payment, claim)
            return payment

    def cancel(self, caller: Principal, payment_id: str, keyed: Keyed) -> Payment:
        tenant = caller.client_id
        before = self.get(tenant, payment_id)
        if rules.can_move(before.state, State.CANCELLED) and before.authorised_at is not None:
            claimed = self._claim_hold(tenant, payment_id, HoldClaim.RELEASE)
            if claimed.hold_claim is HoldClaim.RELEASE:
                self._provider_call(
                    lambda: self._providers.named(claimed.provider).cancel(
                        reference=claimed.provider_ref,
                        idempotency_key=operation_key(claimed.id, "cancel"),
                    )
                )
        now = self._clock()
        with self._uow() as uow:
            replay = claim_id(uow.idempotency, keyed)
            if replay is not None:
                return _payment(uow, tenant, replay)
            payment = _payment(uow, tenant, payment_id, lock=True)
            if payment.authorised_at is not None and before.authorised_at is None:
                # Authorised since we looked: cancel at the provider first; retry.
                raise FailedPrecondition("the payment changed while cancelling; try again")
            if payment.hold_claim is HoldClaim.CAPTURE:
                raise FailedPrecondition(f"payment {payment.id} is being captured")
            cancelled = Changes(uow, now).move(
                payment, State.CANCELLED, Failure.CANCELLED_BY_AGENCY
            )
            complete_id(uow.idempotency, keyed, payment.id)
            return cancelled

    def _check_window(self, payment: Payment) -> None:
        deadline = payment.capture_deadline()
        if deadline is not None and self._clock() >= deadline:
            raise FailedPrecondition(
                f"payment {payment.id} was authorised more than 120 hours ago and can no "
                "longer be captured"
            )

    # -- refunds -----------------------------------------------------------------

    def create_refund(
        self,
        caller: Principal,
        payment_id: str,
        amount: int,
        expected_available: int | None,
        keyed: Keyed,
    ) -> Refund:
        tenant = caller.client_id
        now = self._clock()
        with self._uow() as uow:
            replay = claim_id(uow.idempotency, keyed)
            if replay is not None:
                refund = _refund(uow, tenant, replay)
            else:
                # The row lock makes racing refunds (any replica) take turns, so
                # their total can never pass the captured amount.
                payment = _payment(uow, tenant, payment_id, lock=True)
                check_refund(payment, amount, expected_available)
                refund = Refund(
                    id=new_id("rfd"),
                    tenant=tenant,
                    payment_id=payment.id,
                    amount=amount,
                    currency=payment.currency,
                    state=RefundState.SUBMITTED,
                    created_at=now,
                    updated_at=now,
                )
                Changes(uow, now).refund_requested(payment, refund)
                complete_id(uow.idempotency, keyed, refund.id)
        if refund.state is RefundState.SUBMITTED and not refund.provider_ref:
            refund = self.submit_refund(refund)
        return refund

    def submit_refund(self, refund: Refund) -> Refund:
        """Send a reserved refund to the provider and record the answer. Safe to
        repeat: the provider key is derived from the refund's id."""
        payment = self.get(refund.tenant, refund.payment_id)
        provider = self._providers.named(payment.provider)
        try:
            result = provider.refund(
                reference=payment.provider_ref,
                amount=refund.amount,
                refund_id=refund.id,
                idempotency_key=operation_key(refund.id, "refund"),
            )
        except ProviderError:
            return refund  # stays submitted; the sweeper and replays resubmit it
        except ProviderMismatch:
            return refund  # stays submitted (reserved), counted for an operator to look at
        except ProviderRefused:
            return self._settle(refund, RefundState.FAILED, "")
        state = RefundState.SUCCESS if result.succeeded else RefundState.SUBMITTED
        return self._settle(refund, state, result.reference)

    def _settle(self, refund: Refund, state: RefundState, provider_ref: str) -> Refund:
        now = self._clock()
        with self._uow() as uow:
            payment = _payment(uow, refund.tenant, refund.payment_id, lock=True)
            current = _refund(uow, refund.tenant, refund.id)
            if current.state is not RefundState.SUBMITTED:
                return current  # settled meanwhile (a webhook, another replica)
            if state is RefundState.SUBMITTED:
                pending = replace(current, provider_ref=provider_ref, updated_at=now)
                uow.refunds.save(pending)
                return pending
            return Changes(uow, now).refund_settled(payment, current, state, provider_ref)[1]

    def get_refund(self, tenant: str, refund_id: str) -> Refund:
        with self._uow.read() as uow:
            return _refund(uow, tenant, refund_id)

    def list_refunds(self, tenant: str, payment_id: str, page: PageRequest) -> Page[Refund]:
        with self._uow.read() as uow:
            _payment(uow, tenant, payment_id)
            found = uow.refunds.of_payment(payment_id, after_id=page.after, limit=page.size + 1)
        return Page.from_overfetch(found, page.size, lambda r: r.id)

    # -- reconciliation ------------------------------------------------------------

    def report(
        self, tenant: str, currency: str, start: datetime, end: datetime, page: PageRequest
    ) -> Report:
        """One page of lines (a bounded query however long the range), with the
        totals of the whole range."""
        reports.check_range(start, end)
        after = reports.line_token(page.after)
        with self._uow.read() as uow:
            return reports.report(uow, tenant, currency, start, end, page, after=after)

    def day_stats(self, tenant: str, start: datetime, end: datetime) -> Sequence[DayStats]:
        """Captures and refunds per UTC day and currency: one grouped query."""
        reports.check_range(start, end)
        with self._uow.read() as uow:
            return uow.ledger.day_stats(tenant, start, end)

    @staticmethod
    def _provider_call(call: Callable[[], object]) -> None:
        try:
            call()
        except ProviderError as exc:
            raise Unavailable(f"the payment provider is unavailable ({exc}); retry later") from None
        except ProviderRefused as exc:
            raise FailedPrecondition(f"the payment provider refused: {exc}") from None


def _payment(uow: PaymentsWork, tenant: str, payment_id: str, *, lock: bool = False) -> Payment:
    found = uow.payments.get(tenant, payment_id, lock=lock)
    if found is None:
        raise NotFound(f"no payment {payment_id!r}")
    return found


def _refund(uow: PaymentsWork, tenant: str, refund_id: str) -> Refund:
    found = uow.refunds.get(tenant, refund_id)
    if found is None:
        raise NotFound(f"no refund {refund_id!r}")
    return found


def _int_token(after: str | None) -> int:
    if after is None:
        return 0
    if not (after.isascii() and after.isdigit()):
        raise InvalidArgument.from_violations(
            [FieldViolation("page_token", "not a token from a previous response")]
        )
    return int(after)
