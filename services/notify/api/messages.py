"""Between notify's protobuf messages and its domain's types (the gRPC servicer's
translations, and how a result becomes the reply a replay returns)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from gaap.notify.v1 import notify_pb2 as pb
from google.protobuf.message import Message

from services.notify.domain.agency_settings import AgencySettings, Usage
from services.notify.domain.bulk_sends import BulkSend
from services.notify.domain.callbacks import Callback, Queued
from services.notify.domain.notifications import Notification
from services.notify.domain.placeholders import Value
from services.notify.domain.statuses import STATUSES
from services.notify.domain.templates import Content, Rendered, Template
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.idempotency import Replay
from services.runtime.timestamps import stamp_into, timestamp

CHANNELS = {"email": pb.CHANNEL_EMAIL, "sms": pb.CHANNEL_SMS}
CHANNEL_NAMES: dict[int, str] = {v: k for k, v in CHANNELS.items()}
STATUS_CODES = {name: i + 1 for i, name in enumerate(STATUSES)}
STATUS_NAMES = {v: k for k, v in STATUS_CODES.items()}
M = TypeVar("M", bound=Message)
T = TypeVar("T")


def personalisation_values(
    personalisation: Mapping[str, pb.PersonalisationValue],
) -> dict[str, Value]:
    return {
        key: (list(v.list.values) if v.WhichOneof("kind") == "list" else v.text)
        for key, v in personalisation.items()
    }


def serialized(convert: Callable[[T], Message]) -> Callable[[T], bytes]:
    """A result's stored response: its reply message, serialized."""
    return lambda value: convert(value).SerializeToString()


def result_message(value: Any, message_type: type[M], convert: Callable[[Any], M]) -> M:
    return message_type.FromString(value.response) if isinstance(value, Replay) else convert(value)


class Reply(Generic[T, M]):
    """Builds a result's message once, for the stored response and the reply alike."""

    def __init__(self, convert: Callable[[T], M]) -> None:
        self._convert = convert
        self._built: tuple[T, M] | None = None

    def encode(self, value: T) -> bytes:
        message = self._convert(value)
        self._built = (value, message)
        return message.SerializeToString()

    def message(self, value: T | Replay, message_type: type[M]) -> M:
        if isinstance(value, Replay):
            return message_type.FromString(value.response)
        if self._built is not None and self._built[0] is value:
            return self._built[1]
        return self._convert(value)


def template_message(t: Template) -> pb.Template:
    return pb.Template(
        id=t.id,
        version=t.version,
        channel=CHANNELS[t.channel],
        name=t.name,
        contents=[
            pb.TemplateContent(language=c.language, subject=c.subject, body=c.body)
            for c in t.contents
        ],
        create_time=timestamp(t.created_at),
        version_time=timestamp(t.version_at),
        placeholders=t.placeholders,
        changed_by=t.changed_by,
        actor=t.actor,
    )


def notification_message(n: Notification) -> pb.Notification:
    message = pb.Notification(
        id=n.id,
        channel=CHANNELS[n.channel],
        status=STATUS_CODES[n.status],  # type: ignore[arg-type]
        template_id=n.template_id,
        template_version=n.template_version,
        recipient=n.recipient,
        subject=n.subject,
        body=n.body,
        reference=n.reference,
        language=n.language,
        fragment_count=n.fragments,
        bulk_send_id=n.bulk_send_id or "",
        purged=n.purged_at is not None,
        email_reply_to=n.reply_to,
    )
    stamp_into(message.create_time, n.created_at)
    stamp_into(message.scheduled_for, n.scheduled_for or n.created_at)
    stamp_into(message.sent_time, n.sent_at)
    stamp_into(message.completed_time, n.completed_at)
    return message


def bulk_message(b: BulkSend) -> pb.BulkSend:
    return pb.BulkSend(
        id=b.id,
        template_id=b.template_id,
        template_version=b.template_version,
        channel=CHANNELS[b.channel],
        total=b.total,
        pending=b.count("created"),
        sending=b.count("sending"),
        delivered=b.count("delivered"),
        failed=b.failed,
        cancelled=b.count("cancelled"),
        create_time=timestamp(b.created_at),
        scheduled_for=timestamp(b.scheduled_for or b.created_at),
        reference=b.reference,
    )


def preview_message(channel: str, r: Rendered) -> pb.Preview:
    return pb.Preview(
        channel=CHANNELS[channel],
        language=r.language,
        subject=r.subject,
        body=r.body,
        html=r.html,
        fragment_count=r.fragments,
        encoding=r.encoding,
    )


def settings_message(s: AgencySettings) -> pb.AgencySettings:
    return pb.AgencySettings(
        sms_default_region=s.sms_default_region,
        international_sms=s.international_sms,
        email_daily_limit=s.email_daily_limit,
        sms_daily_limit=s.sms_daily_limit,
    )


def usage_message(u: Usage) -> pb.Usage:
    return pb.Usage(
        day=u.day.isoformat(),
        email_sent=u.email_sent,
        email_daily_limit=u.settings.email_daily_limit,
        sms_sent=u.sms_sent,
        sms_daily_limit=u.settings.sms_daily_limit,
    )


def event_message(status: str, at: datetime) -> pb.NotificationEvent:
    return pb.NotificationEvent(
        status=STATUS_CODES[status],  # type: ignore[arg-type]
        time=timestamp(at),
    )


def callback_message(c: Callback) -> pb.StatusCallback:
    return pb.StatusCallback(
        url=c.url, signing_secret=c.signing_secret, create_time=timestamp(c.created_at)
    )


def callback_delivery_message(q: Queued) -> pb.StatusCallbackDelivery:
    return pb.StatusCallbackDelivery(
        id=q.delivery_id,
        event_id=q.event_id,
        event_type=q.event_type,
        create_time=timestamp(q.created_at),
    )


def template_contents(items: Any) -> list[Content]:
    return [Content(c.language, c.subject, c.body) for c in items]


def channel_filter(value: int, field: str) -> str | None:
    if value == pb.CHANNEL_UNSPECIFIED:
        return None
    if value not in CHANNEL_NAMES:
        raise InvalidArgument.from_violations([FieldViolation(field, "unknown channel")])
    return CHANNEL_NAMES[value]
