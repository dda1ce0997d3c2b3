"""identity's DPoP across replicas, on SQLite and PostgreSQL: a proof replayed
from one identity replica to another on the same database is refused when Redis
is configured, and server nonces (IDENTITY_DPOP_NONCES) that one replica hands
out are accepted by the other, at the token endpoint (RFC 9449 §8)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.identity import bootstrap as identity_bootstrap
from services.runtime import process
from services.runtime.process import RunningService
from tests.support.dpop_proofs import Prover
from tests.support.platform import TOKEN_ENDPOINT, Platform, SecretAgency

FORM = {"grant_type": "client_credentials"}


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


def test_without_the_option_no_nonce_is_asked(platform: Platform, agency: SecretAgency) -> None:
    answer = token_call(platform.identity, agency, Prover().proof("POST", TOKEN_ENDPOINT))
    assert answer.status_code == 200
    assert "DPoP-Nonce" not in answer.headers
