"""Money: amounts in minor units and ISO 4217 currencies with their exponents."""

from __future__ import annotations

from services.runtime.errors import FieldViolation

DEFAULT_CURRENCY = "GBP"

# ISO 4217 exponents for the currencies payments accepts. A currency missing
# here is refused rather than guessed: a wrong exponent charges 100x too much.
EXPONENTS: dict[str, int] = {
    "GBP": 2,
    "EUR": 2,
    "USD": 2,
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "HKD": 2,
    "NZD": 2,
    "SGD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "INR": 2,
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
}


def exponent(currency: str) -> int:
    return EXPONENTS[currency]


def major_units(amount: int, currency: str) -> str:
    """``1050, "GBP"`` -> ``"10.50"``: exact decimal text, no floating point."""
    digits = exponent(currency)
    if digits == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}"


def check_currency(currency: str, field: str = "currency") -> list[FieldViolation]:
    if currency not in EXPONENTS:
        return [FieldViolation(field, "must be a supported ISO 4217 code such as GBP, EUR or JPY")]
    return []


def check_amount(amount: int, maximum: int, field: str = "amount") -> list[FieldViolation]:
    if amount <= 0:
        return [FieldViolation(field, "must be a positive number of minor units (pence for GBP)")]
    if amount > maximum:
        return [FieldViolation(field, f"must be at most {maximum} minor units")]
    return []
