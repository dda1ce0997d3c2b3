"""The notification search's filters as notify's request, and its refusals on
the form's fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from gaap.notify.v1 import notify_pb2 as npb

from services.console.service_layer.notification_search import Filters, request_for
from services.runtime.errors import InvalidArgument


def test_filters_become_notifys_request() -> None:
    request = request_for(
        Filters(
            recipient=" ada@example.com ",
            reference="case-7",
            template="tpl_1",
            status="delivered",
            sent_from="2026-01-05",
            sent_to="2026-01-06",
            bulk_send="bulk_1",
            page="tok",
        )
    )
    assert (request.recipient, request.reference, request.template_id) == (
        "ada@example.com",
        "case-7",
        "tpl_1",
    )
    assert (request.status, request.bulk_send_id, request.page_token) == (
        npb.STATUS_DELIVERED,
        "bulk_1",
        "tok",
    )
    # the range is whole UTC days: the end day is included
    assert request.created_after.ToDatetime(tzinfo=UTC) == datetime(2026, 1, 5, tzinfo=UTC)
    assert request.created_before.ToDatetime(tzinfo=UTC) == datetime(2026, 1, 7, tzinfo=UTC)


def test_no_filter_asks_for_everything() -> None:
    request = request_for(Filters())
    assert not request.HasField("created_after")
    assert (request.status, request.recipient) == (npb.STATUS_UNSPECIFIED, "")


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        (Filters(status="lost"), "status"),
        (Filters(sent_from="5 Jan"), "sent_from"),
        (Filters(sent_from="2026-01-06", sent_to="2026-01-05"), "sent_to"),
    ],
)
def test_bad_filters_are_refused_on_their_field(filters: Filters, field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        request_for(filters)
    assert [v.field for v in refused.value.violations] == [field]
