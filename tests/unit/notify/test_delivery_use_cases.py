"""The worker's use case on fakes: claim what is due, hand it to a provider,
record the outcome with its callbacks; receipts, retries and upkeep."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from services.notify.domain.notifications import Notification, RetrySchedule
from services.notify.domain.providers import RejectedError, RetryableError
from services.notify.domain.templates import Content
from services.notify.service_layer.delivery import Deliverer, WorkerConfig
from services.notify.service_layer.sending import SendRequest
from services.runtime.context import Principal
from tests.fakes.notify import FakeProvider
from tests.unit.notify.conftest import AGENCY, START, Notify, build, call, encoded

TENANT = AGENCY.client_id
PERIOD = timedelta(minutes=5)


def worker(notify: Notify, email: FakeProvider, sms: FakeProvider | None = None) -> Deliverer:
    config = WorkerConfig(batch=10, concurrency=4, retry=RetrySchedule(period=PERIOD))
    return Deliverer(
        notify.uow, email, sms or FakeProvider("sms", delivered=False), config, notify.clock
    )


def run(notify: Notify, email: FakeProvider, sms: FakeProvider | None = None) -> int:
    """One worker's pass over what is due (a worker lives on one event loop)."""
    return asyncio.run(worker(notify, email, sms).run_until_idle())


def send(
    notify: Notify, to: str, channel: str = "email", agency: Principal = AGENCY
) -> Notification:
    subject = "Hello ((name))" if channel == "email" else ""
    template = notify.template(subject, "Dear ((name))", channel=channel, tenant=agency.client_id)
    request = SendRequest(channel, template.id, to, {"name": "Ada"})
    result = notify.sending.send(agency, request, call(agency.client_id), encoded)
    assert isinstance(result, Notification)
    return result


def status(notify: Notify, n: Notification, tenant: str = TENANT) -> str:
    return notify.notifications.get(tenant, n.id).status


def events(notify: Notify) -> list[str]:
    return [e.event_id for e in notify.state.callbacks.emitted]


@pytest.fixture
def notify() -> Notify:
    built = build()
    built.callbacks.set(TENANT, "https://agency.example/cb", call())
    return built


def test_an_email_is_sent_rendered_and_recorded_delivered(notify: Notify) -> None:
    n = send(notify, "ada@example.com")
    email = FakeProvider("smtp")
    assert run(notify, email) == 1
    (message,) = email.emails
    assert (message.to, message.subject, message.text) == (
        "ada@example.com",
        "Hello Ada",
        "Dear Ada",
    )
    assert "Dear Ada" in message.html
    got = notify.notifications.get(TENANT, n.id)
    assert (got.status, got.provider, got.provider_message_id) == (
        "delivered",
        "smtp",
        f"smtp-{n.id}",
    )
    assert (got.sent_at, got.completed_at, got.attempts) == (START, START, 1)
    assert events(notify) == [f"{n.id}:STATUS_SENDING", f"{n.id}:STATUS_DELIVERED"]


def test_an_email_is_rendered_with_the_version_it_was_sent_with(notify: Notify) -> None:
    n = send(notify, "ada@example.com")
    notify.templates.update(
        TENANT, n.template_id, "T", [Content("en", "New ((name))", "New")], call(), encoded
    )
    email = FakeProvider("smtp")
    run(notify, email)
    assert email.emails[0].subject == "Hello Ada"


def test_an_sms_awaits_its_receipt_which_is_applied_once(notify: Notify) -> None:
    n = send(notify, "07400 123456", "sms")
    sms = FakeProvider("gateway", delivered=False)
    run(notify, FakeProvider(), sms)
    assert sms.texts[0].body == "Dear Ada"
    got = notify.notifications.get(TENANT, n.id)
    assert (got.status, got.provider_message_id) == ("sending", f"gateway-{n.id}")
    assert notify.upkeep.apply_receipt("gateway", f"gateway-{n.id}", "delivered") is True
    assert status(notify, n) == "delivered"
    assert notify.upkeep.apply_receipt("gateway", f"gateway-{n.id}", "permanent-failure") is False
    assert status(notify, n) == "delivered"
    assert events(notify) == [f"{n.id}:STATUS_SENDING", f"{n.id}:STATUS_DELIVERED"]
    assert run(notify, FakeProvider(), sms) == 0  # never again


def test_a_retryable_error_is_tried_again_later_then_given_up(notify: Notify) -> None:
    n = send(notify, "ada@example.com")
    email = FakeProvider("smtp", errors=[RetryableError("busy")] * 10)
    run(notify, email)
    assert status(notify, n) == "sending"
    assert run(notify, email) == 0  # not due before the retry time
    notify.clock.advance(timedelta(seconds=10))
    assert run(notify, email) == 1
    notify.clock.advance(PERIOD)  # past the retry period from when it was due
    run(notify, email)
    got = notify.notifications.get(TENANT, n.id)
    assert (got.status, got.attempts, got.provider) == ("technical-failure", 3, None)
    assert events(notify) == [f"{n.id}:STATUS_SENDING", f"{n.id}:STATUS_TECHNICAL_FAILURE"]


def test_a_retry_that_succeeds_is_delivered(notify: Notify) -> None:
    n = send(notify, "ada@example.com")
    email = FakeProvider("smtp", errors=[RetryableError("busy")])
    run(notify, email)
    notify.clock.advance(timedelta(seconds=10))
    run(notify, email)
    assert status(notify, n) == "delivered"
    assert len(email.emails) == 1


def test_a_rejected_message_takes_the_providers_final_status(notify: Notify) -> None:
    n = send(notify, "ada@example.com")
    email = FakeProvider("smtp", errors=[RejectedError("no such user", "permanent-failure")])
    run(notify, email)
    assert status(notify, n) == "permanent-failure"


def test_simulated_recipients_and_test_mode_never_reach_a_provider(notify: Notify) -> None:
    failing = send(notify, "perm-fail@simulator.notify")
    tester = Principal("agency-t", "test", frozenset({"notify:send"}), "tok", 0)
    tested = send(notify, "someone@example.com", agency=tester)
    email = FakeProvider("smtp")
    run(notify, email)
    assert email.emails == []
    assert status(notify, failing) == "permanent-failure"
    assert status(notify, tested, tester.client_id) == "delivered"


def test_outcomes_wait_while_the_database_is_away(notify: Notify) -> None:
    n = send(notify, "ada@example.com")
    deliverer = Deliverer(
        notify.uow,
        FakeProvider("smtp"),
        FakeProvider(),
        WorkerConfig(poll_seconds=0.001),
        notify.clock,
        unavailable=(ConnectionError,),
    )
    record = deliverer._record
    failures = [ConnectionError("away")]

    def flaky(batch: list) -> None:  # type: ignore[type-arg]
        if failures:
            raise failures.pop()
        record(batch)

    deliverer._record = flaky  # type: ignore[method-assign]
    asyncio.run(deliverer.run_until_idle())
    assert failures == []
    assert status(notify, n) == "delivered"


def test_outcomes_that_cannot_be_recorded_are_logged_by_type_and_sent_again_after_the_lease(
    notify: Notify, caplog: pytest.LogCaptureFixture
) -> None:
    n = send(notify, "ada@example.com")
    email = FakeProvider("smtp")
    deliverer = Deliverer(
        notify.uow, email, FakeProvider(), WorkerConfig(poll_seconds=0.001), notify.clock
    )
    record = deliverer._record
    failures = [ValueError("ada@example.com is a broken row")]

    def broken(batch: list) -> None:  # type: ignore[type-arg]
        if failures:
            raise failures.pop()
        record(batch)

    deliverer._record = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        asyncio.run(deliverer.run_until_idle())
    assert "cannot record 1 outcomes (ValueError)" in caplog.text
    assert "ada@example.com" not in caplog.text
    assert status(notify, n) != "delivered"
    assert len(email.emails) == 1

    notify.clock.advance(WorkerConfig().lease + timedelta(seconds=1))
    again = Deliverer(notify.uow, email, FakeProvider(), WorkerConfig(), notify.clock)
    asyncio.run(again.run_until_idle())
    assert status(notify, n) == "delivered"
    assert len(email.emails) == 2  # at least once: the unrecorded send is made again


def test_upkeep_purges_old_content_times_out_receipts_and_old_keys(notify: Notify) -> None:
    old = send(notify, "ada@example.com")
    text = send(notify, "07400 123456", "sms")
    run(notify, FakeProvider("smtp"))
    notify.state.idempotency.expired = set(notify.state.idempotency.rows)
    notify.clock.advance(timedelta(days=8))
    done = notify.upkeep.maintain()
    assert done == {"purged": 1, "timed_out": 1, "keys": len(notify.state.idempotency.expired)}
    assert notify.state.locks == ["notify-maintenance"]
    purged = notify.notifications.get(TENANT, old.id)
    assert (purged.recipient, purged.body, purged.purged_at) == ("", "", notify.clock.now)
    assert status(notify, text) == "temporary-failure"
    assert f"{text.id}:STATUS_TEMPORARY_FAILURE" in events(notify)
    assert notify.upkeep.maintain() == {"purged": 1, "timed_out": 0, "keys": 0}  # the SMS now
