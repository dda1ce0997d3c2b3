"""Redeeming an authorization code (RFC 6749 §4.1.3, RFC 7636, RFC 9700 §4.5):
on in-memory fakes of identity's token stores."""

from __future__ import annotations

import json

import pytest
from joserfc import jws

from services.identity.domain.audit import EventType
from services.identity.domain.citizen_tokens import GrantError, hash_value
from services.identity.service_layer.jwt_minting import at_hash
from tests.unit.identity.token_world import (
    CITIZEN_SCOPES,
    REDIRECT_URI,
    World,
    agency,
    new_verifier,
    world,
)


@pytest.fixture
def w() -> World:
    return world()


def claims_of(token: str) -> dict[str, object]:
    payload: dict[str, object] = json.loads(jws.extract_compact(token.encode()).payload)
    return payload


def refused(call: object, error: str, description: str) -> None:
    assert isinstance(call, GrantError)
    assert (call.error, call.description) == (error, description)


def test_a_code_redeemed_with_its_verifier_gives_signed_tokens_and_records_them(w: World) -> None:
    client = w.agencies.rows["ag_one"]
    verifier = new_verifier()
    code = w.code(client, verifier)

    issued = w.tokens.redeem_code(client, code, REDIRECT_URI, verifier)

    principal, claims = w.verifier().verify_with_claims(issued.access_token)
    assert principal.client_id == "ag_one"
    assert claims["sub"] == w.tokens.subject("acc_1", client)
    assert (claims["acr"], claims["amr"], claims["sid"]) == ("Cl", ["pwd"], "sid_1")
    id_claims = claims_of(issued.id_token or "")
    assert id_claims["aud"] == "ag_one"
    assert id_claims["nonce"] == "n-1"
    assert id_claims["at_hash"] == at_hash(issued.access_token, "ES256")
    assert issued.scope == " ".join(CITIZEN_SCOPES)
    assert issued.refresh_token
    assert issued.refresh_token.startswith("rt_")
    access = w.state.user_tokens.get(claims["jti"])
    refresh = w.state.user_tokens.get(hash_value(issued.refresh_token))
    assert access is not None
    assert access.kind == "access"
    assert refresh is not None
    assert refresh.kind == "refresh"
    assert access.family == refresh.family is not None
    assert w.state.authorization_codes.get(hash_value(code)).used_at == w.clock.now  # type: ignore[union-attr]


def test_the_id_token_carries_only_claims_asked_for_it_and_the_agency_may_have(w: World) -> None:
    client = w.agencies.rows["ag_one"]
    verifier = new_verifier()
    asked = {"id_token": {"email": None, "phone_number": None}}
    code = w.code(client, verifier, claims=asked)
    issued = w.tokens.redeem_code(client, code, REDIRECT_URI, verifier)
    id_claims = claims_of(issued.id_token or "")
    assert id_claims["email"] == "ada@example.org"
    assert "phone_number" not in id_claims
    assert "given_name" not in id_claims


def test_without_offline_access_there_is_no_refresh_token(w: World) -> None:
    client = w.agencies.rows["ag_one"]
    verifier = new_verifier()
    code = w.code(client, verifier, scopes=("openid", "email"))
    issued = w.tokens.redeem_code(client, code, REDIRECT_URI, verifier)
    assert issued.refresh_token is None
    (record,) = w.state.user_tokens.rows.values()
    assert record.family is None


@pytest.mark.parametrize(
    ("verifier", "description"),
    [
        (None, "a valid code_verifier (PKCE) is required"),
        ("short", "a valid code_verifier (PKCE) is required"),
        ("x" * 43, "code_verifier does not match code_challenge"),
    ],
)
def test_a_missing_or_wrong_pkce_verifier_is_refused_and_the_code_stays_unused(
    w: World, verifier: str | None, description: str
) -> None:
    client = w.agencies.rows["ag_one"]
    code = w.code(client, new_verifier())
    with pytest.raises(GrantError) as refusal:
        w.tokens.redeem_code(client, code, REDIRECT_URI, verifier)
    refused(refusal.value, "invalid_grant", description)
    assert w.state.authorization_codes.get(hash_value(code)).used_at is None  # type: ignore[union-attr]
    assert w.state.user_tokens.rows == {}


def test_a_code_is_refused_to_another_agency_with_another_redirect_or_once_expired(
    w: World,
) -> None:
    client = w.agencies.rows["ag_one"]
    verifier = new_verifier()
    code = w.code(client, verifier)
    other = agency("ag_two")
    with pytest.raises(GrantError) as refusal:
        w.tokens.redeem_code(other, code, REDIRECT_URI, verifier)
    refused(refusal.value, "invalid_grant", "unknown authorization code")
    with pytest.raises(GrantError) as refusal:
        w.tokens.redeem_code(client, code, REDIRECT_URI + "/x", verifier)
    refused(refusal.value, "invalid_grant", "redirect_uri does not match the authorization")
    with pytest.raises(GrantError) as refusal:
        w.tokens.redeem_code(client, "", REDIRECT_URI, verifier)
    refused(refusal.value, "invalid_request", "code is required")
    w.clock.advance(seconds=60)
    with pytest.raises(GrantError) as refusal:
        w.tokens.redeem_code(client, code, REDIRECT_URI, verifier)
    refused(refusal.value, "invalid_grant", "authorization code expired")
    assert w.state.user_tokens.rows == {}


def test_a_code_used_twice_revokes_every_token_it_gave(w: World) -> None:
    client = w.agencies.rows["ag_one"]
    verifier = new_verifier()
    code = w.code(client, verifier)
    first = w.tokens.redeem_code(client, code, REDIRECT_URI, verifier)
    assert first.refresh_token

    with pytest.raises(GrantError) as refusal:
        w.tokens.redeem_code(client, code, REDIRECT_URI, verifier)

    refused(
        refusal.value,
        "invalid_grant",
        "authorization code already used; its tokens are revoked",
    )
    assert all(r.revoked_at == w.clock.now for r in w.state.user_tokens.rows.values())
    assert len(w.state.user_tokens.rows) == 2
    (event,) = w.state.audit.events
    assert event.type is EventType.CODE_REUSED
    assert event.details == {"revoked_tokens": 2}
    assert (event.account_id, event.client_id) == ("acc_1", "ag_one")


def test_a_deleted_account_gets_no_tokens_and_the_code_stays_unused(w: World) -> None:
    client = w.agencies.rows["ag_one"]
    verifier = new_verifier()
    code = w.code(client, verifier, account_id="acc_gone")
    with pytest.raises(GrantError) as refusal:
        w.tokens.redeem_code(client, code, REDIRECT_URI, verifier)
    refused(refusal.value, "invalid_grant", "the account no longer exists")
    assert w.state.authorization_codes.get(hash_value(code)).used_at is None  # type: ignore[union-attr]


def test_an_rs256_agency_gets_its_id_token_signed_with_rs256(w: World) -> None:
    client = agency(id_token_alg="RS256")
    verifier = new_verifier()
    code = w.code(client, verifier)
    issued = w.tokens.redeem_code(client, code, REDIRECT_URI, verifier)
    header = jws.extract_compact((issued.id_token or "").encode()).headers()
    assert header["alg"] == "RS256"
    assert header["kid"] in {k["kid"] for k in w.keys.jwks()["keys"]}
    assert jws.extract_compact(issued.access_token.encode()).headers()["typ"] == "at+jwt"
