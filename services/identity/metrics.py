"""identity's business figures on ``/metrics``: security events of the last hour,
counted in its audit log at scrape time."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import tables as t
from services.identity.domain.audit import EventType
from services.runtime import business_metrics
from services.runtime.business_metrics import Gauge, Rows
from services.runtime.db_types import utcnow

HOUR = timedelta(hours=1)
REPORTED = (
    EventType.SIGN_IN_SUCCEEDED,
    EventType.SIGN_IN_FAILED,
    EventType.SECOND_FACTOR_FAILED,
    EventType.ACCOUNT_LOCKED,
    EventType.CODE_REUSED,
    EventType.REFRESH_REUSED,
    EventType.REGISTERED,
    EventType.THROTTLED,
)


def _events(session: Session) -> Rows:
    a = t.audit_events.c
    rows = session.execute(
        sa.select(a.type, sa.func.count())
        .where(a.at >= utcnow() - HOUR, a.type.in_([e.value for e in REPORTED]))
        .group_by(a.type)
    ).all()
    counted = {str(kind): int(count) for kind, count in rows}
    # Every type is reported, zero included, so alerts see a series from the start.
    return [(e.value, counted.get(e.value, 0)) for e in REPORTED]


GAUGES = (
    Gauge(
        "gaap_identity_security_events_last_hour",
        "Audit events of the last hour by type: sign-ins succeeded and failed, "
        "lockouts, reused codes and refresh tokens, registrations, throttling.",
        ("type",),
        _events,
    ),
)


def register(sessions: sessionmaker[Session]) -> None:
    business_metrics.register("identity", GAUGES, sessions)
