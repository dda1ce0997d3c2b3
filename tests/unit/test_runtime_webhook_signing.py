"""The Gaap-Signature scheme (services/runtime/webhook_signing.py), checked against an HMAC
computed here from the documented formula, so a change to the scheme cannot pass unnoticed.
payments uses ``verify`` on the card provider's notifications; ``sign`` signs every agency
webhook and status callback."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from services.runtime import webhook_signing

SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"payment.succeeded"}'
NOW = 1_900_000_000


def documented_mac(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_a_new_secret_is_prefixed_and_carries_32_random_bytes() -> None:
    secret = webhook_signing.new_secret()
    prefix, _, random_part = secret.partition("_")
    assert prefix == "whsec"
    assert len(base64.urlsafe_b64decode(random_part + "=")) == 32
    assert webhook_signing.new_secret() != secret


def test_the_header_is_the_timestamp_and_the_documented_hmac() -> None:
    header = webhook_signing.sign(SECRET, BODY, NOW)
    assert header == f"t={NOW},v1={documented_mac(SECRET, BODY, NOW)}"


def test_signing_without_a_timestamp_uses_the_current_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("services.runtime.webhook_signing.time.time", lambda: NOW + 0.75)
    assert webhook_signing.sign(SECRET, BODY) == webhook_signing.sign(SECRET, BODY, NOW)


def test_a_valid_signature_verifies_at_and_inside_the_tolerance() -> None:
    header = webhook_signing.sign(SECRET, BODY, NOW)
    assert webhook_signing.verify(SECRET, header, BODY, now=NOW)
    assert webhook_signing.verify(SECRET, header, BODY, now=NOW + 300)
    assert webhook_signing.verify(SECRET, header, BODY, now=NOW - 300)
    assert webhook_signing.verify(SECRET, header, BODY, now=NOW + 10, tolerance=10)


def test_outside_the_tolerance_is_refused() -> None:
    header = webhook_signing.sign(SECRET, BODY, NOW)
    assert not webhook_signing.verify(SECRET, header, BODY, now=NOW + 301)
    assert not webhook_signing.verify(SECRET, header, BODY, now=NOW - 301)
    assert not webhook_signing.verify(SECRET, header, BODY, now=NOW + 11, tolerance=10)


def test_without_now_the_current_time_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    header = webhook_signing.sign(SECRET, BODY, NOW)
    monkeypatch.setattr("services.runtime.webhook_signing.time.time", lambda: float(NOW + 100))
    assert webhook_signing.verify(SECRET, header, BODY)
    monkeypatch.setattr("services.runtime.webhook_signing.time.time", lambda: float(NOW + 400))
    assert not webhook_signing.verify(SECRET, header, BODY)


@pytest.mark.parametrize(
    ("header", "body"),
    [
        pytest.param(webhook_signing.sign("whsec_other", BODY, NOW), BODY, id="another secret"),
        pytest.param(webhook_signing.sign(SECRET, BODY, NOW), BODY + b" ", id="body changed"),
        pytest.param(f"t={NOW + 1},v1={documented_mac(SECRET, BODY, NOW)}", BODY, id="time moved"),
        pytest.param(f"v1={documented_mac(SECRET, BODY, NOW)}", BODY, id="no timestamp"),
        pytest.param(f"t={NOW}", BODY, id="no signature"),
        pytest.param(f"t=x{NOW},v1={documented_mac(SECRET, BODY, NOW)}", BODY, id="bad time"),
        pytest.param(f"T={NOW},v1={documented_mac(SECRET, BODY, NOW)}", BODY, id="T"),
        pytest.param(f"t={NOW},V1={documented_mac(SECRET, BODY, NOW)}", BODY, id="V1"),
        pytest.param("", BODY, id="empty"),
    ],
)
def test_what_is_refused(header: str, body: bytes) -> None:
    assert webhook_signing.verify(SECRET, header, body, now=NOW) is False


def test_only_the_t_part_sets_the_time() -> None:
    # A digits-only value under another name must not be taken for the timestamp.
    mac = documented_mac(SECRET, BODY, NOW)
    assert webhook_signing.verify(SECRET, f"t={NOW},n=5,v1={mac}", BODY, now=NOW)


def test_spaces_around_parts_are_allowed_and_any_v1_may_match() -> None:
    mac = documented_mac(SECRET, BODY, NOW)
    header = f"t={NOW}, v1={'0' * 64}, v1={mac}"
    assert webhook_signing.verify(SECRET, header, BODY, now=NOW)
    assert not webhook_signing.verify(SECRET, f"t={NOW}, v1={'0' * 64}", BODY, now=NOW)
