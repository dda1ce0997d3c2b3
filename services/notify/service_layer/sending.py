"""Accepting notifications: single sends, bulk sends, reading and cancelling.

A send is checked completely (template, recipient, personalisation, schedule,
daily limit) and written with its idempotency key in one transaction before the
call returns; the worker picks it up from the table (``status = created``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters import tables
from services.notify.adapters.repositories import DailyCounts, Notifications, page_key
from services.notify.domain import notifications as rules
from services.notify.domain import placeholders
from services.notify.domain import templates as template_rules
from services.notify.domain.notifications import MAX_BULK_ROWS, Notification
from services.notify.domain.placeholders import Value
from services.notify.domain.recipients import SmsRules
from services.notify.domain.statuses import CANCELLED, CREATED, FAILURES, FINAL, SENDING
from services.notify.domain.templates import Rendered, Template
from services.notify.service_layer import agency_settings, callbacks
from services.notify.service_layer.common import Idempotent, Replay, new_id, run_idempotent
from services.notify.service_layer.templates import load
from services.runtime.context import Principal
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from services.runtime.pagination import Page, PageRequest
from services.runtime.rate_limit import Limit, RateLimiter

MAX_REPORTED_ROWS = 100  # violations listed in one error (the count says how many in all)


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
class BulkRequest:
    template_id: str
    csv: str = ""
    rows: Sequence[tuple[str, Mapping[str, Value], str]] = ()  # recipient, values, reference
    reference: str = ""
    scheduled_for: datetime | None = None
    reply_to: str = ""
    language: str = ""


@dataclass(frozen=True)
class BulkSend:
    id: str
    template_id: str
    template_version: int
    channel: str
    total: int
    reference: str
    scheduled_for: datetime | None
    created_at: datetime
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, *statuses: str) -> int:
        return sum(self.counts.get(s, 0) for s in statuses)

    @property
    def failed(self) -> int:
        return self.count(*FAILURES)


class SendingService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        limiter: RateLimiter,
        limit: Limit,
        defaults: agency_settings.Defaults,
    ) -> None:
        self._sessions = sessions
        self._limiter = limiter
        self._limit = limit
        self._defaults = defaults

    # -- single sends ---------------------------------------------------------------

    def send(
        self, agency: Principal, request: SendRequest, call: Idempotent[Notification]
    ) -> Notification | Replay:
        # Before anything else, even validation: a flood is refused cheaply.
        self._limiter.acquire(f"send:{agency.client_id}", self._limit)
        values = template_rules.check_values(request.personalisation)
        now = utcnow()

        def work(session: Session) -> Notification:
            settings = agency_settings.read(session, agency.client_id, self._defaults)
            template = self._template(
                session, agency.client_id, request.template_id, request.channel
            )
            problems: list[FieldViolation] = []
            recipient_field = "email_address" if request.channel == "email" else "phone_number"
            recipient, problem = rules.recipient_problem(
                request.channel, request.recipient, settings.sms_rules, recipient_field
            )
            problems += [problem] if problem else []
            problems += _common_problems(
                request.reference, request.scheduled_for, request.reply_to, now
            )
            rendered = _render_collecting(
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
                reference=request.reference,
                scheduled_for=request.scheduled_for,
                reply_to=request.reply_to,
                now=now,
                bulk_id=None,
            )
            Notifications(session).insert_many([row])
            _take_daily(
                session,
                tenant=agency.client_id,
                channel=request.channel,
                count=1,
                settings=settings,
                now=now,
            )
            return _as_notification(row)

        return run_idempotent(self._sessions, agency.client_id, call, work)

    def _template(
        self, session: Session, tenant: str, template_id: str, channel: str | None
    ) -> Template:
        if not template_id:
            raise InvalidArgument.from_violations([FieldViolation("template_id", "required")])
        template = load(session, tenant, template_id)
        if channel is not None and template.channel != channel:
            raise InvalidArgument.from_violations(
                [FieldViolation("template_id", f"is an {template.channel} template, not {channel}")]
            )
        return template

    # -- bulk sends ------------------------------------------------------------------

    def send_bulk(
        self, agency: Principal, request: BulkRequest, call: Idempotent[BulkSend]
    ) -> BulkSend | Replay:
        self._limiter.acquire(f"send:{agency.client_id}", self._limit)
        now = utcnow()
        with transaction(self._sessions) as session:
            template = self._template(session, agency.client_id, request.template_id, None)
            settings = agency_settings.read(session, agency.client_id, self._defaults)
        rows = _parse_rows(request, template.channel)
        problems = _common_problems(request.reference, request.scheduled_for, request.reply_to, now)
        bulk_id = new_id("bulk")
        prepared: list[dict[str, Any]] = []
        row_problems = 0
        for number, (raw_recipient, raw_values, reference) in enumerate(rows, start=1):
            found: list[FieldViolation] = []
            where = f"rows[{number}]"
            recipient, problem = rules.recipient_problem(
                template.channel, raw_recipient, settings.sms_rules, f"{where}.recipient"
            )
            found += [problem] if problem else []
            ref_problem = rules.reference_problem(reference, f"{where}.reference")
            found += [ref_problem] if ref_problem else []
            values = placeholders.normalise_values(raw_values)
            rendered = _render_collecting(
                template, values, request.language, found, f"{where}.personalisation"
            )
            if found or rendered is None:
                row_problems += 1
                if len(problems) < MAX_REPORTED_ROWS:
                    problems += found
                continue
            if not problems:
                prepared.append(
                    _row(
                        agency,
                        template=template,
                        recipient=recipient,
                        values=values,
                        rendered=rendered,
                        reference=reference or request.reference,
                        scheduled_for=request.scheduled_for,
                        reply_to=request.reply_to,
                        now=now,
                        bulk_id=bulk_id,
                    )
                )
        if problems:
            message = (
                f"{row_problems} of {len(rows)} rows are invalid"
                if row_problems
                else "invalid request"
            )
            raise InvalidArgument(message + "; nothing was queued", problems[:MAX_REPORTED_ROWS])
        limit = settings.daily_limit(template.channel)
        if len(prepared) > limit:
            raise InvalidArgument.from_violations(
                [FieldViolation("rows", f"{len(prepared)} rows exceed the daily limit of {limit}")]
            )

        def work(session: Session) -> BulkSend:
            _take_daily(
                session,
                tenant=agency.client_id,
                channel=template.channel,
                count=len(prepared),
                settings=settings,
                now=now,
            )
            session.execute(
                tables.bulk_sends.insert().values(
                    id=bulk_id,
                    tenant=agency.client_id,
                    template_id=template.id,
                    template_version=template.version,
                    channel=template.channel,
                    total=len(prepared),
                    reference=request.reference,
                    scheduled_for=request.scheduled_for,
                    created_at=now,
                )
            )
            Notifications(session).insert_many(prepared)
            return BulkSend(
                bulk_id,
                template.id,
                template.version,
                template.channel,
                len(prepared),
                request.reference,
                request.scheduled_for,
                now,
                {CREATED: len(prepared)},
            )

        return run_idempotent(self._sessions, agency.client_id, call, work)

    def get_bulk(self, tenant: str, bulk_id: str) -> BulkSend:
        with transaction(self._sessions) as session:
            return _bulk(session, tenant, bulk_id)

    def cancel_bulk(
        self, tenant: str, bulk_id: str, call: Idempotent[BulkSend]
    ) -> BulkSend | Replay:
        def work(session: Session) -> BulkSend:
            _bulk(session, tenant, bulk_id)
            _cancel_where(session, tenant, tables.notifications.c.bulk_send_id == bulk_id)
            return _bulk(session, tenant, bulk_id)

        return run_idempotent(self._sessions, tenant, call, work)

    # -- reading and cancelling ------------------------------------------------------

    def get(self, tenant: str, notification_id: str) -> Notification:
        with transaction(self._sessions) as session:
            found = Notifications(session).get(tenant, notification_id)
        if found is None:
            raise NotFound(f"no notification {notification_id!r}")
        return found

    def list(self, tenant: str, page: PageRequest, **filters: Any) -> Page[Notification]:
        with transaction(self._sessions) as session:
            found = Notifications(session).list(tenant, page.size, page.after, **filters)
        return Page.from_overfetch(found, page.size, lambda n: page_key(n.created_at, n.id))

    def cancel(
        self, tenant: str, notification_id: str, call: Idempotent[Notification]
    ) -> Notification | Replay:
        def work(session: Session) -> Notification:
            repo = Notifications(session)
            current = repo.get(tenant, notification_id)
            if current is None:
                raise NotFound(f"no notification {notification_id!r}")
            if current.status == CANCELLED:
                return current
            if current.status != CREATED:
                raise FailedPrecondition(
                    f"notification is {current.status}: only one not yet sent can be cancelled"
                )
            _cancel_where(session, tenant, tables.notifications.c.id == notification_id)
            after = repo.get(tenant, notification_id)
            assert after is not None
            if after.status != CANCELLED:
                raise FailedPrecondition("a worker took it while cancelling; it is being sent")
            return after

        return run_idempotent(self._sessions, tenant, call, work)


def _cancel_where(session: Session, tenant: str, condition: Any) -> int:
    """Cancel what no worker has claimed; final statuses are never touched."""
    n = tables.notifications
    now = utcnow()
    changed = session.execute(
        n.update()
        .where(n.c.tenant == tenant, condition, n.c.status == CREATED)
        .values(status=CANCELLED, completed_at=now, due_at=now)
        .returning(
            n.c.id,
            n.c.tenant,
            n.c.reference,
            n.c.channel,
            n.c.template_id,
            n.c.template_version,
            n.c.created_at,
        )
    ).all()
    callbacks.emit(session, ((dict(r._mapping), CANCELLED) for r in changed), now)
    return len(changed)


def _bulk(session: Session, tenant: str, bulk_id: str) -> BulkSend:
    b = tables.bulk_sends
    row = session.execute(sa.select(b).where(b.c.id == bulk_id, b.c.tenant == tenant)).first()
    if row is None:
        raise NotFound(f"no bulk send {bulk_id!r}")
    return BulkSend(
        row.id,
        row.template_id,
        row.template_version,
        row.channel,
        row.total,
        row.reference,
        row.scheduled_for,
        row.created_at,
        Notifications(session).status_counts(bulk_id),
    )


def _common_problems(
    reference: str, scheduled_for: datetime | None, reply_to: str, now: datetime
) -> list[FieldViolation]:
    found = [
        rules.reference_problem(reference),
        rules.due_time(scheduled_for, now, "scheduled_for"),
    ]
    if reply_to:
        _, problem = rules.recipient_problem("email", reply_to, SmsRules(), "email_reply_to")
        found.append(problem)
    return [p for p in found if p is not None]


def _render_collecting(
    template: Template,
    values: Mapping[str, Value],
    language: str,
    problems: list[FieldViolation],
    field_name: str,
) -> Rendered | None:
    try:
        return template_rules.render(template, values, language, field=field_name)
    except InvalidArgument as exc:
        problems += exc.violations
        return None


def _take_daily(
    session: Session,
    *,
    tenant: str,
    channel: str,
    count: int,
    settings: agency_settings.AgencySettings,
    now: datetime,
) -> None:
    limit = settings.daily_limit(channel)
    if not DailyCounts(session).take(tenant, channel, now.date(), count, limit):
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        raise ResourceExhausted(
            f"daily {channel} limit of {limit} reached; it resets at 00:00 UTC",
            (midnight - now).total_seconds(),
        )


def _row(
    agency: Principal,
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
) -> dict[str, Any]:
    due = max(scheduled_for, now) if scheduled_for is not None else now
    return {
        "id": new_id("ntf"),
        "tenant": agency.client_id,
        "mode": agency.mode,
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


def _as_notification(row: dict[str, Any]) -> Notification:
    fields = set(Notification.__dataclass_fields__)
    return Notification(**{k: v for k, v in row.items() if k in fields})


def _parse_rows(request: BulkRequest, channel: str) -> list[tuple[str, Mapping[str, Value], str]]:
    if bool(request.csv) == bool(request.rows):
        raise InvalidArgument.from_violations([FieldViolation("rows", "give either csv or rows")])
    rows = list(request.rows) if request.rows else _csv_rows(request.csv, channel)
    if len(rows) > MAX_BULK_ROWS:
        raise InvalidArgument.from_violations(
            [FieldViolation("rows", f"{len(rows)} rows; at most {MAX_BULK_ROWS:,}")]
        )
    if not rows:
        raise InvalidArgument.from_violations([FieldViolation("rows", "no rows to send")])
    return rows


def _csv_rows(text: str, channel: str) -> list[tuple[str, Mapping[str, Value], str]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    wanted = "emailaddress" if channel == "email" else "phonenumber"
    names = [placeholders.normalise(h) for h in header or []]
    if wanted not in names:
        column = "email address" if channel == "email" else "phone number"
        raise InvalidArgument.from_violations(
            [FieldViolation("csv", f"the header row needs a {column!r} column")]
        )
    at = names.index(wanted)
    rows: list[tuple[str, Mapping[str, Value], str]] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        # An empty cell is a missing value, reported like any other.
        values = {n: c for n, c in zip(names, cells, strict=False) if n != wanted and c != ""}
        rows.append((cells[at] if at < len(cells) else "", values, ""))
        if len(rows) > MAX_BULK_ROWS:
            break
    return rows


PENDING = (CREATED,)
IN_FLIGHT = (SENDING,)
DONE = tuple(FINAL)
