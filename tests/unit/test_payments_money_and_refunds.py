"""Money, validation of new payments, card checks, refund rules and ledger entries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.payments.domain import ledger, money
from services.payments.domain.cards import brand_of, luhn_valid, parse_card
from services.payments.domain.payments import Payment, State, validate_new
from services.payments.domain.refunds import Refund, RefundState, available, check_refund
from services.runtime.errors import ErrorReason, FailedPrecondition, InvalidArgument
from tests.support.payments import a_payment

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [(1050, "GBP", "10.50"), (5, "GBP", "0.05"), (1050, "JPY", "1050"), (1234, "BHD", "1.234")],
)
def test_major_units_respect_the_exponent(amount: int, currency: str, text: str) -> None:
    assert money.major_units(amount, currency) == text


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(sorted(money.EXPONENTS)))
def test_major_units_round_trip_exactly(amount: int, currency: str) -> None:
    text = money.major_units(amount, currency)
    assert int(text.replace(".", "")) == amount


def new(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "amount": 100,
        "currency": "",
        "reference": "R",
        "description": "D",
        "return_url": "https://agency.example/back",
        "email": "",
        "language": "",
        "metadata": {},
        "delayed_capture": False,
        "max_amount": 10_000_000,
    }
    values.update(overrides)
    return values


def test_defaults_are_gbp_and_english() -> None:
    made = validate_new(**new())
    assert (made.currency, made.language) == ("GBP", "en")


def test_every_violation_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_new(**new(amount=0, currency="ZZZ", reference="", return_url="nope"))
    fields = {v.field for v in caught.value.violations}
    assert fields == {"amount", "currency", "reference", "return_url"}


@pytest.mark.parametrize("url", ["http://localhost:8080/x", "http://127.0.0.1/x", "https://a.gov/"])
def test_return_urls_accepted(url: str) -> None:
    assert validate_new(**new(return_url=url)).return_url == url


@pytest.mark.parametrize(
    "url", ["http://a.gov/", "javascript:alert(1)", "https://user:pw@a.gov/", "/relative", ""]
)
def test_return_urls_refused(url: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_new(**new(return_url=url))


def test_max_amount_is_inclusive() -> None:
    assert validate_new(**new(amount=10_000_000)).amount == 10_000_000
    with pytest.raises(InvalidArgument):
        validate_new(**new(amount=10_000_001))


def test_luhn_and_brands() -> None:
    assert luhn_valid("4242424242424242")
    assert not luhn_valid("4242424242424241")
    assert brand_of("4000000000000002") == "visa"
    assert brand_of("5555555555554444") == "mastercard"
    assert brand_of("378282246310005") == "amex"


def card(**overrides: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "number": "4242 4242 4242 4242",
        "expiry": "04/30",
        "security_code": "123",
        "cardholder_name": " Ada   Citizen ",
        "today": date(2030, 4, 15),
    }
    values.update(overrides)
    return values


def test_a_good_card_keeps_only_its_summary() -> None:
    parsed = parse_card(**card())
    assert parsed.summary.last_four == "4242"
    assert parsed.summary.expiry == "04/30"
    assert parsed.summary.cardholder_name == "Ada Citizen"
    assert "4242424242424242" not in repr(parsed)
    assert "123" not in repr(parsed).replace("4242", "")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"number": ""}, "card-number"),
        ({"number": "4242 4242 4242 4241"}, "card-number"),
        ({"number": "abcd"}, "card-number"),
        ({"expiry": "13/30"}, "expiry"),
        ({"expiry": "03/30"}, "expiry"),
        ({"expiry": "0430"}, "expiry"),
        ({"security_code": "12"}, "security-code"),
        ({"cardholder_name": ""}, "cardholder-name"),
    ],
)
def test_card_problems_name_their_field(overrides: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_card(**card(**overrides))
    assert [v.field for v in caught.value.violations] == [field]


def paid(captured: int = 1000, refunded: int = 0) -> Payment:
    return a_payment(
        id="pay_1",
        tenant="a",
        amount=captured,
        currency="GBP",
        state=State.SUCCESS,
        created_at=NOW,
        updated_at=NOW,
        captured_amount=captured,
        refunded_amount=refunded,
    )


def refund(amount: int, state: RefundState) -> Refund:
    return Refund("r", "a", "pay_1", amount, "GBP", state, NOW, NOW)


def test_available_counts_submitted_and_successful_refunds_only() -> None:
    refunds = [
        refund(100, RefundState.SUCCESS),
        refund(200, RefundState.SUBMITTED),
        refund(400, RefundState.FAILED),
    ]
    assert available(1000, refunds) == 700


def test_refund_rules() -> None:
    check_refund(paid(1000, 300), 700, None)
    check_refund(paid(1000, 300), 1, 700)
    with pytest.raises(FailedPrecondition, match="exceeds") as too_much:
        check_refund(paid(1000, 300), 701, None)
    assert too_much.value.reason == ErrorReason(
        "REFUND_EXCEEDS_AVAILABLE",
        "payments.gaap",
        {"available_amount": "700", "currency": "GBP", "requested_amount": "701"},
    )
    with pytest.raises(FailedPrecondition, match="expected_available_amount") as stale:
        check_refund(paid(1000, 300), 1, 1000)
    assert stale.value.reason == ErrorReason(
        "AVAILABLE_AMOUNT_CHANGED",
        "payments.gaap",
        {"available_amount": "700", "currency": "GBP", "expected_available_amount": "1000"},
    )
    with pytest.raises(InvalidArgument):
        check_refund(paid(), 0, None)
    unpaid = paid()
    object.__setattr__(unpaid, "state", State.CAPTURABLE)
    with pytest.raises(FailedPrecondition, match="only successful"):
        check_refund(unpaid, 1, None)


@given(st.integers(min_value=1, max_value=10**9))
def test_ledger_entries_balance(amount: int) -> None:
    for entry in (
        ledger.capture_entry(tenant="a", provider="sandbox", amount=amount, currency="GBP"),
        ledger.refund_entry(tenant="a", provider="sandbox", amount=amount, currency="GBP"),
    ):
        assert sum(line.amount for line in entry) == 0
    capture = ledger.capture_entry(tenant="a", provider="stripe", amount=amount, currency="GBP")
    owed = {line.account: line.amount for line in capture}
    assert owed["agency:a"] == -amount
    assert owed["provider:stripe"] == amount
    with pytest.raises(ValueError, match="balance"):
        ledger.capture_entry(tenant="a", provider="s", amount=0, currency="GBP")
