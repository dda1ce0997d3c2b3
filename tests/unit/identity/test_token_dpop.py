"""DPoP at identity's token side (RFC 9449 §5, §6, §8, §10), on in-memory fakes:
citizens' tokens bound to the proof's key, bound codes and refresh tokens, agencies
that must bind, the fapi2 profile's client authentication, introspection,
revocation and server nonces."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.datastructures import Headers

from services.identity.domain.agencies import Agency, hash_secret
from services.identity.domain.citizen_tokens import GrantError, TokenSet, hash_value
from services.identity.service_layer.introspection import Introspector
from services.identity.service_layer.tokens import AccessTokenIssuer
from services.identity.web.oauth_server import TokenServer
from services.runtime.access_tokens import AccessTokenVerifier, audience_for
from services.runtime.dpop import DpopVerifier, MemoryReplays
from services.runtime.dpop_nonce import DpopNonces
from services.runtime.keys import KeyCache
from tests.support.dpop_proofs import Prover
from tests.unit.identity.token_world import (
    ISSUER,
    REDIRECT_URI,
    World,
    agency,
    new_verifier,
    world,
)

TOKEN_ENDPOINT = ISSUER + "/oauth2/token"
REVOKE_ENDPOINT = ISSUER + "/oauth2/revoke"
SECRET = "s3cret-of-agency-one"
BASIC = {"authorization": "Basic " + base64.b64encode(f"ag_one:{SECRET}".encode()).decode()}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SERVICE_SCOPES = ("openid", "offline_access", "payments:read")


@pytest.fixture
def w() -> World:
    w = world()
    w.agencies.rows["ag_one"] = agency(secret_hash=hash_secret(SECRET), scopes=SERVICE_SCOPES)
    w.agencies.rows["ag_pub"] = agency("ag_pub", auth_methods=("none",))
    return w


def server(w: World, nonces: DpopNonces | None = None) -> TokenServer:
    return TokenServer(
        registry=w.agencies,
        tokens=AccessTokenIssuer(w.keys, issuer=ISSUER, ttl_seconds=300, clock=w.clock.timestamp),
        citizen_tokens=w.tokens,
        introspector=introspector(w),
        assertions=w.state.assertions.first_use,
        issuer=ISSUER,
        token_endpoint=TOKEN_ENDPOINT,
        dpop=DpopVerifier(replays=MemoryReplays()),
        nonces=nonces,
    )


def introspector(w: World) -> Introspector:
    verifier = AccessTokenVerifier(
        issuer=ISSUER,
        audience=[w.tokens.userinfo_audience, audience_for("payments")],
        keys=KeyCache(w.keys.jwks, max_age=0, min_refresh_interval=0),
        clock=w.clock.timestamp,
    )
    return Introspector(verifier, w.tokens, w.agencies, clock=w.clock.timestamp)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


def post(
    w: World,
    form: dict[str, str],
    *,
    auth: dict[str, str] | None = None,
    proof: str | None = None,
    nonces: DpopNonces | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = dict(BASIC if auth is None else auth)
    if proof is not None:
        headers["dpop"] = proof
    status, body, answer = server(w, nonces).token_response(form, Headers(headers))
    return status, body, dict(answer)


def code_form(code: str, verifier: str, client_id: str | None = None) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    return {**form, "client_id": client_id} if client_id else form


def redeem(
    w: World, client: str = "ag_one", proof: str | None = None, dpop_jkt: str | None = None
) -> tuple[int, dict[str, Any], str]:
    verifier = new_verifier()
    code = w.code(w.agencies.rows[client], verifier, dpop_jkt=dpop_jkt)
    auth = BASIC if client == "ag_one" else {}
    status, body, _ = post(
        w, code_form(code, verifier, None if client == "ag_one" else client), auth=auth, proof=proof
    )
    return status, body, code


def token_proof(key: Prover, endpoint: str = TOKEN_ENDPOINT) -> str:
    return key.proof("POST", endpoint)


# -- 1. the authorization code grant ------------------------------------------------


def test_a_code_redeemed_with_a_proof_gives_a_bound_dpop_token(w: World) -> None:
    key = Prover()
    status, body, _ = redeem(w, proof=token_proof(key))
    assert status == 200
    assert body["token_type"] == "DPoP"
    claims = claims_of(body["access_token"])
    assert claims["cnf"] == {"jkt": key.jkt}
    record = w.state.user_tokens.rows[claims["jti"]]
    assert record.dpop_jkt == key.jkt


def test_a_code_redeemed_without_a_proof_gives_a_bearer_token(w: World) -> None:
    status, body, _ = redeem(w)
    assert (status, body["token_type"]) == (200, "Bearer")
    assert "cnf" not in claims_of(body["access_token"])


def test_a_code_bound_to_a_key_needs_a_proof_by_it_and_stays_usable_when_refused(
    w: World,
) -> None:
    key = Prover()
    verifier = new_verifier()
    code = w.code(w.agencies.rows["ag_one"], verifier, dpop_jkt=key.jkt)
    form = code_form(code, verifier)
    status, body, _ = post(w, form)
    assert (status, body["error"]) == (400, "invalid_dpop_proof")
    assert body["error_description"].startswith("DPoP proof required")
    status, body, _ = post(w, form, proof=token_proof(Prover()))
    assert (status, body["error"]) == (400, "invalid_grant")
    assert body["error_description"] == "the authorization code is bound to another DPoP key"
    assert w.state.authorization_codes.get(hash_value(code)).used_at is None  # type: ignore[union-attr]
    status, body, _ = post(w, form, proof=token_proof(key))
    assert (status, body["token_type"]) == (200, "DPoP")


def test_create_code_stores_the_requests_dpop_jkt(w: World) -> None:
    code = w.code(w.agencies.rows["ag_one"], new_verifier(), dpop_jkt="jkt-1")
    assert w.state.authorization_codes.get(hash_value(code)).dpop_jkt == "jkt-1"  # type: ignore[union-attr]


def test_the_use_case_refuses_a_bound_code_without_its_key(w: World) -> None:
    client = w.agencies.rows["ag_one"]
    verifier = new_verifier()
    code = w.code(client, verifier, dpop_jkt="jkt-1")
    with pytest.raises(GrantError) as refused:
        w.tokens.redeem_code(client, code, REDIRECT_URI, verifier, dpop_jkt="jkt-2")
    assert refused.value.error == "invalid_grant"
    issued = w.tokens.redeem_code(client, code, REDIRECT_URI, verifier, dpop_jkt="jkt-1")
    assert issued.token_type == "DPoP"


# -- 2. the refresh grant --------------------------------------------------------------


def refresh_form(refresh_token: str, client_id: str | None = None) -> dict[str, str]:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return {**form, "client_id": client_id} if client_id else form


def test_a_public_agencys_refresh_token_is_bound_to_the_proofs_key(w: World) -> None:
    key = Prover()
    status, body, _ = redeem(w, "ag_pub", proof=token_proof(key))
    assert status == 200
    refresh = body["refresh_token"]
    assert w.state.user_tokens.rows[hash_value(refresh)].dpop_jkt == key.jkt
    form = refresh_form(refresh, "ag_pub")
    status, missing, _ = post(w, form, auth={})
    assert (status, missing["error"]) == (400, "invalid_dpop_proof")
    status, other, _ = post(w, form, auth={}, proof=token_proof(Prover()))
    assert (status, other["error"]) == (400, "invalid_grant")
    # neither refusal used the token up nor revoked its family
    assert all(r.revoked_at is None for r in w.state.user_tokens.rows.values())
    status, rotated, _ = post(w, form, auth={}, proof=token_proof(key))
    assert (status, rotated["token_type"]) == (200, "DPoP")
    assert claims_of(rotated["access_token"])["cnf"] == {"jkt": key.jkt}
    assert w.state.user_tokens.rows[hash_value(rotated["refresh_token"])].dpop_jkt == key.jkt


def test_a_confidential_agencys_refresh_token_is_not_bound_but_the_new_access_token_is(
    w: World,
) -> None:
    status, body, _ = redeem(w, proof=token_proof(Prover()))
    assert status == 200
    assert w.state.user_tokens.rows[hash_value(body["refresh_token"])].dpop_jkt is None
    later = Prover()
    status, rotated, _ = post(w, refresh_form(body["refresh_token"]), proof=token_proof(later))
    assert (status, rotated["token_type"]) == (200, "DPoP")
    assert claims_of(rotated["access_token"])["cnf"] == {"jkt": later.jkt}
    status, bearer, _ = post(w, refresh_form(rotated["refresh_token"]))
    assert (status, bearer["token_type"]) == (200, "Bearer")


# -- 3. agencies that must bind --------------------------------------------------------


def must_bind(w: World, client: str, **changes: Any) -> None:
    w.agencies.rows[client] = dataclasses.replace(w.agencies.rows[client], **changes)


@pytest.mark.parametrize("grant", ["client_credentials", "authorization_code", "refresh_token"])
def test_an_agency_with_dpop_bound_access_tokens_gets_no_token_without_a_proof(
    w: World, grant: str
) -> None:
    verifier = new_verifier()
    code = w.code(w.agencies.rows["ag_one"], verifier)
    _, first, _ = post(w, code_form(code, verifier))
    must_bind(w, "ag_one", dpop_bound_access_tokens=True)
    code = w.code(w.agencies.rows["ag_one"], verifier)
    forms = {
        "client_credentials": {"grant_type": "client_credentials"},
        "authorization_code": code_form(code, verifier),
        "refresh_token": refresh_form(first["refresh_token"]),
    }
    status, body, _ = post(w, forms[grant])
    assert (status, body["error"]) == (400, "invalid_dpop_proof")
    assert body["error_description"].startswith("DPoP proof required")
    status, body, _ = post(w, forms[grant], proof=token_proof(Prover()))
    assert (status, body["token_type"]) == (200, "DPoP"), body


def test_a_fapi2_agency_gets_no_token_without_a_proof_at_the_use_case(w: World) -> None:
    fapi2 = dataclasses.replace(w.agencies.rows["ag_one"], profile="fapi2")
    issuer = AccessTokenIssuer(w.keys, issuer=ISSUER, ttl_seconds=300)
    with pytest.raises(GrantError) as refused:
        issuer.issue(fapi2, ("payments:read",))
    assert refused.value.error == "invalid_dpop_proof"
    assert "cnf" in claims_of(issuer.issue(fapi2, ("payments:read",), "jkt").access_token)


# -- 4. the fapi2 profile's client authentication -----------------------------------------


class Signer:
    def __init__(self, alg: str) -> None:
        self.alg = alg
        if alg == "ES256":
            self.key: Any = ec.generate_private_key(ec.SECP256R1())
            public = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        else:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jwks = {"keys": [{**public, "kid": "k1", "alg": alg}]}

    def form(self, aud: Any, client_id: str = "ag_fapi") -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": aud,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        assertion = jwt.encode(claims, self.key, algorithm=self.alg, headers={"kid": "k1"})
        return {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }


def fapi2_agency(w: World, signer: Signer, **changes: Any) -> Agency:
    made = agency(
        "ag_fapi",
        scopes=("payments:read",),
        auth_methods=("private_key_jwt",),
        jwks=signer.jwks,
        profile="fapi2",
        dpop_bound_access_tokens=True,
        **changes,
    )
    w.agencies.rows["ag_fapi"] = made
    return made


@pytest.mark.parametrize("aud", [ISSUER, [ISSUER]])
@pytest.mark.parametrize("alg", ["ES256", "PS256"])
def test_a_fapi2_agency_authenticates_with_the_issuer_as_audience(
    w: World, aud: Any, alg: str
) -> None:
    signer = Signer(alg)
    fapi2_agency(w, signer)
    status, body, _ = post(w, signer.form(aud), auth={}, proof=token_proof(Prover()))
    assert (status, body.get("token_type")) == (200, "DPoP"), body


@pytest.mark.parametrize(
    "aud", [TOKEN_ENDPOINT, [ISSUER, TOKEN_ENDPOINT], ISSUER + "/", [TOKEN_ENDPOINT]]
)
def test_a_fapi2_agencys_assertion_must_name_the_issuer_alone(w: World, aud: Any) -> None:
    signer = Signer("ES256")
    fapi2_agency(w, signer)
    status, body, _ = post(w, signer.form(aud), auth={}, proof=token_proof(Prover()))
    assert (status, body["error"]) == (400, "invalid_client")


def test_a_fapi2_agency_cannot_sign_its_assertion_with_rs256(w: World) -> None:
    signer = Signer("RS256")
    fapi2_agency(w, signer)
    status, body, _ = post(w, signer.form(ISSUER), auth={}, proof=token_proof(Prover()))
    assert (status, body["error"]) == (400, "invalid_client")
    assert "ES256 or PS256" in body["error_description"]


def test_a_standard_agency_may_still_use_rs256_and_the_token_endpoint_audience(
    w: World,
) -> None:
    signer = Signer("RS256")
    fapi2_agency(w, signer)
    must_bind(w, "ag_fapi", profile="standard", dpop_bound_access_tokens=False)
    status, body, _ = post(w, signer.form(TOKEN_ENDPOINT), auth={})
    assert status == 200, body


def test_a_fapi2_agency_cannot_use_a_client_secret_even_if_registered_for_it(w: World) -> None:
    fapi2_agency(
        w,
        Signer("ES256"),
        secret_hash=hash_secret("fapi-secret"),
    )
    must_bind(w, "ag_fapi", auth_methods=("client_secret_basic", "private_key_jwt"))
    basic = "Basic " + base64.b64encode(b"ag_fapi:fapi-secret").decode()
    status, body, _ = post(
        w,
        {"grant_type": "client_credentials"},
        auth={"authorization": basic},
        proof=token_proof(Prover()),
    )
    assert (status, body["error"]) == (401, "invalid_client")


# -- 5. introspection and revocation --------------------------------------------------------


def test_introspection_reports_the_key_of_a_bound_citizen_token(w: World) -> None:
    key = Prover()
    _, body, _ = redeem(w, proof=token_proof(key))
    answer = introspector(w).introspect(body["access_token"], "ag_one")
    assert (answer["token_type"], answer["cnf"]) == ("DPoP", {"jkt": key.jkt})
    _, bearer, _ = redeem(w)
    answer = introspector(w).introspect(bearer["access_token"], "ag_one")
    assert answer["token_type"] == "Bearer"
    assert "cnf" not in answer


def test_introspection_reports_the_key_of_a_bound_agency_token(w: World) -> None:
    key = Prover()
    _, body, _ = post(w, {"grant_type": "client_credentials"}, proof=token_proof(key))
    answer = introspector(w).introspect(body["access_token"], "ag_one")
    assert answer["active"] is True
    assert (answer["token_type"], answer["cnf"]) == ("DPoP", {"jkt": key.jkt})


def test_a_bound_refresh_token_is_revoked_only_with_a_proof_by_its_key(w: World) -> None:
    key = Prover()
    _, body, _ = redeem(w, "ag_pub", proof=token_proof(key))
    form = {"token": body["refresh_token"], "client_id": "ag_pub"}

    def revoke(proof: str | None) -> tuple[int, dict[str, Any]]:
        headers = Headers({"dpop": proof} if proof else {})
        status, answer, _ = server(w).revocation_response(form, headers)
        return status, answer

    assert revoke(None) == (
        400,
        {
            "error": "invalid_dpop_proof",
            "error_description": "DPoP proof required: the refresh token is bound to a DPoP key",
        },
    )
    assert revoke(token_proof(Prover(), REVOKE_ENDPOINT))[1]["error"] == "invalid_grant"
    assert revoke(token_proof(key))[1]["error"] == "invalid_dpop_proof"  # htu: token endpoint
    assert all(r.revoked_at is None for r in w.state.user_tokens.rows.values())
    assert revoke(token_proof(key, REVOKE_ENDPOINT))[0] == 200
    assert all(r.revoked_at is not None for r in w.state.user_tokens.rows.values())


def test_an_unbound_token_is_revoked_without_a_proof(w: World) -> None:
    _, body, _ = redeem(w, "ag_pub")
    form = {"token": body["refresh_token"], "client_id": "ag_pub"}
    assert server(w).revocation_response(form, Headers({}))[0] == 200
    assert all(r.revoked_at is not None for r in w.state.user_tokens.rows.values())


# -- 6. server nonces at the token endpoint -----------------------------------------------


def test_with_nonces_a_proof_needs_the_current_nonce_and_every_answer_carries_one(
    w: World,
) -> None:
    nonces = DpopNonces(b"n" * 32)
    key = Prover()
    form = {"grant_type": "client_credentials"}
    status, body, headers = post(w, form, proof=key.proof("POST", TOKEN_ENDPOINT), nonces=nonces)
    assert (status, body["error"]) == (400, "use_dpop_nonce")
    nonce = headers["DPoP-Nonce"]
    assert nonces.valid(nonce)
    stale = key.proof("POST", TOKEN_ENDPOINT, nonce="not-the-nonce")
    assert post(w, form, proof=stale, nonces=nonces)[1]["error"] == "use_dpop_nonce"
    fresh = key.proof("POST", TOKEN_ENDPOINT, nonce=nonce)
    status, body, headers = post(w, form, proof=fresh, nonces=nonces)
    assert (status, body["token_type"]) == (200, "DPoP")
    assert nonces.valid(headers["DPoP-Nonce"])
    status, _, headers = post(w, form, auth={}, nonces=nonces)  # even a refusal
    assert status == 401
    assert "DPoP-Nonce" in headers


def test_without_nonces_no_nonce_is_asked_or_given(w: World) -> None:
    status, _, headers = post(w, {"grant_type": "client_credentials"}, proof=token_proof(Prover()))
    assert status == 200
    assert "DPoP-Nonce" not in headers


def test_token_set_says_its_type() -> None:
    assert TokenSet("at", 1, "openid", None, None, "DPoP").response()["token_type"] == "DPoP"


def test_at_the_pushed_authorization_endpoint_too_a_fapi2_assertion_names_the_issuer(
    w: World,
) -> None:
    signer = Signer("ES256")
    fapi2_agency(w, signer)
    pushed = ISSUER + "/par"
    par_server = TokenServer(
        registry=w.agencies,
        tokens=AccessTokenIssuer(w.keys, issuer=ISSUER, ttl_seconds=300),
        citizen_tokens=w.tokens,
        introspector=introspector(w),
        assertions=w.state.assertions.first_use,
        issuer=ISSUER,
        token_endpoint=TOKEN_ENDPOINT,
        pushed_endpoint=pushed,
    )
    refused = par_server.authenticated(signer.form(pushed), Headers({}), "pushed_authorization")
    assert isinstance(refused, tuple)
    assert refused[1]["error"] == "invalid_client"
    client = par_server.authenticated(signer.form(ISSUER), Headers({}), "pushed_authorization")
    assert not isinstance(client, tuple)
    assert client.agency.client_id == "ag_fapi"
