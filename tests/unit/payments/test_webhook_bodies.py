"""The webhook body an agency's server receives, field by field, and which
subscriptions want an event."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from services.payments.domain import events
from services.payments.domain.payments import Failure, Payment, State
from services.payments.domain.refunds import Refund, RefundState
from services.payments.domain.webhooks import Subscription

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
CREATED = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
EVENT_ID = re.compile(r"^evt_[0-9a-f]{32}$")


def payment(**changes: object) -> Payment:
    values: dict[str, object] = {
        "id": "pay_3",
        "tenant": "agency",
        "amount": 1500,
        "currency": "GBP",
        "reference": "INV-3",
        "description": "Permit",
        "return_url": "https://a.example/",
        "email": "ada@example.com",
        "language": "en",
        "metadata": {"case": "7"},
        "delayed_capture": False,
        "state": State.SUCCESS,
        "provider": "sandbox",
        "created_at": CREATED,
        "updated_at": NOW,
        "captured_amount": 1500,
        "refunded_amount": 400,
    }
    values.update(changes)
    return Payment(**values)  # type: ignore[arg-type]


def test_a_payment_is_reported_with_every_field_an_agency_reads() -> None:
    assert events.payment_json(payment()) == {
        "id": "pay_3",
        "amount": 1500,
        "currency": "GBP",
        "reference": "INV-3",
        "description": "Permit",
        "state": "PAYMENT_STATE_SUCCESS",
        "finished": True,
        "failure_code": None,
        "captured_amount": 1500,
        "refundable_amount": 1100,
        "metadata": {"case": "7"},
        "created": "2030-01-01T09:00:00+00:00",
    }


def test_a_failed_payment_names_its_failure() -> None:
    failed = payment(
        state=State.FAILED, failure=Failure.DECLINED, captured_amount=0, refunded_amount=0
    )
    body = events.payment_json(failed)
    assert (body["state"], body["finished"], body["failure_code"]) == (
        "PAYMENT_STATE_FAILED",
        True,
        "FAILURE_CODE_DECLINED",
    )
    assert events.payment_json(payment(state=State.STARTED))["finished"] is False


def test_a_refund_is_reported_with_its_payment() -> None:
    refund = Refund("ref_1", "agency", "pay_3", 400, "GBP", RefundState.SUBMITTED, NOW, NOW)
    assert events.refund_json(refund) == {
        "id": "ref_1",
        "payment_id": "pay_3",
        "amount": 400,
        "currency": "GBP",
        "state": "REFUND_STATE_SUBMITTED",
    }
    event_id, body = events.webhook_event(payment(), events.REFUNDED, NOW, refund)
    assert EVENT_ID.match(event_id)
    assert body == {
        "id": event_id,
        "type": "payment.refunded",
        "created": "2030-01-02T03:04:05+00:00",
        "payment": events.payment_json(payment()),
        "refund": events.refund_json(refund),
    }


def test_a_payment_event_without_a_refund_has_no_refund_field() -> None:
    event_id, body = events.webhook_event(payment(), events.SUCCEEDED, NOW)
    assert body == {
        "id": event_id,
        "type": "payment.succeeded",
        "created": "2030-01-02T03:04:05+00:00",
        "payment": events.payment_json(payment()),
    }
    assert EVENT_ID.match(event_id)
    assert events.webhook_event(payment(), events.SUCCEEDED, NOW)[0] != event_id


def test_a_test_event_names_its_subscription_and_no_payment() -> None:
    event_id, body = events.test_event("sub_1", NOW)
    assert EVENT_ID.match(event_id)
    assert body == {
        "id": event_id,
        "type": "webhook.test",
        "created": "2030-01-02T03:04:05+00:00",
        "subscription_id": "sub_1",
    }
    assert events.test_event("sub_1", NOW)[0] != event_id


def test_a_body_is_compact_json_with_sorted_keys() -> None:
    encoded = events.encode_body({"b": 1, "a": {"d": [1, 2], "c": None}, "é": "ü"})
    assert encoded == b'{"a":{"c":null,"d":[1,2]},"b":1,"\\u00e9":"\\u00fc"}'
    assert json.loads(encoded) == {"b": 1, "a": {"d": [1, 2], "c": None}, "é": "ü"}


@pytest.mark.parametrize(
    ("state", "name"),
    [(State.CREATED, "PAYMENT_STATE_CREATED"), (State.CAPTURABLE, "PAYMENT_STATE_CAPTURABLE")],
)
def test_state_names(state: State, name: str) -> None:
    assert events.state_name(state) == name


def test_failure_and_refund_state_names() -> None:
    assert events.failure_name(Failure.CAPTURE_WINDOW_EXPIRED) == (
        "FAILURE_CODE_CAPTURE_WINDOW_EXPIRED"
    )
    assert events.failure_name(None) is None
    assert events.refund_state_name(RefundState.FAILED) == "REFUND_STATE_FAILED"


def subscription(event_types: tuple[str, ...], disabled_at: datetime | None = None) -> Subscription:
    return Subscription("sub_1", "agency", "https://a.example/hook", event_types, NOW, disabled_at)


@pytest.mark.parametrize(
    ("event_types", "disabled_at", "event_type", "wanted"),
    [
        ((), None, "payment.created", True),
        ((), None, "payment.refunded", True),
        (("payment.created",), None, "payment.created", True),
        (("payment.created",), None, "payment.refunded", False),
        (("payment.created", "payment.refunded"), None, "payment.refunded", True),
        ((), NOW, "payment.created", False),
        (("payment.created",), NOW, "payment.created", False),
    ],
)
def test_a_subscription_wants_its_events_while_enabled(
    event_types: tuple[str, ...], disabled_at: datetime | None, event_type: str, wanted: bool
) -> None:
    assert subscription(event_types, disabled_at).wants(event_type) is wanted
