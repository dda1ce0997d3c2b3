"""Single sends written as one PostgreSQL statement (``adapters.direct``)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.notify.adapters import tables
from services.notify.adapters.direct import (
    STALE,
    TAKEN,
    WRITTEN,
    DailyLimitReached,
    DirectSends,
    NewSend,
)
from services.notify.bootstrap import Notify, open_notify
from services.notify.domain.templates import Content
from services.notify.service_layer.sending import SendRequest
from services.notify.settings import NotifySettings
from services.runtime.config import PlatformSettings
from services.runtime.context import Principal
from services.runtime.db import transaction
from services.runtime.errors import InvalidArgument, ResourceExhausted
from services.runtime.idempotency import Keyed
from tests.support import databases

AGENCY = Principal("agency-direct", "live", frozenset({"notify:send"}), "tok", 0)
NOW = datetime(2025, 6, 1, 12, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def notify(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Notify]:
    admin = databases.require_postgres()
    with databases.fresh_postgres_database(admin) as url:
        settings = NotifySettings(
            database_url=url,
            grpc_address="127.0.0.1:0",
            http_address="127.0.0.1:0",
            email_daily_limit=3,
        )
        app = open_notify(PlatformSettings(var_dir=tmp_path_factory.mktemp("var")), settings)
        yield app
        app.database.close()


def new_template(notify: Notify, subject: str = "Hello ((name))") -> str:
    created = notify.templates.create(
        AGENCY.client_id,
        "email",
        "Direct",
        [Content("en", subject, "Dear ((name))")],
        Keyed(AGENCY.client_id, uuid.uuid4().hex, "fp"),
        lambda _: b"",
    )
    return created.id  # type: ignore[union-attr]


def new_version(notify: Notify, template_id: str, subject: str) -> None:
    notify.templates.update(
        AGENCY.client_id,
        template_id,
        "Direct",
        [Content("en", subject, "Dear ((name))")],
        Keyed(AGENCY.client_id, uuid.uuid4().hex, "fp"),
        lambda _: b"",
    )


def send(
    template_id: str, *, version: int = 1, key: str = "", limit: int = 100, tenant: str = ""
) -> NewSend:
    row: dict[str, Any] = {
        "id": f"ntf_{uuid.uuid4().hex}",
        "tenant": tenant or AGENCY.client_id,
        "mode": "live",
        "channel": "email",
        "status": "created",
        "template_id": template_id,
        "template_version": version,
        "recipient": "ada@example.com",
        "subject": "Hello Ada",
        "body": "Dear Ada, 您好",
        "personalisation": {"name": "Adà", "items": ["您", "好"]},
        "reply_to": "",
        "reference": "case-1",
        "language": "en",
        "fragments": 0,
        "bulk_send_id": None,
        "traceparent": None,
        "created_at": NOW,
        "scheduled_for": None,
        "due_at": NOW,
        "first_due_at": NOW,
    }
    return NewSend(row, key or uuid.uuid4().hex, "f" * 64, b"response \x00\xff", limit)


def stored(notify: Notify, sends: list[NewSend]) -> tuple[int, int]:
    """How many of ``sends`` have a notification row, and how many a key."""
    n, k = tables.notifications, tables.idempotency_keys
    with transaction(notify.database.sessions) as session:
        rows = session.execute(
            sa.select(sa.func.count()).where(n.c.id.in_([s.row["id"] for s in sends]))
        ).scalar_one()
        keys = session.execute(
            sa.select(sa.func.count()).where(k.c.key.in_([s.key for s in sends]))
        ).scalar_one()
    return rows, keys


def used_today(notify: Notify, tenant: str) -> int:
    d = tables.daily_counts
    with transaction(notify.database.sessions) as session:
        found = session.execute(
            sa.select(d.c.count).where(d.c.tenant == tenant, d.c.day == NOW.date())
        ).scalar()
    return int(found or 0)


def test_a_batch_stores_rows_keys_and_counts_and_reports_each_send(notify: Notify) -> None:
    direct = DirectSends(notify.database.direct)
    assert direct.enabled
    others = new_template(notify)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    mine = new_template_for(notify, tenant)
    taken = send(mine, tenant=tenant)
    assert direct.write([taken]) == [WRITTEN]
    batch = [
        send(mine, tenant=tenant),
        send(others, tenant=tenant),  # another agency's template: never written
        send(mine, key=taken.key, tenant=tenant),  # its key is already taken
        send(mine, tenant=tenant),
    ]
    assert direct.write(batch) == [WRITTEN, STALE, TAKEN, WRITTEN]
    assert stored(notify, [batch[0], batch[3]]) == (2, 2)
    assert stored(notify, [batch[1]]) == (0, 0)
    assert used_today(notify, tenant) == 3

    k = tables.idempotency_keys
    with transaction(notify.database.sessions) as session:
        record = session.execute(
            sa.select(k.c.response, k.c.expires_at, k.c.created_at).where(k.c.key == batch[0].key)
        ).one()
        row = session.execute(
            sa.select(tables.notifications).where(tables.notifications.c.id == batch[0].row["id"])
        ).one()
    assert bytes(record.response) == b"response \x00\xff"
    assert record.expires_at - record.created_at == timedelta(hours=24)
    assert (row.body, row.personalisation) == (
        "Dear Ada, 您好",
        {"name": "Adà", "items": ["您", "好"]},
    )
    assert row.created_at == row.due_at == NOW
    assert (row.status, row.attempts, row.bulk_send_id, row.sent_at) == ("created", 0, None, None)


def new_template_for(notify: Notify, tenant: str) -> str:
    created = notify.templates.create(
        tenant,
        "email",
        "Direct",
        [Content("en", "Hello ((name))", "Dear ((name))")],
        Keyed(tenant, uuid.uuid4().hex, "fp"),
        lambda _: b"",
    )
    return created.id  # type: ignore[union-attr]


def test_a_send_rendered_with_an_old_version_is_stale(notify: Notify) -> None:
    direct = DirectSends(notify.database.direct)
    template_id = new_template(notify)
    new_version(notify, template_id, "Hi ((name))")
    old, latest = send(template_id, version=1), send(template_id, version=2)
    assert direct.write([old, latest]) == [STALE, WRITTEN]
    assert stored(notify, [old]) == (0, 0)


def test_a_batch_past_the_daily_limit_writes_nothing(notify: Notify) -> None:
    direct = DirectSends(notify.database.direct)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    template_id = new_template_for(notify, tenant)
    assert direct.write([send(template_id, tenant=tenant, limit=3)]) == [WRITTEN]
    over = [send(template_id, tenant=tenant, limit=3) for _ in range(3)]
    with pytest.raises(DailyLimitReached):
        direct.write(over)
    assert stored(notify, over) == (0, 0)  # no key claimed either
    assert used_today(notify, tenant) == 1
    assert direct.write(over[:2]) == [WRITTEN, WRITTEN]  # exactly up to the limit
    assert used_today(notify, tenant) == 3


def test_racing_writers_of_one_key_store_one_notification(notify: Notify) -> None:
    direct = DirectSends(notify.database.direct)
    template_id = new_template(notify)
    key = uuid.uuid4().hex
    sends = [send(template_id, key=key) for _ in range(4)]
    start = threading.Barrier(len(sends))
    outcomes: list[str] = []

    def write(s: NewSend) -> None:
        start.wait()
        outcomes.extend(direct.write([s]))  # each thread on its own connection

    threads = [threading.Thread(target=write, args=(s,)) for s in sends]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == sorted([WRITTEN, TAKEN, TAKEN, TAKEN])
    assert stored(notify, sends) == (1, 1)


def test_sends_through_the_service_follow_a_new_template_version(
    notify: Notify, caplog: pytest.LogCaptureFixture
) -> None:
    template_id = new_template(notify, "Version one for ((name))")

    def send_one() -> Any:
        request = SendRequest("email", template_id, "ada@example.com", {"name": "Ada"})
        return notify.sending.send(
            AGENCY, request, Keyed(AGENCY.client_id, uuid.uuid4().hex, "fp"), lambda _: b""
        )

    assert send_one().subject == "Version one for Ada"
    new_version(notify, template_id, "Version two for ((name))")
    second = send_one()  # rendered with the cached version 1, refused as stale, rendered again
    assert (second.subject, second.template_version) == ("Version two for Ada", 2)
    assert "batched send failed" not in caplog.text  # the statement, not a fallback


def test_the_daily_limit_through_the_service_is_exact(
    notify: Notify, caplog: pytest.LogCaptureFixture
) -> None:
    agency = Principal(f"a-{uuid.uuid4().hex[:8]}", "live", frozenset({"notify:send"}), "t", 0)
    template_id = new_template_for(notify, agency.client_id)
    results: list[object] = []

    def send_one(i: int) -> None:
        request = SendRequest("email", template_id, f"p{i}@example.com", {"name": "Ada"})
        try:
            results.append(
                notify.sending.send(
                    agency, request, Keyed(agency.client_id, uuid.uuid4().hex, "fp"), lambda _: b""
                )
            )
        except ResourceExhausted as exc:
            results.append(exc)

    threads = [threading.Thread(target=send_one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sum(not isinstance(r, ResourceExhausted) for r in results) == 3  # the limit
    assert sum(isinstance(r, ResourceExhausted) for r in results) == 3
    assert "batched send failed" not in caplog.text


def test_sms_sends_read_the_agencys_settings_afresh(notify: Notify) -> None:
    agency = Principal(f"a-{uuid.uuid4().hex[:8]}", "live", frozenset({"notify:send"}), "t", 0)
    direct = DirectSends(notify.database.direct)
    assert direct.sms_settings(agency.client_id) is None  # never changed: the defaults
    created = notify.templates.create(
        agency.client_id,
        "sms",
        "Code",
        [Content("en", "", "Your code is ((code))")],
        Keyed(agency.client_id, uuid.uuid4().hex, "fp"),
        lambda _: b"",
    )

    def send_sms() -> Any:
        request = SendRequest("sms", created.id, "+14155552671", {"code": "1234"})  # type: ignore[union-attr]
        return notify.sending.send(
            agency, request, Keyed(agency.client_id, uuid.uuid4().hex, "fp"), lambda _: b""
        )

    with pytest.raises(InvalidArgument, match="phone_number"):
        send_sms()  # a US number, and the agency may not send abroad
    notify.agency_settings.update(
        agency.client_id, "GB", True, Keyed(agency.client_id, uuid.uuid4().hex, "fp"), lambda _: b""
    )
    assert direct.sms_settings(agency.client_id) == ("GB", True)
    assert send_sms().recipient == "+14155552671"
