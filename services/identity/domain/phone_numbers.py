"""Mobile numbers citizens add as a second factor: parsed to E.164 (numbers
written without a country code read as the deployment's region), refused when
invalid or premium-rate (a text to one would cost the platform, and an
attacker could profit from it)."""

from __future__ import annotations

from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

MAX_INPUT = 40  # longer input is not a phone number, whatever it parses to


class PhoneProblem(StrEnum):
    MISSING = "missing"
    INVALID = "invalid"
    PREMIUM_RATE = "premium_rate"


def parse(raw: str, region: str) -> str | PhoneProblem:
    """The number in E.164 (``+447700900123``), or why it is refused."""
    text = raw.strip()
    if not text:
        return PhoneProblem.MISSING
    if len(text) > MAX_INPUT:
        return PhoneProblem.INVALID
    try:
        number = phonenumbers.parse(text, region.upper())
    except NumberParseException:
        return PhoneProblem.INVALID
    if not phonenumbers.is_valid_number(number):
        return PhoneProblem.INVALID
    if phonenumbers.number_type(number) == PhoneNumberType.PREMIUM_RATE:
        return PhoneProblem.PREMIUM_RATE
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
