"""SQL for a notification's status history (``notification_events``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.notify.adapters import tables
from services.notify.domain.callbacks import StatusChange

t = tables.notification_events


class StatusHistoryRows:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, changes: Sequence[StatusChange], now: datetime) -> None:
        if changes:
            self.session.execute(
                t.insert(),
                [
                    {"tenant": c.tenant, "notification_id": c.id, "status": c.status, "at": now}
                    for c in changes
                ],
            )

    def of(self, tenant: str, notification_id: str) -> list[tuple[str, datetime]]:
        rows = self.session.execute(
            sa.select(t.c.status, t.c.at)
            .where(t.c.tenant == tenant, t.c.notification_id == notification_id)
            .order_by(t.c.at, t.c.id)
        )
        return [(r.status, r.at) for r in rows]
