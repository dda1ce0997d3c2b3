"""Notifications counted per UTC day, channel and status in SQL (SQLite and
PostgreSQL compute the day differently): split at midnight UTC, the range's end
exclusive, and never another agency's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.notify.adapters import tables
from services.notify.adapters.unit_of_work import transactions
from services.notify.domain import sends
from services.notify.domain.sends import NewRow
from services.notify.domain.templates import Content, Rendered, Template
from services.notify.service_layer.unit_of_work import NotifyTransactions
from services.runtime.db import create_engine, session_factory

MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def uow(database_url: str) -> Iterator[NotifyTransactions]:
    engine = create_engine(database_url)
    tables.metadata.create_all(engine)
    try:
        yield transactions(session_factory(engine))
    finally:
        tables.metadata.drop_all(engine)
        engine.dispose()


def template(tenant: str, channel: str) -> Template:
    return Template(
        f"tpl_{tenant}_{channel}",
        tenant,
        1,
        channel,  # type: ignore[arg-type]
        "name",
        (Content("en", "Subject", "Body"),),
        MIDNIGHT,
        MIDNIGHT,
    )


def row(n: int, tenant: str, channel: str, at: datetime, **fields: Any) -> NewRow:
    new = sends.new_row(
        tenant,
        "live",
        template=template(tenant, channel),
        recipient=f"p{n}@example.com" if channel == "email" else "+447700900123",
        values={},
        rendered=Rendered("en", "Subject", "Body"),
        reference="",
        scheduled_for=None,
        reply_to="",
        now=at,
        bulk_id=None,
        traceparent=None,
    )
    new.update(id=f"ntf_{n:04d}", **fields)
    return new


def test_notifications_are_counted_per_utc_day_channel_and_status(
    uow: NotifyTransactions,
) -> None:
    minute = timedelta(minutes=1)
    with uow() as tx:
        tx.notifications.add_many(
            [
                row(1, "a", "email", MIDNIGHT - minute, status="delivered"),
                row(2, "a", "email", MIDNIGHT - minute, status="delivered"),
                row(3, "a", "sms", MIDNIGHT - minute, status="permanent-failure"),
                row(4, "a", "email", MIDNIGHT, status="technical-failure"),
                row(5, "a", "email", MIDNIGHT + minute, status="delivered"),
                row(6, "b", "email", MIDNIGHT, status="delivered"),
                row(7, "a", "email", MIDNIGHT + timedelta(days=1), status="delivered"),
            ]
        )
    day = timedelta(days=1)
    with uow.read() as tx:
        counts = tx.notifications.day_counts("a", MIDNIGHT - day, MIDNIGHT + day)
        before = tx.notifications.day_counts("a", MIDNIGHT - day, MIDNIGHT)
        other = tx.notifications.day_counts("b", MIDNIGHT - day, MIDNIGHT + day)
    first, second = date(2026, 3, 1), date(2026, 3, 2)
    assert counts == {
        (first, "email", "delivered"): 2,
        (first, "sms", "permanent-failure"): 1,
        (second, "email", "technical-failure"): 1,
        (second, "email", "delivered"): 1,
    }
    assert before == {k: v for k, v in counts.items() if k[0] == first}
    assert other == {(second, "email", "delivered"): 1}
