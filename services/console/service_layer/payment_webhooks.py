"""A team's webhook subscriptions at payments, for those who manage webhooks
(developers and administrators): list, create (its signing secret shown once),
disable, each one's deliveries with their attempts, send a past delivery again
and send a test event. Every change is recorded in the team's audit trail.

A form carries a request id: the idempotency key payments gets is derived from
it and the staff member, so a form sent twice does the thing once."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gaap.payments.v1 import payments_pb2 as pb

from gaap_client import errors as gaap
from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.service_layer.access import record
from services.console.service_layer.acting_for import ActingFor
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound

EVENT_TYPES = (
    "payment.created",
    "payment.succeeded",
    "payment.failed",
    "payment.cancelled",
    "payment.captured",
    "payment.refunded",
)
DELIVERIES_PAGE = 50


class WebhookCalls(Protocol):
    """The calls of payments' stub these pages make (``PaymentsServiceStub``)."""

    def ListWebhookSubscriptions(
        self, request: pb.ListWebhookSubscriptionsRequest, /
    ) -> pb.ListWebhookSubscriptionsResponse: ...
    def CreateWebhookSubscription(
        self, request: pb.CreateWebhookSubscriptionRequest, /
    ) -> pb.CreateWebhookSubscriptionResponse: ...
    def DisableWebhookSubscription(
        self, request: pb.DisableWebhookSubscriptionRequest, /
    ) -> pb.WebhookSubscription: ...
    def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, /
    ) -> pb.ListWebhookDeliveriesResponse: ...
    def SendTestWebhookEvent(
        self, request: pb.SendTestWebhookEventRequest, /
    ) -> pb.WebhookDelivery: ...
    def RedeliverWebhookEvent(
        self, request: pb.RedeliverWebhookEventRequest, /
    ) -> pb.WebhookDelivery: ...


class AgencyWebhooks(Protocol):
    @property
    def payments(self) -> WebhookCalls: ...


@dataclass(frozen=True)
class Deliveries:
    subscription: pb.WebhookSubscription
    deliveries: list[pb.WebhookDelivery]
    next_page_token: str


def _key(staff: Staff, what: str, request_id: str) -> str:
    """payments' idempotency key for one form: the same form sent twice, one key."""
    if not 16 <= len(request_id) <= 100:
        raise InvalidArgument.from_violations(
            [FieldViolation("url", "This page has expired. Please start again.")]
        )
    digest = hashlib.sha256(f"{staff.subject}\0{what}\0{request_id}".encode()).hexdigest()
    return "console-" + digest[:48]


class PaymentWebhooks:
    def __init__(self, acting: ActingFor[AgencyWebhooks], clock: Callable[[], datetime]) -> None:
        self._uow = acting.transactions
        self._acting = acting
        self._clock = clock

    def subscriptions(self, staff: Staff, team_id: str) -> list[pb.WebhookSubscription]:
        found: list[pb.WebhookSubscription] = []
        token = ""
        with self._acting.connect(staff, team_id, Action.MANAGE_WEBHOOKS) as agency:
            while True:
                page = agency.payments.ListWebhookSubscriptions(
                    pb.ListWebhookSubscriptionsRequest(page_size=500, page_token=token)
                )
                found += page.subscriptions
                token = page.next_page_token
                if not token:
                    return found

    def create(
        self, staff: Staff, team_id: str, url: str, event_types: list[str], request_id: str
    ) -> pb.CreateWebhookSubscriptionResponse:
        """The new subscription with its signing secret, to be shown this once."""
        url = url.strip()
        if not url:
            raise InvalidArgument.from_violations([FieldViolation("url", "Enter the URL")])
        if any(t not in EVENT_TYPES for t in event_types):
            raise InvalidArgument.from_violations(
                [FieldViolation("url", "Choose event types from the list")]
            )
        key = _key(staff, "create", request_id)
        with self._acting.connect(staff, team_id, Action.MANAGE_WEBHOOKS) as agency:
            try:
                created = agency.payments.CreateWebhookSubscription(
                    pb.CreateWebhookSubscriptionRequest(
                        url=url, event_types=event_types, idempotency_key=key
                    )
                )
            except gaap.InvalidArgument:
                raise InvalidArgument.from_violations(
                    [
                        FieldViolation(
                            "url", "Enter an https URL (http only for localhost) like https://…"
                        )
                    ]
                ) from None
        self._record(staff, team_id, "create_webhook", subscription_id=created.subscription.id)
        return created

    def disable(self, staff: Staff, team_id: str, subscription_id: str) -> None:
        with self._acting.connect(staff, team_id, Action.MANAGE_WEBHOOKS) as agency:
            try:
                agency.payments.DisableWebhookSubscription(
                    pb.DisableWebhookSubscriptionRequest(
                        subscription_id=subscription_id,
                        # Disabling is the same whoever does it, however often.
                        idempotency_key="console-disable-" + subscription_id,
                    )
                )
            except (gaap.NotFound, gaap.InvalidArgument):
                raise NotFound("No such subscription") from None
        self._record(staff, team_id, "disable_webhook", subscription_id=subscription_id)

    def deliveries(
        self, staff: Staff, team_id: str, subscription_id: str, page_token: str = ""
    ) -> Deliveries:
        with self._acting.connect(staff, team_id, Action.MANAGE_WEBHOOKS) as agency:
            subscription = _find(agency.payments, subscription_id)
            try:
                page = agency.payments.ListWebhookDeliveries(
                    pb.ListWebhookDeliveriesRequest(
                        subscription_id=subscription_id,
                        page_size=DELIVERIES_PAGE,
                        page_token=page_token,
                    )
                )
            except gaap.InvalidArgument:
                raise NotFound("No such subscription") from None
        return Deliveries(subscription, list(page.deliveries), page.next_page_token)

    def send_test(
        self, staff: Staff, team_id: str, subscription_id: str, request_id: str
    ) -> pb.WebhookDelivery:
        key = _key(staff, "test", request_id)
        with self._acting.connect(staff, team_id, Action.MANAGE_WEBHOOKS) as agency:
            try:
                delivery = agency.payments.SendTestWebhookEvent(
                    pb.SendTestWebhookEventRequest(
                        subscription_id=subscription_id, idempotency_key=key
                    )
                )
            except (gaap.NotFound, gaap.InvalidArgument):
                raise NotFound("No such subscription") from None
            except gaap.FailedPrecondition:
                raise FailedPrecondition("This subscription is disabled") from None
        self._record(
            staff, team_id, "test_webhook", subscription_id=subscription_id, delivery_id=delivery.id
        )
        return delivery

    def redeliver(
        self, staff: Staff, team_id: str, subscription_id: str, delivery_id: str, request_id: str
    ) -> pb.WebhookDelivery:
        key = _key(staff, "redeliver", request_id)
        with self._acting.connect(staff, team_id, Action.MANAGE_WEBHOOKS) as agency:
            try:
                delivery = agency.payments.RedeliverWebhookEvent(
                    pb.RedeliverWebhookEventRequest(delivery_id=delivery_id, idempotency_key=key)
                )
            except (gaap.NotFound, gaap.InvalidArgument):
                raise NotFound("No such delivery") from None
            except gaap.FailedPrecondition:
                raise FailedPrecondition("This subscription is disabled") from None
        self._record(
            staff,
            team_id,
            "redeliver_webhook",
            subscription_id=subscription_id,
            delivery_id=delivery_id,
            new_delivery_id=delivery.id,
        )
        return delivery

    def _record(self, staff: Staff, team_id: str, action: str, **details: str) -> None:
        with self._uow() as uow:
            record(uow, staff, team_id, action, self._clock(), **details)


def _find(payments: WebhookCalls, subscription_id: str) -> pb.WebhookSubscription:
    token = ""
    while True:
        page = payments.ListWebhookSubscriptions(
            pb.ListWebhookSubscriptionsRequest(page_size=500, page_token=token)
        )
        for subscription in page.subscriptions:
            if subscription.id == subscription_id:
                return subscription
        token = page.next_page_token
        if not token:
            raise NotFound("No such subscription")
