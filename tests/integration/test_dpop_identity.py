"""identity's DPoP across replicas, on SQLite and PostgreSQL: a proof replayed
from one identity replica to another on the same database is refused when Redis
is configured, and server nonces (IDENTITY_DPOP_NONCES) that one replica hands
out are accepted by the other, at the token, pushed-authorization and UserInfo
endpoints (RFC 9449 §8, §9)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.identity import bootstrap as identity_bootstrap
from services.runtime import process
from services.runtime.process import RunningService
from tests.integration.oidc.conftest import make_citizen
from tests.support.dpop_proofs import Prover
from tests.support.oidc import CALLBACK, CitizenBrowser, RelyingParty, callback_params
from tests.support.platform import ASSERTION_TYPE, ISSUER, TOKEN_ENDPOINT, Platform, SecretAgency
from tests.support.request_objects import RequestSigner

FORM = {"grant_type": "client_credentials"}
USERINFO = ISSUER + "/userinfo"
PAR = ISSUER + "/par"


def replicas(platform: Platform, count: int = 2, **settings: Any) -> list[RunningService]:
    """More identity processes on the platform's identity database."""
    shared = {"jwks_url": ""}
    if "redis_url" in settings:  # a platform setting, not identity's
        shared["redis_url"] = settings.pop("redis_url")
    base = platform.settings.model_copy(update=shared)
    identity_settings = platform.identity_settings.model_copy(update=settings)
    return [
        process.start(identity_bootstrap.build(base, identity_settings, platform.clock))
        for _ in range(count)
    ]


@pytest.fixture
def agency(platform: Platform) -> SecretAgency:
    return platform.secret_agency()


def token_call(replica: RunningService, agency: SecretAgency, proof: str | None) -> httpx.Response:
    return httpx.post(
        replica.http_url + "/oauth2/token",
        data=FORM,
        auth=(agency.client_id, agency.client_secret),
        headers={"DPoP": proof} if proof else {},
    )


@pytest.fixture
def redis_replicas(platform: Platform, redis_url: str) -> Iterator[list[RunningService]]:
    started = replicas(platform, redis_url=redis_url)
    yield started
    for replica in started:
        replica.stop(grace=1)


@pytest.mark.redis
def test_two_identity_replicas_on_redis_refuse_a_proof_replayed_to_the_other(
    redis_replicas: list[RunningService], agency: SecretAgency
) -> None:
    key = Prover()
    proof = key.proof("POST", TOKEN_ENDPOINT)
    first = token_call(redis_replicas[0], agency, proof)
    assert first.status_code == 200, first.text
    replayed = token_call(redis_replicas[1], agency, proof)
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_dpop_proof"
    assert "used before" in replayed.json()["error_description"]
    fresh = token_call(redis_replicas[1], agency, key.proof("POST", TOKEN_ENDPOINT))
    assert fresh.json()["token_type"] == "DPoP"


@pytest.fixture
def nonce_replicas(platform: Platform) -> Iterator[list[RunningService]]:
    started = replicas(platform, dpop_nonces=True)
    yield started
    for replica in started:
        replica.stop(grace=1)


def test_a_nonce_one_replica_hands_out_is_good_at_the_other(
    nonce_replicas: list[RunningService], agency: SecretAgency
) -> None:
    key = Prover()
    asked = token_call(nonce_replicas[0], agency, key.proof("POST", TOKEN_ENDPOINT))
    assert asked.status_code == 400
    assert asked.json()["error"] == "use_dpop_nonce"
    nonce = asked.headers["DPoP-Nonce"]
    stale = token_call(
        nonce_replicas[1], agency, key.proof("POST", TOKEN_ENDPOINT, nonce="not-a-nonce")
    )
    assert stale.json()["error"] == "use_dpop_nonce"
    answer = token_call(nonce_replicas[1], agency, key.proof("POST", TOKEN_ENDPOINT, nonce=nonce))
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"
    assert answer.headers["DPoP-Nonce"]
    # without a proof nothing is asked, and the answer still carries a nonce
    bearer = token_call(nonce_replicas[0], agency, None)
    assert bearer.json()["token_type"] == "Bearer"
    assert bearer.headers["DPoP-Nonce"]


def pushed_request(client_id: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "state": "s" * 16,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }


def push(replica: RunningService, rp: SecretAgency, proof: str | None) -> httpx.Response:
    """A pushed authorization request (RFC 9126) by a secret agency."""
    request = pushed_request(rp.client_id)
    return httpx.post(
        replica.http_url + "/par",
        data=request,
        auth=(rp.client_id, rp.client_secret),
        headers={"DPoP": proof} if proof else {},
    )


@pytest.fixture
def signing_agency(platform: Platform) -> SecretAgency:
    created = platform.admin.registry.create(
        name="Pushing permits", scopes=["openid", "email"], redirect_uris=[CALLBACK]
    )
    assert created.client_secret
    return SecretAgency(created.agency.client_id, created.client_secret)


def test_par_asks_for_a_nonce_as_the_token_endpoint_does(
    nonce_replicas: list[RunningService], signing_agency: SecretAgency
) -> None:
    key = Prover()
    asked = push(nonce_replicas[0], signing_agency, key.proof("POST", PAR))
    assert asked.status_code == 400, asked.text
    assert asked.json()["error"] == "use_dpop_nonce"
    assert asked.headers["cache-control"] == "no-store"
    nonce = asked.headers["DPoP-Nonce"]
    stale = push(nonce_replicas[1], signing_agency, key.proof("POST", PAR, nonce="not-a-nonce"))
    assert stale.status_code == 400
    assert stale.json()["error"] == "use_dpop_nonce"
    pushed = push(nonce_replicas[1], signing_agency, key.proof("POST", PAR, nonce=nonce))
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["DPoP-Nonce"]
    # without a proof nothing is asked (the code is bound by dpop_jkt or not at
    # all), and the answer still carries a nonce, as every refusal does
    plain = push(nonce_replicas[0], signing_agency, None)
    assert plain.status_code == 201, plain.text
    assert plain.headers["DPoP-Nonce"]
    wrong = push(nonce_replicas[0], SecretAgency(signing_agency.client_id, "wrong"), None)
    assert wrong.status_code == 401
    assert wrong.headers["DPoP-Nonce"]


def test_a_par_nonce_retry_may_send_the_same_client_assertion(
    platform: Platform, nonce_replicas: list[RunningService]
) -> None:
    # The proof is checked before the client, as at the token endpoint: a
    # refusal for its nonce leaves the private_key_jwt assertion unused.
    signer = RequestSigner()
    created = platform.admin.registry.create(
        name="Keyed permits", scopes=["openid", "email"], redirect_uris=[CALLBACK], jwks=signer.jwks
    )
    client_id = created.agency.client_id
    form = {
        **pushed_request(client_id),
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signer.assertion(client_id, ISSUER),
    }
    key = Prover()
    url = nonce_replicas[0].http_url + "/par"
    asked = httpx.post(url, data=form, headers={"DPoP": key.proof("POST", PAR)})
    assert asked.json()["error"] == "use_dpop_nonce"
    nonce = asked.headers["DPoP-Nonce"]
    pushed = httpx.post(url, data=form, headers={"DPoP": key.proof("POST", PAR, nonce=nonce)})
    assert pushed.status_code == 201, pushed.text
    replayed = httpx.post(url, data=form, headers={"DPoP": key.proof("POST", PAR, nonce=nonce)})
    assert replayed.json()["error"] == "invalid_client"  # used now: a replay


def test_without_the_option_no_nonce_is_asked(
    platform: Platform, agency: SecretAgency, signing_agency: SecretAgency
) -> None:
    answer = token_call(platform.identity, agency, Prover().proof("POST", TOKEN_ENDPOINT))
    assert answer.status_code == 200
    assert "DPoP-Nonce" not in answer.headers
    pushed = push(platform.identity, signing_agency, Prover().proof("POST", PAR))
    assert pushed.status_code == 201, pushed.text
    assert "DPoP-Nonce" not in pushed.headers


def test_userinfo_asks_for_a_nonce_any_replica_accepts(
    platform: Platform, nonce_replicas: list[RunningService]
) -> None:
    citizen = make_citizen(platform)
    created = platform.admin.registry.create(
        name="Nonce permits",
        scopes=["openid", "email"],
        redirect_uris=[CALLBACK],
    )
    rp = RelyingParty(nonce_replicas[0].http_url, created.agency.client_id, created.client_secret)
    browser = CitizenBrowser(nonce_replicas[0].http_url)
    try:
        request = rp.auth_request(scope="openid email")
        done = browser.sign_in(request.url, citizen.email, citizen.password, citizen.totp_secret)
        code = callback_params(done)["code"]
    finally:
        browser.client.close()
    key = Prover()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": request.verifier,
    }
    auth = (rp.client_id, rp.client_secret or "")
    token_url = nonce_replicas[0].http_url + "/oauth2/token"
    asked = httpx.post(
        token_url, data=form, auth=auth, headers={"DPoP": key.proof("POST", TOKEN_ENDPOINT)}
    )
    assert asked.json()["error"] == "use_dpop_nonce"
    proof = key.proof("POST", TOKEN_ENDPOINT, nonce=asked.headers["DPoP-Nonce"])
    issued = httpx.post(token_url, data=form, auth=auth, headers={"DPoP": proof})
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]

    def userinfo(replica: RunningService, nonce: str | None) -> httpx.Response:
        proof = key.proof("GET", USERINFO, token, nonce=nonce)
        return httpx.get(
            replica.http_url + "/userinfo",
            headers={"Authorization": f"DPoP {token}", "DPoP": proof},
        )

    refused = userinfo(nonce_replicas[1], None)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith('DPoP error="use_dpop_nonce"')
    answer = userinfo(nonce_replicas[0], refused.headers["DPoP-Nonce"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["email"] == citizen.email
