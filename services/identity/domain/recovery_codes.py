"""Recovery codes: single-use codes that stand in for the authenticator app,
shown once and stored only as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

COUNT = 10
# No 0/o, 1/l/i: codes are copied by hand.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUP = 5


def generate(count: int = COUNT) -> list[str]:
    """``count`` distinct codes such as ``k7m2p-x9q4t`` (about 50 bits each)."""
    codes: set[str] = set()
    while len(codes) < count:
        raw = "".join(secrets.choice(ALPHABET) for _ in range(GROUP * 2))
        codes.add(f"{raw[:GROUP]}-{raw[GROUP:]}")
    return sorted(codes)


def normalise(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch in ALPHABET)


def well_formed(code: str) -> bool:
    return len(normalise(code)) == GROUP * 2


def digest(key: bytes, account_id: str, code: str) -> str:
    message = f"{account_id}\0{normalise(code)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
