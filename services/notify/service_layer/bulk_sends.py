"""Bulk sends (CreateBulkSend, GetBulkSend, CancelBulkSend): up to 100,000
messages from one template, checked in full and queued all at once or not at all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from services.notify.domain import notifications as rules
from services.notify.domain import placeholders, sends
from services.notify.domain.agency_settings import Defaults, settings_from
from services.notify.domain.bulk_sends import BulkSend, Row, parse_rows
from services.notify.domain.statuses import CREATED
from services.notify.service_layer.template_cache import required
from services.notify.service_layer.unit_of_work import NotifyTransactions, NotifyWork
from services.runtime.clock import Clock, utcnow
from services.runtime.context import Principal
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound, ResourceExhausted
from services.runtime.idempotency import Keyed, Replay, replay_or_raise, run_once
from services.runtime.ids import new_id
from services.runtime.rate_limit import Limit, RateLimiter
from services.runtime.tracing import current_traceparent

MAX_REPORTED_ROWS = 100  # violations listed in one error (the count says how many in all)


@dataclass(frozen=True)
class BulkRequest:
    template_id: str
    csv: str = ""
    rows: Sequence[Row] = ()
    reference: str = ""
    scheduled_for: datetime | None = None
    reply_to: str = ""
    language: str = ""
    # Check every row and queue nothing (the console's upload page): no limit or
    # rate is charged, and the answer is a BulkSend with no id.
    validate_only: bool = False


class BulkSendService:
    def __init__(
        self,
        uow: NotifyTransactions,
        limiter: RateLimiter,
        limit: Limit,
        defaults: Defaults,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._limiter = limiter
        self._limit = limit
        self._defaults = defaults
        self._clock = clock

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
        tenant = agency.client_id
        now = self._clock()
        with self._uow() as uow:
            template = required(uow, tenant, request.template_id)
            settings = settings_from(uow.agency_settings.get(tenant), self._defaults)
            used = uow.daily_counts.used(tenant, template.channel, now.date())
        rows = parse_rows(request.csv, request.rows, template.channel)
        limit = settings.daily_limit(template.channel)
        if request.validate_only:
            pass  # nothing is queued: neither the daily limit nor the rate applies
        elif len(rows) > limit - used:  # refused before the rows' costly checks
            refusal = sends.bulk_exhausted(template.channel, len(rows), limit, used, now)
            return replay_or_raise(self._uow, call, refusal)
        if not request.validate_only:
            try:
                self._limiter.acquire_many(f"send:{tenant}", self._limit, max(1, len(rows)))
            except ResourceExhausted as exhausted:
                return replay_or_raise(self._uow, call, exhausted)
        problems = sends.common_problems(
            request.reference, request.scheduled_for, request.reply_to, now
        )
        bulk_id = new_id("bulk")
        traceparent = current_traceparent()  # the bulk call's, for every row
        prepared: list[sends.NewRow] = []
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
            rendered = sends.render_collecting(
                template, values, request.language, found, f"{where}.personalisation"
            )
            if found or rendered is None:
                row_problems += 1
                if len(problems) < MAX_REPORTED_ROWS:
                    problems += found
                continue
            if not problems:
                prepared.append(
                    sends.new_row(
                        tenant,
                        agency.mode,
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
        bulk = BulkSend(
            bulk_id,
            tenant,
            template.id,
            template.version,
            template.channel,
            len(prepared),
            request.reference,
            request.scheduled_for,
            now,
        )
        if request.validate_only:
            return replace(bulk, id="")

        def work(uow: NotifyWork) -> BulkSend:
            daily = uow.daily_counts
            if not daily.take(tenant, template.channel, now.date(), len(prepared), limit):
                used = daily.used(tenant, template.channel, now.date())
                raise sends.bulk_exhausted(template.channel, len(prepared), limit, used, now)
            uow.bulk_sends.add(bulk)
            uow.notifications.add_many(prepared)
            return replace(bulk, counts={CREATED: len(prepared)})

        return run_once(self._uow, call, work, encode)

    def get_bulk(self, tenant: str, bulk_id: str) -> BulkSend:
        with self._uow.read() as uow:
            return _bulk(uow, tenant, bulk_id)

    def cancel_bulk(
        self, tenant: str, bulk_id: str, call: Keyed, encode: Callable[[BulkSend], bytes]
    ) -> BulkSend | Replay:
        def work(uow: NotifyWork) -> BulkSend:
            _bulk(uow, tenant, bulk_id)
            now = self._clock()
            changes = uow.notifications.cancel_unclaimed(tenant, now, bulk_send_id=bulk_id)
            uow.history.record(changes, now)
            uow.outbox.emit(changes, now)
            return _bulk(uow, tenant, bulk_id)

        return run_once(self._uow, call, work, encode)


def _bulk(uow: NotifyWork, tenant: str, bulk_id: str) -> BulkSend:
    found = uow.bulk_sends.get(tenant, bulk_id)
    if found is None:
        raise NotFound(f"no bulk send {bulk_id!r}")
    return replace(found, counts=uow.notifications.status_counts(bulk_id))
