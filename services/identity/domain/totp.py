"""Time-based one-time passwords (RFC 6238), via pyotp, with replay refusal."""

from __future__ import annotations

import hmac
import unicodedata

import pyotp

STEP = 30
WINDOW = 1  # accept the previous and next step too (clock drift)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, issuer_name: str = "GaaP") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer_name)


def matching_step(secret: str, code: str, now: float, last_step: int | None) -> int | None:
    """The time step ``code`` is valid for, or None. A step at or before
    ``last_step`` is refused, so a code seen once (shoulder-surfed, phished and
    replayed) cannot be used again."""
    # NFKC: full-width digits from an East Asian keyboard become the digits they show;
    # isascii: isdigit() takes other scripts' digits too, which compare_digest refuses.
    code = unicodedata.normalize("NFKC", code).strip().replace(" ", "")
    if not (code.isascii() and code.isdigit()) or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=STEP)
    current = int(now // STEP)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (
            last_step is None or step > last_step
        ):
            return step
    return None
