"""The card rules a citizen meets on the payment page: the Luhn check, the brand
shown, and each field's exact message (the page shows these words)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.payments.domain.cards import (
    CODE_INVALID,
    CODE_REQUIRED,
    EXPIRY_INVALID,
    EXPIRY_PAST,
    EXPIRY_REQUIRED,
    NAME_REQUIRED,
    NAME_TOO_LONG,
    NUMBER_INVALID,
    NUMBER_REQUIRED,
    Card,
    CardSummary,
    brand_of,
    luhn_valid,
    parse_card,
)
from services.runtime.errors import FieldViolation, InvalidArgument

# Published test numbers of each brand, every one Luhn-valid.
VALID = [
    "4242424242424242",
    "4000056655665556",
    "5555555555554444",
    "2223003122003222",
    "378282246310005",
    "6011111111111117",
    "3566002020360505",
    "30569309025904",
    "6200000000000005",
    "79927398713",
    "0",
    "18",
    "26",
    "34",
    "42",
    "59",
    "67",
    "75",
    "83",
    "91",
]


@pytest.mark.parametrize("number", VALID)
def test_published_numbers_pass_the_luhn_check(number: str) -> None:
    assert luhn_valid(number) is True


@pytest.mark.parametrize("number", VALID)
def test_any_single_wrong_digit_fails_the_luhn_check(number: str) -> None:
    for position, original in enumerate(number):
        for digit in "0123456789":
            if digit != original:
                changed = number[:position] + digit + number[position + 1 :]
                assert luhn_valid(changed) is False, changed


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        # Each doubled digit d (every second from the right) counts 2d, less 9 from 5 up.
        ("40", False),  # 4 doubled is 8, not 8 - 9
        ("42", True),
        ("50", False),
        ("59", True),  # 5 doubled is 1
        ("90", False),
        ("91", True),  # 9 doubled is 9
        ("109", True),  # the third digit from the right is not doubled
        ("4", False),
        ("00", True),
    ],
)
def test_luhn_doubles_every_second_digit_from_the_right(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("340000000000009", "amex"),
        ("370000000000002", "amex"),
        ("4000000000000002", "visa"),
        ("5100000000000008", "mastercard"),
        ("5500000000000004", "mastercard"),
        ("2221000000000009", "mastercard"),
        ("2720990000000007", "mastercard"),
        ("6011000000000004", "discover"),
        ("6500000000000002", "discover"),
        ("3528000000000007", "jcb"),
        ("3589000000000003", "jcb"),
        ("6200000000000005", "unionpay"),
        ("36000000000008", "diners"),
        ("38000000000006", "diners"),
        ("30000000000004", "diners"),
        ("30500000000003", "diners"),
        ("5600000000000003", "unknown"),
        ("2720000000000005", "mastercard"),
        ("2721000000000004", "unknown"),
        ("2220000000000000", "unknown"),
        ("3590000000000000", "unknown"),
        ("3060000000000000", "unknown"),
        ("9000000000000000", "unknown"),
    ],
)
def test_brand_is_read_from_the_prefix(number: str, brand: str) -> None:
    assert brand_of(number) == brand


def test_the_summary_keeps_brand_last_four_expiry_and_name() -> None:
    card = Card("378282246310005", 4, 2031, "1234", "Ada Citizen")
    assert card.summary == CardSummary(
        brand="amex", last_four="0005", expiry="04/31", cardholder_name="Ada Citizen"
    )
    assert Card("4242424242424242", 11, 2100, "123", "B").summary.expiry == "11/00"


TODAY = date(2030, 4, 15)


def form(**overrides: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "number": "4242 4242 4242 4242",
        "expiry": "04/30",
        "security_code": "123",
        "cardholder_name": "Ada Citizen",
        "today": TODAY,
    }
    values.update(overrides)
    return values


def refusal(**overrides: str) -> list[FieldViolation]:
    with pytest.raises(InvalidArgument) as caught:
        parse_card(**form(**overrides))
    return list(caught.value.violations)


def test_a_good_card_is_parsed_into_its_parts() -> None:
    card = parse_card(
        number=" 4242-4242 4242-4242 ",
        expiry=" 04 / 2030 ",
        security_code=" 1234 ",
        cardholder_name="  Ada \t  Citizen  ",
        today=TODAY,
    )
    assert (card.number, card.expiry_month, card.expiry_year) == ("4242424242424242", 4, 2030)
    assert (card.security_code, card.cardholder_name) == ("1234", "Ada Citizen")


@pytest.mark.parametrize(
    ("expiry", "month", "year"),
    [("04/30", 4, 2030), ("4/30", 4, 2030), ("12/99", 12, 2099), ("01/2031", 1, 2031)],
)
def test_expiry_takes_two_or_four_digit_years(expiry: str, month: int, year: int) -> None:
    card = parse_card(**form(expiry=expiry))
    assert (card.expiry_month, card.expiry_year) == (month, year)


@pytest.mark.parametrize("number", ["424242424242", "4242424242424242428"])
def test_numbers_of_12_to_19_digits_are_accepted(number: str) -> None:
    assert parse_card(**form(number=number)).number == number


@pytest.mark.parametrize(
    ("overrides", "violation"),
    [
        ({"number": ""}, FieldViolation("card-number", NUMBER_REQUIRED)),
        ({"number": " - -  "}, FieldViolation("card-number", NUMBER_REQUIRED)),
        ({"number": "4242 4242 4242 4241"}, FieldViolation("card-number", NUMBER_INVALID)),
        ({"number": "4242.4242.4242.4242"}, FieldViolation("card-number", NUMBER_INVALID)),
        ({"number": "4242X4242 4242 4242"}, FieldViolation("card-number", NUMBER_INVALID)),
        ({"number": "abcd"}, FieldViolation("card-number", NUMBER_INVALID)),
        # Luhn-valid, but 11 and 20 digits long
        ({"number": "42424242420"}, FieldViolation("card-number", NUMBER_INVALID)),
        ({"number": "42424242424242424242"}, FieldViolation("card-number", NUMBER_INVALID)),
        ({"expiry": ""}, FieldViolation("expiry", EXPIRY_REQUIRED)),
        ({"expiry": "   "}, FieldViolation("expiry", EXPIRY_REQUIRED)),
        ({"expiry": "0430"}, FieldViolation("expiry", EXPIRY_INVALID)),
        ({"expiry": "04-30"}, FieldViolation("expiry", EXPIRY_INVALID)),
        ({"expiry": "ab/30"}, FieldViolation("expiry", EXPIRY_INVALID)),
        ({"expiry": "04/ab"}, FieldViolation("expiry", EXPIRY_INVALID)),
        ({"expiry": "/30"}, FieldViolation("expiry", EXPIRY_INVALID)),
        ({"expiry": "04/3"}, FieldViolation("expiry", EXPIRY_INVALID)),
        ({"expiry": "04/203"}, FieldViolation("expiry", EXPIRY_INVALID)),
        ({"expiry": "04/20300"}, FieldViolation("expiry", EXPIRY_INVALID)),
        ({"expiry": "00/31"}, FieldViolation("expiry", EXPIRY_INVALID)),
        ({"expiry": "13/31"}, FieldViolation("expiry", EXPIRY_INVALID)),
        ({"expiry": "03/30"}, FieldViolation("expiry", EXPIRY_PAST)),
        ({"expiry": "12/29"}, FieldViolation("expiry", EXPIRY_PAST)),
        ({"expiry": "05/2029"}, FieldViolation("expiry", EXPIRY_PAST)),
        ({"security_code": ""}, FieldViolation("security-code", CODE_REQUIRED)),
        ({"security_code": "   "}, FieldViolation("security-code", CODE_REQUIRED)),
        ({"security_code": "12"}, FieldViolation("security-code", CODE_INVALID)),
        ({"security_code": "12345"}, FieldViolation("security-code", CODE_INVALID)),
        ({"security_code": "12a"}, FieldViolation("security-code", CODE_INVALID)),
        ({"cardholder_name": ""}, FieldViolation("cardholder-name", NAME_REQUIRED)),
        ({"cardholder_name": " \t "}, FieldViolation("cardholder-name", NAME_REQUIRED)),
        ({"cardholder_name": "A" * 101}, FieldViolation("cardholder-name", NAME_TOO_LONG)),
        (
            {"cardholder_name": "A" * 50 + "  " + "B" * 50},
            FieldViolation("cardholder-name", NAME_TOO_LONG),
        ),
    ],
)
def test_each_problem_is_named_with_its_field_and_words(
    overrides: dict[str, str], violation: FieldViolation
) -> None:
    assert refusal(**overrides) == [violation]


def test_boundaries_that_are_accepted() -> None:
    card = parse_card(
        **form(expiry="04/30", security_code="123", cardholder_name="A" * 49 + " " + "B" * 50)
    )
    assert (card.expiry_month, card.expiry_year, len(card.cardholder_name)) == (4, 2030, 100)
    assert parse_card(**form(expiry="01/31")).expiry_month == 1
    assert parse_card(**form(expiry="12/30")).expiry_month == 12


def test_the_messages_are_the_words_the_page_shows() -> None:
    assert (NUMBER_REQUIRED, NUMBER_INVALID) == (
        "Enter your card number",
        "Enter a valid card number",
    )
    assert (EXPIRY_REQUIRED, EXPIRY_INVALID, EXPIRY_PAST) == (
        "Enter the expiry date",
        "Enter the expiry date as MM/YY, for example 04/29",
        "The expiry date must be in the future",
    )
    assert (CODE_REQUIRED, CODE_INVALID) == (
        "Enter the card security code",
        "Enter the 3 or 4 digit security code from your card",
    )
    assert (NAME_REQUIRED, NAME_TOO_LONG) == (
        "Enter the name as it appears on the card",
        "The name must be 100 characters or fewer",
    )


def test_every_bad_field_is_reported_at_once_in_form_order() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_card(number="1", expiry="x", security_code="", cardholder_name="", today=TODAY)
    assert list(caught.value.violations) == [
        FieldViolation("card-number", NUMBER_INVALID),
        FieldViolation("expiry", EXPIRY_INVALID),
        FieldViolation("security-code", CODE_REQUIRED),
        FieldViolation("cardholder-name", NAME_REQUIRED),
    ]
    assert caught.value.message == (
        "invalid request: check card-number, expiry, security-code, cardholder-name"
    )
