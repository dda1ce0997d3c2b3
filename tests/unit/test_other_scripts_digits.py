"""Digits that are not ASCII. ``str.isdigit()`` is true for "²" (which ``int()`` refuses)
and for other scripts' digits (which ``hmac.compare_digest`` refuses), so every place
that checks typed or received digits must refuse them cleanly, not crash; and the
citizen's pages take full-width digits from an East Asian keyboard as the digits they
show (the pages are in Simplified Chinese too)."""

from __future__ import annotations

from datetime import date

import pyotp
import pytest

from gaap_client import InvalidSignature, verify_signature
from services.identity.domain import totp
from services.payments.domain.cards import NUMBER_INVALID, parse_card
from services.runtime import webhook_signing
from services.runtime.errors import InvalidArgument

FULL_WIDTH = str.maketrans("0123456789/", "０１２３４５６７８９／")
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_750_000_005.0


def card(**overrides: str) -> dict[str, object]:
    form: dict[str, object] = {
        "number": "4242 4242 4242 4242",
        "expiry": "04/30",
        "security_code": "123",
        "cardholder_name": "Ada Citizen",
        "today": date(2030, 4, 15),
    }
    return form | overrides


def test_a_card_typed_in_full_width_digits_is_the_card_it_shows() -> None:
    typed = parse_card(
        **card(  # type: ignore[arg-type]
            number="4242 4242 4242 4242".translate(FULL_WIDTH),
            expiry="04/30".translate(FULL_WIDTH),
            security_code="123".translate(FULL_WIDTH),
        )
    )
    assert (typed.number, typed.expiry_month, typed.expiry_year, typed.security_code) == (
        "4242424242424242",
        4,
        2030,
        "123",
    )


@pytest.mark.parametrize("number", ["٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", "४२४२४२४२४२४२४२४२"])
def test_a_card_number_in_another_scripts_digits_is_refused_not_a_crash(number: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_card(**card(number=number))  # type: ignore[arg-type]
    assert [(v.field, v.description) for v in refused.value.violations] == [
        ("card-number", NUMBER_INVALID)
    ]


def test_an_authenticator_code_in_full_width_digits_is_accepted() -> None:
    step = int(NOW // 30)
    code = pyotp.TOTP(SECRET).generate_otp(step).translate(FULL_WIDTH)
    assert totp.matching_step(SECRET, code, NOW, None) == step


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "12345²", "१२३४५६"])
def test_an_authenticator_code_in_other_digits_is_refused_not_a_crash(code: str) -> None:
    assert totp.matching_step(SECRET, code, NOW, None) is None


def test_a_signature_time_in_other_digits_is_refused_not_a_crash() -> None:
    body = b"{}"
    mac = webhook_signing.sign("whsec_a", body, 1_900_000_000).partition(",v1=")[2]
    for header in (f"t=²,v1={mac}", f"t=١٩٠٠٠٠٠٠٠٠,v1={mac}"):
        assert webhook_signing.verify("whsec_a", header, body, now=1_900_000_000) is False
        with pytest.raises(InvalidSignature):
            verify_signature("whsec_a", header, body, now=1_900_000_000)
