"""Authenticator codes for tests that enrol an app and then sign in with it."""

from __future__ import annotations

import time

import pyotp

STEP = 30  # seconds, RFC 6238's default and identity's
MARGIN = 5.0  # longer than a form takes to reach identity's check, even under load


def previous_step_code(secret: str) -> str:
    """The code of the time step before the current one (accepted for clock
    drift), so a sign-in straight afterwards can use the current one: a step is
    never accepted twice. Taken at least ``MARGIN`` seconds before a step ends,
    so the step cannot change between here and identity's check (two steps back
    is refused)."""
    left = STEP - time.time() % STEP
    if left < MARGIN:
        time.sleep(left)  # wait for the next step to begin: a clock boundary, not a guess
    return pyotp.TOTP(secret).at(time.time() - STEP)
