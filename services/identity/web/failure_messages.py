"""What a refused password or code says to the citizen."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from services.identity.service_layer.signin import Outcome
from services.runtime.pages import Pages

LONGEST_SAID = timedelta(days=1)  # the longest lock by wrong codes (domain.lockout)


def failure_message(
    pages: Pages,
    language: str,
    outcome: Outcome,
    factor: str,
    *,
    until: datetime | None,
    now: datetime,
    lock_minutes: int,
) -> str:
    """Never says whether the account exists: a locked unknown address reads
    the same as a wrong password. ``until`` is the account's own lock, said
    only to whoever knew the password (second-factor locks grow longer)."""
    if outcome is Outcome.LOCKED:
        template = pages.gettext(
            language, "You have tried too many times. Wait %(minutes)d minutes, then try again."
        )
        return template % {"minutes": minutes_left(until, now, lock_minutes)}
    if factor == "password":
        return pages.gettext(language, "The email address or password is not right")
    return pages.gettext(language, "Enter the 6-digit code shown in your authenticator app")


def minutes_left(until: datetime | None, now: datetime, lock_minutes: int) -> int:
    """Whole minutes until ``until``; the configured lock for a lock of wrong
    passwords, or one longer than a day (an operator's)."""
    left = (until - now) if until is not None else None
    if left is None or not timedelta(0) < left <= LONGEST_SAID:
        return lock_minutes
    return math.ceil(left / timedelta(minutes=1))
