"""UserInfo with DPoP-bound citizen tokens (RFC 9449 §7, §9), on in-memory fakes
behind the real endpoint: a bound token only as 'DPoP <token>' with a fresh proof
by its key for this request; an unbound one only as Bearer; server nonces."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp

from services.identity.web.userinfo import UserInfo
from services.runtime.dpop import DpopVerifier, MemoryReplays
from services.runtime.dpop_nonce import DpopNonces
from tests.support.dpop_proofs import Prover
from tests.unit.identity.token_world import REDIRECT_URI, World, new_verifier, world

ENDPOINT = "https://id.example.gov/userinfo"


@pytest.fixture
def w() -> World:
    return world()


class Client:
    """Calls the ASGI app in process (httpx's ASGI transport), one request at a time."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(
                transport=transport, base_url="https://id.example.gov"
            ) as http:
                return await http.request(method, url, **kwargs)

        return asyncio.run(send())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


def client(w: World, nonces: DpopNonces | None = None) -> Client:
    userinfo = UserInfo(
        w.verifier(),
        w.tokens,
        w.agencies,  # type: ignore[arg-type]
        endpoint=ENDPOINT,
        dpop=DpopVerifier(replays=MemoryReplays()),
        nonces=nonces,
    )
    app = Starlette(routes=[Route("/userinfo", userinfo.endpoint, methods=["GET", "POST"])])
    return Client(app)


def issued(w: World, jkt: str | None) -> str:
    client_agency = w.agencies.rows["ag_one"]
    verifier = new_verifier()
    code = w.code(client_agency, verifier)
    return w.tokens.redeem_code(client_agency, code, REDIRECT_URI, verifier, jkt).access_token


def dpop(token: str, proof: str) -> dict[str, str]:
    return {"authorization": f"DPoP {token}", "dpop": proof}


def test_a_bound_token_with_a_fresh_proof_by_its_key_gets_the_claims(w: World) -> None:
    key = Prover()
    token = issued(w, key.jkt)
    answer = client(w).get("/userinfo", headers=dpop(token, key.proof("GET", ENDPOINT, token)))
    assert answer.status_code == 200, answer.text
    assert answer.json()["email"] == "ada@example.org"
    posted = client(w).post("/userinfo", headers=dpop(token, key.proof("POST", ENDPOINT, token)))
    assert posted.status_code == 200


def test_a_bound_token_sent_as_bearer_is_refused_with_a_dpop_challenge(w: World) -> None:
    token = issued(w, Prover().jkt)
    answer = client(w).get("/userinfo", headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    assert answer.json()["error"] == "invalid_token"
    form = client(w).post("/userinfo", data={"access_token": token})
    assert form.status_code == 401
    assert form.headers["www-authenticate"].startswith('DPoP error="invalid_token"')


def test_an_unbound_token_is_accepted_only_as_bearer(w: World) -> None:
    token = issued(w, None)
    assert client(w).get("/userinfo", headers={"authorization": f"Bearer {token}"}).is_success
    key = Prover()
    answer = client(w).get("/userinfo", headers=dpop(token, key.proof("GET", ENDPOINT, token)))
    assert answer.status_code == 401
    assert "not bound to a DPoP key" in answer.json()["error_description"]


def bad_proofs(key: Prover, token: str) -> dict[str, str]:
    return {
        "wrong htu": key.proof("GET", "https://id.example.gov/oauth2/token", token),
        "wrong htm": key.proof("POST", ENDPOINT, token),
        "wrong ath": key.proof("GET", ENDPOINT, "another-token"),
        "no ath": key.proof("GET", ENDPOINT),
        "stale iat": key.proof("GET", ENDPOINT, token, iat=time.time() - 600),
        "alg none": key.unsigned("GET", ENDPOINT),
        "HS256": key.hs256("GET", ENDPOINT),
        "private key in the jwk": key.with_private_jwk("GET", ENDPOINT),
        "another key": Prover().proof("GET", ENDPOINT, token),
    }


@pytest.mark.parametrize("case", list(bad_proofs(Prover(), "t")))
def test_a_bad_proof_is_invalid_dpop_proof(w: World, case: str) -> None:
    key = Prover()
    token = issued(w, key.jkt)
    answer = client(w).get("/userinfo", headers=dpop(token, bad_proofs(key, token)[case]))
    assert answer.status_code == 401, case
    assert answer.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')
    assert answer.json()["error"] == "invalid_dpop_proof"


def test_a_replayed_proof_and_a_missing_or_doubled_one_are_refused(w: World) -> None:
    key = Prover()
    token = issued(w, key.jkt)
    userinfo = client(w)
    proof = key.proof("GET", ENDPOINT, token)
    assert userinfo.get("/userinfo", headers=dpop(token, proof)).status_code == 200
    replay = userinfo.get("/userinfo", headers=dpop(token, proof))
    assert replay.status_code == 401
    assert "used before" in replay.json()["error_description"]
    missing = userinfo.get("/userinfo", headers={"authorization": f"DPoP {token}"})
    assert missing.json()["error"] == "invalid_dpop_proof"
    doubled = userinfo.get(
        "/userinfo",
        headers=[
            ("authorization", f"DPoP {token}"),
            ("dpop", key.proof("GET", ENDPOINT, token)),
            ("dpop", key.proof("GET", ENDPOINT, token)),
        ],
    )
    assert doubled.json()["error_description"] == "send exactly one DPoP proof"


def test_with_nonces_a_proof_needs_the_current_one(w: World) -> None:
    nonces = DpopNonces(b"n" * 32)
    key = Prover()
    token = issued(w, key.jkt)
    userinfo = client(w, nonces)
    first = userinfo.get("/userinfo", headers=dpop(token, key.proof("GET", ENDPOINT, token)))
    assert first.status_code == 401
    assert first.headers["www-authenticate"].startswith('DPoP error="use_dpop_nonce"')
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["dpop-nonce"]
    retry = key.proof("GET", ENDPOINT, token, nonce=nonce)
    answer = userinfo.get("/userinfo", headers=dpop(token, retry))
    assert answer.status_code == 200
    assert nonces.valid(answer.headers["dpop-nonce"])
    # a bearer token needs no proof, hence no nonce
    bearer = issued(w, None)
    assert userinfo.get("/userinfo", headers={"authorization": f"Bearer {bearer}"}).is_success
