"""Volume limits an agency cannot get round (SQLite and PostgreSQL).

Every row of a bulk send counts against the agency's daily limit and its
per-minute rate. A bulk send bigger than what is left today is refused whole,
before its rows are checked, with a message saying how many rows fit, and
nothing is stored. For the rate, the bulk send takes all its rows from the
agency's bucket (into debt when it is larger than the burst), so the agency's
next sends wait until those rows are paid back, and a bulk send made while the
bucket is in debt is refused whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import pytest
import sqlalchemy as sa
from gaap.notify.v1 import notify_pb2 as pb
from gaap.notify.v1 import notify_pb2_grpc

from services.notify import bootstrap as notify_bootstrap
from services.notify.adapters import tables
from services.notify.settings import NotifySettings
from services.runtime import db, process
from tests.support.databases import for_service
from tests.support.platform import Platform, bearer, running_platform, server_settings

DAILY = 10
Metadata = tuple[tuple[str, str], ...]


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(database_url, tmp_path_factory.mktemp("var")) as running:
        yield running


@pytest.fixture(scope="module")
def notify(platform: Platform, database_url: str) -> Iterator[notify_pb2_grpc.NotifyServiceStub]:
    """A notify whose agencies may send ``DAILY`` emails a day (a generous rate)."""
    settings = server_settings(
        NotifySettings,
        database_url,
        rate_per_minute=6000,
        rate_burst=1000,
        email_daily_limit=DAILY,
    )
    running = process.start(notify_bootstrap.build(platform.settings, settings))
    try:
        with grpc.insecure_channel(running.grpc_target) as channel:
            yield notify_pb2_grpc.NotifyServiceStub(channel)
    finally:
        running.stop(1)


@pytest.fixture(scope="module")
def slow_notify(
    platform: Platform, database_url: str
) -> Iterator[notify_pb2_grpc.NotifyServiceStub]:
    """A notify whose agencies may send 60 a minute with a burst of ``BURST``."""
    settings = server_settings(NotifySettings, database_url, rate_per_minute=60, rate_burst=BURST)
    running = process.start(notify_bootstrap.build(platform.settings, settings))
    try:
        with grpc.insecure_channel(running.grpc_target) as channel:
            yield notify_pb2_grpc.NotifyServiceStub(channel)
    finally:
        running.stop(1)


BURST = 5


def key() -> str:
    return uuid.uuid4().hex


def template(stub: notify_pb2_grpc.NotifyServiceStub, md: Metadata) -> str:
    created = stub.CreateTemplate(
        pb.CreateTemplateRequest(
            channel=pb.CHANNEL_EMAIL,
            name="Reminder",
            contents=[pb.TemplateContent(language="en", subject="Hi", body="Hello ((name))")],
            idempotency_key=key(),
        ),
        metadata=md,
    )
    return str(created.id)


def bulk(template_id: str, rows: int, *, bad_row: bool = False) -> pb.CreateBulkSendRequest:
    lines = ["email address,name"]
    lines += [f"person{n}@example.com,Person {n}" for n in range(rows)]
    if bad_row:
        lines[-1] = "not an address,"
    return pb.CreateBulkSendRequest(
        template_id=template_id, csv="\n".join(lines) + "\n", idempotency_key=key()
    )


def stored(database_url: str, tenant: str) -> int:
    """The agency's notifications in notify's own database."""
    engine = db.create_engine(for_service(database_url, "notify"))
    try:
        with engine.connect() as connection:
            count = connection.scalar(
                sa.select(sa.func.count()).where(tables.notifications.c.tenant == tenant)
            )
    finally:
        engine.dispose()
    return int(count or 0)


def test_a_bulk_send_larger_than_what_is_left_today_is_refused_whole(
    platform: Platform, database_url: str, notify: notify_pb2_grpc.NotifyServiceStub
) -> None:
    agency = platform.secret_agency(mode="test")
    md = bearer(platform.token(agency))
    template_id = template(notify, md)
    notify.SendEmail(
        pb.SendEmailRequest(
            template_id=template_id,
            email_address="first@example.com",
            personalisation={"name": pb.PersonalisationValue(text="First")},
            idempotency_key=key(),
        ),
        metadata=md,
    )
    # Nine left today: ten rows do not fit, even though ten is the whole daily limit.
    with pytest.raises(grpc.RpcError) as refused:
        notify.CreateBulkSend(bulk(template_id, DAILY), metadata=md)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = refused.value.details() or ""
    assert "10 rows" in details
    assert "only 9 more email messages fit" in details
    # Refused before the rows are checked: a bad row does not change the answer.
    with pytest.raises(grpc.RpcError) as still:
        notify.CreateBulkSend(bulk(template_id, DAILY, bad_row=True), metadata=md)
    assert still.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stored(database_url, agency.client_id) == 1
    # What fits is accepted, and every row counts: then not one more fits.
    request = bulk(template_id, DAILY - 1)
    accepted = notify.CreateBulkSend(request, metadata=md)
    assert accepted.total == DAILY - 1
    assert notify.CreateBulkSend(request, metadata=md).id == accepted.id  # a retry is a replay
    with pytest.raises(grpc.RpcError) as full:
        notify.CreateBulkSend(bulk(template_id, 1), metadata=md)
    assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "only 0 more" in (full.value.details() or "")
    assert stored(database_url, agency.client_id) == DAILY


def test_rows_beyond_the_daily_limit_are_never_an_invalid_argument(
    platform: Platform, notify: notify_pb2_grpc.NotifyServiceStub
) -> None:
    md = bearer(platform.token(platform.secret_agency(mode="test")))
    with pytest.raises(grpc.RpcError) as refused:
        notify.CreateBulkSend(bulk(template(notify, md), DAILY + 1), metadata=md)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"only {DAILY} more" in (refused.value.details() or "")


def test_every_bulk_row_counts_against_the_rate(
    platform: Platform, database_url: str, slow_notify: notify_pb2_grpc.NotifyServiceStub
) -> None:
    agency = platform.secret_agency(mode="test")
    md = bearer(platform.token(agency))
    template_id = template(slow_notify, md)
    # The bucket holds five: eight rows are taken whole, three of them into debt.
    accepted = slow_notify.CreateBulkSend(bulk(template_id, 2 * BURST - 2), metadata=md)
    assert accepted.total == 2 * BURST - 2
    # The bucket is in debt: a single send, and another bulk send, are refused whole.
    with pytest.raises(grpc.RpcError) as single:
        slow_notify.SendEmail(
            pb.SendEmailRequest(
                template_id=template_id,
                email_address="one@example.com",
                personalisation={"name": pb.PersonalisationValue(text="One")},
                idempotency_key=key(),
            ),
            metadata=md,
        )
    assert single.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(grpc.RpcError) as again:
        slow_notify.CreateBulkSend(bulk(template_id, 2), metadata=md)
    assert again.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "rate limit" in (again.value.details() or "")
    assert stored(database_url, agency.client_id) == 2 * BURST - 2
