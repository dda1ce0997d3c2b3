"""What a citizen's tokens carry and what an agency's access token says: the token
response's fields, the grant a refresh token stands for, how a refresh narrows scopes,
PKCE, and the claims of an agency's own access token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta

import pytest

from services.identity.domain.access_tokens import claims_for_agency, granted_scopes
from services.identity.domain.agencies import register
from services.identity.domain.citizen_tokens import (
    Grant,
    GrantError,
    StoredCode,
    TokenRecord,
    TokenSet,
    hash_value,
    narrowed_scopes,
    s256,
    well_formed_verifier,
)
from services.identity.domain.subjects import subject_for


def record(now: datetime) -> TokenRecord:
    return TokenRecord(
        id="hash-of-refresh",
        kind="refresh",
        client_id="ag_123",
        account_id="acc_1",
        sid="sid_1",
        code_hash="hash-of-code",
        family="fam_1",
        scope="openid email offline_access",
        claims={"userinfo": {"email": None}},
        acr="urn:gaap:loa:2",
        amr=["pwd", "otp"],
        auth_time=now - timedelta(minutes=5),
        created_at=now,
        expires_at=now + timedelta(days=30),
    )


def test_a_token_response_is_a_bearer_token_with_what_it_holds() -> None:
    tokens = TokenSet("at", 300, "openid email", id_token="idt", refresh_token="rt")
    assert tokens.response() == {
        "access_token": "at",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "openid email",
        "id_token": "idt",
        "refresh_token": "rt",
    }
    bare = TokenSet("at", 300, "payments:read", id_token=None, refresh_token=None)
    assert bare.response() == {
        "access_token": "at",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "payments:read",
    }


def test_a_token_records_grant_carries_every_detail_of_the_sign_in(now: datetime) -> None:
    token = record(now)
    grant = token.grant(("openid", "email"))
    assert grant == Grant(
        client_id="ag_123",
        account_id="acc_1",
        sid="sid_1",
        scopes=("openid", "email"),
        claims={"userinfo": {"email": None}},
        acr="urn:gaap:loa:2",
        amr=["pwd", "otp"],
        auth_time=now - timedelta(minutes=5),
    )
    assert grant.amr is not token.amr  # a copy: the record cannot change through it


def test_a_stored_codes_grant_splits_its_scope(now: datetime) -> None:
    code = StoredCode(
        code_hash="h",
        client_id="ag_123",
        account_id="acc_1",
        sid="sid_1",
        redirect_uri="https://a.example.gov.uk/cb",
        scope="openid  profile",
        nonce=None,
        code_challenge="c",
        claims=None,
        acr="urn:gaap:loa:1",
        amr=["pwd"],
        auth_time=now,
        created_at=now,
        expires_at=now + timedelta(seconds=60),
    )
    assert code.grant() == Grant(
        "ag_123", "acc_1", "sid_1", ("openid", "profile"), None, "urn:gaap:loa:1", ["pwd"], now
    )


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (None, ("openid", "email", "offline_access")),
        ("", ("openid", "email", "offline_access")),
        ("openid email offline_access", ("openid", "email", "offline_access")),
        ("email openid email", ("email", "openid")),
        ("openid", ("openid",)),
    ],
)
def test_a_refresh_gets_the_grant_or_exactly_a_narrower_ask(
    asked: str | None, expected: tuple[str, ...]
) -> None:
    registered = ("openid", "email", "offline_access", "profile")
    assert narrowed_scopes("openid email offline_access", registered, asked) == expected


def test_a_refresh_never_gets_more_than_the_grant_or_todays_registration() -> None:
    with pytest.raises(GrantError) as info:
        narrowed_scopes("openid email", ("openid", "email", "profile"), "openid profile")
    assert (info.value.error, info.value.description) == (
        "invalid_scope",
        "scope exceeds the original grant",
    )
    # email was granted but the agency is no longer registered for it.
    assert narrowed_scopes("openid email", ("openid",), None) == ("openid",)
    with pytest.raises(GrantError):
        narrowed_scopes("openid email", ("openid",), "email")


def test_pkce_s256_and_verifier_shape() -> None:
    # RFC 7636 appendix B.
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    assert well_formed_verifier("a" * 43)
    assert well_formed_verifier("A-._~" * 25 + "abc")
    assert not well_formed_verifier("a" * 42)
    assert not well_formed_verifier("a" * 129)
    assert not well_formed_verifier("a" * 42 + "+")
    assert not well_formed_verifier(None)
    assert not well_formed_verifier("")
    assert hash_value("code") == (
        "5694d08a2e53ffcae0c3103e5ad6f6076abd960eb1f8a56577040bc1028f702b"
    )


# --- an agency's own access token ----------------------------------------------------


def test_an_agencys_access_token_claims(now: datetime) -> None:
    agency = register(
        name="HM Passport Office", scopes=["payments:read", "notify:send"], mode="live", now=now
    ).agency
    claims = claims_for_agency(
        agency,
        ("payments:read", "notify:send"),
        issuer="https://identity.example",
        now=1_000,
        ttl=300,
    )
    jti = claims.pop("jti")
    assert claims == {
        "iss": "https://identity.example",
        "sub": agency.client_id,
        "client_id": agency.client_id,
        "aud": ["urn:gaap:notify", "urn:gaap:payments"],
        "iat": 1_000,
        "exp": 1_300,
        "scope": "payments:read notify:send",
        "gaap_mode": "live",
        "gaap_agency_name": "HM Passport Office",
    }
    # 128 random bits, base64url without padding.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", jti)
    second = claims_for_agency(agency, ("notify:send",), issuer="i", now=1_000, ttl=300)
    assert second["jti"] != jti


def test_granted_scopes_are_the_service_scopes_or_exactly_the_ask(now: datetime) -> None:
    agency = register(
        name="Agency", scopes=["openid", "payments:read", "notify:send"], now=now
    ).agency
    assert granted_scopes(agency, None) == ("payments:read", "notify:send")
    assert granted_scopes(agency, "") == ("payments:read", "notify:send")
    assert granted_scopes(agency, "notify:send notify:send payments:read") == (
        "notify:send",
        "payments:read",
    )


# --- subject identifiers -------------------------------------------------------------


def test_a_pairwise_subject_is_the_unpadded_salted_hash_of_sector_and_account(
    now: datetime,
) -> None:
    salt = b"instance-salt"
    agency = register(name="Agency", scopes=["openid"], now=now).agency
    digest = hmac.new(salt, f"{agency.client_id}\0acc_1".encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(digest).decode()
    assert expected.endswith("=")
    assert subject_for("acc_1", agency, salt) == expected[:-1]
    assert len(subject_for("acc_1", agency, salt)) == 43
    shared = register(
        name="Other", scopes=["openid"], sector_identifier="https://sector.example", now=now
    ).agency
    digest = hmac.new(salt, b"https://sector.example\0acc_1", hashlib.sha256).digest()
    assert subject_for("acc_1", shared, salt) == base64.urlsafe_b64encode(digest).decode()[:-1]


def test_a_public_subject_is_the_account_id(now: datetime) -> None:
    agency = register(name="Agency", scopes=["openid"], subject_type="public", now=now).agency
    assert subject_for("acc_1", agency, b"salt") == "acc_1"
