"""GetUsage over real gRPC (SQLite and PostgreSQL): today's sends per channel
against the daily limits, for the calling agency only, with the scopes that
read, send or manage its messages."""

from __future__ import annotations

import uuid

import grpc
import pytest
from gaap.notify.v1 import notify_pb2 as pb
from gaap.notify.v1 import notify_pb2_grpc

from services.runtime.clock import utcnow
from tests.support.platform import Platform, bearer

pytestmark = pytest.mark.slow


def test_usage_counts_the_agencys_sends_today_against_its_limits(platform: Platform) -> None:
    stub = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
    agency = platform.secret_agency()
    md = bearer(platform.token(agency))
    other = bearer(platform.token(platform.secret_agency()))
    before = stub.GetUsage(pb.GetUsageRequest(), metadata=md)
    assert (before.email_sent, before.sms_sent) == (0, 0)
    assert before.day == utcnow().date().isoformat()
    limits = stub.GetAgencySettings(pb.GetAgencySettingsRequest(), metadata=md)
    assert (before.email_daily_limit, before.sms_daily_limit) == (
        limits.email_daily_limit,
        limits.sms_daily_limit,
    )
    template = stub.CreateTemplate(
        pb.CreateTemplateRequest(
            channel=pb.CHANNEL_EMAIL,
            name="Usage",
            contents=[pb.TemplateContent(language="en", subject="Hi", body="Hello")],
            idempotency_key=uuid.uuid4().hex,
        ),
        metadata=md,
    )
    for _ in range(2):
        stub.SendEmail(
            pb.SendEmailRequest(
                template_id=template.id,
                email_address="ada@example.com",
                idempotency_key=uuid.uuid4().hex,
            ),
            metadata=md,
        )
    after = stub.GetUsage(pb.GetUsageRequest(), metadata=md)
    assert (after.email_sent, after.sms_sent) == (2, 0)
    assert stub.GetUsage(pb.GetUsageRequest(), metadata=other).email_sent == 0

    for scope in ("notify:read", "notify:send", "notify:templates"):
        alone = bearer(platform.token(agency, scope=scope))
        assert stub.GetUsage(pb.GetUsageRequest(), metadata=alone).email_sent == 2, scope
    payments_only = bearer(platform.token(agency, scope="payments:read"))
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetUsage(pb.GetUsageRequest(), metadata=payments_only)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED  # not a token for notify
