"""Trying webhooks over gRPC and JSON: a signed test event sent on request, and
a past event sent again through the same outbox; never to another agency's
subscription, and only with the scope that manages subscriptions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import httpx
import pytest
from gaap.payments.v1 import payments_pb2 as pb

from gaap_client import verify_signature
from tests.integration.payments.support import Agency, Payments, Received, WebhookReceiver
from tests.support.platform import bearer

SERVICE = "/gaap.payments.v1.PaymentsService/"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    listening = WebhookReceiver()
    yield listening
    listening.close()


def subscribe(agency: Agency, url: str, event_types: list[str] | None = None) -> tuple[str, str]:
    created = agency.stub.CreateWebhookSubscription(
        pb.CreateWebhookSubscriptionRequest(
            url=url, event_types=event_types or [], idempotency_key=agency.key()
        ),
        metadata=agency.metadata,
    )
    return created.subscription.id, created.signing_secret


def over_json(
    payments: Payments, agency: Agency, method: str, body: dict[str, Any]
) -> httpx.Response:
    token = dict(agency.metadata)["authorization"]
    return httpx.post(
        payments.running.http_url + SERVICE + method,
        json=body,
        headers={"authorization": token},
        timeout=10,
    )


def queued(agency: Agency, sub_id: str) -> int:
    listed = agency.stub.ListWebhookDeliveries(
        pb.ListWebhookDeliveriesRequest(subscription_id=sub_id), metadata=agency.metadata
    )
    return len(listed.deliveries)


def delivered(payments: Payments, receiver: WebhookReceiver, count: int) -> list[Received]:
    payments.app.outbox.deliver_due()
    assert len(receiver.received) == count
    return receiver.received


def test_a_test_event_is_signed_and_sent_whatever_the_event_types(
    payments: Payments, receiver: WebhookReceiver
) -> None:
    agency = Agency(payments)
    sub_id, secret = subscribe(agency, receiver.url, ["payment.refunded"])
    request = pb.SendTestWebhookEventRequest(subscription_id=sub_id, idempotency_key=agency.key())
    sent = agency.stub.SendTestWebhookEvent(request, metadata=agency.metadata)
    assert (sent.event_type, sent.state) == ("webhook.test", pb.WEBHOOK_DELIVERY_STATE_PENDING)
    # The same key: the same delivery, nothing queued twice.
    assert agency.stub.SendTestWebhookEvent(request, metadata=agency.metadata).id == sent.id

    (received,) = delivered(payments, receiver, 1)
    verify_signature(secret, received.headers["gaap-signature"], received.body)
    assert received.headers["gaap-event-id"] == sent.event_id
    assert received.headers["gaap-delivery-id"] == sent.id
    body = json.loads(received.body)
    assert body == {
        "id": sent.event_id,
        "type": "webhook.test",
        "created": body["created"],
        "subscription_id": sub_id,
    }
    listed = agency.stub.ListWebhookDeliveries(
        pb.ListWebhookDeliveriesRequest(subscription_id=sub_id), metadata=agency.metadata
    )
    assert [(d.id, d.state) for d in listed.deliveries] == [
        (sent.id, pb.WEBHOOK_DELIVERY_STATE_SUCCEEDED)
    ]


def test_a_past_event_is_sent_again_over_json_with_its_id_and_body(
    payments: Payments, receiver: WebhookReceiver
) -> None:
    agency = Agency(payments)
    sub_id, secret = subscribe(agency, receiver.url)
    payment = agency.create()
    (first,) = delivered(payments, receiver, 1)
    assert json.loads(first.body)["payment"]["state"] == "PAYMENT_STATE_CREATED"

    body = {"deliveryId": first.headers["gaap-delivery-id"], "idempotencyKey": agency.key()}
    answer = over_json(payments, agency, "RedeliverWebhookEvent", body)
    assert answer.status_code == 200, answer.text
    again = answer.json()
    assert again["eventId"] == first.headers["gaap-event-id"]
    assert again["id"] != first.headers["gaap-delivery-id"]
    assert again["state"] == "WEBHOOK_DELIVERY_STATE_PENDING"
    assert over_json(payments, agency, "RedeliverWebhookEvent", body).json()["id"] == again["id"]

    second = delivered(payments, receiver, 2)[1]
    assert second.body == first.body  # the same event, byte for byte
    assert second.headers["gaap-event-id"] == first.headers["gaap-event-id"]
    assert second.headers["gaap-delivery-id"] == again["id"]
    verify_signature(secret, second.headers["gaap-signature"], second.body)
    assert json.loads(second.body)["payment"]["id"] == payment.id

    test = over_json(
        payments,
        agency,
        "SendTestWebhookEvent",
        {"subscriptionId": sub_id, "idempotencyKey": agency.key()},
    )
    assert test.status_code == 200, test.text
    assert test.json()["eventType"] == "webhook.test"


def test_another_agency_subscription_and_delivery_are_not_found(
    payments: Payments, receiver: WebhookReceiver
) -> None:
    owner = Agency(payments)
    sub_id, _ = subscribe(owner, receiver.url)
    owner.create()
    (first,) = delivered(payments, receiver, 1)
    delivery_id = first.headers["gaap-delivery-id"]

    other = Agency(payments)
    calls: list[Callable[[], object]] = [
        lambda: other.stub.SendTestWebhookEvent(
            pb.SendTestWebhookEventRequest(subscription_id=sub_id, idempotency_key=other.key()),
            metadata=other.metadata,
        ),
        lambda: other.stub.RedeliverWebhookEvent(
            pb.RedeliverWebhookEventRequest(delivery_id=delivery_id, idempotency_key=other.key()),
            metadata=other.metadata,
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    refused = over_json(
        payments,
        other,
        "RedeliverWebhookEvent",
        {"deliveryId": delivery_id, "idempotencyKey": other.key()},
    )
    assert (refused.status_code, refused.json()["code"]) == (404, "not_found")
    assert queued(owner, sub_id) == 1  # nothing was queued
    assert len(delivered(payments, receiver, 1)) == 1


def test_a_disabled_subscription_gets_nothing(
    payments: Payments, receiver: WebhookReceiver
) -> None:
    agency = Agency(payments)
    sub_id, _ = subscribe(agency, receiver.url)
    agency.create()
    (first,) = delivered(payments, receiver, 1)
    agency.stub.DisableWebhookSubscription(
        pb.DisableWebhookSubscriptionRequest(subscription_id=sub_id, idempotency_key=agency.key()),
        metadata=agency.metadata,
    )
    with pytest.raises(grpc.RpcError) as caught:
        agency.stub.SendTestWebhookEvent(
            pb.SendTestWebhookEventRequest(subscription_id=sub_id, idempotency_key=agency.key()),
            metadata=agency.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as caught:
        agency.stub.RedeliverWebhookEvent(
            pb.RedeliverWebhookEventRequest(
                delivery_id=first.headers["gaap-delivery-id"], idempotency_key=agency.key()
            ),
            metadata=agency.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert queued(agency, sub_id) == 1


def test_trying_a_subscription_needs_the_create_scope(
    payments: Payments, receiver: WebhookReceiver
) -> None:
    owner = Agency(payments)
    sub_id, _ = subscribe(owner, receiver.url)
    reader = payments.platform.token(owner.secret, scope="payments:read")
    with pytest.raises(grpc.RpcError) as caught:
        owner.stub.SendTestWebhookEvent(
            pb.SendTestWebhookEventRequest(subscription_id=sub_id, idempotency_key=owner.key()),
            metadata=bearer(reader),
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert queued(owner, sub_id) == 0
