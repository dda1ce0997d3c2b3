"""``gaap.payments.v1.PaymentsService``: translate messages, call the service layer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import grpc
from gaap.payments.v1 import payments_pb2 as pb
from gaap.payments.v1 import payments_pb2_grpc
from google.protobuf.message import Message

from services.payments.domain.money import check_currency
from services.payments.domain.payments import Failure, Payment, State, validate_new
from services.payments.domain.refunds import Refund, RefundState
from services.payments.domain.views import DayStats, EventRecord, PaymentFilter
from services.payments.domain.webhooks import Delivery, Subscription
from services.payments.service_layer.page_links import PageLinks
from services.payments.service_layer.payments import PaymentsService
from services.payments.service_layer.reports import Report
from services.payments.service_layer.subscriptions import WebhookSubscriptions
from services.runtime import idempotency
from services.runtime.context import Principal, principal
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.grpc_server import GrpcService
from services.runtime.interceptors.auth import Access
from services.runtime.pagination import PageRequest
from services.runtime.rate_limit import Limit, RateLimiter
from services.runtime.timestamps import field_datetime, stamp_into, timestamp

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PaymentsService"].full_name
CREATE, READ, REFUND = "payments:create", "payments:read", "payments:refund"

POLICY: dict[str, Access] = {
    f"/{SERVICE_NAME}/CreatePayment": CREATE,
    f"/{SERVICE_NAME}/GetPayment": READ,
    f"/{SERVICE_NAME}/ListPayments": READ,
    f"/{SERVICE_NAME}/ListPaymentEvents": READ,
    f"/{SERVICE_NAME}/CapturePayment": CREATE,
    f"/{SERVICE_NAME}/CancelPayment": CREATE,
    f"/{SERVICE_NAME}/CreateRefund": REFUND,
    f"/{SERVICE_NAME}/GetRefund": READ,
    f"/{SERVICE_NAME}/ListRefunds": READ,
    f"/{SERVICE_NAME}/CreateWebhookSubscription": CREATE,
    f"/{SERVICE_NAME}/ListWebhookSubscriptions": READ,
    f"/{SERVICE_NAME}/DisableWebhookSubscription": CREATE,
    f"/{SERVICE_NAME}/ListWebhookDeliveries": READ,
    # Trying a subscription sends to it, as creating and disabling one change it.
    f"/{SERVICE_NAME}/SendTestWebhookEvent": CREATE,
    f"/{SERVICE_NAME}/RedeliverWebhookEvent": CREATE,
    f"/{SERVICE_NAME}/GetReconciliationReport": READ,
    f"/{SERVICE_NAME}/GetPaymentStats": READ,
}

_STATES = {
    State.CREATED: pb.PAYMENT_STATE_CREATED,
    State.STARTED: pb.PAYMENT_STATE_STARTED,
    State.SUBMITTED: pb.PAYMENT_STATE_SUBMITTED,
    State.CAPTURABLE: pb.PAYMENT_STATE_CAPTURABLE,
    State.SUCCESS: pb.PAYMENT_STATE_SUCCESS,
    State.FAILED: pb.PAYMENT_STATE_FAILED,
    State.CANCELLED: pb.PAYMENT_STATE_CANCELLED,
    State.ERROR: pb.PAYMENT_STATE_ERROR,
}
_STATES_BACK = {v: k for k, v in _STATES.items()}
_FAILURES = {
    Failure.DECLINED: pb.FAILURE_CODE_DECLINED,
    Failure.CARD_EXPIRED: pb.FAILURE_CODE_CARD_EXPIRED,
    Failure.PAGE_EXPIRED: pb.FAILURE_CODE_PAGE_EXPIRED,
    Failure.CANCELLED_BY_CITIZEN: pb.FAILURE_CODE_CANCELLED_BY_CITIZEN,
    Failure.CANCELLED_BY_AGENCY: pb.FAILURE_CODE_CANCELLED_BY_AGENCY,
    Failure.CAPTURE_WINDOW_EXPIRED: pb.FAILURE_CODE_CAPTURE_WINDOW_EXPIRED,
    Failure.PROVIDER_ERROR: pb.FAILURE_CODE_PROVIDER_ERROR,
}
_DELIVERY_STATES = {
    "pending": pb.WEBHOOK_DELIVERY_STATE_PENDING,
    "succeeded": pb.WEBHOOK_DELIVERY_STATE_SUCCEEDED,
    "failed": pb.WEBHOOK_DELIVERY_STATE_FAILED,
}
_REFUND_STATES = {
    RefundState.SUBMITTED: pb.REFUND_STATE_SUBMITTED,
    RefundState.SUCCESS: pb.REFUND_STATE_SUCCESS,
    RefundState.FAILED: pb.REFUND_STATE_FAILED,
}

M = TypeVar("M", bound=Message)


class RateLimits:
    """Per-agency token buckets in the style of GOV.UK Pay: a tighter one for
    changes, a looser one for reads; shared by replicas through Redis."""

    def __init__(self, limiter: RateLimiter, *, writes_per_second: float, reads_per_second: float):
        self._limiter = limiter
        self._write = Limit(writes_per_second, writes_per_second)
        self._read = Limit(reads_per_second, reads_per_second)

    def write(self, caller: Principal) -> None:
        self._limiter.acquire(f"{caller.client_id}:write", self._write)

    def read(self, caller: Principal) -> None:
        self._limiter.acquire(f"{caller.client_id}:read", self._read)


class PaymentsServicer(payments_pb2_grpc.PaymentsServiceServicer):
    def __init__(
        self,
        payments: PaymentsService,
        subscriptions: WebhookSubscriptions,
        links: PageLinks,
        limits: RateLimits,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._payments = payments
        self._subscriptions = subscriptions
        self._links = links
        self._limits = limits
        self._clock = clock

    def CreatePayment(
        self, request: pb.CreatePaymentRequest, _: grpc.ServicerContext
    ) -> pb.Payment:
        caller = principal()
        self._limits.write(caller)
        key = idempotency.keyed("CreatePayment", request, caller.client_id)
        new = validate_new(
            amount=request.amount,
            currency=request.currency,
            reference=request.reference,
            description=request.description,
            return_url=request.return_url,
            email=request.email,
            language=request.language,
            metadata=dict(request.metadata),
            delayed_capture=request.delayed_capture,
            max_amount=self._payments.max_amount,
        )
        return self._payment(self._payments.create(caller, new, key))

    def GetPayment(self, request: pb.GetPaymentRequest, _: grpc.ServicerContext) -> pb.Payment:
        caller = principal()
        self._limits.read(caller)
        return self._payment(
            self._payments.get(caller.client_id, _id("payment_id", request.payment_id))
        )

    def ListPayments(
        self, request: pb.ListPaymentsRequest, _: grpc.ServicerContext
    ) -> pb.ListPaymentsResponse:
        caller = principal()
        self._limits.read(caller)
        page = PageRequest.parse(request.page_size, request.page_token)
        filters = PaymentFilter(
            reference=request.reference,
            state=_STATES_BACK.get(request.state),
            email=request.email,
            created_after=field_datetime(request, "created_after"),
            created_before=field_datetime(request, "created_before"),
            card_last_four=_last_four(request.card_last_four),
        )
        found = self._payments.list(caller.client_id, filters, page)
        return pb.ListPaymentsResponse(
            payments=[self._payment(p) for p in found.items],
            next_page_token=found.next_page_token,
        )

    def ListPaymentEvents(
        self, request: pb.ListPaymentEventsRequest, _: grpc.ServicerContext
    ) -> pb.ListPaymentEventsResponse:
        caller = principal()
        self._limits.read(caller)
        page = PageRequest.parse(request.page_size, request.page_token)
        found = self._payments.events(caller.client_id, _id("payment_id", request.payment_id), page)
        return pb.ListPaymentEventsResponse(
            events=[_event(e) for e in found.items], next_page_token=found.next_page_token
        )

    def CapturePayment(
        self, request: pb.CapturePaymentRequest, _: grpc.ServicerContext
    ) -> pb.Payment:
        caller = principal()
        self._limits.write(caller)
        key = idempotency.keyed("CapturePayment", request, caller.client_id)
        return self._payment(
            self._payments.capture(caller, _id("payment_id", request.payment_id), key)
        )

    def CancelPayment(
        self, request: pb.CancelPaymentRequest, _: grpc.ServicerContext
    ) -> pb.Payment:
        caller = principal()
        self._limits.write(caller)
        key = idempotency.keyed("CancelPayment", request, caller.client_id)
        return self._payment(
            self._payments.cancel(caller, _id("payment_id", request.payment_id), key)
        )

    def CreateRefund(self, request: pb.CreateRefundRequest, _: grpc.ServicerContext) -> pb.Refund:
        caller = principal()
        self._limits.write(caller)
        key = idempotency.keyed("CreateRefund", request, caller.client_id)
        payment_id = _id("payment_id", request.payment_id)
        if request.amount <= 0:
            raise InvalidArgument.from_violations(
                [FieldViolation("amount", "must be a positive number of minor units")]
            )
        expected = (
            request.expected_available_amount
            if request.HasField("expected_available_amount")
            else None
        )
        return _refund(
            self._payments.create_refund(caller, payment_id, request.amount, expected, key)
        )

    def GetRefund(self, request: pb.GetRefundRequest, _: grpc.ServicerContext) -> pb.Refund:
        caller = principal()
        self._limits.read(caller)
        return _refund(
            self._payments.get_refund(caller.client_id, _id("refund_id", request.refund_id))
        )

    def ListRefunds(
        self, request: pb.ListRefundsRequest, _: grpc.ServicerContext
    ) -> pb.ListRefundsResponse:
        caller = principal()
        self._limits.read(caller)
        page = PageRequest.parse(request.page_size, request.page_token)
        found = self._payments.list_refunds(
            caller.client_id, _id("payment_id", request.payment_id), page
        )
        return pb.ListRefundsResponse(
            refunds=[_refund(r) for r in found.items], next_page_token=found.next_page_token
        )

    def CreateWebhookSubscription(
        self, request: pb.CreateWebhookSubscriptionRequest, _: grpc.ServicerContext
    ) -> pb.CreateWebhookSubscriptionResponse:
        caller = principal()
        self._limits.write(caller)
        key = idempotency.keyed("CreateWebhookSubscription", request, caller.client_id)
        sub, secret = self._subscriptions.create(
            caller.client_id, request.url, list(request.event_types), key
        )
        return pb.CreateWebhookSubscriptionResponse(
            subscription=_subscription(sub), signing_secret=secret
        )

    def ListWebhookSubscriptions(
        self, request: pb.ListWebhookSubscriptionsRequest, _: grpc.ServicerContext
    ) -> pb.ListWebhookSubscriptionsResponse:
        caller = principal()
        self._limits.read(caller)
        page = PageRequest.parse(request.page_size, request.page_token)
        found = self._subscriptions.list(caller.client_id, page)
        return pb.ListWebhookSubscriptionsResponse(
            subscriptions=[_subscription(s) for s in found.items],
            next_page_token=found.next_page_token,
        )

    def DisableWebhookSubscription(
        self, request: pb.DisableWebhookSubscriptionRequest, _: grpc.ServicerContext
    ) -> pb.WebhookSubscription:
        caller = principal()
        self._limits.write(caller)
        key = idempotency.keyed("DisableWebhookSubscription", request, caller.client_id)
        return _subscription(
            self._subscriptions.disable(
                caller.client_id, _id("subscription_id", request.subscription_id), key
            )
        )

    def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, _: grpc.ServicerContext
    ) -> pb.ListWebhookDeliveriesResponse:
        caller = principal()
        self._limits.read(caller)
        page = PageRequest.parse(request.page_size, request.page_token)
        found = self._subscriptions.deliveries(
            caller.client_id, _id("subscription_id", request.subscription_id), page
        )
        return pb.ListWebhookDeliveriesResponse(
            deliveries=[_delivery(d) for d in found.items], next_page_token=found.next_page_token
        )

    def SendTestWebhookEvent(
        self, request: pb.SendTestWebhookEventRequest, _: grpc.ServicerContext
    ) -> pb.WebhookDelivery:
        caller = principal()
        self._limits.write(caller)
        key = idempotency.keyed("SendTestWebhookEvent", request, caller.client_id)
        sub_id = _id("subscription_id", request.subscription_id)
        return _delivery(self._subscriptions.send_test(caller.client_id, sub_id, key))

    def RedeliverWebhookEvent(
        self, request: pb.RedeliverWebhookEventRequest, _: grpc.ServicerContext
    ) -> pb.WebhookDelivery:
        caller = principal()
        self._limits.write(caller)
        key = idempotency.keyed("RedeliverWebhookEvent", request, caller.client_id)
        delivery_id = _id("delivery_id", request.delivery_id)
        return _delivery(self._subscriptions.redeliver(caller.client_id, delivery_id, key))

    def GetReconciliationReport(
        self, request: pb.GetReconciliationReportRequest, _: grpc.ServicerContext
    ) -> pb.ReconciliationReport:
        caller = principal()
        self._limits.read(caller)
        start, end = field_datetime(request, "start_time"), field_datetime(request, "end_time")
        violations = [
            FieldViolation(name, "required")
            for name, value in (("start_time", start), ("end_time", end))
            if value is None
        ]
        currency = request.currency or "GBP"
        violations += check_currency(currency)
        if violations:
            raise InvalidArgument.from_violations(violations)
        assert start is not None
        assert end is not None
        page = PageRequest.parse(request.page_size, request.page_token)
        return _report(self._payments.report(caller.client_id, currency, start, end, page))

    def GetPaymentStats(
        self, request: pb.GetPaymentStatsRequest, _: grpc.ServicerContext
    ) -> pb.PaymentStats:
        caller = principal()
        self._limits.read(caller)
        start, end = field_datetime(request, "start_time"), field_datetime(request, "end_time")
        if start is None or end is None:
            raise InvalidArgument.from_violations(
                [
                    FieldViolation(name, "required")
                    for name, value in (("start_time", start), ("end_time", end))
                    if value is None
                ]
            )
        return pb.PaymentStats(
            days=[_day_stats(d) for d in self._payments.day_stats(caller.client_id, start, end)]
        )

    def _payment(self, p: Payment) -> pb.Payment:
        message = pb.Payment(
            id=p.id,
            amount=p.amount,
            currency=p.currency,
            reference=p.reference,
            description=p.description,
            return_url=p.return_url,
            email=p.email,
            language=p.language,
            metadata=dict(p.metadata),
            delayed_capture=p.delayed_capture,
            state=_STATES[p.state],
            finished=p.finished,
            failure_code=_FAILURES[p.failure] if p.failure else pb.FAILURE_CODE_UNSPECIFIED,
            provider=p.provider,
            captured_amount=p.captured_amount,
            refundable_amount=p.refundable_amount,
            create_time=timestamp(p.created_at),
            update_time=timestamp(p.updated_at),
        )
        if p.page_open(self._clock()):
            message.next_url = self._links.url(p.id)
        if p.card is not None:
            message.card.CopyFrom(
                pb.CardDetails(
                    brand=p.card.brand,
                    last_four=p.card.last_four,
                    expiry=p.card.expiry,
                    cardholder_name=p.card.cardholder_name,
                )
            )
        stamp_into(message.authorise_time, p.authorised_at)
        stamp_into(message.capture_time, p.captured_at)
        return message


def _id(field: str, value: str) -> str:
    if not value or len(value) > 64 or not value.isprintable():
        raise InvalidArgument.from_violations([FieldViolation(field, "required: an id")])
    return value


def _last_four(value: str) -> str:
    if value and not (len(value) == 4 and value.isascii() and value.isdigit()):
        raise InvalidArgument.from_violations(
            [FieldViolation("card_last_four", "must be four digits")]
        )
    return value


def _event(e: EventRecord) -> pb.PaymentEvent:
    return pb.PaymentEvent(
        payment_id=e.payment_id,
        type=e.type,
        state=_STATES[e.state],
        time=timestamp(e.at),
        refund_id=e.refund_id or "",
    )


def _refund(r: Refund) -> pb.Refund:
    return pb.Refund(
        id=r.id,
        payment_id=r.payment_id,
        amount=r.amount,
        currency=r.currency,
        state=_REFUND_STATES[r.state],
        create_time=timestamp(r.created_at),
        update_time=timestamp(r.updated_at),
    )


def _subscription(s: Subscription) -> pb.WebhookSubscription:
    return pb.WebhookSubscription(
        id=s.id,
        url=s.url,
        event_types=list(s.event_types),
        disabled=s.disabled_at is not None,
        create_time=timestamp(s.created_at),
    )


def _delivery(d: Delivery) -> pb.WebhookDelivery:
    message = pb.WebhookDelivery(
        id=d.id,
        event_id=d.event_id,
        event_type=d.event_type,
        state=_DELIVERY_STATES[d.state],
        create_time=timestamp(d.created_at),
        attempts=[
            pb.WebhookAttempt(
                time=timestamp(a.attempted_at),
                status_code=a.status_code or 0,
                error=a.error or "",
                duration_ms=a.duration_ms,
            )
            for a in d.attempts
        ],
    )
    if d.state == "pending":
        stamp_into(message.next_attempt_time, d.next_attempt_at)
    return message


def _report(r: Report) -> pb.ReconciliationReport:
    return pb.ReconciliationReport(
        currency=r.currency,
        lines=[
            pb.ReconciliationLine(
                kind=x.kind,
                payment_id=x.payment_id,
                refund_id=x.refund_id,
                reference=x.reference,
                amount=x.amount,
                time=timestamp(x.at),
            )
            for x in r.lines
        ],
        captured_total=r.captured_total,
        refunded_total=r.refunded_total,
        net_total=r.captured_total - r.refunded_total,
        ledger_net_total=r.ledger_net_total,
        next_page_token=r.next_page_token,
    )


def _day_stats(d: DayStats) -> pb.PaymentDayStats:
    return pb.PaymentDayStats(
        date=d.day.isoformat(),
        currency=d.currency,
        captured_count=d.captured_count,
        captured_amount=d.captured_amount,
        refunded_count=d.refunded_count,
        refunded_amount=d.refunded_amount,
    )


def payments_service(servicer: PaymentsServicer) -> GrpcService:
    return GrpcService(
        SERVICE_NAME,
        lambda server: payments_pb2_grpc.add_PaymentsServiceServicer_to_server(servicer, server),
    )
