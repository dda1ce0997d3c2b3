"""Recipients: email addresses and phone numbers, checked and normalised.

Email: email-validator without DNS lookups (IDN domains accepted, quoted local
parts and ``..`` refused). Phone: phonenumbers to E.164, parsed in the agency's
default region; premium-rate numbers refused; numbers outside the default
region's country only with the agency's international permission.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

MAX_EMAIL_LENGTH = 320


class RecipientError(ValueError):
    """Why a recipient is refused (safe to show to the agency)."""


def email_address(raw: str) -> str:
    candidate = raw.strip()
    if not candidate:
        raise RecipientError("required")
    if len(candidate) > MAX_EMAIL_LENGTH:
        raise RecipientError(f"at most {MAX_EMAIL_LENGTH} characters")
    try:
        checked = validate_email(
            candidate,
            check_deliverability=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as exc:
        raise RecipientError(f"not a valid email address: {exc}") from None
    return str(checked.normalized)


@dataclass(frozen=True)
class SmsRules:
    default_region: str = "GB"
    international: bool = False


def phone_number(raw: str, rules: SmsRules) -> str:
    """The number in E.164, or ``RecipientError`` saying why not."""
    candidate = raw.strip()
    if not candidate:
        raise RecipientError("required")
    if len(candidate) > 40:
        raise RecipientError("too long to be a phone number")
    try:
        number = phonenumbers.parse(candidate, rules.default_region)
    except NumberParseException:
        raise RecipientError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise RecipientError("not a valid phone number")
    if phonenumbers.number_type(number) == PhoneNumberType.PREMIUM_RATE:
        raise RecipientError("premium-rate numbers are refused")
    home = phonenumbers.country_code_for_region(rules.default_region)
    if number.country_code != home and not rules.international:
        raise RecipientError(
            "international numbers are not allowed for this agency "
            "(UpdateAgencySettings.international_sms)"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def valid_region(region: str) -> bool:
    return region.upper() in phonenumbers.SUPPORTED_REGIONS
