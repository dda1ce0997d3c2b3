"""No log line may hold a password, token, card number or secret."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.")
SHAPES = {
    "a JWT": JWT,
    "a client secret": re.compile(r"gaap_(?:test|live)_[A-Za-z0-9_-]{16,}"),
    "a webhook signing secret": re.compile(r"whsec_[A-Za-z0-9_-]{8,}"),
    "a Stripe key": re.compile(r"\b[sr]k_(?:test|live)_[A-Za-z0-9]{8,}"),
    "a bearer credential": re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]{16,}"),
}
DIGITS = re.compile(r"(?<![0-9A-Za-z_])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z_])")


def _luhn(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if i % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def assert_no_secrets(records: Iterable[tuple[str, str]], known: Iterable[str]) -> int:
    """Check every (source, line); ``known`` are the exact secrets the test used.
    Returns how many lines were read (a check of nothing proves nothing)."""
    secrets = [s for s in known if len(s) >= 8]
    lines = 0
    for source, line in records:
        lines += 1
        for secret in secrets:
            assert secret not in line, f"{source} logged a secret: {line[:200]}"
        for what, shape in SHAPES.items():
            assert not shape.search(line), f"{source} logged {what}: {line[:200]}"
        for candidate in DIGITS.findall(line):
            digits = re.sub(r"\D", "", candidate)
            is_card = 13 <= len(digits) <= 19 and _luhn(digits)
            assert not is_card, f"{source} logged a card number: {line[:200]}"
        if line.startswith("{"):
            record = json.loads(line)
            for key in record:
                assert "password" not in key.lower(), line[:200]
                assert "secret" not in key.lower(), line[:200]
    assert lines > 0
    return lines
