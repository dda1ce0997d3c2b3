"""Pushed requests with a signed request object (RFC 9101), a DPoP key binding
(RFC 9449 §10) and the FAPI 2.0 profile, the use cases on the fakes: a request
object's claims are the pushed request, its jti is taken once wherever it is
sent, and a DPoP proof's key binds the request."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from services.identity.domain.agencies import Agency, register
from services.identity.domain.authorization import AuthorizationError
from services.identity.domain.pushed_requests import URN_PREFIX, uri_hash
from services.identity.service_layer.pushed_requests import PushedRequests
from services.identity.service_layer.request_objects import RequestObjects
from tests.fakes.identity import MemoryIdentityTransactions
from tests.support.request_objects import RequestSigner

NOW = datetime.now(UTC)  # the request objects below are signed on the real clock
ISSUER = "https://id.gaap.example"
REDIRECT = "https://rp.example.gov/callback"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
OTHER_JKT = "A" * 43
SIGNER = RequestSigner()


def agency(**changes: Any) -> Agency:
    made = register(
        name="Parking", scopes=["openid", "email"], redirect_uris=[REDIRECT], now=NOW
    ).agency
    return replace(made, jwks=SIGNER.jwks, **changes)


def params(**extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid email",
        "state": "s1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **extra,
    }


def signed(ag: Agency, claims: dict[str, Any] | None = None, **extra: str) -> dict[str, str]:
    token = SIGNER.sign(params(**extra), client_id=ag.client_id, audience=ISSUER, claims=claims)
    return {"client_id": ag.client_id, "request": token}


@pytest.fixture
def uow() -> MemoryIdentityTransactions:
    return MemoryIdentityTransactions()


@pytest.fixture
def pushed(uow: MemoryIdentityTransactions) -> PushedRequests:
    return PushedRequests(uow, RequestObjects(uow, ISSUER))


def refusal(call: object) -> AuthorizationError:
    assert callable(call)
    with pytest.raises(AuthorizationError) as caught:
        call()
    return caught.value


def stored_request(uow: MemoryIdentityTransactions, request_uri: str) -> Any:
    return uow.state.pushed_requests.rows[uri_hash(request_uri)].request


def test_a_pushed_request_object_s_claims_are_the_request_and_the_rest_is_ignored(
    pushed: PushedRequests, uow: MemoryIdentityTransactions
) -> None:
    ag = agency()
    form = {**signed(ag, state="inside"), "state": "outside", "client_secret": "x"}
    request = stored_request(uow, pushed.push(form, ag).request_uri)
    assert (request.state, request.redirect_uri) == ("inside", REDIRECT)


def test_a_request_object_s_jti_is_used_once_at_par_and_authorize_alike(
    pushed: PushedRequests, uow: MemoryIdentityTransactions
) -> None:
    ag = agency()
    form = signed(ag)
    pushed.push(form, ag)
    error = refusal(lambda: pushed.push(form, ag))
    assert (error.error, error.description, error.redirectable) == (
        "invalid_request_object",
        "the request object was used before (jti)",
        False,
    )
    assert len(uow.state.pushed_requests.rows) == 1  # the replay kept nothing
    # The same ledger at /authorize: what was pushed cannot be replayed there.
    _, found = pushed.objects.unpack(form, ag)
    assert refusal(lambda: pushed.objects.spend(found, ag)).error == "invalid_request_object"
    other = signed(ag)
    _, fresh = pushed.objects.unpack(other, ag)
    pushed.objects.spend(fresh, ag)
    assert refusal(lambda: pushed.push(other, ag)).error == "invalid_request_object"


def test_a_request_object_without_jti_may_be_pushed_twice(pushed: PushedRequests) -> None:
    ag = agency()
    form = signed(ag, claims={"jti": None})
    assert pushed.push(form, ag).request_uri != pushed.push(form, ag).request_uri


def test_a_refused_request_object_s_jti_is_not_spent(pushed: PushedRequests) -> None:
    ag = agency()
    claims = {"jti": "kept"}
    bad = signed(ag, claims, scope="openid phone")
    assert refusal(lambda: pushed.push(bad, ag)).error == "invalid_scope"
    assert pushed.push(signed(ag, claims), ag).request_uri.startswith(URN_PREFIX)


def test_request_uri_cannot_be_pushed_beside_a_request_object(pushed: PushedRequests) -> None:
    ag = agency()
    form = {**signed(ag), "request_uri": URN_PREFIX + "x"}
    assert refusal(lambda: pushed.push(form, ag)).description == "request_uri cannot be pushed"


def test_an_agency_that_must_sign_is_refused_a_plain_push_and_takes_a_signed_one(
    pushed: PushedRequests, uow: MemoryIdentityTransactions
) -> None:
    ag = agency(require_signed_request_object=True)
    error = refusal(lambda: pushed.push(params(), ag))
    assert (error.error, error.description) == ("invalid_request", "signed request object required")
    request_uri = pushed.push(signed(ag), ag).request_uri
    assert pushed.take(request_uri, ag).state == "s1"  # the requirement was met at /par


def test_dpop_jkt_is_kept_from_the_parameters_or_the_request_object(
    pushed: PushedRequests, uow: MemoryIdentityTransactions
) -> None:
    ag = agency()
    plain = pushed.push(params(dpop_jkt=JKT), ag).request_uri
    assert stored_request(uow, plain).dpop_jkt == JKT
    inside = pushed.push(signed(ag, dpop_jkt=JKT), ag).request_uri
    assert stored_request(uow, inside).dpop_jkt == JKT
    assert stored_request(uow, pushed.push(params(), ag).request_uri).dpop_jkt is None


def test_a_dpop_proof_s_key_binds_the_push_and_another_dpop_jkt_is_refused(
    pushed: PushedRequests, uow: MemoryIdentityTransactions
) -> None:
    ag = agency()
    bound = pushed.push(params(), ag, dpop_jkt=JKT).request_uri
    assert stored_request(uow, bound).dpop_jkt == JKT
    same = pushed.push(params(dpop_jkt=JKT), ag, dpop_jkt=JKT).request_uri
    assert stored_request(uow, same).dpop_jkt == JKT
    error = refusal(lambda: pushed.push(params(dpop_jkt=OTHER_JKT), ag, dpop_jkt=JKT))
    assert (error.error, error.description) == (
        "invalid_dpop_proof",
        "dpop_jkt does not match the key of the DPoP proof",
    )
    assert len(uow.state.pushed_requests.rows) == 2


def test_the_fapi2_profile_requires_par_whatever_the_flag(pushed: PushedRequests) -> None:
    assert pushed.required(agency(profile="fapi2", require_pushed_authorization_requests=False))
    assert not pushed.required(agency())
