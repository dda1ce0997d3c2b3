"""Bulk sends on fakes: rows or CSV, all checked before anything is queued,
the daily limit and the rate charged for every row, reading and cancelling."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from services.notify.domain.bulk_sends import BulkSend
from services.notify.domain.notifications import MAX_BULK_ROWS, Notification
from services.notify.service_layer.bulk_sends import BulkRequest
from services.notify.service_layer.sending import SendRequest
from services.runtime.errors import InvalidArgument, NotFound, ResourceExhausted
from services.runtime.idempotency import Replay
from services.runtime.pagination import PageRequest
from services.runtime.rate_limit import Limit
from tests.unit.notify.conftest import (
    AGENCY,
    DAILY_LIMIT,
    OTHER,
    START,
    Notify,
    build,
    call,
    encoded,
)

TENANT = AGENCY.client_id


def bulk(notify: Notify, request: BulkRequest) -> BulkSend:
    result = notify.bulk.send_bulk(AGENCY, request, call(), encoded)
    assert isinstance(result, BulkSend)
    return result


def rows(n: int) -> list[tuple[str, dict[str, str], str]]:
    return [(f"p{i}@example.com", {"name": f"P{i}"}, f"ref-{i}") for i in range(n)]


def queued_by(notify: Notify, sent: BulkSend) -> Sequence[Notification]:
    return notify.notifications.list(TENANT, PageRequest.parse(100, ""), bulk_send_id=sent.id).items


def test_rows_are_queued_together_under_one_bulk_send(notify: Notify) -> None:
    template = notify.template("Hello ((name))")
    sent = bulk(notify, BulkRequest(template.id, rows=rows(3), reference="batch"))
    assert (sent.total, sent.channel, sent.template_version, sent.counts) == (
        3,
        "email",
        1,
        {"created": 3},
    )
    queued = notify.notifications.list(
        TENANT, PageRequest.parse(100, ""), bulk_send_id=sent.id
    ).items
    assert sorted(n.subject for n in queued) == ["Hello P0", "Hello P1", "Hello P2"]
    assert sorted(n.reference for n in queued) == ["ref-0", "ref-1", "ref-2"]
    assert notify.state.daily_counts.used(TENANT, "email", START.date()) == 3
    assert notify.bulk.get_bulk(TENANT, sent.id) == sent


def test_a_csv_names_the_recipient_column_and_the_placeholders(notify: Notify) -> None:
    template = notify.template("Hello ((name))")
    csv = "Email address,Name\nada@example.com,Ada\n,\nbo@example.com,Bo\n"
    sent = bulk(notify, BulkRequest(template.id, csv=csv, reference="csv"))
    assert sent.total == 2  # the empty line is skipped
    queued = notify.notifications.list(
        TENANT, PageRequest.parse(100, ""), bulk_send_id=sent.id
    ).items
    assert sorted((n.recipient, n.subject, n.reference) for n in queued) == [
        ("ada@example.com", "Hello Ada", "csv"),
        ("bo@example.com", "Hello Bo", "csv"),
    ]


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"csv": "name\nAda\n"}, "'email address' column"),
        ({"csv": "email address,name\na@example.com,A\n", "rows": rows(1)}, "either csv or rows"),
        ({}, "either csv or rows"),
        ({"csv": "email address,name\n"}, "no rows"),
        ({"rows": rows(1), "reference": "x" * 201}, "at most 200 printable characters"),
    ],
)
def test_a_malformed_bulk_send_queues_nothing(
    notify: Notify, request_fields: dict[str, object], message: str
) -> None:
    template = notify.template()
    with pytest.raises(InvalidArgument) as refused:
        notify.bulk.send_bulk(AGENCY, BulkRequest(template.id, **request_fields), call(), encoded)  # type: ignore[arg-type]
    assert any(message in v.description for v in refused.value.violations)
    assert notify.state.notifications.rows == {}
    assert notify.state.bulk_sends.bulks == {}


def test_invalid_rows_are_all_reported_and_nothing_is_queued(notify: Notify) -> None:
    template = notify.template("Hello ((name))")
    given = [
        ("ok@example.com", {"name": "Ok"}, ""),
        ("not-an-address", {"name": "X"}, ""),
        ("no-name@example.com", {}, ""),
    ]
    with pytest.raises(InvalidArgument, match="2 of 3 rows are invalid; nothing was queued") as e:
        notify.bulk.send_bulk(AGENCY, BulkRequest(template.id, rows=given), call(), encoded)
    fields = sorted(v.field for v in e.value.violations)
    assert fields[0] == "rows[2].recipient"
    assert fields[1].startswith("rows[3].personalisation")
    assert notify.state.notifications.rows == {}
    assert notify.state.daily_counts.counts == {}


def test_too_many_rows_are_refused(notify: Notify) -> None:
    template = notify.template()
    with pytest.raises(InvalidArgument) as refused:
        notify.bulk.send_bulk(
            AGENCY, BulkRequest(template.id, rows=rows(1) * (MAX_BULK_ROWS + 1)), call(), encoded
        )
    assert refused.value.violations[0].description == f"{MAX_BULK_ROWS + 1} rows; at most 100,000"


def test_a_bulk_send_past_todays_limit_is_refused_saying_how_many_fit(notify: Notify) -> None:
    template = notify.template()
    bulk(notify, BulkRequest(template.id, rows=rows(2)))
    with pytest.raises(ResourceExhausted, match="only 3 more email messages fit"):
        notify.bulk.send_bulk(AGENCY, BulkRequest(template.id, rows=rows(4)), call(), encoded)
    assert notify.state.daily_counts.used(TENANT, "email", START.date()) == 2
    assert len(notify.state.notifications.rows) == 2


def test_a_replay_is_answered_after_the_limit_was_reached(notify: Notify) -> None:
    template = notify.template()
    keyed = call()
    request = BulkRequest(template.id, rows=rows(DAILY_LIMIT))
    first = notify.bulk.send_bulk(AGENCY, request, keyed, encoded)
    assert isinstance(first, BulkSend)
    assert notify.bulk.send_bulk(AGENCY, request, keyed, encoded) == Replay(encoded(first))
    assert len(notify.state.notifications.rows) == DAILY_LIMIT


def test_every_row_is_charged_to_the_rate() -> None:
    notify = build(rate=Limit.per_minute(60, 3))
    template = notify.template()
    bulk(notify, BulkRequest(template.id, rows=rows(4)))  # into debt past the burst
    with pytest.raises(ResourceExhausted):
        notify.sending.send(
            AGENCY,
            SendRequest("email", template.id, "a@example.com", {"name": "A"}),
            call(),
            encoded,
        )


def test_a_bulk_send_of_another_agency_is_not_found(notify: Notify) -> None:
    template = notify.template()
    sent = bulk(notify, BulkRequest(template.id, rows=rows(1)))
    with pytest.raises(NotFound):
        notify.bulk.get_bulk(OTHER.client_id, sent.id)
    with pytest.raises(NotFound):
        notify.bulk.cancel_bulk(OTHER.client_id, sent.id, call(OTHER.client_id), encoded)
    assert notify.bulk.get_bulk(TENANT, sent.id).counts == {"created": 1}


def test_cancelling_a_bulk_send_cancels_what_no_worker_took(notify: Notify) -> None:
    template = notify.template()
    notify.callbacks.set(TENANT, "https://agency.example/cb", call())
    sent = bulk(notify, BulkRequest(template.id, rows=rows(3)))
    with notify.uow() as uow:  # a worker takes one
        claimed, _ = uow.queue.claim(START, 1, timedelta(minutes=2))
    cancelled = notify.bulk.cancel_bulk(TENANT, sent.id, call(), encoded)
    assert isinstance(cancelled, BulkSend)
    assert cancelled.counts == {"cancelled": 2, "sending": 1}
    events = [e.event_id for e in notify.state.callbacks.emitted]
    taken = claimed[0].id
    assert sorted(events) == sorted(
        f"{n}:STATUS_CANCELLED" for n in notify.state.notifications.rows if n != taken
    )
