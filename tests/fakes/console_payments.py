"""An in-memory fake of the payments calls the console's payment pages make
(``services/console/service_layer/payments_console.py::PaymentsCalls``), for one
agency: its payments newest first with payments' filters and page tokens, each
one's events and refunds, and refunds refused as payments refuses them (the same
``gaap_client`` errors with their ErrorInfo reasons)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
from gaap.payments.v1 import payments_pb2 as pb

from gaap_client import errors as gaap

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


@dataclass
class FakePayments:
    payments: list[pb.Payment] = field(default_factory=list)  # oldest first
    events: dict[str, list[pb.PaymentEvent]] = field(default_factory=dict)
    refunds: dict[str, list[pb.Refund]] = field(default_factory=dict)
    refund_keys: dict[str, pb.Refund] = field(default_factory=dict)
    list_requests: list[pb.ListPaymentsRequest] = field(default_factory=list)

    def add(
        self,
        *,
        amount: int = 1050,
        currency: str = "GBP",
        reference: str = "REF",
        email: str = "",
        state: int = pb.PAYMENT_STATE_SUCCESS,
        last_four: str = "4242",
    ) -> pb.Payment:
        n = len(self.payments) + 1
        payment = pb.Payment(
            id=f"pay_{n:04d}",
            amount=amount,
            currency=currency,
            reference=reference,
            description="Parking permit",
            email=email,
            state=state,  # type: ignore[arg-type]
            captured_amount=amount if state == pb.PAYMENT_STATE_SUCCESS else 0,
            refundable_amount=amount if state == pb.PAYMENT_STATE_SUCCESS else 0,
            card=pb.CardDetails(brand="visa", last_four=last_four, expiry="12/39"),
        )
        payment.create_time.FromDatetime(START + timedelta(minutes=n))
        self.payments.append(payment)
        created = pb.PaymentEvent(payment_id=payment.id, type="payment.created", state=state)  # type: ignore[arg-type]
        created.time.FromDatetime(START + timedelta(minutes=n))
        self.events[payment.id] = [created]
        self.refunds[payment.id] = []
        return payment

    def _find(self, payment_id: str) -> pb.Payment:
        for payment in self.payments:
            if payment.id == payment_id:
                return payment
        raise gaap.NotFound(grpc.StatusCode.NOT_FOUND, f"no payment {payment_id}")

    def ListPayments(self, request: pb.ListPaymentsRequest, /) -> pb.ListPaymentsResponse:
        self.list_requests.append(request)
        chosen = [
            p
            for p in reversed(self.payments)
            if (not request.reference or p.reference == request.reference)
            and (not request.email or p.email == request.email)
            and (not request.card_last_four or p.card.last_four == request.card_last_four)
            and (not request.state or p.state == request.state)
            and (
                not request.HasField("created_after")
                or p.create_time.ToDatetime() >= request.created_after.ToDatetime()
            )
            and (
                not request.HasField("created_before")
                or p.create_time.ToDatetime() < request.created_before.ToDatetime()
            )
        ]
        if request.page_token and not request.page_token.isdigit():
            raise gaap.InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, "bad page_token")
        start = int(request.page_token or 0)
        size = request.page_size or 50
        end = start + size
        return pb.ListPaymentsResponse(
            payments=chosen[start:end], next_page_token=str(end) if end < len(chosen) else ""
        )

    def GetPayment(self, request: pb.GetPaymentRequest, /) -> pb.Payment:
        return self._find(request.payment_id)

    def ListPaymentEvents(
        self, request: pb.ListPaymentEventsRequest, /
    ) -> pb.ListPaymentEventsResponse:
        self._find(request.payment_id)
        return pb.ListPaymentEventsResponse(events=self.events[request.payment_id])

    def ListRefunds(self, request: pb.ListRefundsRequest, /) -> pb.ListRefundsResponse:
        self._find(request.payment_id)
        return pb.ListRefundsResponse(refunds=self.refunds[request.payment_id])

    def GetReconciliationReport(
        self, request: pb.GetReconciliationReportRequest, /
    ) -> pb.ReconciliationReport:
        """A capture line for each successful payment in the range, then its refunds."""
        if len(request.currency) != 3:
            raise gaap.InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, "bad currency")
        start, end = request.start_time.ToDatetime(), request.end_time.ToDatetime()
        lines: list[pb.ReconciliationLine] = []
        for p in self.payments:
            if p.state != pb.PAYMENT_STATE_SUCCESS or p.currency != request.currency:
                continue
            if not start <= p.create_time.ToDatetime() < end:
                continue
            lines.append(
                pb.ReconciliationLine(
                    kind="capture", payment_id=p.id, reference=p.reference, amount=p.amount
                )
            )
            lines += [
                pb.ReconciliationLine(
                    kind="refund",
                    payment_id=p.id,
                    refund_id=r.id,
                    reference=p.reference,
                    amount=r.amount,
                )
                for r in self.refunds[p.id]
            ]
        captured = sum(x.amount for x in lines if x.kind == "capture")
        refunded = sum(x.amount for x in lines if x.kind == "refund")
        first = int(request.page_token or 0)
        size = request.page_size or 50
        return pb.ReconciliationReport(
            currency=request.currency,
            lines=lines[first : first + size],
            captured_total=captured,
            refunded_total=refunded,
            net_total=captured - refunded,
            ledger_net_total=captured - refunded,
            next_page_token=str(first + size) if first + size < len(lines) else "",
        )

    def CreateRefund(self, request: pb.CreateRefundRequest, /) -> pb.Refund:
        if request.idempotency_key in self.refund_keys:
            return self.refund_keys[request.idempotency_key]
        payment = self._find(request.payment_id)
        left = payment.refundable_amount
        if request.HasField("expected_available_amount") and (
            request.expected_available_amount != left
        ):
            raise gaap.FailedPrecondition(
                grpc.StatusCode.FAILED_PRECONDITION,
                "nothing was refunded",
                reason="AVAILABLE_AMOUNT_CHANGED",
                metadata={"available_amount": str(left)},
            )
        if request.amount > left:
            raise gaap.FailedPrecondition(
                grpc.StatusCode.FAILED_PRECONDITION,
                "nothing was refunded",
                reason="REFUND_EXCEEDS_AVAILABLE",
                metadata={"available_amount": str(left)},
            )
        refund = pb.Refund(
            id=f"rfd_{len(self.refund_keys) + 1:04d}",
            payment_id=payment.id,
            amount=request.amount,
            currency=payment.currency,
            state=pb.REFUND_STATE_SUCCESS,
        )
        payment.refundable_amount = left - request.amount
        self.refunds[payment.id].append(refund)
        self.refund_keys[request.idempotency_key] = refund
        return refund


@dataclass
class FakeWebhooks:
    """payments' webhook subscriptions of one agency, and their deliveries."""

    subscriptions: list[pb.WebhookSubscription] = field(default_factory=list)
    deliveries: dict[str, list[pb.WebhookDelivery]] = field(default_factory=dict)
    keys: dict[str, object] = field(default_factory=dict)

    def ListWebhookSubscriptions(
        self, request: pb.ListWebhookSubscriptionsRequest, /
    ) -> pb.ListWebhookSubscriptionsResponse:
        return pb.ListWebhookSubscriptionsResponse(subscriptions=self.subscriptions)

    def _subscription(self, subscription_id: str) -> pb.WebhookSubscription:
        for s in self.subscriptions:
            if s.id == subscription_id:
                return s
        raise gaap.NotFound(grpc.StatusCode.NOT_FOUND, "no such subscription")

    def CreateWebhookSubscription(
        self, request: pb.CreateWebhookSubscriptionRequest, /
    ) -> pb.CreateWebhookSubscriptionResponse:
        if request.idempotency_key in self.keys:
            replay = self.keys[request.idempotency_key]
            assert isinstance(replay, pb.CreateWebhookSubscriptionResponse)
            return replay
        if not request.url.startswith("https://"):
            raise gaap.InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, "url must be https")
        subscription = pb.WebhookSubscription(
            id=f"whs_{len(self.subscriptions) + 1:04d}",
            url=request.url,
            event_types=request.event_types,
        )
        self.subscriptions.append(subscription)
        self.deliveries[subscription.id] = []
        created = pb.CreateWebhookSubscriptionResponse(
            subscription=subscription, signing_secret=f"whsec_{len(self.subscriptions)}"
        )
        self.keys[request.idempotency_key] = created
        return created

    def DisableWebhookSubscription(
        self, request: pb.DisableWebhookSubscriptionRequest, /
    ) -> pb.WebhookSubscription:
        subscription = self._subscription(request.subscription_id)
        subscription.disabled = True
        return subscription

    def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, /
    ) -> pb.ListWebhookDeliveriesResponse:
        self._subscription(request.subscription_id)
        return pb.ListWebhookDeliveriesResponse(
            deliveries=list(reversed(self.deliveries[request.subscription_id]))
        )

    def _queue(self, subscription_id: str, key: str, event_type: str) -> pb.WebhookDelivery:
        if key in self.keys:
            replay = self.keys[key]
            assert isinstance(replay, pb.WebhookDelivery)
            return replay
        if self._subscription(subscription_id).disabled:
            raise gaap.FailedPrecondition(grpc.StatusCode.FAILED_PRECONDITION, "disabled")
        delivery = pb.WebhookDelivery(
            id=f"whd_{sum(len(d) for d in self.deliveries.values()) + 1:04d}",
            event_id="evt_1",
            event_type=event_type,
            state=pb.WEBHOOK_DELIVERY_STATE_PENDING,
        )
        self.deliveries[subscription_id].append(delivery)
        self.keys[key] = delivery
        return delivery

    def SendTestWebhookEvent(
        self, request: pb.SendTestWebhookEventRequest, /
    ) -> pb.WebhookDelivery:
        return self._queue(request.subscription_id, request.idempotency_key, "webhook.test")

    def RedeliverWebhookEvent(
        self, request: pb.RedeliverWebhookEventRequest, /
    ) -> pb.WebhookDelivery:
        for subscription_id, deliveries in self.deliveries.items():
            for past in deliveries:
                if past.id == request.delivery_id:
                    return self._queue(subscription_id, request.idempotency_key, past.event_type)
        raise gaap.NotFound(grpc.StatusCode.NOT_FOUND, "no such delivery")


@dataclass
class FakePaymentsWithWebhooks(FakeWebhooks, FakePayments):
    """Both halves, as payments' one stub has them."""


@dataclass
class FakeAgencyPayments:
    """What ``ActingFor.connect`` hands the payment pages: ``.payments``."""

    payments: FakePaymentsWithWebhooks = field(default_factory=FakePaymentsWithWebhooks)
