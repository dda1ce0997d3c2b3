"""``services.runtime.timestamps``: what protobuf's own conversions make, faster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from gaap.payments.v1 import payments_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from services.runtime.timestamps import field_datetime, stamp_into, timestamp


@pytest.mark.parametrize(
    "at",
    [
        datetime(2025, 6, 1, 12, 30, 1, 123456, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(2025, 6, 1, 12, 0, 0, 5),  # naive: taken as UTC
    ],
)
def test_timestamps_are_what_from_datetime_makes(at: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(at)
    assert timestamp(at) == expected
    field = Timestamp()
    stamp_into(field, at)
    assert field == expected


def test_none_leaves_a_field_unset() -> None:
    message = pb.Payment()
    stamp_into(message.capture_time, None)
    assert not message.HasField("capture_time")
    stamp_into(message.capture_time, datetime(2025, 6, 1, tzinfo=UTC))
    assert message.HasField("capture_time")


def test_an_unset_request_field_is_none_and_a_set_one_comes_back_aware() -> None:
    request = pb.ListPaymentsRequest()
    assert field_datetime(request, "created_after") is None
    at = datetime(2025, 6, 1, 12, 30, 1, 123456, tzinfo=UTC)
    stamp_into(request.created_after, at)
    back = field_datetime(request, "created_after")
    assert back == at
    assert back is not None
    assert back.tzinfo is not None
