"""GetNotificationStats over real gRPC (SQLite and PostgreSQL): the calling
agency's notifications per UTC day, channel and status, for notify:read or
notify:send, with its range checked."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import pytest
from gaap.notify.v1 import notify_pb2 as pb
from gaap.notify.v1 import notify_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.runtime.clock import utcnow
from tests.support.platform import Platform, bearer

pytestmark = pytest.mark.slow


def request(days_before: int, days_after: int) -> pb.GetNotificationStatsRequest:
    now, start, end = utcnow(), Timestamp(), Timestamp()
    start.FromDatetime(now - timedelta(days=days_before))
    end.FromDatetime(now + timedelta(days=days_after))
    return pb.GetNotificationStatsRequest(start_time=start, end_time=end)


def test_stats_count_the_agencys_notifications_alone(platform: Platform) -> None:
    stub = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
    agency = platform.secret_agency()
    md = bearer(platform.token(agency))
    other = bearer(platform.token(platform.secret_agency()))
    template = stub.CreateTemplate(
        pb.CreateTemplateRequest(
            channel=pb.CHANNEL_EMAIL,
            name="Stats",
            contents=[pb.TemplateContent(language="en", subject="Hi", body="Hello")],
            idempotency_key=uuid.uuid4().hex,
        ),
        metadata=md,
    )
    for _ in range(3):
        stub.SendEmail(
            pb.SendEmailRequest(
                template_id=template.id,
                email_address="ada@example.com",
                idempotency_key=uuid.uuid4().hex,
            ),
            metadata=md,
        )
    stats = stub.GetNotificationStats(request(1, 1), metadata=md)
    assert {d.date for d in stats.days} == {utcnow().date().isoformat()}
    assert {d.channel for d in stats.days} == {pb.CHANNEL_EMAIL}
    assert sum(d.count for d in stats.days) == 3
    assert not stub.GetNotificationStats(request(1, 1), metadata=other).days

    for scope in ("notify:read", "notify:send"):
        alone = bearer(platform.token(agency, scope=scope))
        found = stub.GetNotificationStats(request(1, 1), metadata=alone)
        assert sum(d.count for d in found.days) == 3, scope
    templates_only = bearer(platform.token(agency, scope="notify:templates"))
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetNotificationStats(request(1, 1), metadata=templates_only)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(("before", "after"), [(0, 0), (400, 0)])
def test_an_empty_or_too_long_range_is_invalid(platform: Platform, before: int, after: int) -> None:
    stub = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
    md = bearer(platform.token(platform.secret_agency()))
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetNotificationStats(request(before, after), metadata=md)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as missing:
        stub.GetNotificationStats(pb.GetNotificationStatsRequest(), metadata=md)
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
