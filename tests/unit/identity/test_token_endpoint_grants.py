"""The token endpoint's citizen grants (authlib's AuthorizationCodeGrant with
CodeChallenge and OpenIDCode, and RefreshTokenGrant) on in-memory fakes: the
protocol is authlib's, the rules are GaaP's, and a refusal after a reuse still
commits the revocation."""

from __future__ import annotations

import base64

import pytest
from starlette.datastructures import Headers

from services.identity.domain.agencies import hash_secret
from services.identity.domain.citizen_tokens import hash_value
from services.identity.service_layer.introspection import Introspector
from services.identity.service_layer.tokens import AccessTokenIssuer
from services.identity.web.oauth_server import TokenServer
from tests.unit.identity.token_world import (
    ISSUER,
    REDIRECT_URI,
    World,
    agency,
    new_verifier,
    world,
)

SECRET = "s3cret-of-agency-one"
BASIC = Headers(
    {"authorization": "Basic " + base64.b64encode(f"ag_one:{SECRET}".encode()).decode()}
)


@pytest.fixture
def w() -> World:
    w = world()
    w.agencies.rows["ag_one"] = agency(secret_hash=hash_secret(SECRET))
    return w


def server(w: World) -> TokenServer:
    return TokenServer(
        registry=w.agencies,
        tokens=AccessTokenIssuer(w.keys, issuer=ISSUER, ttl_seconds=300),
        citizen_tokens=w.tokens,
        introspector=Introspector(w.verifier(), w.tokens, w.agencies),
        assertions=w.state.assertions.first_use,
        issuer=ISSUER,
        token_endpoint=ISSUER + "/oauth2/token",
    )


def exchange(w: World, code: str, verifier: str | None) -> tuple[int, dict[str, object]]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        form["code_verifier"] = verifier
    status, body, headers = server(w).token_response(form, BASIC)
    assert ("Cache-Control", "no-store") in headers
    return status, body


def test_a_code_exchange_answers_tokens_with_an_id_token(w: World) -> None:
    verifier = new_verifier()
    status, body = exchange(w, w.code(w.agencies.rows["ag_one"], verifier), verifier)
    assert status == 200
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "id_token",
        "refresh_token",
    }
    assert w.uow.commits >= 1


@pytest.mark.parametrize("verifier", [None, "x" * 43, "short"])
def test_pkce_refusals_are_invalid_grant_and_leave_the_code_usable(
    w: World, verifier: str | None
) -> None:
    good = new_verifier()
    code = w.code(w.agencies.rows["ag_one"], good)
    status, body = exchange(w, code, verifier)
    assert (status, body["error"]) == (400, "invalid_grant")
    assert w.state.authorization_codes.get(hash_value(code)).used_at is None  # type: ignore[union-attr]
    assert exchange(w, code, good)[0] == 200


def test_a_reused_code_is_refused_and_its_tokens_stay_revoked(w: World) -> None:
    verifier = new_verifier()
    code = w.code(w.agencies.rows["ag_one"], verifier)
    assert exchange(w, code, verifier)[0] == 200
    status, body = exchange(w, code, verifier)
    assert (status, body["error"]) == (400, "invalid_grant")
    assert body["error_description"] == "authorization code already used; its tokens are revoked"
    assert all(r.revoked_at is not None for r in w.state.user_tokens.rows.values())


def test_refresh_rotates_and_a_replay_ends_the_family(w: World) -> None:
    verifier = new_verifier()
    _, first = exchange(w, w.code(w.agencies.rows["ag_one"], verifier), verifier)
    form = {"grant_type": "refresh_token", "refresh_token": str(first["refresh_token"])}
    status, second, _ = server(w).token_response(form, BASIC)
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert "id_token" in second
    status, replay, _ = server(w).token_response(form, BASIC)
    assert (status, replay["error"]) == (400, "invalid_grant")
    assert all(r.revoked_at is not None for r in w.state.user_tokens.rows.values())
    narrower = {**form, "refresh_token": str(second["refresh_token"]), "scope": "openid"}
    assert server(w).token_response(narrower, BASIC)[1]["error"] == "invalid_grant"


def test_a_wrong_secret_is_invalid_client_and_opens_nothing(w: World) -> None:
    verifier = new_verifier()
    code = w.code(w.agencies.rows["ag_one"], verifier)
    wrong = Headers({"authorization": "Basic " + base64.b64encode(b"ag_one:nope").decode()})
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    status, body, _ = server(w).token_response({**form, "code_verifier": verifier}, wrong)
    assert (status, body["error"]) == (401, "invalid_client")
    assert w.state.authorization_codes.get(hash_value(code)).used_at is None  # type: ignore[union-attr]
