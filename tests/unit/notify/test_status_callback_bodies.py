"""What a status callback says, field by field: its event id, the time it names for
each status, its times in UTC with a Z, and the test callback's body."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.notify.domain import callbacks
from services.notify.domain.callbacks import Outgoing, StatusChange
from services.notify.domain.notifications import Notification

CREATED_AT = datetime(2025, 6, 1, 9, 30, 15, 250000, tzinfo=UTC)
SENT_AT = CREATED_AT + timedelta(seconds=2)
COMPLETED_AT = CREATED_AT + timedelta(minutes=5)


def notification(status: str, **changes: object) -> Notification:
    fields: dict[str, object] = {
        "id": "ntf_1",
        "tenant": "agency-a",
        "mode": "live",
        "channel": "sms",
        "status": status,
        "template_id": "tpl_9",
        "template_version": 4,
        "recipient": "+447700900000",
        "subject": "",
        "body": "Your code",
        "reference": "case-12",
        "language": "en",
        "reply_to": "",
        "personalisation": {},
        "created_at": CREATED_AT,
        "scheduled_for": None,
        "sent_at": SENT_AT,
        "completed_at": COMPLETED_AT,
        "fragments": 1,
        "bulk_send_id": None,
        "purged_at": None,
    }
    fields.update(changes)
    return Notification(**fields)  # type: ignore[arg-type]


def body(status: str, status_at: str) -> dict[str, object]:
    return {
        "type": "notification.status",
        "id": "ntf_1",
        "reference": "case-12",
        "channel": "CHANNEL_SMS",
        "status": status,
        "template_id": "tpl_9",
        "template_version": 4,
        "created_at": "2025-06-01T09:30:15.250000Z",
        "status_at": status_at,
    }


def test_a_status_callback_names_the_notification_without_its_recipient_or_content() -> None:
    change = StatusChange(
        "ntf_1", "agency-a", "case-12", "sms", "tpl_9", 4, CREATED_AT, "permanent-failure"
    )
    assert change.event_id == "ntf_1:STATUS_PERMANENT_FAILURE"
    assert callbacks.payload(change, COMPLETED_AT) == body(
        "STATUS_PERMANENT_FAILURE", "2025-06-01T09:35:15.250000Z"
    )


def test_a_time_in_another_offset_keeps_its_offset() -> None:
    change = StatusChange("ntf_1", "agency-a", "case-12", "sms", "tpl_9", 4, CREATED_AT, "sending")
    at = datetime(2025, 6, 1, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    assert callbacks.payload(change, at)["status_at"] == "2025-06-01T11:00:00+02:00"


def test_nothing_is_sent_for_a_notification_only_created() -> None:
    assert callbacks.latest_callback(notification("created")) is None


@pytest.mark.parametrize(
    ("status", "changes", "status_at"),
    [
        ("sending", {}, "2025-06-01T09:30:17.250000Z"),  # when it was handed over
        ("delivered", {}, "2025-06-01T09:35:15.250000Z"),  # when it completed
        ("cancelled", {"sent_at": None}, "2025-06-01T09:35:15.250000Z"),
        ("sending", {"sent_at": None}, "2025-06-01T09:30:15.250000Z"),  # else its creation
        ("technical-failure", {"completed_at": None}, "2025-06-01T09:30:15.250000Z"),
    ],
)
def test_the_latest_callback_is_the_one_its_status_sent(
    status: str, changes: dict[str, object], status_at: str
) -> None:
    name = "STATUS_" + status.upper().replace("-", "_")
    assert callbacks.latest_callback(notification(status, **changes)) == Outgoing(
        f"ntf_1:{name}", "notification.status", body(name, status_at)
    )


def test_a_test_callback_is_about_nothing_and_has_a_new_event_id() -> None:
    at = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    first, second = callbacks.test_callback(at), callbacks.test_callback(at)
    assert re.fullmatch(r"evt_[0-9a-f]{32}", first.event_id)
    assert first.event_id != second.event_id
    assert first == Outgoing(
        first.event_id,
        "callback.test",
        {"type": "callback.test", "id": first.event_id, "created_at": "2025-06-01T12:00:00Z"},
    )
