"""A send checked and rendered, before it is written: its stored fields, the
checks every send shares, and what writing it can come to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from services.notify.domain import notifications as rules
from services.notify.domain import templates as template_rules
from services.notify.domain.notifications import Notification
from services.notify.domain.placeholders import Value
from services.notify.domain.recipients import SmsRules
from services.notify.domain.statuses import CREATED
from services.notify.domain.templates import Rendered, Template
from services.runtime.errors import FieldViolation, InvalidArgument, ResourceExhausted
from services.runtime.ids import new_id

# A new notification as every field it is stored with, by name: the read model's
# and the queue's (``due_at``, ``first_due_at``, ``traceparent``). A plain dict:
# a bulk send builds 100,000 of them, and the stores take them as they are.
NewRow = dict[str, Any]

SendOutcome = Literal["written", "stale", "taken"]
WRITTEN: Final[SendOutcome] = "written"
STALE: Final[SendOutcome] = "stale"  # its template has a newer version: render it again
TAKEN: Final[SendOutcome] = "taken"  # not written together: write it alone (key seen, limit)


@dataclass(frozen=True)
class NewSend:
    """A checked, rendered send: its notification row and its idempotency record."""

    row: NewRow
    key: str
    fingerprint: str
    response: bytes
    daily_limit: int


def new_row(
    tenant: str,
    mode: str,
    *,
    template: Template,
    recipient: str,
    values: Mapping[str, Value],
    rendered: Rendered,
    reference: str,
    scheduled_for: datetime | None,
    reply_to: str,
    now: datetime,
    bulk_id: str | None,
    traceparent: str | None,
) -> NewRow:
    due = max(scheduled_for, now) if scheduled_for is not None else now
    return {
        "id": new_id("ntf"),
        "tenant": tenant,
        "mode": mode,
        "channel": template.channel,
        "status": CREATED,
        "template_id": template.id,
        "template_version": template.version,
        "recipient": recipient,
        "subject": rendered.subject,
        "body": rendered.body,
        "personalisation": {k: (v if isinstance(v, str) else list(v)) for k, v in values.items()},
        "reply_to": reply_to.strip(),
        "reference": reference,
        "language": rendered.language,
        "fragments": rendered.fragments,
        "bulk_send_id": bulk_id,
        "traceparent": traceparent,
        "created_at": now,
        "scheduled_for": scheduled_for,
        "due_at": due,
        "first_due_at": due,
        "attempts": 0,
        "provider": None,
        "provider_message_id": None,
        "sent_at": None,
        "completed_at": None,
        "purged_at": None,
    }


_NOTIFICATION_FIELDS = tuple(Notification.__dataclass_fields__)


def as_notification(row: Mapping[str, Any]) -> Notification:
    return Notification(**{k: row[k] for k in _NOTIFICATION_FIELDS})


def common_problems(
    reference: str, scheduled_for: datetime | None, reply_to: str, now: datetime
) -> list[FieldViolation]:
    """What single and bulk sends check alike: reference, schedule, reply-to."""
    found = [
        rules.reference_problem(reference),
        rules.due_time(scheduled_for, now, "scheduled_for"),
    ]
    if reply_to:
        _, problem = rules.recipient_problem("email", reply_to, SmsRules(), "email_reply_to")
        found.append(problem)
    return [p for p in found if p is not None]


def render_collecting(
    template: Template,
    values: Mapping[str, Value],
    language: str,
    problems: list[FieldViolation],
    field_name: str,
) -> Rendered | None:
    """The rendered message, or None with its problems added to ``problems``."""
    try:
        return template_rules.render(template, values, language, field=field_name)
    except InvalidArgument as exc:
        problems += exc.violations
        return None


def daily_exhausted(channel: str, limit: int, now: datetime) -> ResourceExhausted:
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return ResourceExhausted(
        f"daily {channel} limit of {limit} reached; it resets at 00:00 UTC",
        (midnight - now).total_seconds(),
    )


def bulk_exhausted(
    channel: str, rows: int, limit: int, used: int, now: datetime
) -> ResourceExhausted:
    """A bulk send that does not fit today's limit, saying how many rows would."""
    room = max(0, limit - used)
    refusal = daily_exhausted(channel, limit, now)
    return ResourceExhausted(
        f"this bulk send has {rows:,} rows but only {room:,} more {channel} messages fit "
        f"in today's limit of {limit:,}; send at most {room:,} rows now, or the rest after "
        "00:00 UTC. Nothing was queued",
        refusal.retry_after,
    )
