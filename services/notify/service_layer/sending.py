"""Single sends (SendEmail, SendSms).

A send is checked completely (template, recipient, personalisation, schedule,
daily limit) and written with its idempotency key in one transaction before the
call returns; the worker picks it up from the queue (``status = created``).
Sends are written through the ``SendWriter`` (together with concurrent ones, in
one transaction); one it could not write together is written here alone, which
answers a replayed key, a key reused for another request, and a full daily limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from services.notify.domain import notifications as rules
from services.notify.domain import sends
from services.notify.domain import templates as template_rules
from services.notify.domain.agency_settings import Defaults, settings_from
from services.notify.domain.notifications import Notification
from services.notify.domain.placeholders import Value
from services.notify.domain.recipients import SmsRules
from services.notify.domain.sends import NewSend
from services.notify.domain.templates import Template
from services.notify.service_layer.template_cache import LatestTemplates
from services.notify.service_layer.unit_of_work import (
    NotifyTransactions,
    NotifyWork,
    SendWriter,
    SettingsLookup,
)
from services.runtime.clock import Clock, utcnow
from services.runtime.context import Principal
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound, Unavailable
from services.runtime.idempotency import Keyed, Replay, replay_or_raise, run_once
from services.runtime.rate_limit import Limit, RateLimiter
from services.runtime.tracing import current_traceparent

MAX_TEMPLATE_RELOADS = 5


@dataclass(frozen=True)
class SendRequest:
    channel: str
    template_id: str
    recipient: str
    personalisation: Mapping[str, Value]
    reference: str = ""
    scheduled_for: datetime | None = None
    reply_to: str = ""
    language: str = ""


@dataclass(frozen=True)
class _Pending:
    """A send checked and rendered, waiting to be written."""

    call: Keyed
    send: NewSend
    notification: Notification


class _StaleTemplate(Exception):
    pass


class SendingService:
    def __init__(
        self,
        uow: NotifyTransactions,
        writer: SendWriter,
        settings: SettingsLookup,
        *,
        limiter: RateLimiter,
        limit: Limit,
        defaults: Defaults,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._writer = writer
        self._settings = settings
        self._limiter = limiter
        self._limit = limit
        self._defaults = defaults
        self._clock = clock
        self._templates = LatestTemplates(uow)

    def send(
        self,
        agency: Principal,
        request: SendRequest,
        call: Keyed,
        encode: Callable[[Notification], bytes],
    ) -> Notification | Replay:
        # Before anything else, even validation: a flood is refused cheaply.
        self._limiter.acquire(f"send:{agency.client_id}", self._limit)
        values = template_rules.check_values(request.personalisation)
        now = self._clock()
        for _ in range(MAX_TEMPLATE_RELOADS):
            try:
                pending = self._prepare(agency, request, call, encode, values, now)
            except (InvalidArgument, NotFound) as exc:
                # The first response if the key was used before with the same
                # request (the template may have changed since), else the error.
                return replay_or_raise(self._uow, call, exc)
            outcome = self._writer.write(pending.send)
            if outcome == sends.WRITTEN:
                return pending.notification
            if outcome == sends.TAKEN:
                result = self._write_alone(pending)
                if result is not None:
                    return result
            self._templates.forget(agency.client_id, request.template_id)
        raise Unavailable("the template keeps changing; try again")

    def _prepare(
        self,
        agency: Principal,
        request: SendRequest,
        call: Keyed,
        encode: Callable[[Notification], bytes],
        values: Mapping[str, Value],
        now: datetime,
    ) -> _Pending:
        """Everything checked and the row and response built, before any write."""
        template = self._templates.get(agency.client_id, request.template_id, request.channel)
        problems: list[FieldViolation] = []
        sms_rules = SmsRules()
        if request.channel == "sms":  # only SMS needs the agency's own settings
            stored = self._settings.stored(agency.client_id)
            sms_rules = settings_from(stored, self._defaults).sms_rules
        recipient_field = "email_address" if request.channel == "email" else "phone_number"
        recipient, problem = rules.recipient_problem(
            request.channel, request.recipient, sms_rules, recipient_field
        )
        problems += [problem] if problem else []
        problems += sends.common_problems(
            request.reference, request.scheduled_for, request.reply_to, now
        )
        rendered = sends.render_collecting(
            template, values, request.language, problems, "personalisation"
        )
        if problems or rendered is None:
            raise InvalidArgument.from_violations(problems)
        row = _row(
            agency,
            template=template,
            recipient=recipient,
            values=values,
            rendered=rendered,
            request=request,
            now=now,
        )
        notification = sends.as_notification(row)
        limit = self._defaults.daily_limit(request.channel)
        new = NewSend(row, call.key, call.fingerprint, encode(notification), limit)
        return _Pending(call, new, notification)

    def _write_alone(self, p: _Pending) -> Notification | Replay | None:
        """In a transaction of its own (None: its template changed, render it again)."""
        row = p.send.row

        def work(uow: NotifyWork) -> Notification:
            latest = uow.templates.latest_versions({row["template_id"]})
            if latest.get(row["template_id"]) != (row["tenant"], row["template_version"]):
                raise _StaleTemplate
            uow.notifications.add_many([row])
            now, limit = row["created_at"], p.send.daily_limit
            if not uow.daily_counts.take(row["tenant"], row["channel"], now.date(), 1, limit):
                raise sends.daily_exhausted(row["channel"], limit, now)
            return p.notification

        try:
            return run_once(self._uow, p.call, work, lambda _: p.send.response)
        except _StaleTemplate:
            return None


def _row(
    agency: Principal,
    *,
    template: Template,
    recipient: str,
    values: Mapping[str, Value],
    rendered: template_rules.Rendered,
    request: SendRequest,
    now: datetime,
) -> sends.NewRow:
    return sends.new_row(
        agency.client_id,
        agency.mode,
        template=template,
        recipient=recipient,
        values=values,
        rendered=rendered,
        reference=request.reference,
        scheduled_for=request.scheduled_for,
        reply_to=request.reply_to,
        now=now,
        bulk_id=None,
        traceparent=current_traceparent(),
    )
