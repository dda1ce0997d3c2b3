"""DPoP for citizens' tokens over HTTP (RFC 9449 §5, §6.2, §7, §10), on SQLite and
PostgreSQL: a code redeemed with a proof gives a bound token that UserInfo takes
only as 'DPoP <token>' with a fresh proof by its key; codes bound by ``dpop_jkt``;
public agencies' bound refresh tokens; agencies that must bind; introspection's
``cnf``; revocation; the fapi2 profile's client authentication."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.integration.oidc.conftest import Citizen, make_rp
from tests.support.dpop_proofs import Prover
from tests.support.oidc import CitizenBrowser, RelyingParty, callback_params, decode_unverified
from tests.support.platform import ISSUER, TOKEN_ENDPOINT, Platform

USERINFO = ISSUER + "/userinfo"
REVOKE = ISSUER + "/oauth2/revoke"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def code_for(
    browser: CitizenBrowser, rp: RelyingParty, citizen: Citizen, **extra: str
) -> tuple[str, str]:
    request = rp.auth_request(scope="openid email offline_access", **extra)
    response = browser.sign_in(request.url, citizen.email, citizen.password, citizen.totp_secret)
    return callback_params(response)["code"], request.verifier


def token_call(rp: RelyingParty, proof: str | None, **form: str) -> httpx.Response:
    auth = (rp.client_id, rp.client_secret) if rp.client_secret else None
    if auth is None:
        form = {"client_id": rp.client_id, **form}
    headers = {"DPoP": proof} if proof else {}
    return httpx.post(f"{rp.base}/oauth2/token", data=form, auth=auth, headers=headers)


def redeem(rp: RelyingParty, code: str, verifier: str, proof: str | None) -> httpx.Response:
    return token_call(
        rp,
        proof,
        grant_type="authorization_code",
        code=code,
        redirect_uri=rp.redirect_uri,
        code_verifier=verifier,
    )


def userinfo(platform: Platform, headers: Any, method: str = "GET") -> httpx.Response:
    return httpx.request(method, platform.identity.http_url + "/userinfo", headers=headers)


def dpop(token: str, proof: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def test_a_code_redeemed_with_a_proof_gives_a_token_userinfo_takes_only_with_dpop(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    key = Prover()
    code, verifier = code_for(citizen_browser, rp, citizen)
    answer = redeem(rp, code, verifier, key.proof("POST", TOKEN_ENDPOINT))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "DPoP"
    token = body["access_token"]
    assert decode_unverified(token)["cnf"] == {"jkt": key.jkt}

    info = userinfo(platform, dpop(token, key.proof("GET", USERINFO, token)))
    assert info.status_code == 200, info.text
    assert info.json()["email"] == citizen.email
    posted = userinfo(platform, dpop(token, key.proof("POST", USERINFO, token)), "POST")
    assert posted.status_code == 200

    as_bearer = userinfo(platform, {"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401
    assert as_bearer.headers["www-authenticate"].startswith('DPoP error="invalid_token"')

    introspected = httpx.post(
        f"{rp.base}/oauth2/introspect",
        data={"token": token},
        auth=(rp.client_id, rp.client_secret or ""),
    ).json()
    assert introspected["active"] is True
    assert (introspected["token_type"], introspected["cnf"]) == ("DPoP", {"jkt": key.jkt})


def test_userinfo_refuses_every_bad_proof(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    key = Prover()
    code, verifier = code_for(citizen_browser, rp, citizen)
    token = redeem(rp, code, verifier, key.proof("POST", TOKEN_ENDPOINT)).json()["access_token"]
    bad = {
        "wrong htu": key.proof("GET", ISSUER + "/oauth2/token", token),
        "wrong htm": key.proof("POST", USERINFO, token),
        "wrong ath": key.proof("GET", USERINFO, token + "x"),
        "stale iat": key.proof("GET", USERINFO, token, iat=time.time() - 600),
        "alg none": key.unsigned("GET", USERINFO),
        "HS256": key.hs256("GET", USERINFO),
        "private key in the jwk": key.with_private_jwk("GET", USERINFO),
        "another key": Prover().proof("GET", USERINFO, token),
    }
    for case, proof in bad.items():
        refused = userinfo(platform, dpop(token, proof))
        assert refused.status_code == 401, case
        assert refused.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"'), (
            case
        )
    good = key.proof("GET", USERINFO, token)
    assert userinfo(platform, dpop(token, good)).status_code == 200
    replayed = userinfo(platform, dpop(token, good))
    assert replayed.status_code == 401
    assert "used before" in replayed.json()["error_description"]


def test_a_code_bound_by_dpop_jkt_is_redeemed_only_with_a_proof_by_that_key(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    key = Prover()
    code, verifier = code_for(citizen_browser, rp, citizen, dpop_jkt=key.jkt)
    missing = redeem(rp, code, verifier, None)
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_dpop_proof")
    other = redeem(rp, code, verifier, Prover().proof("POST", TOKEN_ENDPOINT))
    assert (other.status_code, other.json()["error"]) == (400, "invalid_grant")
    answer = redeem(rp, code, verifier, key.proof("POST", TOKEN_ENDPOINT))  # still usable
    assert answer.status_code == 200, answer.text
    assert decode_unverified(answer.json()["access_token"])["cnf"] == {"jkt": key.jkt}


def test_a_public_agencys_refresh_token_is_bound_to_its_key(
    platform: Platform, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    rp = make_rp(platform, public=True)
    key = Prover()
    code, verifier = code_for(citizen_browser, rp, citizen)
    refresh = redeem(rp, code, verifier, key.proof("POST", TOKEN_ENDPOINT)).json()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh}
    missing = token_call(rp, None, **form)
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_dpop_proof")
    other = token_call(rp, Prover().proof("POST", TOKEN_ENDPOINT), **form)
    assert (other.status_code, other.json()["error"]) == (400, "invalid_grant")
    rotated = token_call(rp, key.proof("POST", TOKEN_ENDPOINT), **form)  # family intact
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["token_type"] == "DPoP"

    revoke_form = {"token": rotated.json()["refresh_token"], "client_id": rp.client_id}
    unproven = httpx.post(f"{rp.base}/oauth2/revoke", data=revoke_form)
    assert (unproven.status_code, unproven.json()["error"]) == (400, "invalid_dpop_proof")
    revoked = httpx.post(
        f"{rp.base}/oauth2/revoke",
        data=revoke_form,
        headers={"DPoP": key.proof("POST", REVOKE)},
    )
    assert revoked.status_code == 200
    gone = token_call(rp, key.proof("POST", TOKEN_ENDPOINT), **form | revoke_form)
    assert gone.json()["error"] == "invalid_grant"


def test_an_agency_that_must_bind_gets_no_citizen_token_without_a_proof(
    platform: Platform, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    rp = make_rp(platform, dpop_bound_access_tokens=True)
    code, verifier = code_for(citizen_browser, rp, citizen)
    refused = redeem(rp, code, verifier, None)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_dpop_proof"
    assert refused.json()["error_description"].startswith("DPoP proof required")
    answer = redeem(rp, code, verifier, Prover().proof("POST", TOKEN_ENDPOINT))
    assert answer.status_code == 200, answer.text
    refreshed = token_call(
        rp, None, grant_type="refresh_token", refresh_token=answer.json()["refresh_token"]
    )
    assert refreshed.json()["error"] == "invalid_dpop_proof"


def test_an_agency_that_must_bind_gets_no_client_credentials_token_without_a_proof(
    platform: Platform,
) -> None:
    created = platform.admin.registry.create(
        name="Bound", scopes=["payments:read"], dpop_bound_access_tokens=True
    )
    auth = (created.agency.client_id, created.client_secret or "")
    form = {"grant_type": "client_credentials"}
    refused = httpx.post(platform.token_url, data=form, auth=auth)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_dpop_proof")
    bound = httpx.post(
        platform.token_url,
        data=form,
        auth=auth,
        headers={"DPoP": Prover().proof("POST", TOKEN_ENDPOINT)},
    )
    assert bound.json()["token_type"] == "DPoP"


class Fapi2Agency:
    def __init__(self, platform: Platform, alg: str = "ES256") -> None:
        if alg == "ES256":
            self.key: Any = ec.generate_private_key(ec.SECP256R1())
            public = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        else:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        public.update({"kid": "k1", "alg": alg})
        created = platform.admin.registry.create(
            name="FAPI agency",
            scopes=["payments:read"],
            jwks={"keys": [public]},
            profile="fapi2",
        )
        self.client_id = created.agency.client_id
        self.platform = platform

    def token(self, aud: Any, alg: str = "ES256") -> httpx.Response:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": aud,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        assertion = jwt.encode(claims, self.key, algorithm=alg, headers={"kid": "k1"})
        return httpx.post(
            self.platform.token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
            headers={"DPoP": Prover().proof("POST", TOKEN_ENDPOINT)},
        )


@pytest.mark.parametrize("aud", [ISSUER, [ISSUER]])
def test_a_fapi2_agency_authenticates_with_the_issuer_alone_as_audience(
    platform: Platform, aud: Any
) -> None:
    answer = Fapi2Agency(platform).token(aud)
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"


def test_a_fapi2_agencys_assertion_naming_the_token_endpoint_is_refused(
    platform: Platform,
) -> None:
    agency = Fapi2Agency(platform)
    for aud in (TOKEN_ENDPOINT, [ISSUER, TOKEN_ENDPOINT]):
        refused = agency.token(aud)
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_client"), aud
