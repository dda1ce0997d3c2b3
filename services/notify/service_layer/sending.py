"""Accepting notifications: single sends, bulk sends, reading and cancelling.

A send is checked completely (template, recipient, personalisation, schedule,
daily limit) and written with its idempotency key in one transaction before the
call returns; the worker picks it up from the table (``status = created``).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters import direct, tables
from services.notify.adapters.direct import DirectSends, NewSend
from services.notify.adapters.repositories import (
    DailyCounts,
    Notifications,
    Templates,
    claim_completed,
    page_key,
)
from services.notify.domain import notifications as rules
from services.notify.domain import placeholders
from services.notify.domain import templates as template_rules
from services.notify.domain.notifications import MAX_BULK_ROWS, Notification
from services.notify.domain.placeholders import Value
from services.notify.domain.recipients import SmsRules
from services.notify.domain.statuses import CANCELLED, CREATED, FAILURES
from services.notify.domain.templates import Rendered, Template
from services.notify.service_layer import agency_settings, callbacks
from services.notify.service_layer.group_commit import GroupWriter
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
    Unavailable,
)
from services.runtime.idempotency import Keyed, Replay, replay_or_raise, run_once
from services.runtime.idempotency_sql import session_work
from services.runtime.ids import new_id
from services.runtime.pagination import Page, PageRequest
from services.runtime.rate_limit import Limit, RateLimiter
from services.runtime.tracing import current_traceparent

MAX_REPORTED_ROWS = 100  # violations listed in one error (the count says how many in all)
MAX_TEMPLATE_RELOADS = 5
MAX_CACHED_TEMPLATES = 4096
log = logging.getLogger(__name__)


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


class _Marker:
    """What a batched write says about a send it did not store."""

    def __init__(self, name: str) -> None:
        self.name = name


_ALONE = _Marker("write it alone")  # its key was seen before, or a daily limit was reached
_STALE = _Marker("template changed")  # render it again with the latest version
_SendResult = Notification | _Marker


class _StaleTemplate(Exception):
    pass


@dataclass(frozen=True)
class _PendingSend:
    """A send checked and rendered, waiting to be written."""

    tenant: str
    call: Keyed
    row: dict[str, Any]
    notification: Notification
    response: bytes
    limit: int
    now: datetime


Counter = tuple[str, str, date, int]  # tenant, channel, UTC day, limit


def _counter(p: _PendingSend) -> Counter:
    return (p.tenant, p.row["channel"], p.now.date(), p.limit)


class _OverLimit(Exception):
    def __init__(self, counter: Counter) -> None:
        super().__init__(counter)
        self.counter = counter


class SendingService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        limiter: RateLimiter,
        limit: Limit,
        defaults: agency_settings.Defaults,
        direct_sends: DirectSends | None = None,
    ) -> None:
        self._sessions = sessions
        self._keyed_work = session_work(sessions, tables.idempotency_keys)
        self._limiter = limiter
        self._limit = limit
        self._defaults = defaults
        self._direct = direct_sends if direct_sends is not None and direct_sends.enabled else None
        self._cached: dict[tuple[str, str], Template] = {}
        self._writer: GroupWriter[_PendingSend, _SendResult] = GroupWriter(self._write_batch)

    # -- single sends ---------------------------------------------------------------

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
        now = utcnow()
        for _ in range(MAX_TEMPLATE_RELOADS):
            try:
                pending = self._prepare(agency, request, call, encode, values, now)
            except (InvalidArgument, NotFound) as exc:
                return self._refuse(call, exc)
            result: Notification | Replay | _Marker = self._writer.submit(pending)
            if result is _ALONE:
                result = self._write_alone(pending)
            if not isinstance(result, _Marker):
                return result
            self._cached.pop((agency.client_id, request.template_id), None)
        raise Unavailable("the template keeps changing; try again")

    def _prepare(
        self,
        agency: Principal,
        request: SendRequest,
        call: Keyed,
        encode: Callable[[Notification], bytes],
        values: Mapping[str, Value],
        now: datetime,
    ) -> _PendingSend:
        """Everything checked and the row and response built, before any write."""
        template = self._latest_template(agency.client_id, request.template_id, request.channel)
        problems: list[FieldViolation] = []
        sms_rules = SmsRules()
        if request.channel == "sms":  # only SMS needs the agency's own settings
            sms_rules = self._agency_settings(agency.client_id).sms_rules
        recipient_field = "email_address" if request.channel == "email" else "phone_number"
        recipient, problem = rules.recipient_problem(
            request.channel, request.recipient, sms_rules, recipient_field
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
            traceparent=current_traceparent(),
        )
        notification = _as_notification(row)
        return _PendingSend(
            agency.client_id,
            call,
            row,
            notification,
            encode(notification),
            self._defaults_limit(request.channel),
            now,
        )

    def _agency_settings(self, tenant: str) -> agency_settings.AgencySettings:
        """Read afresh on every send (an update applies at once on every replica)."""
        if self._direct is not None:
            return agency_settings.settings_from(self._direct.sms_settings(tenant), self._defaults)
        with transaction(self._sessions) as session:
            return agency_settings.read(session, tenant, self._defaults)

    def _defaults_limit(self, channel: str) -> int:
        return (
            self._defaults.email_daily_limit
            if channel == "email"
            else self._defaults.sms_daily_limit
        )

    def _latest_template(self, tenant: str, template_id: str, channel: str) -> Template:
        """The template's latest version as last seen here; every write checks it is
        still the latest (``_stale``), so an update is never missed."""
        key = (tenant, template_id)
        found = self._cached.get(key)
        if found is None:
            with transaction(self._sessions) as session:
                found = self._template(session, tenant, template_id, None)
            if len(self._cached) >= MAX_CACHED_TEMPLATES:
                self._cached.clear()
            self._cached[key] = found
        if found.channel != channel:
            raise InvalidArgument.from_violations(
                [FieldViolation("template_id", f"is an {found.channel} template, not {channel}")]
            )
        return found

    def _refuse(self, call: Keyed, error: Exception) -> Replay:
        """A request that fails its checks: the first response if its key was used
        before with the same request (the template may have changed since), else the error."""
        return replay_or_raise(self._keyed_work, call, error)

    def _write_batch(self, batch: Sequence[_PendingSend]) -> list[_SendResult]:
        """One transaction for many sends (see ``group_commit``); what cannot go in
        it (a key seen before, a daily limit reached) is written alone by its caller."""
        results: list[_SendResult] = [_ALONE] * len(batch)
        keys: set[tuple[str, str]] = set()
        todo: list[int] = []
        for i, p in enumerate(batch):
            key = (p.tenant, p.call.key)
            if key not in keys:  # the same key twice: the second sees the first's record
                keys.add(key)
                todo.append(i)
        if self._direct is not None:
            try:
                return self._write_direct(batch, todo, results)
            except direct.DailyLimitReached:
                pass  # the general path below finds the counter that is full
            except Exception:
                log.warning("batched send failed; writing each alone", exc_info=True)
                return results
        while todo:
            try:
                with transaction(self._sessions) as session:
                    written = self._write_together(session, [batch[i] for i in todo])
            except _OverLimit as exc:
                todo = [i for i in todo if _counter(batch[i]) != exc.counter]
                continue
            except Exception:
                log.warning("batched send failed; writing each alone", exc_info=True)
                return results
            for i, outcome in zip(todo, written, strict=True):
                results[i] = outcome
            return results
        return results

    def _write_direct(
        self, batch: Sequence[_PendingSend], todo: Sequence[int], results: list[_SendResult]
    ) -> list[_SendResult]:
        """``_write_together`` as one statement (PostgreSQL)."""
        assert self._direct is not None
        sends = [
            NewSend(p.row, p.call.key, p.call.fingerprint, p.response, p.limit)
            for p in (batch[i] for i in todo)
        ]
        for i, outcome in zip(todo, self._direct.write(sends), strict=True):
            if outcome == direct.WRITTEN:
                results[i] = batch[i].notification
            elif outcome == direct.STALE:
                results[i] = _STALE
        return results

    def _write_together(self, session: Session, batch: Sequence[_PendingSend]) -> list[_SendResult]:
        results: list[_SendResult] = [_ALONE] * len(batch)
        latest = Templates(session).latest_versions({p.row["template_id"] for p in batch})
        fresh = [
            i
            for i, p in enumerate(batch)
            if latest.get(p.row["template_id"]) == (p.tenant, p.row["template_version"])
        ]
        for i in set(range(len(batch))) - set(fresh):
            results[i] = _STALE
        claimed = claim_completed(
            session,
            tables.idempotency_keys,
            [
                (p.tenant, p.call.key, p.call.fingerprint, p.response, p.now)
                for p in (batch[i] for i in fresh)
            ],
        )
        mine = [i for i in fresh if (batch[i].tenant, batch[i].call.key) in claimed]
        counts: dict[tuple[str, str, date, int], int] = {}
        for i in mine:
            counts[_counter(batch[i])] = counts.get(_counter(batch[i]), 0) + 1
        daily = DailyCounts(session)
        for counter, count in counts.items():
            tenant, channel, day, limit = counter
            if not daily.take(tenant, channel, day, count, limit):
                raise _OverLimit(counter)
        Notifications(session).insert_many([batch[i].row for i in mine])
        for i in mine:
            results[i] = batch[i].notification
        return results

    def _write_alone(self, p: _PendingSend) -> Notification | Replay | _Marker:
        def work(session: Session) -> Notification:
            latest = Templates(session).latest_versions({p.row["template_id"]})
            if latest.get(p.row["template_id"]) != (p.tenant, p.row["template_version"]):
                raise _StaleTemplate
            Notifications(session).insert_many([p.row])
            limit = p.limit
            if not DailyCounts(session).take(p.tenant, p.row["channel"], p.now.date(), 1, limit):
                raise _daily_exhausted(p.row["channel"], limit, p.now)
            return p.notification

        try:
            return run_once(
                self._keyed_work, p.call, lambda w: work(w.session), lambda _: p.response
            )
        except _StaleTemplate:
            return _STALE

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
        self,
        agency: Principal,
        request: BulkRequest,
        call: Keyed,
        encode: Callable[[BulkSend], bytes],
    ) -> BulkSend | Replay:
        # Every row counts against the per-minute rate and the daily limit. The rate
        # is charged once the rows are counted and before they are rendered: the whole
        # send, into debt if it is larger than the burst (see ``acquire_many``), so
        # splitting a bulk send can never beat the rate and the agency's next sends wait.
        now = utcnow()
        with transaction(self._sessions) as session:
            template = self._template(session, agency.client_id, request.template_id, None)
            settings = agency_settings.read(session, agency.client_id, self._defaults)
            used = DailyCounts(session).used(agency.client_id, template.channel, now.date())
        rows = _parse_rows(request, template.channel)
        limit = settings.daily_limit(template.channel)
        if len(rows) > limit - used:  # refused before the rows' costly checks
            refusal = _bulk_exhausted(template.channel, len(rows), limit, used, now)
            return replay_or_raise(self._keyed_work, call, refusal)
        try:
            self._limiter.acquire_many(f"send:{agency.client_id}", self._limit, max(1, len(rows)))
        except ResourceExhausted as exhausted:
            return replay_or_raise(self._keyed_work, call, exhausted)
        problems = _common_problems(request.reference, request.scheduled_for, request.reply_to, now)
        bulk_id = new_id("bulk")
        traceparent = current_traceparent()  # the bulk call's, for every row
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
                        traceparent=traceparent,
                    )
                )
        if problems:
            message = (
                f"{row_problems} of {len(rows)} rows are invalid"
                if row_problems
                else "invalid request"
            )
            raise InvalidArgument(message + "; nothing was queued", problems[:MAX_REPORTED_ROWS])

        def work(session: Session) -> BulkSend:
            daily = DailyCounts(session)
            if not daily.take(agency.client_id, template.channel, now.date(), len(prepared), limit):
                used = daily.used(agency.client_id, template.channel, now.date())
                raise _bulk_exhausted(template.channel, len(prepared), limit, used, now)
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

        return run_once(self._keyed_work, call, lambda w: work(w.session), encode)

    def get_bulk(self, tenant: str, bulk_id: str) -> BulkSend:
        with transaction(self._sessions) as session:
            return _bulk(session, tenant, bulk_id)

    def cancel_bulk(
        self, tenant: str, bulk_id: str, call: Keyed, encode: Callable[[BulkSend], bytes]
    ) -> BulkSend | Replay:
        def work(session: Session) -> BulkSend:
            _bulk(session, tenant, bulk_id)
            _cancel_where(session, tenant, tables.notifications.c.bulk_send_id == bulk_id)
            return _bulk(session, tenant, bulk_id)

        return run_once(self._keyed_work, call, lambda w: work(w.session), encode)

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
        self,
        tenant: str,
        notification_id: str,
        call: Keyed,
        encode: Callable[[Notification], bytes],
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

        return run_once(self._keyed_work, call, lambda w: work(w.session), encode)


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


def _daily_exhausted(channel: str, limit: int, now: datetime) -> ResourceExhausted:
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return ResourceExhausted(
        f"daily {channel} limit of {limit} reached; it resets at 00:00 UTC",
        (midnight - now).total_seconds(),
    )


def _bulk_exhausted(
    channel: str, rows: int, limit: int, used: int, now: datetime
) -> ResourceExhausted:
    """A bulk send that does not fit today's limit, saying how many rows would."""
    room = max(0, limit - used)
    refusal = _daily_exhausted(channel, limit, now)
    return ResourceExhausted(
        f"this bulk send has {rows:,} rows but only {room:,} more {channel} messages fit "
        f"in today's limit of {limit:,}; send at most {room:,} rows now, or the rest after "
        "00:00 UTC. Nothing was queued",
        refusal.retry_after,
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
    traceparent: str | None,
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


def _as_notification(row: dict[str, Any]) -> Notification:
    return Notification(**{k: row[k] for k in _NOTIFICATION_FIELDS})


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
