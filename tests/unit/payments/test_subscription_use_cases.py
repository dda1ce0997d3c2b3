"""Agencies' webhook subscriptions on the fakes: create (checked, at most 20,
replayed with its secret), list, disable, and the deliveries made to one."""

from __future__ import annotations

import pytest

from services.payments.domain.webhooks import MAX_SUBSCRIPTIONS
from services.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.runtime.pagination import PageRequest
from tests.unit.payments.conftest import AGENCY, OTHER, World, key

URL = "https://agency.example/hook"


def test_a_subscription_is_made_with_a_secret_shown_again_on_replay(w: World) -> None:
    sub, secret = w.subscriptions.create(AGENCY, URL, ["payment.succeeded"], key("s"))
    assert (sub.tenant, sub.url, sub.event_types, secret) == (
        AGENCY,
        URL,
        ("payment.succeeded",),
        "whsec_test",
    )
    assert w.subscriptions.create(AGENCY, URL, ["payment.succeeded"], key("s")) == (sub, secret)
    assert len(w.state.subscriptions.rows) == 1
    with pytest.raises(AlreadyExists):
        w.subscriptions.create(AGENCY, URL, [], key("s", request="another"))


@pytest.mark.parametrize(
    ("url", "types"),
    [("not a url", []), ("https://10.0.0.1/hook", []), (URL, ["payment.exploded"])],
)
def test_a_bad_url_or_event_type_is_refused(w: World, url: str, types: list[str]) -> None:
    with pytest.raises(InvalidArgument):
        w.subscriptions.create(AGENCY, url, types, key("s"))
    assert w.state.subscriptions.rows == {}


def test_an_agency_has_at_most_twenty_active_subscriptions(w: World) -> None:
    for i in range(MAX_SUBSCRIPTIONS):
        w.subscriptions.create(AGENCY, URL, [], key(f"s{i}"))
    with pytest.raises(InvalidArgument) as refused:
        w.subscriptions.create(AGENCY, URL, [], key("one-more"))
    assert "at most 20" in refused.value.violations[0].description
    assert len(w.state.subscriptions.rows) == MAX_SUBSCRIPTIONS
    w.subscriptions.create(OTHER, URL, [], key("s", OTHER))  # another agency's count


def test_list_pages_the_agency_own_subscriptions(w: World) -> None:
    made = [w.subscriptions.create(AGENCY, URL, [], key(f"s{i}"))[0] for i in range(3)]
    w.subscriptions.create(OTHER, URL, [], key("s", OTHER))
    first = w.subscriptions.list(AGENCY, PageRequest(2, None))
    assert [s.id for s in first.items] == [s.id for s in made[:2]]
    rest = w.subscriptions.list(AGENCY, PageRequest(2, made[1].id))
    assert [s.id for s in rest.items] == [made[2].id]


def test_a_disabled_subscription_keeps_no_usable_secret(w: World) -> None:
    sub, _ = w.subscriptions.create(AGENCY, URL, [], key("s"))
    disabled = w.subscriptions.disable(AGENCY, sub.id, key("d"))
    assert disabled.disabled_at == w.clock.now
    assert w.state.subscriptions.secret_for(sub.id) is None
    assert w.subscriptions.disable(AGENCY, sub.id, key("d")) == disabled
    with pytest.raises(NotFound):
        w.subscriptions.disable(OTHER, sub.id, key("d", OTHER))
    with pytest.raises(NotFound):
        w.subscriptions.disable(AGENCY, "whs_missing", key("d2"))


def test_deliveries_are_listed_newest_first_and_paged(w: World) -> None:
    sub, _ = w.subscriptions.create(AGENCY, URL, ["payment.created"], key("s"))
    made = [w.create() for _ in range(3)]
    first = w.subscriptions.deliveries(AGENCY, sub.id, PageRequest(2, None))
    bodies = [q.payload["payment"]["id"] for q in w.state.deliveries.rows]
    assert bodies == [p.id for p in made]
    assert [d.event_type for d in first.items] == ["payment.created"] * 2
    assert first.next_page_token
    last = first.items[-1]
    rest = w.subscriptions.deliveries(
        AGENCY, sub.id, PageRequest(2, f"{last.created_at.isoformat()}|{last.id}")
    )
    assert len(rest.items) == 1
    assert {d.id for d in first.items} | {rest.items[0].id} == {
        q.id for q in w.state.deliveries.rows
    }


def test_deliveries_of_another_agency_subscription_are_not_found(w: World) -> None:
    sub, _ = w.subscriptions.create(OTHER, URL, [], key("s", OTHER))
    with pytest.raises(NotFound):
        w.subscriptions.deliveries(AGENCY, sub.id, PageRequest(2, None))


def test_a_deliveries_page_token_not_made_here_is_refused(w: World) -> None:
    sub, _ = w.subscriptions.create(AGENCY, URL, [], key("s"))
    with pytest.raises(InvalidArgument):
        w.subscriptions.deliveries(AGENCY, sub.id, PageRequest(2, "sometime|x"))


def test_a_test_event_is_queued_for_the_subscription_whatever_it_chose(w: World) -> None:
    sub, _ = w.subscriptions.create(AGENCY, URL, ["payment.refunded"], key("s"))
    sent = w.subscriptions.send_test(AGENCY, sub.id, key("t"))
    (queued,) = w.state.deliveries.rows
    assert (queued.id, queued.subscription_id, queued.url, queued.event_type) == (
        sent.id,
        sub.id,
        URL,
        "webhook.test",
    )
    assert queued.payload == {
        "id": sent.event_id,
        "type": "webhook.test",
        "created": w.clock.now.isoformat(),
        "subscription_id": sub.id,
    }
    assert (sent.event_type, sent.state) == ("webhook.test", "pending")
    assert w.subscriptions.send_test(AGENCY, sub.id, key("t")) == sent  # replayed
    assert len(w.state.deliveries.rows) == 1
    with pytest.raises(AlreadyExists):
        w.subscriptions.send_test(AGENCY, sub.id, key("t", request="another"))


def test_a_past_event_is_queued_again_with_its_id_and_body(w: World) -> None:
    sub, _ = w.subscriptions.create(AGENCY, URL, [], key("s"))
    w.create()
    (first,) = w.state.deliveries.rows
    again = w.subscriptions.redeliver(AGENCY, first.id, key("r"))
    assert again.id != first.id
    assert (again.event_id, again.event_type) == (first.event_id, "payment.created")
    second = w.state.deliveries.rows[-1]
    assert (second.subscription_id, second.url, second.payload) == (sub.id, URL, first.payload)
    assert w.subscriptions.redeliver(AGENCY, first.id, key("r")) == again  # replayed
    assert len(w.state.deliveries.rows) == 2
    # A redelivery can itself be redelivered: still the same event.
    third = w.subscriptions.redeliver(AGENCY, again.id, key("r2"))
    assert third.event_id == first.event_id


def test_another_agency_subscription_or_delivery_is_not_found(w: World) -> None:
    theirs, _ = w.subscriptions.create(OTHER, URL, [], key("s", OTHER))
    w.create(OTHER)
    (their_delivery,) = w.state.deliveries.rows
    with pytest.raises(NotFound):
        w.subscriptions.send_test(AGENCY, theirs.id, key("t"))
    with pytest.raises(NotFound):
        w.subscriptions.redeliver(AGENCY, their_delivery.id, key("r"))
    with pytest.raises(NotFound):
        w.subscriptions.redeliver(AGENCY, "whd_missing", key("r2"))
    assert len(w.state.deliveries.rows) == 1
    # Refused: the keys were not used up either (the work rolled back).
    assert not {(AGENCY, "t"), (AGENCY, "r"), (AGENCY, "r2")} & set(w.state.idempotency.rows)


def test_nothing_is_sent_to_a_disabled_subscription(w: World) -> None:
    sub, _ = w.subscriptions.create(AGENCY, URL, [], key("s"))
    w.create()
    (first,) = w.state.deliveries.rows
    w.subscriptions.disable(AGENCY, sub.id, key("d"))
    with pytest.raises(FailedPrecondition, match="disabled"):
        w.subscriptions.send_test(AGENCY, sub.id, key("t"))
    with pytest.raises(FailedPrecondition, match="disabled"):
        w.subscriptions.redeliver(AGENCY, first.id, key("r"))
    assert len(w.state.deliveries.rows) == 1
