"""The rules of a mobile number as a second factor: parsing and refusing
numbers, what counts as a texted factor, the texted code's message, and the
tickets that carry texted codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from services.identity.adapters.tables import verification_tickets
from services.identity.domain import messages, one_time_codes
from services.identity.domain.accounts import Account
from services.identity.domain.messages import Kind
from services.identity.domain.one_time_codes import Purpose
from services.identity.domain.phone_numbers import PhoneProblem, parse


@pytest.mark.parametrize(
    ("typed", "region", "expected"),
    [
        ("07912 345678", "GB", "+447912345678"),
        ("07912-345-678", "GB", "+447912345678"),
        ("+44 7912 345678", "GB", "+447912345678"),
        ("+44 (0)7912 345678", "GB", "+447912345678"),
        ("  07912345678  ", "gb", "+447912345678"),
        ("+1 202 555 0143", "GB", "+12025550143"),
        ("13800138000", "CN", "+8613800138000"),
        ("", "GB", PhoneProblem.MISSING),
        ("   ", "GB", PhoneProblem.MISSING),
        ("12345", "GB", PhoneProblem.INVALID),
        ("not a number", "GB", PhoneProblem.INVALID),
        ("07912 34567", "GB", PhoneProblem.INVALID),
        ("13800138000", "GB", PhoneProblem.INVALID),
        ("0" + "7" * 60, "GB", PhoneProblem.INVALID),
        ("09098 790000", "GB", PhoneProblem.PREMIUM_RATE),
        ("+44 909 879 0000", "GB", PhoneProblem.PREMIUM_RATE),
        ("+1 900 555 0100", "GB", PhoneProblem.PREMIUM_RATE),
    ],
)
def test_numbers_parse_to_e164_or_are_refused(
    typed: str, region: str, expected: str | PhoneProblem
) -> None:
    assert parse(typed, region) == expected


def account(phone: str | None, verified: bool) -> Account:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Account(
        id="acc_1",
        email="a@example.gov.test",
        email_verified=True,
        password_hash="x",
        created_at=now,
        updated_at=now,
        phone_number=phone,
        phone_number_verified=verified,
    )


def test_only_a_proved_number_is_a_texted_factor() -> None:
    assert account("+447912345678", True).has_sms_factor
    assert not account("+447912345678", False).has_sms_factor
    assert not account(None, False).has_sms_factor
    # The authenticator app is still its own factor.
    assert not account("+447912345678", True).has_second_factor


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
def test_the_texted_code_is_a_text_with_the_code_and_lifetime(language: str) -> None:
    assert Kind.PHONE_CODE in messages.SMS_KINDS
    text = messages.render(Kind.PHONE_CODE, language, {"code": "482913", "minutes": "15"})
    assert text.subject == ""
    assert "482913" in text.body
    assert "15" in text.body
    limit = 160 if language == "en" else 70  # one SMS (GSM-7, or UCS-2 for Chinese)
    assert len(text.body) <= limit


def length(column: sa.Column[Any]) -> int:
    assert isinstance(column.type, sa.String)
    assert column.type.length is not None
    return column.type.length


def test_texted_code_tickets_fit_their_columns_and_are_bound_to_their_ticket() -> None:
    assert all(len(p.value) <= length(verification_tickets.c.purpose) for p in Purpose)
    assert len("+" + "9" * 15) <= length(verification_tickets.c.phone_number)  # E.164's longest
    key = b"k" * 32
    first, second = one_time_codes.new_ticket_id(), one_time_codes.new_ticket_id()
    assert one_time_codes.digest(key, first, "123456") != one_time_codes.digest(
        key, second, "123456"
    )
