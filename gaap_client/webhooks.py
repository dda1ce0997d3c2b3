"""Verify the ``Gaap-Signature`` header of payments' webhooks and notify's status
callbacks.

``Gaap-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``.
Several ``v1`` values may appear, and you may hold several secrets while you
rotate one: the body is accepted if any pair matches. Timestamps outside the
tolerance are refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "Gaap-Signature"
EVENT_ID_HEADER = "Gaap-Event-Id"
# The ``type`` of a test event, sent only when you ask for one (payments'
# SendTestWebhookEvent, notify's SendTestStatusCallback): about no payment or
# notification, so a receiver acknowledges it and does nothing else.
PAYMENTS_TEST_EVENT = "webhook.test"
NOTIFY_TEST_CALLBACK = "callback.test"
DEFAULT_TOLERANCE = 300


class InvalidSignature(Exception):
    """The request was not signed by GaaP with one of your secrets, or is too old."""


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """A header value signing ``body`` (for tests of your own receiver)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def verify_signature(
    secrets: str | Sequence[str],
    header: str,
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise ``InvalidSignature`` unless ``header`` signs the raw ``body``."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("no t= or v1= in the signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("the signature's timestamp is outside the tolerance")
    # Compare every pair, without stopping early, so timing says nothing.
    matched = False
    for key in keys:
        expected = _mac(key, timestamp, body)
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise InvalidSignature("no signature matches")


def is_valid_signature(
    secrets: str | Sequence[str],
    header: str,
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    try:
        verify_signature(secrets, header, body, tolerance=tolerance, now=now)
    except InvalidSignature:
        return False
    return True


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
