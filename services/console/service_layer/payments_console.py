"""A team's payments as its agency sees them at payments: the transactions with
their filters, one payment with its events and refunds, a CSV export, and refunds.

Every call goes through ``ActingFor.connect``, which authorises the staff member
for the action first (``NotFound`` outside the team, ``PermissionDenied`` for the
role) and hands out a client whose token holds that action's scopes only. A
payment of another agency is ``NOT_FOUND`` at payments, and 404 here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from babel.numbers import get_currency_precision
from gaap.payments.v1 import payments_pb2 as pb

from gaap_client import errors as gaap
from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.service_layer.access import record
from services.console.service_layer.acting_for import ActingFor
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound

PAGE_SIZE = 50
T = TypeVar("T")
# Digits and one point, nothing payments could not hold (no exponent, no sign).
AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,6})?")
# An export reads every page of the filtered list; past this many rows it stops,
# so one click cannot hold a connection and payments' database for hours.
EXPORT_CAP = 50_000
EXPORT_PAGE = 500
# payments' refusals (google.rpc.ErrorInfo reasons) shown as the amount's error.
REFUND_REFUSALS = {
    "REFUND_EXCEEDS_AVAILABLE": "The amount is more than is left to refund",
    "AVAILABLE_AMOUNT_CHANGED": (
        "Someone refunded this payment meanwhile: check the amount left and try again"
    ),
}
STATES = {
    "created": pb.PAYMENT_STATE_CREATED,
    "started": pb.PAYMENT_STATE_STARTED,
    "submitted": pb.PAYMENT_STATE_SUBMITTED,
    "capturable": pb.PAYMENT_STATE_CAPTURABLE,
    "success": pb.PAYMENT_STATE_SUCCESS,
    "failed": pb.PAYMENT_STATE_FAILED,
    "cancelled": pb.PAYMENT_STATE_CANCELLED,
    "error": pb.PAYMENT_STATE_ERROR,
}


class PaymentsCalls(Protocol):
    """The calls of payments' stub these pages make (``PaymentsServiceStub``)."""

    def ListPayments(self, request: pb.ListPaymentsRequest, /) -> pb.ListPaymentsResponse: ...
    def GetPayment(self, request: pb.GetPaymentRequest, /) -> pb.Payment: ...
    def ListPaymentEvents(
        self, request: pb.ListPaymentEventsRequest, /
    ) -> pb.ListPaymentEventsResponse: ...
    def ListRefunds(self, request: pb.ListRefundsRequest, /) -> pb.ListRefundsResponse: ...
    def GetReconciliationReport(
        self, request: pb.GetReconciliationReportRequest, /
    ) -> pb.ReconciliationReport: ...
    def CreateRefund(self, request: pb.CreateRefundRequest, /) -> pb.Refund: ...


class AgencyClient(Protocol):
    @property
    def payments(self) -> PaymentsCalls: ...


@dataclass(frozen=True)
class Filters:
    """The list's filters as the form sent them, checked."""

    state: str = ""
    reference: str = ""
    email: str = ""
    card_last_four: str = ""
    created_from: datetime | None = None
    created_before: datetime | None = None

    def request(self, page_size: int, page_token: str) -> pb.ListPaymentsRequest:
        found = pb.ListPaymentsRequest(
            page_size=page_size,
            page_token=page_token,
            reference=self.reference,
            email=self.email,
            card_last_four=self.card_last_four,
            state=STATES.get(self.state, pb.PAYMENT_STATE_UNSPECIFIED),
        )
        if self.created_from is not None:
            found.created_after.FromDatetime(self.created_from)
        if self.created_before is not None:
            found.created_before.FromDatetime(self.created_before)
        return found


@dataclass(frozen=True)
class Page:
    payments: list[pb.Payment]
    next_page_token: str


@dataclass(frozen=True)
class PaymentDetail:
    payment: pb.Payment
    events: list[pb.PaymentEvent]
    refunds: list[pb.Refund]


def check_filters(
    state: str,
    reference: str,
    email: str,
    created_from: str,
    created_to: str,
    card_last_four: str = "",
) -> Filters:
    """The filters from the form, or ``InvalidArgument`` naming each bad field.
    Dates are UTC days; ``created_to`` includes its whole day."""
    violations: list[FieldViolation] = []
    if state and state not in STATES:
        violations.append(FieldViolation("state", "Choose a state from the list"))
    if len(reference) > 255:
        violations.append(FieldViolation("reference", "The reference is 255 characters or fewer"))
    if len(email) > 254:
        violations.append(FieldViolation("email", "Enter an email address like name@example.com"))
    last_four = card_last_four.strip()
    if last_four and not (len(last_four) == 4 and last_four.isascii() and last_four.isdigit()):
        violations.append(FieldViolation("card_last_four", "Enter the card's last 4 digits"))
    start = _day(created_from, "created_from", violations)
    end = _day(created_to, "created_to", violations)
    if start and end and end < start:
        violations.append(FieldViolation("created_to", "The end date is before the start date"))
    if violations:
        raise InvalidArgument.from_violations(violations)
    return Filters(
        state=state,
        reference=reference.strip(),
        email=email.strip(),
        card_last_four=last_four,
        created_from=start,
        created_before=end + timedelta(days=1) if end else None,
    )


@dataclass(frozen=True)
class Period:
    """A reconciliation report's range: whole UTC days, ``end`` exclusive."""

    start: datetime
    end: datetime
    currency: str

    def request(self, page_size: int, page_token: str) -> pb.GetReconciliationReportRequest:
        found = pb.GetReconciliationReportRequest(
            currency=self.currency, page_size=page_size, page_token=page_token
        )
        found.start_time.FromDatetime(self.start)
        found.end_time.FromDatetime(self.end)
        return found


def check_period(start: str, end: str, currency: str) -> Period:
    """The report's range from the form: both days required, at most 366 days."""
    violations: list[FieldViolation] = []
    first = _day(start, "start", violations)
    last = _day(end, "end", violations)
    for field, given in (("start", start), ("end", end)):
        if not given:
            violations.append(FieldViolation(field, "Enter a date like 2026-01-31"))
    code = (currency.strip() or "GBP").upper()
    if not (len(code) == 3 and code.isascii() and code.isalpha()):
        violations.append(FieldViolation("currency", "Enter a currency code like GBP"))
    if first and last and last < first:
        violations.append(FieldViolation("end", "The end date is before the start date"))
    elif first and last and (last - first).days >= 366:
        violations.append(FieldViolation("end", "A report covers at most 366 days"))
    if violations or first is None or last is None:
        raise InvalidArgument.from_violations(violations)
    return Period(first, last + timedelta(days=1), code)


def _day(value: str, field: str, violations: list[FieldViolation]) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        violations.append(FieldViolation(field, "Enter a date like 2026-01-31"))
        return None


def parse_amount(raw: str, currency: str) -> int:
    """A refund amount typed in major units ("12.50") as minor units, or
    ``InvalidArgument`` on the ``amount`` field."""
    digits = get_currency_precision(currency)
    typed = raw.strip().replace(",", "")
    minor = Decimal(typed) * (10**digits) if AMOUNT.fullmatch(typed) else Decimal(0)
    if minor <= 0 or minor != minor.to_integral_value():
        raise InvalidArgument.from_violations(
            [FieldViolation("amount", "Enter an amount like 12.50, more than zero")]
        )
    return int(minor)


class Capped(Generic[T]):
    """An export's rows, read page by page, up to ``EXPORT_CAP``; once read,
    ``truncated`` says whether rows were left out, so the file can say so."""

    def __init__(self, pages: Generator[Sequence[T]]) -> None:
        self._pages = pages
        self.truncated = False

    def __iter__(self) -> Iterator[T]:
        sent = 0
        try:
            for page in self._pages:
                for row in page:
                    if sent == EXPORT_CAP:
                        self.truncated = True
                        return
                    sent += 1
                    yield row
        finally:
            self._pages.close()  # ends the client's with block, on every path


class PaymentsConsole:
    def __init__(
        self,
        acting: ActingFor[AgencyClient],
        clock: Callable[[], datetime],
    ) -> None:
        self._uow = acting.transactions
        self._acting = acting
        self._clock = clock

    def transactions(
        self, staff: Staff, team_id: str, filters: Filters, page_token: str = ""
    ) -> Page:
        """One page of the team's payments, newest first."""
        with self._acting.connect(staff, team_id, Action.VIEW_PAYMENTS) as agency:
            try:
                listed = agency.payments.ListPayments(filters.request(PAGE_SIZE, page_token))
            except gaap.InvalidArgument:
                # A page token that is not payments' own (edited in the address bar).
                raise InvalidArgument.from_violations(
                    [FieldViolation("page", "This page of results no longer exists")]
                ) from None
        return Page(list(listed.payments), listed.next_page_token)

    def export(self, staff: Staff, team_id: str, filters: Filters) -> Capped[pb.Payment]:
        """Every payment the filters select, newest first, up to ``EXPORT_CAP``.
        Authorised before the first row, so a refusal is a status, not a cut CSV."""
        connection = self._acting.connect(staff, team_id, Action.VIEW_PAYMENTS)

        def pages() -> Generator[Sequence[pb.Payment]]:
            with connection as agency:
                token = ""
                while True:
                    listed = agency.payments.ListPayments(filters.request(EXPORT_PAGE, token))
                    yield listed.payments
                    token = listed.next_page_token
                    if not token:
                        return

        return Capped(pages())

    def reconciliation(
        self, staff: Staff, team_id: str, period: Period, page_token: str = ""
    ) -> pb.ReconciliationReport:
        """One page of the report's lines, with the totals of the whole range."""
        with self._acting.connect(staff, team_id, Action.VIEW_PAYMENTS) as agency:
            try:
                return agency.payments.GetReconciliationReport(
                    period.request(PAGE_SIZE, page_token)
                )
            except gaap.InvalidArgument:
                raise InvalidArgument.from_violations(
                    [FieldViolation("currency", "Enter a currency code like GBP")]
                ) from None

    def reconciliation_lines(
        self, staff: Staff, team_id: str, period: Period
    ) -> Capped[pb.ReconciliationLine]:
        """Every line of the report, in time order, up to ``EXPORT_CAP``."""
        connection = self._acting.connect(staff, team_id, Action.VIEW_PAYMENTS)

        def pages() -> Generator[Sequence[pb.ReconciliationLine]]:
            with connection as agency:
                token = ""
                while True:
                    page = agency.payments.GetReconciliationReport(
                        period.request(EXPORT_PAGE, token)
                    )
                    yield page.lines
                    token = page.next_page_token
                    if not token:
                        return

        return Capped(pages())

    def payment(self, staff: Staff, team_id: str, payment_id: str) -> PaymentDetail:
        with self._acting.connect(staff, team_id, Action.VIEW_PAYMENTS) as agency:
            payment = _get(agency.payments, payment_id)
            events = _all_events(agency.payments, payment_id)
            refunds = _all_refunds(agency.payments, payment_id)
        return PaymentDetail(payment, events, refunds)

    def refundable(self, staff: Staff, team_id: str, payment_id: str) -> pb.Payment:
        """The payment to refund, once ``staff`` may refund in the team."""
        with self._acting.connect(staff, team_id, Action.REFUND) as agency:
            return _get(agency.payments, payment_id)

    def refund(
        self,
        staff: Staff,
        team_id: str,
        payment_id: str,
        amount: int,
        expected_available: int,
        idempotency_key: str,
    ) -> pb.Refund:
        """Refund ``amount`` minor units, only if ``expected_available`` is still
        what is left (what the confirmation showed); the same key refunds once."""
        if not 16 <= len(idempotency_key) <= 100:
            raise InvalidArgument.from_violations(
                [FieldViolation("amount", "This page has expired. Please start again.")]
            )
        with self._acting.connect(staff, team_id, Action.REFUND) as agency:
            try:
                refund = agency.payments.CreateRefund(
                    pb.CreateRefundRequest(
                        payment_id=payment_id,
                        amount=amount,
                        expected_available_amount=expected_available,
                        idempotency_key=idempotency_key,
                    )
                )
            except gaap.NotFound:
                raise NotFound("No such payment") from None
            except gaap.FailedPrecondition as exc:
                message = REFUND_REFUSALS.get(exc.reason, "This payment cannot be refunded")
                raise InvalidArgument.from_violations([FieldViolation("amount", message)]) from None
        with self._uow() as uow:
            record(
                uow,
                staff,
                team_id,
                Action.REFUND,
                self._clock(),
                payment_id=payment_id,
                refund_id=refund.id,
                amount=str(amount),
                currency=refund.currency,
            )
        return refund


def _get(payments: PaymentsCalls, payment_id: str) -> pb.Payment:
    try:
        return payments.GetPayment(pb.GetPaymentRequest(payment_id=payment_id))
    except (gaap.NotFound, gaap.InvalidArgument):
        raise NotFound("No such payment") from None


def _all_events(payments: PaymentsCalls, payment_id: str) -> list[pb.PaymentEvent]:
    found: list[pb.PaymentEvent] = []
    token = ""
    while True:
        page = payments.ListPaymentEvents(
            pb.ListPaymentEventsRequest(payment_id=payment_id, page_size=500, page_token=token)
        )
        found += page.events
        token = page.next_page_token
        if not token:
            return found


def _all_refunds(payments: PaymentsCalls, payment_id: str) -> list[pb.Refund]:
    found: list[pb.Refund] = []
    token = ""
    while True:
        page = payments.ListRefunds(
            pb.ListRefundsRequest(payment_id=payment_id, page_size=500, page_token=token)
        )
        found += page.refunds
        token = page.next_page_token
        if not token:
            return found
