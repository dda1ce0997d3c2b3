"""payments' business figures on ``/metrics``, counted in its database at scrape time."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.payments.adapters import tables as t
from services.runtime import business_metrics
from services.runtime.business_metrics import WINDOW, Gauge, Rows
from services.runtime.db_types import utcnow


def _payments(session: Session) -> Rows:
    p = t.payments.c
    return session.execute(
        sa.select(p.state, p.provider, sa.func.count())
        .where(p.created_at >= utcnow() - WINDOW)
        .group_by(p.state, p.provider)
    ).all()


def _refunds(session: Session) -> Rows:
    r = t.refunds.c
    return session.execute(
        sa.select(r.state, sa.func.count())
        .where(r.created_at >= utcnow() - WINDOW)
        .group_by(r.state)
    ).all()


def _refunded_amount(session: Session) -> Rows:
    r = t.refunds.c
    return session.execute(
        sa.select(r.currency, sa.func.coalesce(sa.func.sum(r.amount), 0))
        .where(r.created_at >= utcnow() - WINDOW, r.state == "success")
        .group_by(r.currency)
    ).all()


GAUGES = (
    Gauge(
        "gaap_payments_recent",
        "Payments created in the last 24 hours, by their current state and provider.",
        ("state", "provider"),
        _payments,
    ),
    Gauge(
        "gaap_payments_refunds_recent",
        "Refunds created in the last 24 hours, by state.",
        ("state",),
        _refunds,
    ),
    Gauge(
        "gaap_payments_refunded_minor_units_recent",
        "Amount refunded successfully in the last 24 hours, in minor units, by currency.",
        ("currency",),
        _refunded_amount,
    ),
)


def register(sessions: sessionmaker[Session]) -> None:
    business_metrics.register("payments", GAUGES, sessions)
