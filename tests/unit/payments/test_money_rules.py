"""Money as agencies send it: minor units, a supported currency, and the exact
words of each refusal (an agency developer reads them in the error)."""

from __future__ import annotations

import pytest

from services.payments.domain import money
from services.runtime.errors import FieldViolation


@pytest.mark.parametrize(
    ("currency", "digits"), [("GBP", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("BHD", 3)]
)
def test_exponent_is_the_iso_4217_one(currency: str, digits: int) -> None:
    assert money.exponent(currency) == digits


def test_an_unknown_currency_has_no_exponent() -> None:
    with pytest.raises(KeyError):
        money.exponent("ZZZ")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (0, "GBP", "0.00"),
        (1, "GBP", "0.01"),
        (10, "GBP", "0.10"),
        (100, "GBP", "1.00"),
        (123456, "GBP", "1234.56"),
        (-1050, "GBP", "-10.50"),
        (-5, "EUR", "-0.05"),
        (-1050, "JPY", "-1050"),
        (0, "JPY", "0"),
        (1, "BHD", "0.001"),
        (-1234, "KWD", "-1.234"),
    ],
)
def test_major_units_are_exact_decimal_text(amount: int, currency: str, text: str) -> None:
    assert money.major_units(amount, currency) == text


@pytest.mark.parametrize("currency", ["GBP", "JPY", "BHD"])
def test_a_supported_currency_passes(currency: str) -> None:
    assert money.check_currency(currency) == []


@pytest.mark.parametrize("currency", ["ZZZ", "gbp", "", "GBPX"])
def test_an_unsupported_currency_is_named(currency: str) -> None:
    words = "must be a supported ISO 4217 code such as GBP, EUR or JPY"
    assert money.check_currency(currency) == [FieldViolation("currency", words)]
    assert money.check_currency(currency, "refund.currency") == [
        FieldViolation("refund.currency", words)
    ]


@pytest.mark.parametrize("amount", [1, 499, 500])
def test_amounts_from_one_to_the_maximum_pass(amount: int) -> None:
    assert money.check_amount(amount, 500) == []


@pytest.mark.parametrize("amount", [0, -1, -500])
def test_an_amount_must_be_positive(amount: int) -> None:
    words = "must be a positive number of minor units (pence for GBP)"
    assert money.check_amount(amount, 500) == [FieldViolation("amount", words)]
    assert money.check_amount(amount, 500, "price") == [FieldViolation("price", words)]


@pytest.mark.parametrize("amount", [501, 10**9])
def test_an_amount_over_the_maximum_names_the_maximum(amount: int) -> None:
    words = "must be at most 500 minor units"
    assert money.check_amount(amount, 500) == [FieldViolation("amount", words)]
    assert money.check_amount(amount, 500, "price") == [FieldViolation("price", words)]
