"""ListNotificationEvents over real gRPC (SQLite and PostgreSQL, after migration
0006): a notification's statuses with their times, oldest first, recorded where
the status changes, for the owning agency only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from gaap.notify.v1 import notify_pb2 as pb
from gaap.notify.v1 import notify_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from tests.support.platform import Platform, bearer

pytestmark = pytest.mark.slow


def test_a_cancelled_notification_lists_created_then_cancelled(platform: Platform) -> None:
    stub = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
    md = bearer(platform.token(platform.secret_agency()))
    template = stub.CreateTemplate(
        pb.CreateTemplateRequest(
            channel=pb.CHANNEL_EMAIL,
            name="Later",
            contents=[pb.TemplateContent(language="en", subject="Hi", body="Hello")],
            idempotency_key=uuid.uuid4().hex,
        ),
        metadata=md,
    )
    later = Timestamp()
    later.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    sent = stub.SendEmail(
        pb.SendEmailRequest(
            template_id=template.id,
            email_address="ada@example.com",
            scheduled_for=later,
            idempotency_key=uuid.uuid4().hex,
        ),
        metadata=md,
    )
    request = pb.ListNotificationEventsRequest(notification_id=sent.id)
    assert [e.status for e in stub.ListNotificationEvents(request, metadata=md).events] == [
        pb.STATUS_CREATED
    ]
    cancelled = stub.CancelNotification(
        pb.CancelNotificationRequest(notification_id=sent.id, idempotency_key=uuid.uuid4().hex),
        metadata=md,
    )
    events = stub.ListNotificationEvents(request, metadata=md).events
    assert [e.status for e in events] == [pb.STATUS_CREATED, pb.STATUS_CANCELLED]
    assert events[0].time == sent.create_time
    assert events[1].time == cancelled.completed_time

    other = bearer(platform.token(platform.secret_agency()))
    with pytest.raises(grpc.RpcError) as hidden:
        stub.ListNotificationEvents(request, metadata=other)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
