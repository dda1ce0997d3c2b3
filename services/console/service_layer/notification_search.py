"""Finding a team's notifications at notify, as its agency: by recipient (an
exact address or number, which notify normalises as it does when sending),
reference, template, status, a date range and bulk send; a page at a time.
Every member may search."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from gaap.notify.v1 import notify_pb2 as npb
from google.protobuf.timestamp_pb2 import Timestamp

from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.service_layer.notify_calls import refusals
from services.runtime.errors import FieldViolation, InvalidArgument

PAGE_SIZE = 50
# the status filter's names, as the page's select sends them
STATUSES = {
    "created": npb.STATUS_CREATED,
    "sending": npb.STATUS_SENDING,
    "delivered": npb.STATUS_DELIVERED,
    "permanent-failure": npb.STATUS_PERMANENT_FAILURE,
    "temporary-failure": npb.STATUS_TEMPORARY_FAILURE,
    "technical-failure": npb.STATUS_TECHNICAL_FAILURE,
    "cancelled": npb.STATUS_CANCELLED,
}
# notify's request fields as the search form names them
SEARCH_FIELDS = {"template_id": "template", "bulk_send_id": "bulk_send", "page_token": "page"}


class SearchNotifyApi(Protocol):
    def ListNotifications(
        self, request: npb.ListNotificationsRequest, /
    ) -> npb.ListNotificationsResponse: ...


class SearchNotifyAgency(Protocol):
    @property
    def notify(self) -> SearchNotifyApi: ...


SearchConnect = Callable[[Staff, str, Action], AbstractContextManager[SearchNotifyAgency]]


@dataclass(frozen=True)
class Filters:
    recipient: str = ""
    reference: str = ""
    template: str = ""
    status: str = ""
    sent_from: str = ""  # YYYY-MM-DD, UTC, inclusive
    sent_to: str = ""  # YYYY-MM-DD, UTC, inclusive
    bulk_send: str = ""
    page: str = ""


def _day(value: str, field: str, problems: list[FieldViolation]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(FieldViolation(field, "Enter a date like 2026-01-31"))
        return None


def _stamp(day: date) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.combine(day, time(), tzinfo=UTC))
    return stamp


def request_for(filters: Filters) -> npb.ListNotificationsRequest:
    """notify's request for ``filters``; ``InvalidArgument`` on the form's fields."""
    problems: list[FieldViolation] = []
    if filters.status and filters.status not in STATUSES:
        problems.append(FieldViolation("status", "Choose a status from the list"))
    start = _day(filters.sent_from, "sent_from", problems)
    end = _day(filters.sent_to, "sent_to", problems)
    if start and end and end < start:
        problems.append(FieldViolation("sent_to", "The end date is before the start date"))
    if problems:
        raise InvalidArgument.from_violations(problems)
    request = npb.ListNotificationsRequest(
        page_size=PAGE_SIZE,
        page_token=filters.page,
        recipient=filters.recipient.strip(),
        reference=filters.reference.strip(),
        template_id=filters.template.strip(),
        bulk_send_id=filters.bulk_send.strip(),
        status=STATUSES.get(filters.status, npb.STATUS_UNSPECIFIED),
    )
    if start:
        request.created_after.CopyFrom(_stamp(start))
    if end:
        request.created_before.CopyFrom(_stamp(end + timedelta(days=1)))
    return request


class NotificationSearch:
    def __init__(self, connect: SearchConnect) -> None:
        self._connect = connect

    def search(self, staff: Staff, team_id: str, filters: Filters) -> npb.ListNotificationsResponse:
        request = request_for(filters)
        with (
            self._connect(staff, team_id, Action.VIEW_NOTIFICATIONS) as agency,
            refusals(SEARCH_FIELDS),
        ):
            return agency.notify.ListNotifications(request)
