"""The ports' rules, run on both implementations: the SQL unit of work and send
writer (a SQLite file; ``adapters/``) and the in-memory fakes the use-case tests
run on (``tests/fakes/notify.py``), so the fakes stay honest."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.notify.adapters import tables
from services.notify.adapters.sending import GroupCommitSends, SqlSettingsLookup
from services.notify.adapters.unit_of_work import transactions
from services.notify.domain import sends
from services.notify.domain.bulk_sends import BulkSend
from services.notify.domain.callbacks import Callback, StatusChange
from services.notify.domain.paging import page_key
from services.notify.domain.queue import Outcome
from services.notify.domain.sends import STALE, TAKEN, WRITTEN, NewRow, NewSend
from services.notify.domain.statuses import TEMPORARY_FAILURE as TIMED_OUT
from services.notify.domain.templates import Content, Rendered, Template
from services.notify.service_layer.unit_of_work import (
    NotifyTransactions,
    SendWriter,
    SettingsLookup,
)
from services.runtime.db import create_engine, session_factory
from tests.fakes.notify import FakeSendWriter, FakeSettingsLookup, fake_transactions

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


@dataclass
class Ports:
    uow: NotifyTransactions
    writer: SendWriter
    settings: SettingsLookup


@pytest.fixture(params=["sql", "memory"])
def ports(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ports]:
    if request.param == "memory":
        fake = fake_transactions()
        yield Ports(fake, FakeSendWriter(fake), FakeSettingsLookup(fake))
        return
    engine = create_engine(f"sqlite:///{tmp_path / 'notify.db'}")
    tables.metadata.create_all(engine)
    sessions = session_factory(engine)
    try:
        yield Ports(
            transactions(sessions),
            GroupCommitSends(sessions, None),
            SqlSettingsLookup(sessions, None),
        )
    finally:
        engine.dispose()


def template(n: int, tenant: str = "a", version: int = 1, channel: str = "email") -> Template:
    at = T0 + timedelta(minutes=n)
    return Template(
        f"tpl_{n:03d}",
        tenant,
        version,
        channel,  # type: ignore[arg-type]
        f"name v{version}",
        (Content("en", f"Subject {version}", "Body ((x))"),),
        at,
        at + timedelta(seconds=version),
    )


def row(n: int, tpl: Template, **fields: Any) -> NewRow:
    new = sends.new_row(
        tpl.tenant,
        "live",
        template=tpl,
        recipient=f"p{n}@example.com",
        values={"x": str(n)},
        rendered=Rendered("en", "Subject", f"Body {n}"),
        reference=f"ref-{n % 2}",
        scheduled_for=None,
        reply_to="",
        now=T0 + timedelta(seconds=n),
        bulk_id=None,
        traceparent=None,
    )
    new.update(id=f"ntf_{n:04d}", **fields)
    return new


def test_template_versions_the_latest_and_pages(ports: Ports) -> None:
    with ports.uow() as uow:
        for n in range(3):
            uow.templates.add(template(n, channel="sms" if n == 1 else "email"))
        uow.templates.add(template(0, version=2))
        uow.templates.add(template(9, tenant="b"))
    with ports.uow.read() as uow:
        assert uow.templates.get("a", "tpl_000") == template(0, version=2)
        assert uow.templates.get("a", "tpl_000", 1) == template(0)
        assert uow.templates.get("a", "tpl_000", 3) is None
        assert uow.templates.get("b", "tpl_000") is None
        assert uow.templates.get("a", "tpl_000", lock=True) == template(0, version=2)
        listed = uow.templates.list("a", 2, None, None)
        assert [t.id for t in listed] == ["tpl_002", "tpl_001", "tpl_000"]  # one extra: more
        after = page_key(listed[1].created_at, listed[1].id)
        assert [t.id for t in uow.templates.list("a", 2, after, None)] == ["tpl_000"]
        assert [t.id for t in uow.templates.list("a", 5, None, "sms")] == ["tpl_001"]
        assert uow.templates.latest_versions(["tpl_000", "tpl_009", "nope"]) == {
            "tpl_000": ("a", 2),
            "tpl_009": ("b", 1),
        }


def test_a_templates_versions_newest_first_with_their_authors(ports: Ports) -> None:
    first = template(0)
    second = replace(template(0, version=2), changed_by="ada@agency.example", actor="console")
    with ports.uow() as uow:
        uow.templates.add(first)
        uow.templates.add(second)
        uow.templates.add(template(0, version=3))
    with ports.uow.read() as uow:
        assert uow.templates.get("a", "tpl_000", 2) == second
        history = uow.templates.history("a", "tpl_000", 2, None)
        assert [t.version for t in history] == [3, 2, 1]  # one extra: more
        assert (history[1].changed_by, history[1].actor) == ("ada@agency.example", "console")
        assert (history[2].changed_by, history[2].actor) == ("", "")
        assert uow.templates.history("a", "tpl_000", 2, 2) == [first]
        assert uow.templates.history("b", "tpl_000", 5, None) == []


def test_a_notifications_status_history_oldest_first_per_agency(ports: Ports) -> None:
    def change(n: str, tenant: str, status: str) -> StatusChange:
        return StatusChange(n, tenant, "", "email", "tpl_1", 1, T0, status)

    with ports.uow() as uow:
        uow.history.record([change("ntf_1", "a", "sending"), change("ntf_2", "a", "sending")], T0)
        uow.history.record([], T0)
        uow.history.record([change("ntf_1", "a", "delivered")], T0 + timedelta(seconds=2))
        uow.history.record([change("ntf_1", "b", "cancelled")], T0)
    with ports.uow.read() as uow:
        assert uow.history.of("a", "ntf_1") == [
            ("sending", T0),
            ("delivered", T0 + timedelta(seconds=2)),
        ]
        assert uow.history.of("b", "ntf_1") == [("cancelled", T0)]
        assert uow.history.of("a", "ntf_3") == []


def test_notifications_stored_read_listed_counted_and_cancelled(ports: Ports) -> None:
    tpl = template(1)
    with ports.uow() as uow:
        uow.templates.add(tpl)
        uow.notifications.add_many(
            [row(n, tpl, bulk_send_id="bulk_1" if n < 3 else None) for n in range(4)]
        )
    with ports.uow.read() as uow:
        got = uow.notifications.get("a", "ntf_0001")
        assert got is not None
        assert (got.status, got.body, got.personalisation) == ("created", "Body 1", {"x": "1"})
        assert uow.notifications.get("b", "ntf_0001") is None
        listed = uow.notifications.list("a", 10, None, reference="ref-1")
        assert [n.id for n in listed] == ["ntf_0003", "ntf_0001"]
        after = page_key(T0 + timedelta(seconds=2), "ntf_0002")
        assert [n.id for n in uow.notifications.list("a", 10, after)] == ["ntf_0001", "ntf_0000"]
        assert uow.notifications.status_counts("bulk_1") == {"created": 3}
    with ports.uow() as uow:
        uow.queue.claim(T0 + timedelta(seconds=0.5), 1, LEASE)  # ntf_0000 is being sent
        changes = uow.notifications.cancel_unclaimed("a", T0, bulk_send_id="bulk_1")
        assert sorted((c.id, c.status) for c in changes) == [
            ("ntf_0001", "cancelled"),
            ("ntf_0002", "cancelled"),
        ]
        assert uow.notifications.cancel_unclaimed("b", T0, notification_id="ntf_0003") == []
        assert uow.notifications.status_counts("bulk_1") == {"cancelled": 2, "sending": 1}


def test_the_queue_claims_records_and_never_changes_a_final_status(ports: Ports) -> None:
    tpl = template(1)
    with ports.uow() as uow:
        uow.templates.add(tpl)
        uow.notifications.add_many([row(n, tpl) for n in range(4)])
    now = T0 + timedelta(seconds=2)
    with ports.uow() as uow:
        claimed, changes = uow.queue.claim(now, 10, LEASE)
        assert sorted(c.id for c in claimed) == ["ntf_0000", "ntf_0001", "ntf_0002"]  # due by now
        assert {c.attempts for c in claimed} == {1}
        assert sorted(c.id for c in changes) == ["ntf_0000", "ntf_0001", "ntf_0002"]
        assert uow.queue.claim(now, 10, LEASE) == ([], [])  # leased
        recorded = uow.queue.record(
            [
                Outcome("ntf_0000", "delivered", "smtp", "m0"),
                Outcome("ntf_0001", None, "sms", "m1"),
                Outcome("ntf_0002", None, retry_at=now + timedelta(seconds=10)),
            ],
            now,
        )
        assert [(c.id, c.status) for c in recorded] == [("ntf_0000", "delivered")]
        assert uow.queue.record([Outcome("ntf_0000", "technical-failure")], now) == []
    later = now + LEASE + timedelta(seconds=1)
    with ports.uow() as uow:
        again, changes = uow.queue.claim(later, 10, LEASE)
        assert sorted(c.id for c in again) == ["ntf_0002", "ntf_0003"]  # not one a provider took
        assert [c.id for c in changes] == ["ntf_0003"]  # ntf_0002 was already sending
        assert [c.status for c in uow.queue.apply_receipt("sms", "m1", "delivered", later)] == [
            "delivered"
        ]
        assert uow.queue.apply_receipt("sms", "m1", "permanent-failure", later) == []
        uow.queue.record([Outcome("ntf_0003", None, "sms", "m3")], later)
        timed_out = uow.queue.time_out_unreceipted(later + timedelta(hours=1), later, TIMED_OUT)
        assert [(c.id, c.status) for c in timed_out] == [("ntf_0003", TIMED_OUT)]
        assert uow.queue.purge_personal_data(later, later, limit=1) == 1
        assert uow.queue.purge_personal_data(later, later) == 2
        assert uow.queue.purge_personal_data(later, later) == 0
        purged = uow.notifications.get("a", "ntf_0000")
        assert purged is not None
        assert (purged.recipient, purged.body, purged.purged_at) == ("", "", later)


def test_bulk_sends_daily_counts_settings_and_callbacks(ports: Ports) -> None:
    bulk = BulkSend("bulk_1", "a", "tpl_001", 1, "email", 3, "ref", None, T0)
    with ports.uow() as uow:
        uow.bulk_sends.add(bulk)
        assert uow.daily_counts.take("a", "email", T0.date(), 3, 4)
        assert not uow.daily_counts.take("a", "email", T0.date(), 2, 4)
        assert not uow.daily_counts.take("a", "sms", T0.date(), 5, 4)
        assert uow.daily_counts.used("a", "email", T0.date()) == 3
        uow.agency_settings.put("a", ("FR", True), T0)
        uow.agency_settings.put("a", ("DE", False), T0)
        uow.callbacks.replace("a", "cb_1", "https://a.example/old", "s1", T0)
        uow.callbacks.replace("a", "cb_2", "https://a.example/cb", "s2", T0)
        uow.callbacks.replace("b", "cb_3", "https://b.example/cb", "s3", T0)
        uow.callbacks.delete("b")
    with ports.uow.read() as uow:
        assert uow.bulk_sends.get("a", "bulk_1") == bulk
        assert uow.bulk_sends.get("b", "bulk_1") is None
        assert uow.agency_settings.get("a") == ("DE", False)
        assert uow.agency_settings.get("b") is None
        assert uow.callbacks.get("a") == Callback("https://a.example/cb", T0)
        assert uow.callbacks.get("b") is None
    assert ports.settings.stored("a") == ("DE", False)
    tpl = template(1)
    with ports.uow() as uow:
        uow.templates.add(tpl)
        uow.notifications.add_many([row(1, tpl), row(2, template(2, tenant="b"))])
        _, changes = uow.queue.claim(T0 + timedelta(minutes=5), 10, LEASE)
        assert uow.outbox.emit(changes, T0) == 1  # only "a" registered a callback
        assert uow.outbox.emit([], T0) == 0


def test_a_unit_of_work_that_fails_writes_nothing(ports: Ports) -> None:
    def add_then_fail() -> None:
        with ports.uow() as uow:
            uow.templates.add(template(1))
            uow.daily_counts.take("a", "email", T0.date(), 1, 5)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        add_then_fail()
    with ports.uow.read() as uow:
        assert uow.templates.get("a", "tpl_001") is None
        assert uow.daily_counts.used("a", "email", T0.date()) == 0


def new_send(n: int, tpl: Template, key: str = "", limit: int = 10) -> NewSend:
    return NewSend(row(n, tpl), key or f"key-{n}", "fp", b"response", limit)


def test_the_send_writer_writes_fresh_sends_and_leaves_the_rest(ports: Ports) -> None:
    tpl = template(1)
    with ports.uow() as uow:
        uow.templates.add(tpl)
        uow.templates.add(template(1, version=2))
    fresh = template(1, version=2)
    assert ports.writer.write(new_send(1, fresh)) == WRITTEN
    assert ports.writer.write(new_send(2, tpl)) == STALE
    assert ports.writer.write(new_send(3, fresh, key="key-1")) == TAKEN  # its key was seen
    assert ports.writer.write(new_send(4, fresh, limit=1)) == TAKEN  # the day is full
    with ports.uow.read() as uow:
        assert uow.notifications.get("a", "ntf_0001") is not None
        for n in (2, 3, 4):
            assert uow.notifications.get("a", f"ntf_{n:04d}") is None
        assert uow.daily_counts.used("a", "email", T0.date()) == 1
