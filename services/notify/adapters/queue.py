"""The queue: notifications due for sending, claimed by workers with a lease.

Claim: rows with ``status`` created or sending, no provider message id, and
``due_at <= now`` (a scheduled time, a retry time or an expired lease). On
PostgreSQL they are selected ``FOR UPDATE SKIP LOCKED`` so concurrent workers
take disjoint rows; on SQLite the transaction holds the database's write lock
(BEGIN IMMEDIATE), and the UPDATE repeats the conditions anyway. Claiming moves
``due_at`` to the lease's end: a worker killed mid-send leaves the row to be
claimed again then, unless a provider message id was recorded (the provider
accepted it), which takes it out of the queue for good.

Every later change is conditional on the row not being final, so a final status
is never overwritten (a late receipt, a cancel racing a worker). Each method
returns the status changes it made; the use case records their callbacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.notify.adapters import tables
from services.notify.adapters.repositories import CHANGE_COLUMNS, change_from
from services.notify.domain.callbacks import StatusChange
from services.notify.domain.queue import Claimed, Outcome
from services.notify.domain.statuses import CREATED, FINAL, SENDING

n = tables.notifications


def _due(now: datetime) -> Any:
    return sa.and_(
        n.c.status.in_((CREATED, SENDING)),
        n.c.provider_message_id.is_(None),
        n.c.due_at <= now,
    )


class Queue:
    """``DeliveryQueue`` on one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(
        self, now: datetime, limit: int, lease: timedelta
    ) -> tuple[list[Claimed], list[StatusChange]]:
        session = self.session
        query = sa.select(n.c.id, n.c.status).where(_due(now)).order_by(n.c.due_at).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        picked = session.execute(query).all()
        if not picked:
            return [], []
        ids = [r.id for r in picked]
        rows = session.execute(
            n.update()
            .where(n.c.id.in_(ids), _due(now))
            .values(status=SENDING, due_at=now + lease, attempts=n.c.attempts + 1)
            .returning(n)
        ).all()
        was_created = {r.id for r in picked if r.status == CREATED}
        changes = [change_from(r, SENDING) for r in rows if r.id in was_created]
        claimed = [
            Claimed(
                r.id,
                r.tenant,
                r.mode,
                r.channel,
                r.recipient,
                r.subject,
                r.body,
                r.personalisation,
                r.template_id,
                r.template_version,
                r.language,
                r.reply_to,
                r.attempts,
                r.first_due_at,
                r.traceparent,
            )
            for r in rows
        ]
        return claimed, changes

    def record(self, outcomes: Sequence[Outcome], now: datetime) -> list[StatusChange]:
        session = self.session
        # On PostgreSQL the usual outcome (accepted, final) for many rows in one statement
        # (SQLite has no column names for a VALUES list); the rest one by one.
        postgres = session.get_bind().dialect.name == "postgresql"
        together = [
            o
            for o in outcomes
            if postgres and o.status is not None and o.provider_message_id is not None
        ]
        changes = self._record_accepted(together, now)
        batched = set(together)
        for o in outcomes:
            if o in batched:
                continue
            values: dict[str, Any] = {}
            condition = sa.and_(n.c.id == o.id, n.c.status.notin_(FINAL))
            if o.provider_message_id is not None:
                values.update(
                    provider=o.provider, provider_message_id=o.provider_message_id, sent_at=now
                )
                condition = sa.and_(condition, n.c.provider_message_id.is_(None))
            if o.status is not None:
                values.update(status=o.status, completed_at=now)
            elif o.retry_at is not None:
                values.update(due_at=o.retry_at)
            if not values:
                continue
            rows = session.execute(
                n.update().where(condition).values(**values).returning(*CHANGE_COLUMNS)
            ).all()
            if o.status is not None:
                changes += [change_from(r, o.status) for r in rows]
        return changes

    def _record_accepted(self, outcomes: list[Outcome], now: datetime) -> list[StatusChange]:
        """Accepted by a provider and final: ``UPDATE .. FROM (VALUES ..)`` for all of them."""
        if not outcomes:
            return []
        given = sa.values(
            sa.column("id", sa.String),
            sa.column("status", sa.String),
            sa.column("provider", sa.String),
            sa.column("message_id", sa.String),
            name="given",
        ).data([(o.id, o.status, o.provider, o.provider_message_id) for o in outcomes])
        rows = self.session.execute(
            n.update()
            .where(
                n.c.id == given.c.id,
                n.c.status.notin_(FINAL),
                n.c.provider_message_id.is_(None),
            )
            .values(
                status=given.c.status,
                provider=given.c.provider,
                provider_message_id=given.c.message_id,
                sent_at=now,
                completed_at=now,
            )
            .returning(*CHANGE_COLUMNS)
        ).all()
        status = {o.id: o.status for o in outcomes}
        return [change_from(r, str(status[r.id])) for r in rows]

    def apply_receipt(
        self, provider: str, message_id: str, status: str, now: datetime
    ) -> list[StatusChange]:
        rows = self.session.execute(
            n.update()
            .where(
                n.c.provider == provider,
                n.c.provider_message_id == message_id,
                n.c.status.notin_(FINAL),
            )
            .values(status=status, completed_at=now)
            .returning(*CHANGE_COLUMNS)
        ).all()
        return [change_from(r, status) for r in rows]

    def time_out_unreceipted(
        self, before: datetime, now: datetime, status: str
    ) -> list[StatusChange]:
        rows = self.session.execute(
            n.update()
            .where(
                n.c.status == SENDING,
                n.c.provider_message_id.is_not(None),
                n.c.sent_at < before,
            )
            .values(status=status, completed_at=now)
            .returning(*CHANGE_COLUMNS)
        ).all()
        return [change_from(r, status) for r in rows]

    def purge_personal_data(self, before: datetime, now: datetime, limit: int = 5000) -> int:
        ids = [
            r.id
            for r in self.session.execute(
                sa.select(n.c.id)
                .where(n.c.purged_at.is_(None), n.c.created_at < before, n.c.status.in_(FINAL))
                .limit(limit)
            )
        ]
        if not ids:
            return 0
        self.session.execute(
            n.update()
            .where(n.c.id.in_(ids))
            .values(
                recipient="", subject="", body="", personalisation={}, reply_to="", purged_at=now
            )
        )
        return len(ids)
