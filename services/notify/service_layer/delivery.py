"""The worker's use case: claim due notifications, hand them to providers, record outcomes.

Runs on one asyncio loop: database work goes to a thread, sends are concurrent
(up to ``concurrency``), and outcomes are written as soon as the previous write
finishes, so under load many go in one transaction and the window between a
provider accepting and notify knowing stays short. Each status change is
recorded with its callback (``uow.outbox``) in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opentelemetry.trace import Tracer

from services.notify.domain import simulation
from services.notify.domain import templates as template_rules
from services.notify.domain.notifications import RetrySchedule
from services.notify.domain.providers import (
    EmailMessage,
    EmailProvider,
    RejectedError,
    RetryableError,
    SmsMessage,
    SmsProvider,
)
from services.notify.domain.queue import Claimed, Outcome
from services.notify.domain.statuses import DELIVERED, TECHNICAL_FAILURE
from services.notify.domain.templates import Template
from services.notify.service_layer.unit_of_work import NotifyTransactions
from services.runtime.clock import utcnow
from services.runtime.tracing import context_from

log = logging.getLogger(__name__)


@dataclass
class WorkerConfig:
    batch: int = 200
    concurrency: int = 32
    lease: timedelta = timedelta(seconds=120)
    poll_seconds: float = 0.5
    deliver_test_mode: bool = False  # only with local sinks as providers
    retry: RetrySchedule = field(default_factory=RetrySchedule)


class Deliverer:
    def __init__(
        self,
        uow: NotifyTransactions,
        email: EmailProvider,
        sms: SmsProvider,
        config: WorkerConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
        unavailable: tuple[type[Exception], ...] = (),
    ) -> None:
        """``unavailable``: the errors that mean the database is away for now (the
        worker waits and tries again, keeping what it has not recorded)."""
        self._uow = uow
        self._unavailable = unavailable
        self._email = email
        self._sms = sms
        self.config = config or WorkerConfig()
        self._clock = clock
        self._slots = asyncio.Semaphore(self.config.concurrency)
        self._pending: list[Outcome] = []
        # The loop keeps only weak references to tasks: hold the writer until it ends.
        self._writers: set[asyncio.Task[None]] = set()
        self._wrote = asyncio.Condition()
        self._writing = False
        # Template versions never change, so they are cached for the worker's life.
        self._templates: dict[tuple[str, str, int], Template] = {}
        # Set when tracing is on: a span per attempt (the worker's ``serve``).
        self.tracer: Tracer | None = None

    # -- the loop ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, on_turn: Callable[[], None] | None = None) -> None:
        """Until ``stop``: keep up to ``batch`` notifications claimed and in flight;
        ``on_turn`` is called on every turn of the loop (the liveness heartbeat)."""
        inflight: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            if on_turn is not None:
                on_turn()
            room = self.config.batch - len(inflight)
            if room >= max(1, self.config.batch // 2):
                claimed = await self._claim(room)
                for item in claimed:
                    task = asyncio.create_task(self._deliver(item))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                if claimed and len(claimed) == room:
                    continue  # the queue may hold more
            if inflight:
                await asyncio.wait(
                    set(inflight),
                    timeout=self.config.poll_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.poll_seconds)
        if inflight:
            await asyncio.gather(*inflight, return_exceptions=True)
        await self.flush()

    async def run_until_idle(self) -> int:
        """Claim and send until nothing is due; returns how many were attempted (tests, bench)."""
        total = 0
        claimed = await self._claim(self.config.batch)
        while claimed:
            total += len(claimed)
            sending = asyncio.gather(*(self._deliver(c) for c in claimed))
            claimed = await self._claim(self.config.batch)  # while the last batch is sent
            await sending
        await self.flush()
        return total

    async def _claim(self, limit: int) -> list[Claimed]:
        try:
            return await asyncio.to_thread(self._claim_now, limit)
        except self._unavailable as exc:
            log.warning("cannot claim notifications: %s", type(exc).__name__)
            await asyncio.sleep(self.config.poll_seconds)
            return []

    def _claim_now(self, limit: int) -> list[Claimed]:
        now = self._clock()
        with self._uow() as uow:
            claimed, changes = uow.queue.claim(now, limit, self.config.lease)
            uow.history.record(changes, now)
            uow.outbox.emit(changes, now)
        return claimed

    # -- one notification --------------------------------------------------------------

    async def _deliver(self, item: Claimed) -> None:
        async with self._slots:
            outcome = await self.attempt(item)
        self._pending.append(outcome)
        if not self._writing:
            writer = asyncio.get_running_loop().create_task(self._write_pending())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)

    async def attempt(self, item: Claimed) -> Outcome:
        if self.tracer is None:
            return await self._attempt(item)
        # The notification's id and what became of it; never its recipient or content.
        with self.tracer.start_as_current_span(
            f"send {item.channel}",
            # A child of the call that created the notification, when it was traced.
            context=context_from(item.traceparent),
            attributes={"gaap.notification.id": item.id, "gaap.attempt": item.attempts},
        ) as span:
            outcome = await self._attempt(item)
            span.set_attribute(
                "gaap.outcome", outcome.status or ("retry" if outcome.retry_at else "sent")
            )
            if outcome.provider:
                span.set_attribute("gaap.provider", outcome.provider)
            return outcome

    async def _attempt(self, item: Claimed) -> Outcome:
        simulated = simulation.outcome(
            item.channel, item.recipient, item.mode == "test" and not self.config.deliver_test_mode
        )
        if simulated is not None:
            return Outcome(item.id, simulated, "simulator", f"sim-{item.id}")
        try:
            if item.channel == "email":
                accepted = await self._email.send_email(message=await self._email_message(item))
            else:
                accepted = await self._sms.send_sms(
                    message=SmsMessage(item.id, item.recipient, item.body)
                )
        except RejectedError as exc:
            log.info("provider rejected", extra={"notification": item.id, "reason": str(exc)})
            return Outcome(item.id, exc.status)
        except RetryableError as exc:
            retry_at = self.config.retry.next_attempt(
                item.attempts, item.first_due_at, self._clock()
            )
            log.info(
                "provider failed, will retry" if retry_at else "provider failed, giving up",
                extra={"notification": item.id, "reason": str(exc), "attempt": item.attempts},
            )
            return Outcome(item.id, None if retry_at else TECHNICAL_FAILURE, retry_at=retry_at)
        except Exception:
            log.exception("unexpected error while sending", extra={"notification": item.id})
            retry_at = self.config.retry.next_attempt(
                item.attempts, item.first_due_at, self._clock()
            )
            return Outcome(item.id, None if retry_at else TECHNICAL_FAILURE, retry_at=retry_at)
        return Outcome(
            item.id,
            DELIVERED if accepted.delivered else None,
            accepted.provider,
            accepted.message_id,
        )

    async def _email_message(self, item: Claimed) -> EmailMessage:
        key = (item.tenant, item.template_id, item.template_version)
        template = self._templates.get(key)
        if template is None:
            template = await asyncio.to_thread(self._load_template, *key)
            self._templates[key] = template
        rendered = template_rules.render(
            template, item.personalisation, item.language, with_html=True
        )
        return EmailMessage(
            item.id, item.recipient, item.subject, item.body, rendered.html, item.reply_to
        )

    def _load_template(self, tenant: str, template_id: str, version: int) -> Template:
        with self._uow() as uow:
            found = uow.templates.get(tenant, template_id, version)
        if found is None:
            raise LookupError("template version vanished")
        return found

    # -- recording ----------------------------------------------------------------------

    async def _write_pending(self) -> None:
        if self._writing:
            return
        self._writing = True
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                while True:
                    try:
                        await asyncio.to_thread(self._record, batch)
                        break
                    except self._unavailable as exc:
                        # The database is away: keep the outcomes and try again.
                        log.warning("cannot record outcomes: %s", type(exc).__name__)
                        await asyncio.sleep(self.config.poll_seconds)
                    except Exception as exc:
                        # Not transient: retrying would stall every later outcome. The
                        # batch's leases run out and those notifications are claimed
                        # again, so nothing is lost; say so, by type only (an error's
                        # text can carry a recipient).
                        log.error(
                            "cannot record %d outcomes (%s); they are retried when their "
                            "leases expire",
                            len(batch),
                            type(exc).__name__,
                        )
                        break
        finally:
            self._writing = False
            async with self._wrote:
                self._wrote.notify_all()

    def _record(self, batch: list[Outcome]) -> None:
        now = self._clock()
        with self._uow() as uow:
            changes = uow.queue.record(batch, now)
            uow.history.record(changes, now)
            uow.outbox.emit(changes, now)

    async def flush(self) -> None:
        while self._pending or self._writing:
            if not self._writing:
                await self._write_pending()
                continue
            async with self._wrote:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wrote.wait(), 1.0)
