"""Card details as the citizen types them: checked here, never stored or logged.

Only ``brand``, the last four digits and the expiry leave this module in a
``CardSummary``; the number and security code live in a ``Card`` for the length
of one request.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date

from services.runtime.errors import FieldViolation, InvalidArgument

# (prefixes, brand) in match order; enough for the brands a UK service sees.
_BRANDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("34", "37"), "amex"),
    (("4",), "visa"),
    (tuple(str(n) for n in range(51, 56)) + tuple(str(n) for n in range(2221, 2721)), "mastercard"),
    (("6011", "65"), "discover"),
    (tuple(str(n) for n in range(3528, 3590)), "jcb"),
    (("62",), "unionpay"),
    (("36", "38", "300", "301", "302", "303", "304", "305"), "diners"),
)


@dataclass(frozen=True)
class CardSummary:
    """What may be kept about a card."""

    brand: str
    last_four: str
    expiry: str  # MM/YY
    cardholder_name: str


@dataclass(frozen=True)
class Card:
    number: str = field(repr=False)
    expiry_month: int
    expiry_year: int  # four digits
    security_code: str = field(repr=False)
    cardholder_name: str

    @property
    def summary(self) -> CardSummary:
        return CardSummary(
            brand=brand_of(self.number),
            last_four=self.number[-4:],
            expiry=f"{self.expiry_month:02d}/{self.expiry_year % 100:02d}",
            cardholder_name=self.cardholder_name,
        )


def _digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and digits
    of other scripts, which no card scheme prints."""
    return text.isascii() and text.isdigit()


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def brand_of(number: str) -> str:
    for prefixes, brand in _BRANDS:
        if number.startswith(prefixes):
            return brand
    return "unknown"


# Message keys: the page translates them; they are also plain English.
NUMBER_REQUIRED = "Enter your card number"
NUMBER_INVALID = "Enter a valid card number"
EXPIRY_REQUIRED = "Enter the expiry date"
EXPIRY_INVALID = "Enter the expiry date as MM/YY, for example 04/29"
EXPIRY_PAST = "The expiry date must be in the future"
CODE_REQUIRED = "Enter the card security code"
CODE_INVALID = "Enter the 3 or 4 digit security code from your card"
NAME_REQUIRED = "Enter the name as it appears on the card"
NAME_TOO_LONG = "The name must be 100 characters or fewer"


def parse_card(
    *, number: str, expiry: str, security_code: str, cardholder_name: str, today: date
) -> Card:
    """A ``Card`` from form input, or ``InvalidArgument`` naming every bad field."""
    violations: list[FieldViolation] = []
    # NFKC: full-width digits from an East Asian keyboard become the digits they show.
    number, expiry, security_code = (
        unicodedata.normalize("NFKC", text) for text in (number, expiry, security_code)
    )
    digits = "".join(ch for ch in number if ch not in " -")
    if not digits:
        violations.append(FieldViolation("card-number", NUMBER_REQUIRED))
    elif not _digits(digits) or not 12 <= len(digits) <= 19 or not luhn_valid(digits):
        violations.append(FieldViolation("card-number", NUMBER_INVALID))

    month = year = 0
    raw_expiry = expiry.replace(" ", "")
    if not raw_expiry:
        violations.append(FieldViolation("expiry", EXPIRY_REQUIRED))
    else:
        mm, sep, yy = raw_expiry.partition("/")
        if not sep or not (_digits(mm) and _digits(yy)) or len(yy) not in (2, 4):
            violations.append(FieldViolation("expiry", EXPIRY_INVALID))
        else:
            month, year = int(mm), int(yy) + (2000 if len(yy) == 2 else 0)
            if not 1 <= month <= 12:
                violations.append(FieldViolation("expiry", EXPIRY_INVALID))
            elif (year, month) < (today.year, today.month):
                violations.append(FieldViolation("expiry", EXPIRY_PAST))

    code = security_code.strip()
    if not code:
        violations.append(FieldViolation("security-code", CODE_REQUIRED))
    elif not _digits(code) or len(code) not in (3, 4):
        violations.append(FieldViolation("security-code", CODE_INVALID))

    name = " ".join(cardholder_name.split())
    if not name:
        violations.append(FieldViolation("cardholder-name", NAME_REQUIRED))
    elif len(name) > 100:
        violations.append(FieldViolation("cardholder-name", NAME_TOO_LONG))

    if violations:
        raise InvalidArgument.from_violations(violations)
    return Card(digits, month, year, code, name)
