"""Payment links: a no-code page for a fee, at ``/pay/{slug}`` on the console's host.

A link belongs to one team (its agency takes the payments). Its slug is made by
the console, never chosen by staff: 12 URL-safe characters from 72 random bits,
so links cannot be guessed or squatted, and two links never race for a name.
The amount is either fixed or typed by the citizen within the link's bounds (in
minor units). The citizen also types the reference the team asks for (its label
and rules are the team's); it becomes the payment's reference at payments.

Pure rules here; every message is a message id of the console's catalogue.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from urllib.parse import urlsplit

from services.runtime.errors import FieldViolation, InvalidArgument

# The currencies a link may ask for, with their ISO 4217 exponents (payments
# accepts these; a wrong exponent would charge 100 times too much).
CURRENCIES: dict[str, int] = {"GBP": 2, "EUR": 2, "USD": 2, "CNY": 2, "HKD": 2}
MAX_AMOUNT = 10_000_000  # payments' default maximum, in minor units
MAX_TITLE = 100
MAX_DESCRIPTION = 1000
MAX_LABEL = 60
MAX_REFERENCE = 255  # payments' reference is 1 to 255 characters
MAX_URL = 2000
SLUG = re.compile(r"[A-Za-z0-9_-]{12}")
# Digits with at most one point and the currency's decimals: no sign, no exponent.
AMOUNT = re.compile(r"[0-9]{1,9}(\.[0-9]{1,3})?")


class State(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class Characters(StrEnum):
    """What a citizen's reference may hold."""

    DIGITS = "digits"  # 0-9
    LETTERS_DIGITS = "letters_digits"  # A-Z a-z 0-9, and - / between them
    TEXT = "text"  # any printable characters


REFERENCE_PATTERNS = {
    Characters.DIGITS: re.compile(r"[0-9]+"),
    Characters.LETTERS_DIGITS: re.compile(r"[A-Za-z0-9]+([-/][A-Za-z0-9]+)*"),
}


@dataclass(frozen=True)
class ReferenceRule:
    label: str  # "Application number", in the team's words
    required: bool
    max_length: int
    characters: Characters


@dataclass(frozen=True)
class PaymentLink:
    id: str
    team_id: str
    slug: str
    title: str
    description: str
    currency: str
    fixed_amount: int | None  # minor units; None when the citizen types it
    min_amount: int | None  # bounds, inclusive, when the citizen types it
    max_amount: int | None
    reference: ReferenceRule
    return_url: str  # empty: the console's thank-you page
    state: State
    created_by: str  # the staff member's email address
    created_at: datetime

    @property
    def active(self) -> bool:
        return self.state is State.ACTIVE

    def in_state(self, state: State) -> PaymentLink:
        return replace(self, state=state)


@dataclass(frozen=True)
class LinkForm:
    """What staff typed on the create form, as text."""

    title: str = ""
    description: str = ""
    currency: str = "GBP"
    amount_type: str = "fixed"  # "fixed" or "range"
    amount: str = ""
    min_amount: str = ""
    max_amount: str = ""
    reference_label: str = ""
    reference_required: bool = True
    reference_max_length: str = "50"
    reference_characters: str = "letters_digits"
    return_url: str = ""


@dataclass(frozen=True)
class CheckedLink:
    title: str
    description: str
    currency: str
    fixed_amount: int | None
    min_amount: int | None
    max_amount: int | None
    reference: ReferenceRule
    return_url: str


def new_slug() -> str:
    return secrets.token_urlsafe(9)  # 72 bits, 12 characters


def to_minor(text: str, currency: str) -> int | None:
    """``"12.50"`` in GBP -> 1250; None unless it is a plain amount the currency can hold."""
    text = text.strip().replace(",", "")
    if not AMOUNT.fullmatch(text):
        return None
    try:
        value = Decimal(text).scaleb(CURRENCIES[currency])
    except (InvalidOperation, KeyError):
        return None
    if value != value.to_integral_value():
        return None  # more decimals than the currency has
    return int(value)


def to_major(amount: int, currency: str) -> str:
    """1250 in GBP -> ``"12.50"``: exact text, no floating point."""
    places = CURRENCIES.get(currency, 2)
    return f"{Decimal(amount).scaleb(-places):.{places}f}"


def _plain(text: str, *, multiline: bool = False) -> str:
    if multiline:
        lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n")]
        return "\n".join(lines).strip()
    return " ".join(text.split())


def _printable(text: str) -> bool:
    return all(ch.isprintable() or ch == "\n" for ch in text)


def _url_ok(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in {"localhost", "127.0.0.1", "::1"}


def check_link(form: LinkForm) -> CheckedLink:
    """The link staff asked for, or ``InvalidArgument`` naming every field in error."""
    violations: list[FieldViolation] = []

    def bad(field: str, message: str) -> None:
        violations.append(FieldViolation(field, message))

    title = _plain(form.title)
    if not title:
        bad("title", "Enter the payment's title")
    elif len(title) > MAX_TITLE or not title.isprintable():
        bad("title", "The title must be 100 characters or fewer, without controls")
    description = _plain(form.description, multiline=True)
    if len(description) > MAX_DESCRIPTION or not _printable(description):
        bad("description", "The description must be 1,000 characters or fewer")
    currency = form.currency.strip().upper()
    if currency not in CURRENCIES:
        bad("currency", "Choose a currency from the list")
        currency = "GBP"

    def amount_of(field: str, text: str) -> int | None:
        if not text.strip():
            bad(field, "Enter an amount")
            return None
        amount = to_minor(text, currency)
        if amount is None or not 1 <= amount <= MAX_AMOUNT:
            bad(field, "Enter an amount like 12.50, from 0.01 to 100,000")
            return None
        return amount

    fixed = low = high = None
    if form.amount_type == "fixed":
        fixed = amount_of("amount", form.amount)
    elif form.amount_type == "range":
        low = amount_of("min_amount", form.min_amount)
        high = amount_of("max_amount", form.max_amount)
        if low is not None and high is not None and high < low:
            bad("max_amount", "The largest amount must be at least the smallest")
    else:
        bad("amount_type", "Choose a fixed amount or an amount the citizen types")

    rule = _reference_rule(form, bad)
    return_url = form.return_url.strip()
    if return_url and (len(return_url) > MAX_URL or not _url_ok(return_url)):
        bad("return_url", "Enter an address starting https://")
    if violations:
        raise InvalidArgument(violations[0].field, violations)
    return CheckedLink(
        title,
        description,
        currency,
        fixed,
        low,
        high,
        rule,
        return_url,
    )


def _reference_rule(form: LinkForm, bad: Callable[[str, str], None]) -> ReferenceRule:
    label = _plain(form.reference_label)
    if not label:
        bad("reference_label", "Enter what the reference is called")
    elif len(label) > MAX_LABEL or not label.isprintable():
        bad("reference_label", "The label must be 60 characters or fewer, without controls")
    max_length = 0
    text = form.reference_max_length.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_REFERENCE:
        bad("reference_max_length", "Enter a length from 1 to 255")
    else:
        max_length = int(text)
    try:
        characters = Characters(form.reference_characters)
    except ValueError:
        bad("reference_characters", "Choose which characters the reference may hold")
        characters = Characters.TEXT
    return ReferenceRule(label, form.reference_required, max_length, characters)


def check_payment(link: PaymentLink, amount_text: str, reference_text: str) -> tuple[int, str]:
    """What a citizen typed on the link's page: the amount in minor units and the
    reference (empty when optional and not given), or ``InvalidArgument``."""
    violations: list[FieldViolation] = []
    amount = link.fixed_amount
    if amount is None:
        assert link.min_amount is not None
        assert link.max_amount is not None
        typed = to_minor(amount_text, link.currency) if amount_text.strip() else None
        if not amount_text.strip():
            violations.append(FieldViolation("amount", "Enter the amount to pay"))
        elif typed is None or not link.min_amount <= typed <= link.max_amount:
            violations.append(FieldViolation("amount", "Enter an amount within the limits shown"))
        amount = typed
    rule = link.reference
    reference = reference_text.strip()
    if not reference:
        if rule.required:
            violations.append(FieldViolation("reference", "Enter the reference"))
    elif len(reference) > rule.max_length:
        violations.append(FieldViolation("reference", "The reference is too long"))
    elif not _reference_ok(reference, rule.characters):
        violations.append(FieldViolation("reference", "The reference holds characters it may not"))
    if violations:
        raise InvalidArgument(violations[0].field, violations)
    assert amount is not None
    return amount, reference


def _reference_ok(reference: str, characters: Characters) -> bool:
    pattern = REFERENCE_PATTERNS.get(characters)
    if pattern is None:
        return reference.isprintable()
    return bool(pattern.fullmatch(reference))


def check_slug(slug: str) -> bool:
    return bool(SLUG.fullmatch(slug))


@dataclass(frozen=True)
class LinkPayment:
    """A payment created through a link; ``form_hash`` is the SHA-256 of the
    form's key, which the thank-you page's address carries."""

    payment_id: str
    link_id: str
    form_hash: str
    created_at: datetime
