"""The sign-in helper against the real identity: authorization URL with state,
nonce and PKCE; the code exchange; the ID token validated locally (algorithm,
issuer, audience, nonce, acr) against identity's JWKS."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gaap_client import ClientSecret, OpenIdClient, PendingSignIn, SignInError
from tests.integration.oidc.conftest import CITIZEN_SCOPES, Citizen, make_citizen
from tests.support.oidc import CALLBACK, CitizenBrowser, callback_params
from tests.support.platform import Platform


def _client(platform: Platform) -> OpenIdClient:
    created = platform.admin.registry.create(
        name="Parking permits", scopes=CITIZEN_SCOPES, redirect_uris=[CALLBACK]
    )
    assert created.client_secret
    return OpenIdClient(
        platform.settings.issuer,
        ClientSecret(created.agency.client_id, created.client_secret),
        CALLBACK,
    )


def _callback(platform: Platform, pending: PendingSignIn, citizen: Citizen) -> dict[str, str]:
    browser = CitizenBrowser(platform.identity.http_url)
    try:
        response = browser.sign_in(
            pending.url, citizen.email, citizen.password, citizen.totp_secret
        )
    finally:
        browser.client.close()
    return callback_params(response)


def test_sign_in_at_cl_cm_with_pkce_and_local_id_token_validation(platform: Platform) -> None:
    client = _client(platform)
    citizen = make_citizen(platform)
    pending = client.start(scope="openid profile email")
    assert "code_challenge_method=S256" in pending.url
    assert "acr_values=Cl.Cm" in pending.url
    assert pending.code_verifier not in pending.url
    signed_in = client.finish(pending, _callback(platform, pending, citizen))
    assert signed_in.acr == "Cl.Cm"
    assert signed_in.claims["nonce"] == pending.nonce
    assert signed_in.claims["aud"] == client.client_id
    assert signed_in.profile["email"] == citizen.email
    assert signed_in.profile["given_name"] == "Ada"
    # The pending sign-in survives a round trip through the app's session store.
    assert PendingSignIn.from_dict(json.loads(json.dumps(pending.to_dict()))) == pending


def test_a_callback_with_another_state_is_refused_before_the_code_is_used(
    platform: Platform,
) -> None:
    client = _client(platform)
    citizen = make_citizen(platform)
    pending = client.start()
    params = _callback(platform, pending, citizen)
    with pytest.raises(SignInError) as refused:
        client.finish(pending, {**params, "state": "forged"})
    assert refused.value.error == "invalid_state"
    assert client.finish(pending, params).subject  # the code was not spent


def test_an_error_from_identity_is_raised(platform: Platform) -> None:
    client = _client(platform)
    pending = client.start()
    params = {"state": pending.state, "error": "access_denied", "iss": client.issuer}
    with pytest.raises(SignInError) as denied:
        client.finish(pending, params)
    assert denied.value.error == "access_denied"
    with pytest.raises(SignInError) as mixed_up:
        client.finish(pending, {**params, "iss": "https://evil.example"})
    assert mixed_up.value.error == "invalid_issuer"


def _token(platform: Platform, client: OpenIdClient, citizen: Citizen) -> tuple[str, str]:
    pending = client.start()
    params = _callback(platform, pending, citizen)
    signed_in = client.finish(pending, params)
    return signed_in.id_token, pending.nonce


def test_id_token_rules(platform: Platform) -> None:
    client = _client(platform)
    citizen = make_citizen(platform)
    id_token, nonce = _token(platform, client, citizen)
    assert client.validate_id_token(id_token, nonce=nonce, acr_values=["Cl.Cm"])["sub"]

    def refused(token: str, **rules: object) -> str:
        with pytest.raises(SignInError) as error:
            client.validate_id_token(token, **{"nonce": nonce, **rules})  # type: ignore[arg-type]
        return error.value.description

    assert "nonce" in refused(id_token, nonce="other")
    assert "Cl" in refused(id_token, acr_values=["Cl.Cm.Xx"])
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged_payload = (
        base64.urlsafe_b64encode(json.dumps({**claims, "sub": "someone"}).encode())
        .decode()
        .rstrip("=")
    )
    assert "Signature" in refused(f"{header}.{forged_payload}.{signature}")
    hs256 = jwt.encode(claims, "a-shared-secret-of-32-bytes-long!", algorithm="HS256")
    assert "HS256" in refused(hs256)
    unsigned = jwt.encode(claims, "", algorithm="none")
    assert "none" in refused(unsigned)
    other_key = ec.generate_private_key(ec.SECP256R1())
    kid = jwt.get_unverified_header(id_token)["kid"]
    wrong_key = jwt.encode(claims, other_key, algorithm="ES256", headers={"kid": kid})
    assert "Signature" in refused(wrong_key)
    unknown_kid = jwt.encode(claims, other_key, algorithm="ES256", headers={"kid": "nope"})
    assert "unknown key" in refused(unknown_kid)
    jku = jwt.encode(claims, other_key, algorithm="ES256", headers={"kid": kid, "jku": "https://x"})
    assert "outside keys" in refused(jku)


def test_a_token_for_another_client_or_from_the_future_is_refused(platform: Platform) -> None:
    citizen = make_citizen(platform)
    first, second = _client(platform), _client(platform)
    id_token, nonce = _token(platform, first, citizen)
    with pytest.raises(SignInError) as wrong_audience:
        second.validate_id_token(id_token, nonce=nonce)
    assert "audience" in wrong_audience.value.description.lower()
    yesterday = OpenIdClient(
        first.issuer, first.credentials, CALLBACK, leeway=0, clock=lambda: time.time() - 86400
    )
    with pytest.raises(SignInError) as early:
        yesterday.validate_id_token(id_token, nonce=nonce)
    assert early.value.description == "issued in the future"
