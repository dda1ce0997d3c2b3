"""Reading notifications and cancelling one not yet sent, on fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notify.domain.notifications import Notification
from services.notify.service_layer.sending import SendRequest
from services.runtime.errors import FailedPrecondition, NotFound
from services.runtime.idempotency import Replay
from services.runtime.pagination import PageRequest
from tests.unit.notify.conftest import AGENCY, OTHER, START, Notify, call, encoded

TENANT = AGENCY.client_id


def send(notify: Notify, template_id: str, to: str, reference: str = "") -> Notification:
    request = SendRequest("email", template_id, to, {"name": "A"}, reference)
    result = notify.sending.send(AGENCY, request, call(), encoded)
    assert isinstance(result, Notification)
    return result


def test_a_notification_is_read_by_its_agency_only(notify: Notify) -> None:
    template = notify.template()
    n = send(notify, template.id, "a@example.com")
    assert notify.notifications.get(TENANT, n.id) == n
    for tenant, notification_id in ((OTHER.client_id, n.id), (TENANT, "ntf_missing")):
        with pytest.raises(NotFound):
            notify.notifications.get(tenant, notification_id)


def test_notifications_are_listed_newest_first_filtered_and_paged(notify: Notify) -> None:
    template = notify.template()
    made = []
    for i in range(3):
        made.append(send(notify, template.id, f"p{i}@example.com", "odd" if i % 2 else "even"))
        notify.clock.advance(timedelta(seconds=1))
    first = notify.notifications.list(TENANT, PageRequest.parse(2, ""))
    assert [n.id for n in first.items] == [made[2].id, made[1].id]
    rest = notify.notifications.list(TENANT, PageRequest.parse(2, first.next_page_token))
    assert [n.id for n in rest.items] == [made[0].id]
    even = notify.notifications.list(TENANT, PageRequest.parse(10, ""), reference="even")
    assert [n.id for n in even.items] == [made[2].id, made[0].id]
    later = notify.notifications.list(
        TENANT, PageRequest.parse(10, ""), created_after=START + timedelta(seconds=1)
    )
    assert [n.id for n in later.items] == [made[2].id, made[1].id]
    assert notify.notifications.list(OTHER.client_id, PageRequest.parse(10, "")).items == []


def test_cancelling_one_not_yet_sent_emits_its_callback(notify: Notify) -> None:
    template = notify.template()
    notify.callbacks.set(TENANT, "https://agency.example/cb", call())
    n = send(notify, template.id, "a@example.com")
    keyed = call()
    cancelled = notify.notifications.cancel(TENANT, n.id, keyed, encoded)
    assert isinstance(cancelled, Notification)
    assert (cancelled.status, cancelled.completed_at) == ("cancelled", START)
    (event,) = notify.state.callbacks.emitted
    assert (event.url, event.event_id) == ("https://agency.example/cb", f"{n.id}:STATUS_CANCELLED")
    assert event.payload["status"] == "STATUS_CANCELLED"
    assert "recipient" not in event.payload
    assert notify.notifications.cancel(TENANT, n.id, keyed, encoded) == Replay(encoded(cancelled))
    again = notify.notifications.cancel(TENANT, n.id, call(), encoded)  # already cancelled
    assert isinstance(again, Notification)
    assert again.status == "cancelled"
    assert len(notify.state.callbacks.emitted) == 1


def test_one_a_worker_took_cannot_be_cancelled(notify: Notify) -> None:
    template = notify.template()
    n = send(notify, template.id, "a@example.com")
    with notify.uow() as uow:
        uow.queue.claim(START, 10, timedelta(minutes=2))
    with pytest.raises(FailedPrecondition, match="sending"):
        notify.notifications.cancel(TENANT, n.id, call(), encoded)
    assert notify.notifications.get(TENANT, n.id).status == "sending"


def test_cancelling_another_agencys_notification_is_not_found(notify: Notify) -> None:
    template = notify.template()
    n = send(notify, template.id, "a@example.com")
    with pytest.raises(NotFound):
        notify.notifications.cancel(OTHER.client_id, n.id, call(OTHER.client_id), encoded)
    assert notify.notifications.get(TENANT, n.id).status == "created"
