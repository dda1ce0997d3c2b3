"""A staff member: a citizen account signed in to the console through identity.

``subject`` is identity's ``sub`` for the console's agency: pairwise, so it is
only meaningful to the console (another agency sees another ``sub``). The email
address is what identity reports, and counts only once identity has verified it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Staff:
    subject: str
    email: str  # lower case
    email_verified: bool
    name: str
    operator: bool = False  # a platform operator (CONSOLE_OPERATOR_EMAILS)


def normalise_email(value: str) -> str:
    return value.strip().lower()


def operator_of(email: str, email_verified: bool, operator_emails: frozenset[str]) -> bool:
    """Operators are named by verified email address in the console's settings."""
    return email_verified and normalise_email(email) in operator_emails
