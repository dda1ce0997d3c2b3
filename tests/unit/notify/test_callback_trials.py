"""Trying a status callback on fakes: a test callback on request, and a
notification's callback sent again; both only for the agency's own, through the
outbox like every callback."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notify.domain.callbacks import EVENT_TYPE, TEST_EVENT_TYPE, Queued
from services.runtime.errors import AlreadyExists, FailedPrecondition, NotFound
from services.runtime.idempotency import Replay
from tests.fakes.notify import FakeProvider
from tests.unit.notify.conftest import AGENCY, OTHER, START, Notify, call, encoded
from tests.unit.notify.test_delivery_use_cases import run, send

TENANT = AGENCY.client_id
URL = "https://agency.example/cb"


def test_a_test_callback_goes_to_the_registered_url(notify: Notify) -> None:
    notify.callbacks.set(TENANT, URL, call())
    keyed = call()
    queued = notify.callbacks.send_test(TENANT, keyed, encoded)
    assert isinstance(queued, Queued)
    assert (queued.event_type, queued.created_at) == (TEST_EVENT_TYPE, START)
    (sent,) = notify.state.callbacks.emitted
    assert (sent.url, sent.tenant, sent.event_id, sent.delivery_id) == (
        URL,
        TENANT,
        queued.event_id,
        queued.delivery_id,
    )
    assert sent.payload == {
        "type": "callback.test",
        "id": queued.event_id,
        "created_at": "2025-06-01T12:00:00Z",
    }
    # The same key: the same answer, nothing queued again.
    assert notify.callbacks.send_test(TENANT, keyed, encoded) == Replay(encoded(queued))
    assert len(notify.state.callbacks.emitted) == 1
    with pytest.raises(AlreadyExists):
        notify.callbacks.send_test(TENANT, call(key=keyed.key, fingerprint="other"), encoded)


def test_without_a_registered_callback_nothing_is_sent(notify: Notify) -> None:
    notify.callbacks.set(OTHER.client_id, URL, call(OTHER.client_id))
    with pytest.raises(FailedPrecondition, match="SetStatusCallback"):
        notify.callbacks.send_test(TENANT, call(), encoded)
    assert notify.state.callbacks.emitted == []


def test_a_notification_callback_is_sent_again_with_the_same_event(notify: Notify) -> None:
    notify.callbacks.set(TENANT, URL, call())
    n = send(notify, "ada@example.com")
    run(notify, FakeProvider("smtp"))
    delivered = notify.state.callbacks.emitted[-1]
    assert delivered.event_id == f"{n.id}:STATUS_DELIVERED"

    notify.clock.advance(timedelta(hours=1))
    notify.callbacks.set(TENANT, "https://agency.example/new", call())
    keyed = call()
    queued = notify.callbacks.redeliver(TENANT, n.id, keyed, encoded)
    assert isinstance(queued, Queued)
    again = notify.state.callbacks.emitted[-1]
    # The same event and body, to the URL registered now, as a new delivery.
    assert (again.event_id, again.event_type, again.payload) == (
        delivered.event_id,
        EVENT_TYPE,
        delivered.payload,
    )
    assert again.url == "https://agency.example/new"
    assert again.delivery_id == queued.delivery_id != delivered.delivery_id
    assert notify.callbacks.redeliver(TENANT, n.id, keyed, encoded) == Replay(encoded(queued))
    assert notify.state.callbacks.emitted[-1] == again


def test_a_cancelled_notification_callback_is_sent_again(notify: Notify) -> None:
    notify.callbacks.set(TENANT, URL, call())
    n = send(notify, "ada@example.com")
    notify.notifications.cancel(TENANT, n.id, call(), encoded)
    (cancelled,) = notify.state.callbacks.emitted
    notify.callbacks.redeliver(TENANT, n.id, call(), encoded)
    assert notify.state.callbacks.emitted[-1].payload == cancelled.payload


def test_another_agency_notification_is_not_found(notify: Notify) -> None:
    notify.callbacks.set(TENANT, URL, call())
    theirs = send(notify, "bob@example.com", agency=OTHER)
    run(notify, FakeProvider("smtp"))
    before = list(notify.state.callbacks.emitted)
    with pytest.raises(NotFound):
        notify.callbacks.redeliver(TENANT, theirs.id, call(), encoded)
    with pytest.raises(NotFound):
        notify.callbacks.redeliver(TENANT, "ntf_nope", call(), encoded)
    assert notify.state.callbacks.emitted == before


def test_a_notification_not_yet_sent_has_no_callback_to_send_again(notify: Notify) -> None:
    notify.callbacks.set(TENANT, URL, call())
    n = send(notify, "ada@example.com")
    with pytest.raises(FailedPrecondition, match="no callback was sent yet"):
        notify.callbacks.redeliver(TENANT, n.id, call(), encoded)
    assert notify.state.callbacks.emitted == []


def test_redelivery_needs_a_registered_callback(notify: Notify) -> None:
    n = send(notify, "ada@example.com")
    run(notify, FakeProvider("smtp"))
    with pytest.raises(FailedPrecondition, match="SetStatusCallback"):
        notify.callbacks.redeliver(TENANT, n.id, call(), encoded)
    assert notify.state.callbacks.emitted == []
