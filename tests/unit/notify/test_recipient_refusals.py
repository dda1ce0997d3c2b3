"""Recipients: the exact reason each refusal gives the agency, the length limits at
their edges, and the memory of domains email-validator already accepted."""

from __future__ import annotations

from typing import Any

import email_validator
import pytest

from services.notify.domain import recipients
from services.notify.domain.recipients import RecipientError, SmsRules, email_address, phone_number

UK = SmsRules("GB", international=False)


def refusal(check: Any, *args: Any) -> str:
    with pytest.raises(RecipientError) as caught:
        check(*args)
    return str(caught.value)


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_an_empty_recipient_is_required(raw: str) -> None:
    assert refusal(email_address, raw) == "required"
    assert refusal(phone_number, raw, UK) == "required"


def test_an_email_address_is_at_most_320_characters() -> None:
    at_limit = "a" * 301 + "@" + "b" * 11 + ".gov.uk"
    assert len(at_limit) == 320
    # 320 passes the length rule and meets email-validator's own (254) instead.
    assert refusal(email_address, at_limit) == (
        "not a valid email address: The email address is too long (66 characters too many)."
    )
    assert refusal(email_address, at_limit + "x") == "at most 320 characters"


def test_email_validator_says_why_an_address_is_refused() -> None:
    assert refusal(email_address, "no-at") == (
        "not a valid email address: An email address must have an @-sign."
    )


def test_quoted_locals_literals_and_display_names_are_refused_whatever_the_library_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another module in the process may loosen email-validator's process-wide defaults.
    for name in ("ALLOW_QUOTED_LOCAL", "ALLOW_DOMAIN_LITERAL", "ALLOW_DISPLAY_NAME"):
        monkeypatch.setattr(email_validator, name, True)
    assert (
        email_validator.validate_email(
            '"ada lovelace"@example.com', check_deliverability=False
        ).normalized
        == '"ada lovelace"@example.com'
    )
    for raw, why in [
        ('"ada lovelace"@example.com', "Quoting the part before the @-sign is not allowed here."),
        ("ada@[192.0.2.1]", "A bracketed IP address after the @-sign is not allowed here."),
        (
            "Ada <ada@example.com>",
            "A display name and angle brackets around the email address are not permitted here.",
        ),
    ]:
        assert refusal(email_address, raw) == f"not a valid email address: {why}", raw


@pytest.fixture
def known(monkeypatch: pytest.MonkeyPatch) -> recipients._KnownDomains:
    fresh = recipients._KnownDomains()
    monkeypatch.setattr(recipients, "_known_domains", fresh)
    return fresh


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address that reached email-validator."""
    seen: list[str] = []
    real = email_validator.validate_email

    def counting(address: str, **options: Any) -> Any:
        seen.append(address)
        return real(address, **options)

    monkeypatch.setattr("services.notify.domain.recipients.validate_email", counting)
    return seen


def test_a_plain_address_at_an_accepted_domain_is_not_validated_again(
    known: recipients._KnownDomains, validations: list[str]
) -> None:
    assert email_address("ada@once.example.com") == "ada@once.example.com"
    assert email_address(" bob.b@once.example.com ") == "bob.b@once.example.com"
    assert validations == ["ada@once.example.com"]
    assert known._domains == {"once.example.com"}


def test_only_plain_addresses_accepted_as_written_teach_a_domain(
    known: recipients._KnownDomains, validations: list[str]
) -> None:
    assert email_address("postmaster@rfc2142.example.com") == "postmaster@rfc2142.example.com"
    assert email_address("Abuse@rfc2142.example.com") == "abuse@rfc2142.example.com"
    assert email_address("ada@Mixed.Example.com") == "ada@mixed.example.com"
    assert email_address("ada@bücher.de") == "ada@bücher.de"
    assert known._domains == set()
    assert len(validations) == 4


def test_a_plain_address_of_exactly_254_characters_teaches_its_domain(
    known: recipients._KnownDomains,
) -> None:
    longest = "a" * 237 + "@edge.example.com"
    assert len(longest) == 254
    assert email_address(longest) == longest
    assert known._domains == {"edge.example.com"}


def test_a_phone_number_is_at_most_40_characters() -> None:
    at_limit = "+44" + " " * 27 + "7912345678"
    assert len(at_limit) == 40
    assert phone_number(f"  {at_limit}  ", UK) == "+447912345678"
    assert refusal(phone_number, "+44" + " " * 28 + "7912345678", UK) == (
        "too long to be a phone number"
    )


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("hello", "not a phone number"),
        ("+", "not a phone number"),
        ("0791234567", "not a valid phone number"),
        ("+1", "not a phone number"),
        ("09098790000", "premium-rate numbers are refused"),
        ("+449098790000", "premium-rate numbers are refused"),
        (
            "+14155552671",
            "international numbers are not allowed for this agency "
            "(UpdateAgencySettings.international_sms)",
        ),
    ],
)
def test_each_phone_refusal_says_why(raw: str, why: str) -> None:
    assert refusal(phone_number, raw, UK) == why
