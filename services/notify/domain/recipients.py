"""Recipients: email addresses and phone numbers, checked and normalised.

Email: email-validator without DNS lookups (IDN domains accepted, quoted local
parts and ``..`` refused). Phone: phonenumbers to E.164, parsed in the agency's
default region; premium-rate numbers refused; numbers outside the default
region's country only with the agency's international permission.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from phonenumbers import NumberParseException, PhoneNumberType

MAX_EMAIL_LENGTH = 320
MAX_KNOWN_DOMAINS = 10_000

# An address email-validator accepts unchanged whenever its domain is valid: an
# ASCII dot-atom local part, a lower-case ASCII domain, within its length limit
# (254), and not a mailbox name it lower-cases (RFC 2142).
_PLAIN = re.compile(r"([A-Za-z0-9_+\-]+(?:\.[A-Za-z0-9_+\-]+)*)@([a-z0-9\-]+(?:\.[a-z0-9\-]+)+)")
_RFC_2142 = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)
_EMAIL_VALIDATOR_LIMIT = 254


class _KnownDomains:
    """Domains email-validator accepted as they were written (bounded; thread-safe).

    Its domain checks (IDNA, every label, special-use names) cost most of a
    validation and depend on the domain alone, so a plain address at a domain
    already accepted needs no second look.
    """

    def __init__(self, limit: int = MAX_KNOWN_DOMAINS) -> None:
        self._limit = limit
        self._domains: set[str] = set()
        self._lock = threading.Lock()

    def __contains__(self, domain: str) -> bool:
        return domain in self._domains

    def add(self, domain: str) -> None:
        with self._lock:
            if len(self._domains) >= self._limit:
                self._domains.clear()
            self._domains.add(domain)


_known_domains = _KnownDomains()


class RecipientError(ValueError):
    """Why a recipient is refused (safe to show to the agency)."""


def email_address(raw: str) -> str:
    candidate = raw.strip()
    if not candidate:
        raise RecipientError("required")
    if len(candidate) > MAX_EMAIL_LENGTH:
        raise RecipientError(f"at most {MAX_EMAIL_LENGTH} characters")
    plain = _plain_domain(candidate)
    if plain is not None and plain in _known_domains:
        return candidate
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
    normalised = str(checked.normalized)
    if plain is not None and normalised == candidate:
        _known_domains.add(plain)
    return normalised


def _plain_domain(address: str) -> str | None:
    """The domain of a plain address (see ``_PLAIN``), else None."""
    match = _PLAIN.fullmatch(address)
    if match is None or len(address) > _EMAIL_VALIDATOR_LIMIT:
        return None
    if match.group(1).lower() in _RFC_2142:
        return None
    return match.group(2)


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
