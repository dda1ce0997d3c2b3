"""Single sends (SendEmail, SendSms) on fakes: checks, replays, limits, stale
templates, and the write alone when the writer leaves a send."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notify.domain.notifications import Notification
from services.notify.domain.sends import STALE, TAKEN, WRITTEN, NewSend, SendOutcome
from services.notify.domain.templates import Content
from services.notify.service_layer.sending import SendRequest
from services.runtime.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from services.runtime.idempotency import Keyed, Replay
from services.runtime.rate_limit import Limit
from tests.unit.notify.conftest import AGENCY, DAILY_LIMIT, START, Notify, build, call, encoded

TENANT = AGENCY.client_id


def email(template_id: str, to: str = "ada@example.com", **extra: object) -> SendRequest:
    values = extra.pop("personalisation", {"name": "Ada"})
    return SendRequest("email", template_id, to, values, **extra)  # type: ignore[arg-type]


def sent(notify: Notify, request: SendRequest, keyed: Keyed | None = None) -> Notification:
    result = notify.sending.send(AGENCY, request, keyed or call(), encoded)
    assert isinstance(result, Notification)
    return result


def stored_ids(notify: Notify) -> set[str]:
    return set(notify.state.notifications.rows)


def test_an_email_is_rendered_queued_counted_and_its_response_kept(notify: Notify) -> None:
    template = notify.template("Hello ((name))", "Dear ((name))")
    keyed = call()
    n = sent(notify, email(template.id, "Ada@Example.COM", reference="case-1"), keyed)
    assert (n.status, n.channel, n.recipient) == ("created", "email", "Ada@example.com")
    assert (n.subject, n.body, n.reference) == ("Hello Ada", "Dear Ada", "case-1")
    assert (n.template_id, n.template_version, n.created_at) == (template.id, 1, START)
    assert notify.notifications.get(TENANT, n.id) == n
    row = notify.state.notifications.rows[n.id]
    assert row["due_at"] == START
    assert notify.state.daily_counts.used(TENANT, "email", START.date()) == 1
    assert notify.writer.outcomes == [WRITTEN]
    assert notify.state.idempotency.rows[(TENANT, keyed.key)] == ("fp", encoded(n))


def test_the_same_key_and_request_replays_the_first_response(notify: Notify) -> None:
    template = notify.template()
    keyed = call()
    first = sent(notify, email(template.id), keyed)
    again = notify.sending.send(AGENCY, email(template.id), keyed, encoded)
    assert again == Replay(encoded(first))
    assert stored_ids(notify) == {first.id}
    assert notify.state.daily_counts.used(TENANT, "email", START.date()) == 1


def test_a_key_reused_for_another_request_is_refused(notify: Notify) -> None:
    template = notify.template()
    key = call().key
    sent(notify, email(template.id), call(key=key))
    with pytest.raises(AlreadyExists):
        notify.sending.send(
            AGENCY, email(template.id, "bo@example.com"), call(key=key, fingerprint="x"), encoded
        )
    assert len(stored_ids(notify)) == 1


def test_a_replay_is_answered_even_if_the_template_no_longer_fits(notify: Notify) -> None:
    template = notify.template("Hello ((name))")
    keyed = call()
    first = sent(notify, email(template.id), keyed)
    notify.templates.update(
        TENANT, template.id, "T", [Content("en", "Hi ((title))", "B")], call(), encoded
    )
    assert notify.sending.send(AGENCY, email(template.id), keyed, encoded) == Replay(encoded(first))
    with pytest.raises(InvalidArgument, match="personalisation"):
        notify.sending.send(AGENCY, email(template.id), call(), encoded)  # a new key: refused


@pytest.mark.parametrize(
    ("request_for", "error"),
    [
        (lambda t: email(t, "not an address"), InvalidArgument),
        (lambda t: email(t, personalisation={}), InvalidArgument),
        (lambda t: email(t, reference="x" * 201), InvalidArgument),
        (lambda t: email(t, scheduled_for=START - timedelta(hours=1)), InvalidArgument),
        (lambda t: email(t, scheduled_for=START + timedelta(days=8)), InvalidArgument),
        (lambda t: email(t, reply_to="nope"), InvalidArgument),
        (lambda t: email(""), InvalidArgument),
        (lambda t: email("tpl_missing"), NotFound),
        (lambda t: SendRequest("sms", t, "07700900000", {"name": "A"}), InvalidArgument),
    ],
)
def test_a_send_that_fails_its_checks_stores_nothing(
    notify: Notify, request_for: object, error: type[Exception]
) -> None:
    template = notify.template()
    keys = dict(notify.state.idempotency.rows)
    with pytest.raises(error):
        notify.sending.send(AGENCY, request_for(template.id), call(), encoded)  # type: ignore[operator]
    assert stored_ids(notify) == set()
    assert notify.state.idempotency.rows == keys
    assert notify.state.daily_counts.counts == {}


def test_a_scheduled_send_is_due_then(notify: Notify) -> None:
    template = notify.template()
    at = START + timedelta(days=2)
    n = sent(notify, email(template.id, scheduled_for=at))
    assert n.scheduled_for == at
    assert notify.state.notifications.rows[n.id]["due_at"] == at


def test_a_send_rendered_with_an_old_version_is_rendered_again(notify: Notify) -> None:
    template = notify.template("Version one for ((name))")
    assert sent(notify, email(template.id)).subject == "Version one for Ada"
    notify.templates.update(
        TENANT, template.id, "T", [Content("en", "Version two for ((name))", "B")], call(), encoded
    )
    second = sent(notify, email(template.id))  # the cached version 1 is refused as stale
    assert (second.subject, second.template_version) == ("Version two for Ada", 2)
    assert notify.writer.outcomes == [WRITTEN, STALE, WRITTEN]


def test_a_template_that_keeps_changing_is_unavailable(notify: Notify) -> None:
    template = notify.template()

    class AlwaysStale:
        def write(self, send: NewSend) -> SendOutcome:
            return STALE

    notify.sending._writer = AlwaysStale()
    with pytest.raises(Unavailable):
        notify.sending.send(AGENCY, email(template.id), call(), encoded)
    assert stored_ids(notify) == set()


def test_a_send_the_writer_leaves_is_written_alone(notify: Notify) -> None:
    template = notify.template()
    notify.writer.refuse = True
    keyed = call()
    n = sent(notify, email(template.id), keyed)
    assert notify.writer.outcomes == [TAKEN]
    assert stored_ids(notify) == {n.id}
    assert notify.state.idempotency.rows[(TENANT, keyed.key)] == ("fp", encoded(n))
    assert notify.sending.send(AGENCY, email(template.id), keyed, encoded) == Replay(encoded(n))


@pytest.mark.parametrize("alone", [False, True])
def test_the_daily_limit_is_exact_and_says_when_it_resets(alone: bool) -> None:
    notify = build()
    notify.writer.refuse = alone
    template = notify.template()
    for i in range(DAILY_LIMIT):
        sent(notify, email(template.id, f"p{i}@example.com"))
    with pytest.raises(ResourceExhausted, match="daily email limit of 5") as refused:
        notify.sending.send(AGENCY, email(template.id), call(), encoded)
    assert refused.value.retry_after == timedelta(hours=12).total_seconds()
    assert len(stored_ids(notify)) == DAILY_LIMIT
    assert notify.state.daily_counts.used(TENANT, "email", START.date()) == DAILY_LIMIT


def test_the_rate_limit_refuses_a_flood_before_any_check() -> None:
    notify = build(rate=Limit.per_minute(60, 2))
    template = notify.template()
    sent(notify, email(template.id))
    sent(notify, email(template.id))
    with pytest.raises(ResourceExhausted):
        notify.sending.send(AGENCY, email("tpl_missing"), call(), encoded)
    notify.clock.advance(timedelta(seconds=1))
    sent(notify, email(template.id))


def test_an_sms_follows_the_agencys_settings_read_afresh(notify: Notify) -> None:
    template = notify.template("", "Your code is ((code))", channel="sms")
    abroad = SendRequest("sms", template.id, "+14155552671", {"code": "1234"})
    with pytest.raises(InvalidArgument, match="phone_number"):
        notify.sending.send(AGENCY, abroad, call(), encoded)
    notify.settings.update(TENANT, "gb", True, call(), encoded)
    n = sent(notify, abroad)
    assert (n.recipient, n.body, n.fragments) == ("+14155552671", "Your code is 1234", 1)
    local = sent(notify, SendRequest("sms", template.id, "07700 900111", {"code": "1"}))
    assert local.recipient == "+447700900111"
