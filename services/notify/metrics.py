"""notify's business figures on ``/metrics``, counted in its database at scrape time."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters import tables as t
from services.runtime import business_metrics
from services.runtime.business_metrics import WINDOW, Gauge, Rows
from services.runtime.db_types import utcnow


def _notifications(session: Session) -> Rows:
    n = t.notifications.c
    return session.execute(
        sa.select(n.status, n.channel, n.provider, sa.func.count())
        .where(n.created_at >= utcnow() - WINDOW)
        .group_by(n.status, n.channel, n.provider)
    ).all()


def _queued(session: Session) -> Rows:
    """Due and not yet handed to a provider: the worker's backlog."""
    n = t.notifications.c
    return session.execute(
        sa.select(n.channel, sa.func.count())
        .where(n.provider_message_id.is_(None), n.completed_at.is_(None), n.due_at <= utcnow())
        .group_by(n.channel)
    ).all()


GAUGES = (
    Gauge(
        "gaap_notify_notifications_recent",
        "Notifications created in the last 24 hours, by status, channel and provider "
        "(empty provider: not handed to one yet).",
        ("status", "channel", "provider"),
        _notifications,
    ),
    Gauge(
        "gaap_notify_backlog",
        "Notifications due now and not yet accepted by a provider, by channel.",
        ("channel",),
        _queued,
    ),
)


def register(sessions: sessionmaker[Session]) -> None:
    business_metrics.register("notify", GAUGES, sessions)
