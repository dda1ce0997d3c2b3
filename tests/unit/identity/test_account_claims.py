"""The claims a citizen's account can release (OpenID Connect Core §5.1), by their
standard names, and never more than the account has."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.identity.domain.accounts import SUPPORTED_CLAIMS, Account, released_claims


def account(now: datetime, **fields: object) -> Account:
    return Account(
        id="acc_1",
        email="citizen@example.com",
        email_verified=True,
        password_hash="hash",
        created_at=now - timedelta(days=1),
        updated_at=now,
        **fields,  # type: ignore[arg-type]
    )


def test_a_full_account_releases_every_standard_claim(now: datetime) -> None:
    full = account(
        now,
        given_name="Kate",
        family_name="Smith",
        locale="cy",
        phone_number="+447911123456",
        phone_number_verified=True,
        address={"country": "GB", "postal_code": "SW1A 1AA"},
    )
    assert full.claims() == {
        "name": "Kate Smith",
        "given_name": "Kate",
        "family_name": "Smith",
        "locale": "cy",
        "updated_at": int(now.timestamp()),
        "email": "citizen@example.com",
        "email_verified": True,
        "phone_number": "+447911123456",
        "phone_number_verified": True,
        "address": {"country": "GB", "postal_code": "SW1A 1AA"},
    }


@pytest.mark.parametrize(
    ("given", "family", "name"),
    [("Kate", None, "Kate"), (None, "Smith", "Smith"), ("Kate", "", "Kate")],
)
def test_the_full_name_is_whatever_parts_there_are(
    now: datetime, given: str | None, family: str | None, name: str
) -> None:
    assert account(now, given_name=given, family_name=family).claims()["name"] == name


def test_a_bare_account_releases_only_what_it_has(now: datetime) -> None:
    bare = account(now, phone_number_verified=True)
    assert bare.claims() == {
        "updated_at": int(now.timestamp()),
        "email": "citizen@example.com",
        "email_verified": True,
    }
    assert "name" in SUPPORTED_CLAIMS
    assert SUPPORTED_CLAIMS[0] == "sub"


def test_an_unverified_phone_number_says_so(now: datetime) -> None:
    claims = account(now, phone_number="+447911123456").claims()
    assert claims["phone_number_verified"] is False


def test_released_claims_are_the_names_asked_that_the_account_has(now: datetime) -> None:
    kate = account(now, given_name="Kate")
    assert released_claims(kate, ["email", "given_name", "address", "email"]) == {
        "email": "citizen@example.com",
        "given_name": "Kate",
    }
    assert list(released_claims(kate, ["given_name", "email"])) == ["email", "given_name"]
