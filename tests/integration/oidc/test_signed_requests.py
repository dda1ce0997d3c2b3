"""Signed request objects (RFC 9101), dpop_jkt and a DPoP proof at /par (RFC
9449 §10) and the FAPI 2.0 profile's authorization-side rules, against the real
identity on SQLite and PostgreSQL: each through HTTP, with the exact error a
refused request gets, shown on identity's page or redirected as the rules say,
and a request object's jti refused a second time by another replica."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from services.identity import bootstrap as identity_bootstrap
from services.runtime import process
from services.runtime.dpop import b64url
from tests.integration.oidc.conftest import CITIZEN_SCOPES, Citizen
from tests.support.dpop_proofs import Prover
from tests.support.oidc import CALLBACK, AuthRequest, CitizenBrowser, callback_params, pkce_pair
from tests.support.platform import ASSERTION_TYPE, ISSUER, Platform
from tests.support.request_objects import RequestSigner

URN = "urn:ietf:params:oauth:request_uri:"


class SigningAgency:
    """An agency registered with a signing key: it authenticates and signs with it."""

    def __init__(self, platform: Platform, **options: Any) -> None:
        self.platform = platform
        self.signer = RequestSigner()
        created = platform.admin.registry.create(
            name="Signed permits",
            scopes=CITIZEN_SCOPES,
            redirect_uris=[CALLBACK],
            jwks=self.signer.jwks,
            **options,
        )
        self.client_id = created.agency.client_id
        self.base = platform.identity.http_url

    def params(self, **extra: str) -> tuple[dict[str, str], AuthRequest]:
        verifier, challenge = pkce_pair()
        state, nonce = uuid.uuid4().hex, uuid.uuid4().hex
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid email",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        return params, AuthRequest("", state, nonce, verifier)

    def request_object(self, params: dict[str, str], **changes: Any) -> str:
        now = self.platform.clock().timestamp()
        return self.signer.sign(
            params, client_id=self.client_id, audience=ISSUER, now=now, **changes
        )

    def push(self, form: dict[str, str], headers: Any = None) -> httpx.Response:
        auth = {
            "client_id": self.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.signer.assertion(self.client_id, ISSUER),
        }
        return httpx.post(self.base + "/par", data={**form, **auth}, headers=headers)

    def authorize_url(self, **params: str) -> str:
        return f"{self.base}/authorize?{urlencode({'client_id': self.client_id, **params})}"

    def redeem(self, code: str, verifier: str, prover: Prover) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
            "client_id": self.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.signer.assertion(self.client_id, ISSUER),
        }
        proof = prover.proof("POST", ISSUER + "/oauth2/token")
        return httpx.post(self.platform.token_url, data=form, headers={"DPoP": proof})


@pytest.fixture
def agency(platform: Platform) -> SigningAgency:
    return SigningAgency(platform)


def shown_error(browser: CitizenBrowser, url: str, description: str) -> None:
    """Refused on identity's own page, never redirected to the agency."""
    response = browser.get(url)
    assert response.status_code == 400, response.text[:500]
    assert "location" not in response.headers
    assert description in response.text


def redirected_error(browser: CitizenBrowser, url: str, state: str) -> dict[str, str]:
    response = browser.get(url)
    assert response.status_code == 303, response.text[:500]
    assert response.headers["location"].startswith(CALLBACK + "?")
    back = callback_params(response)
    assert (back["state"], back["iss"]) == (state, ISSUER)
    return back


def refused_push(response: httpx.Response, error: str, description: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"error": error, "error_description": description}


# -- request objects at /authorize -------------------------------------------------------


def test_a_signed_request_at_authorize_is_the_request_and_the_outer_parameters_are_ignored(
    agency: SigningAgency, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    params, request = agency.params()
    url = agency.authorize_url(
        request=agency.request_object(params), state="outer", scope="openid phone"
    )
    done = citizen_browser.sign_in(url, citizen.email, citizen.password, citizen.totp_secret)
    back = callback_params(done)
    assert (back["state"], back["iss"]) == (request.state, ISSUER)
    prover = Prover()
    tokens = agency.redeem(back["code"], request.verifier, prover)
    assert tokens.status_code == 200, tokens.text
    claims = jwt.decode(tokens.json()["id_token"], options={"verify_signature": False})
    assert claims["nonce"] == request.nonce


def test_a_request_object_is_used_once_at_authorize(
    agency: SigningAgency, citizen_browser: CitizenBrowser
) -> None:
    params, _ = agency.params()
    url = agency.authorize_url(request=agency.request_object(params))
    first = citizen_browser.get(url)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/signin?auth=")
    shown_error(citizen_browser, url, "the request object was used before (jti)")


@pytest.mark.parametrize(
    ("changes", "description"),
    [
        ({"claims": {"aud": "https://elsewhere.example"}}, f"aud must be the issuer ({ISSUER})"),
        ({"claims": {"iss": "ag_someone"}}, "iss must be the client_id"),
        ({"lifetime": -60}, "the request object has expired"),
        ({"lifetime": 3601}, "the request object is valid for more than 60 minutes (exp - nbf)"),
        ({"header": {"typ": "JWT"}}, "typ must be &#39;oauth-authz-req+jwt&#39;"),
        ({"claims": {"request_uri": URN + "x"}}, "a request object cannot contain request"),
    ],
)
def test_a_refused_request_object_is_shown_never_redirected(
    agency: SigningAgency,
    citizen_browser: CitizenBrowser,
    changes: dict[str, Any],
    description: str,
) -> None:
    params, _ = agency.params()
    url = agency.authorize_url(
        request=agency.request_object(params, **changes), redirect_uri=CALLBACK, state="s"
    )
    shown_error(citizen_browser, url, description)


def test_alg_none_and_another_agency_s_key_are_refused(
    platform: Platform, agency: SigningAgency, citizen_browser: CitizenBrowser
) -> None:
    params, _ = agency.params()
    body = {**params, "iss": agency.client_id, "aud": ISSUER, "client_id": agency.client_id}
    header, payload = b64url(b'{"alg":"none"}'), b64url(json.dumps(body).encode())
    unsigned = f"{header}.{payload}."
    shown_error(
        citizen_browser,
        agency.authorize_url(request=unsigned),
        "alg &#39;none&#39; is not accepted",
    )
    other = SigningAgency(platform)
    other.client_id = agency.client_id  # another agency's key, signing as this one
    shown_error(
        citizen_browser,
        agency.authorize_url(request=other.request_object(params, header={"kid": None})),
        "signature does not verify with the client&#39;s keys",
    )


def test_a_bad_parameter_inside_a_verified_request_object_goes_back_to_its_redirect_uri(
    agency: SigningAgency, citizen_browser: CitizenBrowser
) -> None:
    params, request = agency.params(response_mode="fragment")
    url = agency.authorize_url(request=agency.request_object(params), state="outer")
    back = redirected_error(citizen_browser, url, request.state)
    assert back["error"] == "invalid_request"
    assert back["error_description"] == "only response_mode=query is supported"


# -- the per-agency requirement ----------------------------------------------------------


def test_an_agency_that_must_sign_is_refused_plain_requests_at_authorize_and_par(
    platform: Platform, citizen_browser: CitizenBrowser
) -> None:
    strict = SigningAgency(platform, require_signed_request_object=True)
    params, request = strict.params()
    back = redirected_error(citizen_browser, strict.authorize_url(**params), request.state)
    assert (back["error"], back["error_description"]) == (
        "invalid_request",
        "signed request object required",
    )
    refused_push(strict.push(params), "invalid_request", "signed request object required")
    pushed = strict.push({"client_id": strict.client_id, "request": strict.request_object(params)})
    assert pushed.status_code == 201, pushed.text
    taken = citizen_browser.get(strict.authorize_url(request_uri=pushed.json()["request_uri"]))
    assert taken.status_code == 303  # the requirement was met at /par
    assert taken.headers["location"].startswith("/signin?auth=")


# -- request objects and DPoP at /par ----------------------------------------------------


def test_a_refused_request_object_at_par_is_400_invalid_request_object(
    agency: SigningAgency,
) -> None:
    params, _ = agency.params()
    form = {"client_id": agency.client_id, "request": agency.request_object(params)}
    assert agency.push(form).status_code == 201
    refused_push(
        agency.push(form), "invalid_request_object", "the request object was used before (jti)"
    )
    other_client = {
        "client_id": agency.client_id,
        "request": agency.request_object(params, claims={"client_id": "ag_other"}),
    }
    refused_push(
        agency.push(other_client),
        "invalid_request_object",
        "client_id in the request object must equal the client_id parameter",
    )


def test_a_request_object_pushed_once_cannot_be_replayed_at_authorize(
    agency: SigningAgency, citizen_browser: CitizenBrowser
) -> None:
    params, _ = agency.params()
    token = agency.request_object(params)
    assert agency.push({"client_id": agency.client_id, "request": token}).status_code == 201
    shown_error(
        citizen_browser,
        agency.authorize_url(request=token),
        "the request object was used before (jti)",
    )


def test_a_dpop_proof_at_par_binds_the_code_to_its_key(
    agency: SigningAgency, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    prover = Prover()
    params, request = agency.params()
    response = agency.push(params, headers={"DPoP": prover.proof("POST", ISSUER + "/par")})
    assert response.status_code == 201, response.text
    url = agency.authorize_url(request_uri=response.json()["request_uri"])
    done = citizen_browser.sign_in(url, citizen.email, citizen.password, citizen.totp_secret)
    code = callback_params(done)["code"]
    stranger = agency.redeem(code, request.verifier, Prover())
    assert stranger.json()["error_description"] == (
        "the authorization code is bound to another DPoP key"
    )
    tokens = agency.redeem(code, request.verifier, prover)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["token_type"] == "DPoP"


def test_a_code_bound_by_dpop_jkt_is_redeemed_by_that_key_only(
    agency: SigningAgency, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    prover = Prover()
    params, request = agency.params(dpop_jkt=prover.jkt)
    url = agency.authorize_url(request=agency.request_object(params))
    done = citizen_browser.sign_in(url, citizen.email, citizen.password, citizen.totp_secret)
    code = callback_params(done)["code"]
    refused = agency.redeem(code, request.verifier, Prover())
    assert refused.status_code == 400, refused.text
    assert refused.json()["error_description"] == (
        "the authorization code is bound to another DPoP key"
    )


@pytest.mark.parametrize(
    ("proof", "description"),
    [
        (lambda p: p.proof("POST", ISSUER + "/oauth2/token"), "htu"),
        (lambda p: p.proof("GET", ISSUER + "/par"), "htm"),
        (lambda p: p.unsigned("POST", ISSUER + "/par"), "alg"),
    ],
)
def test_a_bad_dpop_proof_at_par_is_refused(
    agency: SigningAgency, proof: Any, description: str
) -> None:
    params, _ = agency.params()
    response = agency.push(params, headers={"DPoP": proof(Prover())})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_dpop_proof"
    assert description in response.json()["error_description"]


def test_two_dpop_proofs_or_a_dpop_jkt_of_another_key_are_refused_at_par(
    agency: SigningAgency,
) -> None:
    prover = Prover()
    params, _ = agency.params()
    two = [("DPoP", prover.proof("POST", ISSUER + "/par"))] * 2
    refused_push(
        agency.push(params, headers=two), "invalid_dpop_proof", "send exactly one DPoP header"
    )
    other, _ = agency.params(dpop_jkt=Prover().jkt)
    refused_push(
        agency.push(other, headers={"DPoP": prover.proof("POST", ISSUER + "/par")}),
        "invalid_dpop_proof",
        "dpop_jkt does not match the key of the DPoP proof",
    )
    same, _ = agency.params(dpop_jkt=prover.jkt)
    ok = agency.push(same, headers={"DPoP": prover.proof("POST", ISSUER + "/par")})
    assert ok.status_code == 201, ok.text


# -- the FAPI 2.0 profile ----------------------------------------------------------------


def test_a_fapi2_agency_must_push_and_use_query_response_mode(
    platform: Platform, citizen_browser: CitizenBrowser
) -> None:
    fapi = SigningAgency(platform, profile="fapi2")
    params, request = fapi.params()
    back = redirected_error(citizen_browser, fapi.authorize_url(**params), request.state)
    assert (back["error"], back["error_description"]) == (
        "invalid_request",
        "pushed authorization request required",
    )
    signed = fapi.authorize_url(request=fapi.request_object(params))
    assert redirected_error(citizen_browser, signed, request.state)["error_description"] == (
        "pushed authorization request required"
    )
    for mode in ("fragment", "form_post", "jwt"):
        moded, _ = fapi.params(response_mode=mode)
        refused_push(fapi.push(moded), "invalid_request", "only response_mode=query is supported")
    query, _ = fapi.params(response_mode="query")
    assert fapi.push(query).status_code == 201


# -- two replicas on one database --------------------------------------------------------


def test_another_replica_refuses_a_request_object_the_first_took(
    platform: Platform, agency: SigningAgency
) -> None:
    replica = process.start(
        identity_bootstrap.build(platform.settings, platform.identity_settings, platform.clock)
    )
    first = CitizenBrowser(platform.identity.http_url)
    second = CitizenBrowser(replica.http_url)
    try:
        params, _ = agency.params()
        token = agency.request_object(params)
        taken = first.get(agency.authorize_url(request=token))
        assert taken.status_code == 303
        url = f"{replica.http_url}/authorize?" + urlencode(
            {"client_id": agency.client_id, "request": token}
        )
        shown_error(second, url, "the request object was used before (jti)")
    finally:
        first.client.close()
        second.client.close()
        replica.stop(grace=1)
