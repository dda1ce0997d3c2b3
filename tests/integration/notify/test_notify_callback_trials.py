"""Trying status callbacks over gRPC and JSON: a signed test callback sent on
request, and a notification's callback sent again through the same outbox;
never about another agency's notification, and only with notify:templates."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
from gaap.notify.v1 import notify_pb2 as pb
from gaap.notify.v1 import notify_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from gaap_client import verify_signature
from services.notify.bootstrap import Notify
from tests.integration.notify.support import CallbackReceiver, HttpApp, notify_for
from tests.support.platform import Platform, bearer
from tests.support.waiting import wait_until

Stub = notify_pb2_grpc.NotifyServiceStub
Metadata = tuple[tuple[str, str], ...]
SERVICE = "/gaap.notify.v1.NotifyService/"


@pytest.fixture(scope="module")
def notify(platform: Platform, database_url: str) -> Iterator[Notify]:
    handle = notify_for(platform, database_url)
    yield handle
    handle.database.close()


@pytest.fixture(scope="module")
def stub(platform: Platform) -> Stub:
    return Stub(platform.channel("notify"))


@pytest.fixture
def receiver() -> Iterator[tuple[CallbackReceiver, str]]:
    recording = CallbackReceiver()
    server = HttpApp(recording.app()).start()
    yield recording, server.url + "/callbacks"
    server.stop()


def key() -> str:
    return uuid.uuid4().hex


def agency(platform: Platform, scope: str | None = None) -> Metadata:
    return bearer(platform.token(platform.secret_agency(mode="test"), scope=scope))


def register(stub: Stub, md: Metadata, url: str) -> str:
    made = stub.SetStatusCallback(
        pb.SetStatusCallbackRequest(url=url, idempotency_key=key()), metadata=md
    )
    return made.signing_secret


def cancelled_notification(stub: Stub, md: Metadata) -> pb.Notification:
    """A scheduled email cancelled at once: one STATUS_CANCELLED callback, no worker."""
    template = stub.CreateTemplate(
        pb.CreateTemplateRequest(
            channel=pb.CHANNEL_EMAIL,
            name="Reminder",
            contents=[pb.TemplateContent(language="en", subject="Reminder", body="Hello")],
            idempotency_key=key(),
        ),
        metadata=md,
    )
    later = Timestamp()
    later.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    sent = stub.SendEmail(
        pb.SendEmailRequest(
            template_id=template.id,
            email_address="ada@example.com",
            reference="case-7",
            scheduled_for=later,
            idempotency_key=key(),
        ),
        metadata=md,
    )
    stub.CancelNotification(
        pb.CancelNotificationRequest(notification_id=sent.id, idempotency_key=key()), metadata=md
    )
    return sent


def received(notify: Notify, recording: CallbackReceiver, count: int) -> list[Any]:
    """Wait until ``count`` callbacks arrived (this handle's outbox or the platform's)."""

    def arrived() -> bool:
        notify.deliver_callbacks()
        return len(recording.requests) >= count

    wait_until(arrived, timeout=10, what=f"{count} callbacks")
    assert len(recording.requests) == count
    return recording.requests


def over_json(
    platform: Platform, md: Metadata, method: str, body: dict[str, Any]
) -> httpx.Response:
    return httpx.post(
        platform.notify.http_url + SERVICE + method,
        json=body,
        headers={"authorization": dict(md)["authorization"]},
        timeout=10,
    )


def test_a_test_callback_is_signed_and_sent_over_grpc_and_json(
    platform: Platform, stub: Stub, notify: Notify, receiver: tuple[CallbackReceiver, str]
) -> None:
    recording, url = receiver
    md = agency(platform)
    secret = register(stub, md, url)
    request = pb.SendTestStatusCallbackRequest(idempotency_key=key())
    queued = stub.SendTestStatusCallback(request, metadata=md)
    assert queued.event_type == "callback.test"
    assert stub.SendTestStatusCallback(request, metadata=md) == queued  # replayed
    ((headers, body),) = received(notify, recording, 1)
    verify_signature(secret, headers["gaap-signature"], body)
    assert (headers["gaap-event-id"], headers["gaap-delivery-id"]) == (queued.event_id, queued.id)
    payload = json.loads(body)
    assert (payload["type"], payload["id"]) == ("callback.test", queued.event_id)

    answer = over_json(platform, md, "SendTestStatusCallback", {"idempotencyKey": key()})
    assert answer.status_code == 200, answer.text
    assert answer.json()["eventType"] == "callback.test"
    headers, body = received(notify, recording, 2)[1]
    verify_signature(secret, headers["gaap-signature"], body)
    assert headers["gaap-delivery-id"] == answer.json()["id"]


def test_a_notification_callback_is_sent_again_with_the_same_event(
    platform: Platform, stub: Stub, notify: Notify, receiver: tuple[CallbackReceiver, str]
) -> None:
    recording, url = receiver
    md = agency(platform)
    secret = register(stub, md, url)
    sent = cancelled_notification(stub, md)
    ((first_headers, first_body),) = received(notify, recording, 1)
    first = json.loads(first_body)
    assert (first["type"], first["id"], first["status"], first["channel"]) == (
        "notification.status",
        sent.id,
        "STATUS_CANCELLED",
        "CHANNEL_EMAIL",
    )
    assert first_headers["gaap-event-id"] == f"{sent.id}:STATUS_CANCELLED"

    answer = over_json(
        platform,
        md,
        "RedeliverStatusCallback",
        {"notificationId": sent.id, "idempotencyKey": key()},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["eventId"] == first_headers["gaap-event-id"]
    headers, body = received(notify, recording, 2)[1]
    assert json.loads(body) == first
    assert headers["gaap-event-id"] == first_headers["gaap-event-id"]
    assert headers["gaap-delivery-id"] == answer.json()["id"] != first_headers["gaap-delivery-id"]
    verify_signature(secret, headers["gaap-signature"], body)


def test_another_agency_notification_is_not_found(
    platform: Platform, stub: Stub, notify: Notify, receiver: tuple[CallbackReceiver, str]
) -> None:
    recording, url = receiver
    owner = agency(platform)
    register(stub, owner, url)
    sent = cancelled_notification(stub, owner)
    received(notify, recording, 1)
    other = agency(platform)
    register(stub, other, url)
    with pytest.raises(grpc.RpcError) as caught:
        stub.RedeliverStatusCallback(
            pb.RedeliverStatusCallbackRequest(notification_id=sent.id, idempotency_key=key()),
            metadata=other,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    refused = over_json(
        platform,
        other,
        "RedeliverStatusCallback",
        {"notificationId": sent.id, "idempotencyKey": key()},
    )
    assert (refused.status_code, refused.json()["code"]) == (404, "not_found")
    notify.deliver_callbacks()
    assert len(recording.requests) == 1  # nothing more was sent


def test_without_a_registered_callback_or_the_scope_nothing_is_sent(
    platform: Platform, stub: Stub
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.SendTestStatusCallback(
            pb.SendTestStatusCallbackRequest(idempotency_key=key()), metadata=agency(platform)
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    sender_only = agency(platform, scope="notify:send")
    with pytest.raises(grpc.RpcError) as caught:
        stub.SendTestStatusCallback(
            pb.SendTestStatusCallbackRequest(idempotency_key=key()), metadata=sender_only
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
