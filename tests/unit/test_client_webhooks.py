"""The client library's webhook verification, checked against the services' own
signer (services.runtime.webhooks), so the two can never drift apart."""

from __future__ import annotations

import pytest

from gaap_client import InvalidSignature, is_valid_signature, verify_signature
from gaap_client.webhooks import sign
from services.runtime import webhook_signing

BODY = b'{"id":"evt_1","type":"payment.succeeded"}'
NOW = 1_900_000_000


def test_a_signature_made_by_the_services_verifies() -> None:
    header = webhook_signing.sign("whsec_a", BODY, NOW)
    verify_signature("whsec_a", header, BODY, now=NOW + 10)
    assert header == sign("whsec_a", BODY, NOW)


@pytest.mark.parametrize(
    ("header", "body", "now"),
    [
        (webhook_signing.sign("whsec_other", BODY, NOW), BODY, NOW),  # another secret
        (webhook_signing.sign("whsec_a", BODY, NOW), BODY + b" ", NOW),  # body changed
        (webhook_signing.sign("whsec_a", BODY, NOW), BODY, NOW + 301),  # replayed later
        (webhook_signing.sign("whsec_a", BODY, NOW), BODY, NOW - 301),  # from the future
        ("v1=" + "0" * 64, BODY, NOW),  # no timestamp
        (f"t={NOW}", BODY, NOW),  # no signature
        ("", BODY, NOW),
    ],
)
def test_what_is_refused(header: str, body: bytes, now: int) -> None:
    with pytest.raises(InvalidSignature):
        verify_signature("whsec_a", header, body, now=now)
    assert not is_valid_signature("whsec_a", header, body, now=now)


def test_several_v1_values_and_several_secrets_during_rotation() -> None:
    old = webhook_signing.sign("whsec_old", BODY, NOW)
    new_mac = webhook_signing.sign("whsec_new", BODY, NOW).partition(",v1=")[2]
    both = f"{old},v1={new_mac}"
    verify_signature("whsec_new", both, BODY, now=NOW)
    verify_signature("whsec_old", both, BODY, now=NOW)
    verify_signature(["whsec_gone", "whsec_old"], old, BODY, now=NOW)
    with pytest.raises(InvalidSignature):
        verify_signature(["whsec_gone", "whsec_other"], both, BODY, now=NOW)


def test_tolerance_is_configurable() -> None:
    header = webhook_signing.sign("whsec_a", BODY, NOW)
    verify_signature("whsec_a", header, BODY, now=NOW + 1000, tolerance=1000)
    with pytest.raises(InvalidSignature):
        verify_signature("whsec_a", header, BODY, now=NOW + 11, tolerance=10)
