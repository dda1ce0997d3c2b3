"""Simulated recipients: never handed to a provider, in test or live mode.

Like GOV.UK Notify's smoke-test addresses and numbers, they let an agency see
each outcome end to end (documented in docs/notify.md).
"""

from __future__ import annotations

from typing import Final

from services.notify.domain.statuses import DELIVERED, PERMANENT_FAILURE, TEMPORARY_FAILURE

SIMULATOR_DOMAIN: Final = "simulator.notify"
EMAILS: Final = {
    f"delivered@{SIMULATOR_DOMAIN}": DELIVERED,
    f"perm-fail@{SIMULATOR_DOMAIN}": PERMANENT_FAILURE,
    f"temp-fail@{SIMULATOR_DOMAIN}": TEMPORARY_FAILURE,
}
# UK drama numbers (Ofcom's 07700 900xxx range), never allocated to anyone.
NUMBERS: Final = {
    "+447700900000": DELIVERED,
    "+447700900111": DELIVERED,
    "+447700900222": DELIVERED,
    "+447700900002": PERMANENT_FAILURE,
    "+447700900003": TEMPORARY_FAILURE,
}


def simulated_number(raw: str) -> str | None:
    """The E.164 form of a simulated number written in any usual way, else None."""
    digits = "".join(c for c in raw if c.isdigit() or c == "+")
    if digits.startswith("07"):
        digits = "+44" + digits[1:]
    elif digits.startswith("44"):
        digits = "+" + digits
    return digits if digits in NUMBERS else None


def outcome(channel: str, recipient: str, test_mode: bool) -> str | None:
    """The final status to simulate for a normalised recipient, or None to really send.

    In test mode every notification is simulated: delivered unless the recipient
    is one of the failure addresses or numbers.
    """
    table = EMAILS if channel == "email" else NUMBERS
    found = table.get(recipient.lower() if channel == "email" else recipient)
    if found is not None:
        return found
    return DELIVERED if test_mode else None
