"""A send before it is written: its stored row, the checks single and bulk sends
share, rendering in the asked language, and the daily-limit refusals' words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notify.domain import sends
from services.notify.domain.templates import Content, Rendered, Template
from services.runtime.errors import FieldViolation

NOW = datetime(2025, 6, 1, 21, 30, tzinfo=UTC)
TEMPLATE = Template(
    "tpl_1",
    "agency-a",
    3,
    "email",
    "Reminder",
    (Content("en", "Hello ((name))", "Dear ((name))"), Content("cy", "Helo ((name))", "Annwyl")),
    NOW,
    NOW,
)


def test_a_new_row_has_every_stored_field() -> None:
    row = sends.new_row(
        "agency-a",
        "live",
        template=TEMPLATE,
        recipient="ada@example.com",
        values={"name": "Ada", "days": ("Mon", "Tue")},
        rendered=Rendered("en", "Hello Ada", "Dear Ada", "<p>", 0, ""),
        reference="ref-1",
        scheduled_for=None,
        reply_to="  help@agency.gov.uk ",
        now=NOW,
        bulk_id="bulk_1",
        traceparent="00-abc-def-01",
    )
    assert row.pop("id").startswith("ntf_")
    assert row == {
        "tenant": "agency-a",
        "mode": "live",
        "channel": "email",
        "status": "created",
        "template_id": "tpl_1",
        "template_version": 3,
        "recipient": "ada@example.com",
        "subject": "Hello Ada",
        "body": "Dear Ada",
        "personalisation": {"name": "Ada", "days": ["Mon", "Tue"]},
        "reply_to": "help@agency.gov.uk",
        "reference": "ref-1",
        "language": "en",
        "fragments": 0,
        "bulk_send_id": "bulk_1",
        "traceparent": "00-abc-def-01",
        "created_at": NOW,
        "scheduled_for": None,
        "due_at": NOW,
        "first_due_at": NOW,
        "attempts": 0,
        "provider": None,
        "provider_message_id": None,
        "sent_at": None,
        "completed_at": None,
        "purged_at": None,
    }


@pytest.mark.parametrize(
    ("scheduled_for", "due"),
    [(NOW + timedelta(hours=2), NOW + timedelta(hours=2)), (NOW - timedelta(seconds=30), NOW)],
)
def test_a_scheduled_row_is_due_when_scheduled_but_never_before_now(
    scheduled_for: datetime, due: datetime
) -> None:
    row = sends.new_row(
        "agency-a",
        "test",
        template=TEMPLATE,
        recipient="ada@example.com",
        values={},
        rendered=Rendered("cy", "Helo", "Annwyl"),
        reference="",
        scheduled_for=scheduled_for,
        reply_to="",
        now=NOW,
        bulk_id=None,
        traceparent=None,
    )
    assert (row["scheduled_for"], row["due_at"], row["first_due_at"]) == (scheduled_for, due, due)
    assert sends.as_notification(row).scheduled_for == scheduled_for


def test_single_and_bulk_sends_check_reference_schedule_and_reply_to_alike() -> None:
    assert sends.common_problems("ref", None, "", NOW) == []
    assert sends.common_problems("ref", None, "help@agency.gov.uk", NOW) == []
    assert sends.common_problems("a\nb", NOW - timedelta(hours=1), "07700 900002", NOW) == [
        FieldViolation("reference", "at most 200 printable characters"),
        FieldViolation("scheduled_for", "must not be in the past"),
        FieldViolation(
            "email_reply_to",
            "not a valid email address: An email address must have an @-sign.",
        ),
    ]


def test_rendering_collects_problems_and_uses_the_asked_language() -> None:
    problems: list[FieldViolation] = []
    rendered = sends.render_collecting(TEMPLATE, {"name": "Ada"}, "cy", problems, "rows[0]")
    assert rendered == Rendered("cy", "Helo Ada", "Annwyl", "")
    assert problems == []
    assert sends.render_collecting(TEMPLATE, {}, "en", problems, "rows[4].personalisation") is None
    assert problems == [
        FieldViolation("rows[4].personalisation.name", "missing: the template uses it")
    ]


def test_the_daily_limit_resets_at_midnight_utc() -> None:
    refusal = sends.daily_exhausted("sms", 250, NOW)
    assert str(refusal) == "daily sms limit of 250 reached; it resets at 00:00 UTC"
    assert refusal.retry_after == 2.5 * 3600


@pytest.mark.parametrize(("used", "room"), [(1_000, "1,500"), (2_500, "0"), (3_000, "0")])
def test_a_bulk_send_over_the_limit_says_how_many_rows_would_fit(used: int, room: str) -> None:
    refusal = sends.bulk_exhausted("email", 12_000, 2_500, used, NOW)
    assert str(refusal) == (
        f"this bulk send has 12,000 rows but only {room} more email messages fit in today's "
        f"limit of 2,500; send at most {room} rows now, or the rest after 00:00 UTC. "
        "Nothing was queued"
    )
    assert refusal.retry_after == 2.5 * 3600
