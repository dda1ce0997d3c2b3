"""One-time codes sent by email or SMS: six digits, short-lived, a few attempts,
single use, stored only as a keyed hash (a six-digit code's plain SHA-256 would
be reversed by trying all million values).

A code belongs to a *ticket*: the random id the browser carries from the page
that asked for the code to the page that checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DIGITS = 6


class Purpose(StrEnum):
    REGISTER = "register"
    RESET = "reset"
    PHONE = "phone"  # proving a mobile number being added
    SMS_SIGNIN = "sms_signin"  # a texted second factor at sign-in


class Check(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    USED = "used"
    EXHAUSTED = "exhausted"  # too many wrong attempts: the code is dead


@dataclass(frozen=True)
class CodePolicy:
    lifetime: timedelta = timedelta(minutes=15)
    max_attempts: int = 5


@dataclass(frozen=True)
class Ticket:
    id: str
    purpose: Purpose
    email: str
    code_hash: str
    browser_hash: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    account_id: str | None = None
    verified_at: datetime | None = None
    used_at: datetime | None = None


def new_code() -> str:
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


def new_ticket_id() -> str:
    return "tkt_" + secrets.token_urlsafe(24)


def normalise(code: str) -> str:
    return "".join(ch for ch in code if not ch.isspace() and ch != "-")


def digest(key: bytes, ticket_id: str, code: str) -> str:
    """Keyed by the instance secret and bound to the ticket."""
    message = f"{ticket_id}\0{normalise(code)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def judge(ticket: Ticket, matches: bool, now: datetime, policy: CodePolicy) -> Check:
    """What checking a code against ``ticket`` means, in this order: a used or
    dead ticket stays refused even when the code is right."""
    if ticket.used_at is not None or ticket.verified_at is not None:
        return Check.USED
    if ticket.attempts >= policy.max_attempts:
        return Check.EXHAUSTED
    if now >= ticket.expires_at:
        return Check.EXPIRED
    return Check.OK if matches else Check.WRONG


def well_formed(code: str) -> bool:
    value = normalise(code)
    return len(value) == DIGITS and value.isascii() and value.isdigit()
