"""A notification's status history (ListNotificationEvents), on fakes: each
change is recorded where the status changes, whether or not the agency has a
status callback, for the owning agency only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.notify.domain.notifications import Notification, RetrySchedule
from services.notify.service_layer.delivery import Deliverer, WorkerConfig
from services.notify.service_layer.sending import SendRequest
from services.runtime.errors import NotFound
from tests.fakes.notify import FakeProvider
from tests.unit.notify.conftest import AGENCY, OTHER, START, Notify, call, encoded

TENANT = AGENCY.client_id


def send(notify: Notify, **extra: object) -> Notification:
    template = notify.template()
    request = SendRequest("email", template.id, "ada@example.com", {"name": "Ada"}, **extra)  # type: ignore[arg-type]
    result = notify.sending.send(AGENCY, request, call(), encoded)
    assert isinstance(result, Notification)
    return result


def deliver(notify: Notify) -> None:
    config = WorkerConfig(batch=10, concurrency=2, retry=RetrySchedule(period=timedelta(minutes=5)))
    deliverer = Deliverer(
        notify.uow, FakeProvider("smtp"), FakeProvider("sms", delivered=False), config, notify.clock
    )
    asyncio.run(deliverer.run_until_idle())


def test_a_delivered_email_has_created_sending_and_delivered_without_a_callback(
    notify: Notify,
) -> None:
    n = send(notify)
    notify.clock.advance(timedelta(seconds=3))
    deliver(notify)
    later = START + timedelta(seconds=3)
    assert notify.notifications.history(TENANT, n.id) == [
        ("created", START),
        ("sending", later),
        ("delivered", later),
    ]
    assert notify.state.callbacks.emitted == []  # no callback registered: history all the same


def test_a_cancelled_notification_has_created_then_cancelled(notify: Notify) -> None:
    n = send(notify, scheduled_for=START + timedelta(hours=1))
    notify.clock.advance(timedelta(minutes=1))
    notify.notifications.cancel(TENANT, n.id, call(), encoded)
    assert notify.notifications.history(TENANT, n.id) == [
        ("created", START),
        ("cancelled", START + timedelta(minutes=1)),
    ]


def test_another_agencys_notification_has_no_history_to_read(notify: Notify) -> None:
    n = send(notify)
    with pytest.raises(NotFound):
        notify.notifications.history(OTHER.client_id, n.id)
    with pytest.raises(NotFound):
        notify.notifications.history(TENANT, "ntf_missing")
