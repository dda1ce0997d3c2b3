"""Email and phone rules at their edges, and simulated recipients."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from services.notify.domain import recipients, simulation
from services.notify.domain.recipients import RecipientError, SmsRules, email_address, phone_number


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("user@example.com", "user@example.com"),
        ("  user@EXAMPLE.com ", "user@example.com"),
        ("user@bücher.de", "user@bücher.de"),
        ("first.last+tag@example.co.uk", "first.last+tag@example.co.uk"),
    ],
)
def test_good_addresses(raw: str, normalised: str) -> None:
    assert email_address(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        '"quoted"@example.com',
        "a..b@example.com",
        ".a@example.com",
        "a@localhost",
        "a@x.test",
        "no-at",
        "",
        "a@[127.0.0.1]",
        "x" * 310 + "@example.com",
    ],
)
def test_bad_addresses(raw: str) -> None:
    with pytest.raises(RecipientError):
        email_address(raw)


def email_validator_says(raw: str) -> str | None:
    """What email-validator itself makes of ``raw`` (None: refused)."""
    try:
        checked = validate_email(
            raw.strip(),
            check_deliverability=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError:
        return None
    return str(checked.normalized)


@pytest.mark.parametrize(
    "local",
    [
        "ada",
        "Ada.Lovelace",
        "a+tag",
        "a_b-c",
        "x" * 70,  # longer than 64: only checked in email-validator's strict mode
        "Postmaster",  # an RFC 2142 name: lower-cased
        "ABUSE",
        ".ada",
        "ada.",
        "a..b",
        "ad a",
        "ada@home",
        "åda",
        '"ada"',
        "x" * 250,  # the whole address over 254
    ],
)
def test_a_known_domain_gives_the_same_answer_as_email_validator(local: str) -> None:
    recipients._known_domains.add("known.example.com")
    assert "known.example.com" in recipients._known_domains
    for domain in ("known.example.com", "KNOWN.example.com"):
        raw = f"{local}@{domain}"
        expected = email_validator_says(raw)
        try:
            got: str | None = email_address(raw)
        except RecipientError:
            got = None
        assert got == expected, raw


def test_only_domains_email_validator_accepted_as_written_are_remembered() -> None:
    known = recipients._known_domains
    email_address("ada@remembered.example.org")
    assert "remembered.example.org" in known
    email_address("ada@Upper.example.org")  # normalised to lower case: not as written
    assert "Upper.example.org" not in known
    for bad in ("ada@localhost", "ada@x.test", "ada@-x.example.org"):
        with pytest.raises(RecipientError):
            email_address(bad)
        assert bad.split("@")[1] not in known


def test_known_domains_are_bounded() -> None:
    known = recipients._KnownDomains(limit=2)
    for domain in ("a.example", "b.example", "c.example"):
        known.add(domain)
    assert "c.example" in known
    assert "a.example" not in known


UK = SmsRules("GB", international=False)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("07912345678", "+447912345678"),
        ("+44 7912 345678", "+447912345678"),
        ("0044 7912 345678", "+447912345678"),
    ],
)
def test_uk_numbers_to_e164(raw: str, e164: str) -> None:
    assert phone_number(raw, UK) == e164


@pytest.mark.parametrize("raw", ["09098790000", "+449098790000", "0791234567", "hello", "", "+1"])
def test_premium_short_and_junk_numbers_are_refused(raw: str) -> None:
    with pytest.raises(RecipientError):
        phone_number(raw, UK)


def test_international_needs_the_permission_and_the_region_changes_parsing() -> None:
    with pytest.raises(RecipientError, match="international"):
        phone_number("+14155552671", UK)
    assert phone_number("+14155552671", SmsRules("GB", international=True)) == "+14155552671"
    assert phone_number("(415) 555-2671", SmsRules("US")) == "+14155552671"


def test_simulated_recipients() -> None:
    assert simulation.simulated_number("07700 900002") == "+447700900002"
    assert simulation.simulated_number("+447912345678") is None
    assert simulation.outcome("sms", "+447700900003", test_mode=False) == "temporary-failure"
    assert (
        simulation.outcome("email", "PERM-FAIL@simulator.notify", test_mode=False)
        == "permanent-failure"
    )
    assert simulation.outcome("email", "a@example.com", test_mode=True) == "delivered"
    assert simulation.outcome("email", "a@example.com", test_mode=False) is None
