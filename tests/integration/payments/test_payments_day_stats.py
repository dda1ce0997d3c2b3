"""GetPaymentStats on SQLite and PostgreSQL: captures and refunds counted and
summed per UTC day and currency in one grouped query, split at midnight UTC,
and never another agency's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from gaap.payments.v1 import payments_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from tests.integration.payments.support import Agency, Payments


def stamp(at: datetime) -> Timestamp:
    found = Timestamp()
    found.FromDatetime(at)
    return found


def stats(agency: Agency, start: datetime, end: datetime) -> list[tuple[object, ...]]:
    answer: pb.PaymentStats = agency.stub.GetPaymentStats(
        pb.GetPaymentStatsRequest(start_time=stamp(start), end_time=stamp(end)),
        metadata=agency.metadata,
    )
    return [
        (
            d.date,
            d.currency,
            d.captured_count,
            d.captured_amount,
            d.refunded_count,
            d.refunded_amount,
        )
        for d in answer.days
    ]


def test_captures_and_refunds_are_bucketed_by_utc_day_for_the_agency_alone(
    payments: Payments,
) -> None:
    agency, other = Agency(payments), Agency(payments)
    # Two minutes before the next midnight UTC on the service's clock.
    now = payments.clock()
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    if midnight - now < timedelta(minutes=3):
        midnight += timedelta(days=1)
    payments.clock.advance(midnight - timedelta(minutes=2) - now)
    start = payments.clock() - timedelta(minutes=1)
    before = agency.paid(amount=1000)
    agency.paid(amount=250, currency="EUR")
    other.paid(amount=99_999)
    payments.clock.advance(timedelta(minutes=3))
    agency.paid(amount=500)
    agency.stub.CreateRefund(
        pb.CreateRefundRequest(payment_id=before.id, amount=300, idempotency_key="r1"),
        metadata=agency.metadata,
    )
    end = payments.clock() + timedelta(minutes=1)

    first, second = (midnight - timedelta(days=1)).date(), midnight.date()
    assert stats(agency, start, end) == [
        (first.isoformat(), "EUR", 1, 250, 0, 0),
        (first.isoformat(), "GBP", 1, 1000, 0, 0),
        (second.isoformat(), "GBP", 1, 500, 1, 300),
    ]
    assert stats(other, start, end) == [(first.isoformat(), "GBP", 1, 99_999, 0, 0)]
    # The range's end is exclusive: nothing after midnight is counted before it.
    assert [d[0] for d in stats(agency, start, midnight)] == [first.isoformat()] * 2


@pytest.mark.parametrize("days", [0, 367])
def test_an_empty_or_too_long_range_is_invalid(payments: Payments, days: int) -> None:
    agency = Agency(payments)
    start = payments.clock()
    with pytest.raises(grpc.RpcError) as refused:
        stats(agency, start, start + timedelta(days=days))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_range_is_required(payments: Payments) -> None:
    agency = Agency(payments)
    with pytest.raises(grpc.RpcError) as refused:
        agency.stub.GetPaymentStats(pb.GetPaymentStatsRequest(), metadata=agency.metadata)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_it_needs_payments_read(payments: Payments) -> None:
    agency = Agency(payments, scopes=["payments:create"])
    start = payments.clock()
    with pytest.raises(grpc.RpcError) as refused:
        stats(agency, start, start + timedelta(days=1))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
