"""A new payment's fields as an agency sends them: what is kept, and the exact
violation (field and words) an agency developer reads for each bad field."""

from __future__ import annotations

from typing import Any

import pytest

from services.payments.domain.payments import NewPayment, validate_new
from services.runtime.errors import FieldViolation, InvalidArgument


def request(**overrides: Any) -> dict[str, Any]:
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
        "max_amount": 10_000,
    }
    values.update(overrides)
    return values


def violations(**overrides: Any) -> list[FieldViolation]:
    with pytest.raises(InvalidArgument) as caught:
        validate_new(**request(**overrides))
    return list(caught.value.violations)


def test_every_field_is_kept_as_sent() -> None:
    metadata = {"case": "A-1"}
    made = validate_new(
        amount=2500,
        currency="EUR",
        reference="INV-7",
        description="Parking permit",
        return_url="https://agency.example/back#done",
        email="ada@example.com",
        language="zh-Hans",
        metadata=metadata,
        delayed_capture=True,
        max_amount=2500,
    )
    assert made == NewPayment(
        amount=2500,
        currency="EUR",
        reference="INV-7",
        description="Parking permit",
        return_url="https://agency.example/back#done",
        email="ada@example.com",
        language="zh-Hans",
        metadata={"case": "A-1"},
        delayed_capture=True,
    )
    assert made.metadata is not metadata


def test_currency_and_language_default_to_gbp_and_english() -> None:
    made = validate_new(**request())
    assert (made.currency, made.language, made.delayed_capture) == ("GBP", "en", False)


def test_every_problem_is_reported_at_once_in_field_order() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_new(
            **request(
                amount=0,
                currency="ZZZ",
                reference="",
                description="",
                return_url="",
                email="nope",
                language="fr",
                metadata={"": "v"},
            )
        )
    assert [v.field for v in caught.value.violations] == [
        "currency",
        "amount",
        "reference",
        "description",
        "return_url",
        "email",
        "metadata.",
        "language",
    ]


def test_the_amount_is_checked_against_the_agency_maximum() -> None:
    assert validate_new(**request(amount=10_000)).amount == 10_000
    assert violations(amount=10_001) == [
        FieldViolation("amount", "must be at most 10000 minor units")
    ]


def test_a_language_must_be_one_the_page_speaks() -> None:
    assert violations(language="fr") == [FieldViolation("language", "must be one of en, zh-Hans")]


@pytest.mark.parametrize("name", ["reference", "description"])
@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "required"),
        ("   ", "required"),
        ("x" * 256, "must be at most 255 characters"),
        ("line\nbreak", "must not contain control characters"),
        ("tab\there", "must not contain control characters"),
    ],
)
def test_text_fields_are_required_short_and_printable(name: str, value: str, words: str) -> None:
    assert violations(**{name: value}) == [FieldViolation(name, words)]


@pytest.mark.parametrize("name", ["reference", "description"])
def test_text_of_255_characters_is_accepted(name: str) -> None:
    made = validate_new(**request(**{name: "é" * 255}))
    assert getattr(made, name) == "é" * 255


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (
            "http://a.gov/",
            "must be an absolute https URL (http only for localhost, 127.0.0.1 or [::1])",
        ),
        ("", "required"),
    ],
)
def test_a_bad_return_url_says_why(url: str, words: str) -> None:
    assert violations(return_url=url) == [FieldViolation("return_url", words)]


def test_a_return_url_may_carry_a_fragment() -> None:
    assert validate_new(**request(return_url="https://a.gov/x#frag")).return_url == (
        "https://a.gov/x#frag"
    )


@pytest.mark.parametrize(
    "email",
    ["", "ada@example.com", "a@b.c", "first.last+tag@sub.example.org", "a@b@example.com"],
)
def test_emails_accepted(email: str) -> None:
    assert validate_new(**request(email=email)).email == email


@pytest.mark.parametrize(
    "email",
    [
        "ada",
        "@example.com",
        "ada@example",
        "ada@",
        "ada @example.com",
        "ada@exa mple.com",
        "ada@example.com\u200b\n",
        "ada@example.com\x00",
        "ada@example.com@intranet",  # the domain is what follows the last @
    ],
)
def test_emails_refused(email: str) -> None:
    assert violations(email=email) == [
        FieldViolation("email", "must be an email address such as name@example.com")
    ]


def test_an_email_of_254_characters_is_the_longest() -> None:
    longest = "x" * 242 + "@example.com"
    assert len(longest) == 254
    assert validate_new(**request(email=longest)).email == longest
    assert violations(email="x" + longest) == [
        FieldViolation("email", "must be an email address such as name@example.com")
    ]


def test_an_email_with_a_control_character_but_no_space_is_refused() -> None:
    assert violations(email="ada@example.com\x7f") == [
        FieldViolation("email", "must be an email address such as name@example.com")
    ]


def test_fifteen_metadata_keys_are_the_most() -> None:
    fifteen = {f"k{i}": "v" for i in range(15)}
    assert validate_new(**request(metadata=fifteen)).metadata == fifteen
    sixteen = {f"k{i}": "v" for i in range(16)}
    assert violations(metadata=sixteen) == [FieldViolation("metadata", "at most 15 keys")]


def test_metadata_keys_and_values_at_their_longest_are_accepted() -> None:
    longest = {"k" * 30: "v" * 100, "a": ""}
    assert validate_new(**request(metadata=longest)).metadata == longest


KEY_WORDS = "keys are 1 to 30 characters"
VALUE_WORDS = "values are at most 100 characters"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"": "v"}, [FieldViolation("metadata.", KEY_WORDS)]),
        ({"k" * 31: "v"}, [FieldViolation("metadata." + "k" * 31, KEY_WORDS)]),
        ({"k" * 45: "v"}, [FieldViolation("metadata." + "k" * 40, KEY_WORDS)]),
        ({"a\nb": "v"}, [FieldViolation("metadata.a\nb", KEY_WORDS)]),
        ({"k": "v" * 101}, [FieldViolation("metadata.k", VALUE_WORDS)]),
        ({"k": "a\tb"}, [FieldViolation("metadata.k", VALUE_WORDS)]),
        (
            {"k" * 45: "v" * 101},
            [
                FieldViolation("metadata." + "k" * 40, KEY_WORDS),
                FieldViolation("metadata." + "k" * 40, VALUE_WORDS),
            ],
        ),
        (
            {"a": "v" * 101, "": "ok", "c": "fine"},
            [FieldViolation("metadata.a", VALUE_WORDS), FieldViolation("metadata.", KEY_WORDS)],
        ),
    ],
)
def test_each_bad_metadata_entry_is_named(
    metadata: dict[str, str], expected: list[FieldViolation]
) -> None:
    assert violations(metadata=metadata) == expected


def test_too_many_keys_and_a_bad_key_are_both_reported() -> None:
    metadata = {f"k{i}": "v" for i in range(15)} | {"": "v"}
    assert violations(metadata=metadata) == [
        FieldViolation("metadata", "at most 15 keys"),
        FieldViolation("metadata.", KEY_WORDS),
    ]
