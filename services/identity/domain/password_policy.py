"""What a citizen's password must be: 8 to 256 characters, not one of the
commonly used passwords shipped in ``data/common_passwords.txt``, and not the
email address itself (NIST SP 800-63B §5.1.1.2: length and a blocklist, no
composition rules)."""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path

MIN_LENGTH = 8
MAX_LENGTH = 256
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common_passwords.txt"


class PasswordProblem(StrEnum):
    MISSING = "missing"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    COMMON = "common"
    LIKE_EMAIL = "like_email"


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def problem(password: str, email: str | None = None) -> PasswordProblem | None:
    """The first thing wrong with ``password``, or None when it will do."""
    if not password:
        return PasswordProblem.MISSING
    if len(password) < MIN_LENGTH:
        return PasswordProblem.TOO_SHORT
    if len(password) > MAX_LENGTH:
        return PasswordProblem.TOO_LONG
    folded = password.strip().lower()
    if folded in common_passwords():
        return PasswordProblem.COMMON
    if email:
        address = email.strip().lower()
        if folded in (address, address.partition("@")[0]):
            return PasswordProblem.LIKE_EMAIL
    return None
