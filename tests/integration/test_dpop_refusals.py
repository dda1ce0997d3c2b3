"""FAPI 2.0's refused DPoP proofs (RFC 9449 §4.3, §7) over HTTP against the
real services, on SQLite and PostgreSQL: at identity's token endpoint, at
UserInfo with a citizen's bound token, and at payments' and notify's JSON
endpoints with an agency's bound token. Each refusal names its reason; a
bound token sent as a bearer token is refused everywhere. Two identity
replicas sharing a database and Redis refuse a DPoP proof and a request_uri
the other one took."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from services.identity import bootstrap as identity_bootstrap
from services.runtime import process
from tests.integration.oidc.conftest import CITIZEN_SCOPES, make_citizen
from tests.support.dpop_proofs import Prover
from tests.support.oidc import CALLBACK, CitizenBrowser, RelyingParty, callback_params
from tests.support.platform import ISSUER, TOKEN_ENDPOINT, Platform, SecretAgency

USERINFO = ISSUER + "/userinfo"
PAYMENTS_URL = "http://127.0.0.1:8082"  # payments' public_url (its default)
NOTIFY_URL = "http://127.0.0.1:8083"
CALLER = "/gaap.common.v1.CallerService/GetCallerIdentity"
OLD = 600  # seconds: past every replica's 120-second window

Proof = Callable[[Prover, str, str, str | None], str]
# A bad proof for (method, URL, access token), and the reason it is refused.
BAD_PROOFS: dict[str, tuple[Proof, str]] = {
    "wrong-htm": (
        lambda p, m, u, t: p.proof("GET" if m == "POST" else "POST", u, t),
        "DPoP proof 'htm' must be",
    ),
    "wrong-htu": (
        lambda p, m, u, t: p.proof(m, u + "/elsewhere", t),
        "DPoP proof 'htu' must be",
    ),
    "wrong-typ": (
        lambda p, m, u, t: p.proof(m, u, t, header={"typ": "JWT"}),
        "DPoP proof 'typ' must be 'dpop+jwt'",
    ),
    "future-iat": (
        lambda p, m, u, t: p.proof(m, u, t, iat=time.time() + OLD),
        "DPoP proof 'iat' is in the future; check the clock",
    ),
    "stale-iat": (
        lambda p, m, u, t: p.proof(m, u, t, iat=time.time() - OLD),
        "DPoP proof is older than 120 seconds; make a new proof",
    ),
    "alg-none": (
        lambda p, m, u, t: p.unsigned(m, u),
        "DPoP proof algorithm 'none' is not accepted",
    ),
    "hs256": (
        lambda p, m, u, t: p.hs256(m, u),
        "DPoP proof algorithm 'HS256' is not accepted",
    ),
    "private-jwk": (
        lambda p, m, u, t: p.with_private_jwk(m, u),
        "DPoP proof 'jwk' must be a public key (it has private members)",
    ),
    "signed-by-another-key": (
        lambda p, m, u, t: p.proof(m, u, t, key=ec.generate_private_key(ec.SECP256R1())),
        "DPoP proof signature does not verify with its 'jwk'",
    ),
}
# At a resource server the proof must also carry the token's hash.
BAD_AT_RESOURCES: dict[str, tuple[Proof, str]] = {
    **BAD_PROOFS,
    "wrong-ath": (
        lambda p, m, u, t: p.proof(m, u, (t or "") + "x"),
        "DPoP proof 'ath' does not match the access token",
    ),
    "no-ath": (
        lambda p, m, u, t: p.proof(m, u),
        "DPoP proof 'ath' does not match the access token",
    ),
    "another-holders-key": (
        lambda p, m, u, t: Prover().proof(m, u, t),
        "DPoP proof is signed by another key than the one the access token is bound to",
    ),
}


def client_credentials(
    platform: Platform, agency: SecretAgency, proof: str, base: str | None = None
) -> httpx.Response:
    return httpx.post(
        (base or platform.identity.http_url) + "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(agency.client_id, agency.client_secret),
        headers={"DPoP": proof},
    )


@pytest.fixture(scope="module")
def agency(platform: Platform) -> SecretAgency:
    return platform.secret_agency()


@pytest.fixture(scope="module")
def prover() -> Prover:
    """The agency's and the citizen's relying party's DPoP key, for the module."""
    return Prover()


@pytest.fixture(scope="module")
def agency_token(platform: Platform, agency: SecretAgency, prover: Prover) -> str:
    response = client_credentials(platform, agency, prover.proof("POST", TOKEN_ENDPOINT))
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    token: str = response.json()["access_token"]
    return token


@pytest.fixture(scope="module")
def citizen_token(platform: Platform, prover: Prover) -> str:
    """A citizen's access token bound to ``prover``'s key (the code redeemed
    with a proof by it). UserInfo's good proofs and the bearer presentation
    are in ``oidc/test_dpop_citizens.py``; here each bad proof's reason."""
    created = platform.admin.registry.create(
        name="Bound permits", scopes=CITIZEN_SCOPES, redirect_uris=[CALLBACK]
    )
    rp = RelyingParty(platform.identity.http_url, created.agency.client_id, created.client_secret)
    citizen = make_citizen(platform)
    browser = CitizenBrowser(platform.identity.http_url)
    request = rp.auth_request()
    done = browser.sign_in(request.url, citizen.email, citizen.password, citizen.totp_secret)
    browser.client.close()
    assert rp.client_secret
    response = httpx.post(
        platform.token_url,
        data={
            "grant_type": "authorization_code",
            "code": callback_params(done)["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": request.verifier,
        },
        auth=(rp.client_id, rp.client_secret),
        headers={"DPoP": prover.proof("POST", TOKEN_ENDPOINT)},
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    token: str = response.json()["access_token"]
    return token


def userinfo(platform: Platform, headers: dict[str, str], method: str = "GET") -> httpx.Response:
    return httpx.request(method, platform.identity.http_url + "/userinfo", headers=headers)


def json_call(
    platform: Platform, service: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    return httpx.post(
        platform.service(service).http_url + path,
        content="{}",
        headers={"content-type": "application/json", **headers},
    )


# -- identity's token endpoint ---------------------------------------------------------------


@pytest.mark.parametrize("case", BAD_PROOFS)
def test_a_bad_proof_at_the_token_endpoint_is_invalid_dpop_proof(
    platform: Platform, agency: SecretAgency, prover: Prover, case: str
) -> None:
    make, reason = BAD_PROOFS[case]
    response = client_credentials(platform, agency, make(prover, "POST", TOKEN_ENDPOINT, None))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_dpop_proof"
    assert response.json()["error_description"].startswith(reason)
    assert response.headers["cache-control"] == "no-store"


# -- UserInfo with a citizen's bound token -----------------------------------------------------


@pytest.mark.parametrize("case", BAD_AT_RESOURCES)
def test_a_bad_proof_at_userinfo_is_refused_with_a_dpop_challenge(
    platform: Platform, citizen_token: str, prover: Prover, case: str
) -> None:
    make, reason = BAD_AT_RESOURCES[case]
    response = userinfo(
        platform,
        {
            "Authorization": f"DPoP {citizen_token}",
            "DPoP": make(prover, "GET", USERINFO, citizen_token),
        },
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_dpop_proof"
    assert response.json()["error_description"].startswith(reason)
    assert response.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')


def test_a_bound_token_posted_to_userinfo_in_the_form_body_is_refused_as_bearer(
    platform: Platform, citizen_token: str, prover: Prover
) -> None:
    """RFC 6750 §2.2's form parameter is a bearer presentation: refused for a
    bound token even with a good proof beside it."""
    response = httpx.post(
        platform.identity.http_url + "/userinfo",
        data={"access_token": citizen_token},
        headers={"DPoP": prover.proof("POST", USERINFO, citizen_token)},
    )
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    assert "bound to a DPoP key" in response.json()["error_description"]


# -- payments and notify over JSON (Connect) ---------------------------------------------------


SERVICES = [("payments", PAYMENTS_URL), ("notify", NOTIFY_URL)]


@pytest.mark.parametrize(("service", "base"), SERVICES)
@pytest.mark.parametrize("case", BAD_AT_RESOURCES)
def test_a_bad_proof_at_payments_and_notify_over_json_is_refused(
    platform: Platform, agency_token: str, prover: Prover, case: str, service: str, base: str
) -> None:
    make, reason = BAD_AT_RESOURCES[case]
    proof = make(prover, "POST", base + CALLER, agency_token)
    response = json_call(
        platform, service, CALLER, {"authorization": f"DPoP {agency_token}", "dpop": proof}
    )
    assert response.status_code == 401, response.text
    assert response.json()["message"].startswith(reason)
    assert response.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')


@pytest.mark.parametrize(("service", "base"), SERVICES)
def test_a_bound_token_sent_as_bearer_over_json_is_refused_and_with_dpop_taken(
    platform: Platform, agency_token: str, prover: Prover, service: str, base: str
) -> None:
    proof = prover.proof("POST", base + CALLER, agency_token)
    as_bearer = json_call(
        platform, service, CALLER, {"authorization": f"Bearer {agency_token}", "dpop": proof}
    )
    assert as_bearer.status_code == 401, as_bearer.text
    assert as_bearer.json()["code"] == "unauthenticated"
    assert as_bearer.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    fresh = prover.proof("POST", base + CALLER, agency_token)
    taken = json_call(
        platform, service, CALLER, {"authorization": f"DPoP {agency_token}", "dpop": fresh}
    )
    assert taken.status_code == 200, taken.text


# -- two identity replicas on one database and Redis -------------------------------------------


@pytest.mark.redis
def test_two_identity_replicas_refuse_a_proof_and_a_request_uri_the_other_took(
    platform: Platform, redis_url: str, agency: SecretAgency, prover: Prover
) -> None:
    settings = platform.settings.model_copy(update={"redis_url": redis_url})
    replicas = [
        process.start(
            identity_bootstrap.build(settings, platform.identity_settings, platform.clock)
        )
        for _ in range(2)
    ]
    try:
        first, second = (replica.http_url for replica in replicas)
        proof = prover.proof("POST", TOKEN_ENDPOINT)
        assert client_credentials(platform, agency, proof, first).status_code == 200
        replayed = client_credentials(platform, agency, proof, second)
        assert replayed.status_code == 400
        assert replayed.json() == {
            "error": "invalid_dpop_proof",
            "error_description": "DPoP proof was used before; make a new proof per request",
        }
        fresh = client_credentials(platform, agency, prover.proof("POST", TOKEN_ENDPOINT), second)
        assert fresh.status_code == 200, fresh.text

        created = platform.admin.registry.create(
            name="Pushed permits", scopes=CITIZEN_SCOPES, redirect_uris=[CALLBACK]
        )
        assert created.client_secret
        client_id = created.agency.client_id
        params = parse_qs(urlsplit(RelyingParty(first, client_id, None).auth_request().url).query)
        pushed = httpx.post(
            first + "/par",
            data={k: v[0] for k, v in params.items()},
            auth=(client_id, created.client_secret),
        )
        assert pushed.status_code == 201, pushed.text
        start = "/authorize?" + urlencode(
            {"client_id": client_id, "request_uri": pushed.json()["request_uri"]}
        )
        taken = httpx.get(second + start)
        assert taken.status_code == 303
        assert taken.headers["location"].startswith("/signin?auth=")
        again = httpx.get(first + start)
        assert again.status_code == 400
        assert "location" not in again.headers
        assert "request_uri is unknown or already used" in again.text
    finally:
        for replica in replicas:
            replica.stop(grace=1)
