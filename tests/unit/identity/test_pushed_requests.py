"""Pushed authorization requests (RFC 9126), the use case on the fakes: a push
is checked by the authorization endpoint's rules, kept by the hash of its
request_uri, and taken once, within 60 seconds, by the agency that pushed it."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.identity.domain.agencies import Agency, register
from services.identity.domain.authorization import AuthorizationError
from services.identity.domain.pushed_requests import URN_PREFIX, uri_hash
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.pushed_requests import PushedRequests
from services.identity.service_layer.request_objects import RequestObjects
from services.runtime.egress import PUBLIC_ONLY
from tests.fakes.identity import MemoryIdentityTransactions

T0 = datetime(2030, 1, 1, tzinfo=UTC)
REDIRECT = "https://rp.example.gov/callback"
ISSUER = "https://id.gaap.example"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 43).digest()).decode().rstrip("=")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def agency(**changes: object) -> Agency:
    made = register(
        name="Parking", scopes=["openid", "email"], redirect_uris=[REDIRECT], now=T0
    ).agency
    return replace(made, **changes)  # type: ignore[arg-type]


def params(**extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": "ignored here",
        "redirect_uri": REDIRECT,
        "scope": "openid email",
        "state": "s1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **extra,
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def uow() -> MemoryIdentityTransactions:
    return MemoryIdentityTransactions()


@pytest.fixture
def pushed(uow: MemoryIdentityTransactions, clock: Clock) -> PushedRequests:
    return PushedRequests(uow, RequestObjects(uow, ISSUER, clock), clock)


def refusal(call: object) -> AuthorizationError:
    assert callable(call)
    with pytest.raises(AuthorizationError) as caught:
        call()
    return caught.value


def test_a_push_is_kept_by_the_hash_of_a_random_request_uri_for_60_seconds(
    pushed: PushedRequests, uow: MemoryIdentityTransactions
) -> None:
    ag = agency()
    first, second = pushed.push(params(), ag), pushed.push(params(), ag)
    assert first.expires_in == 60
    assert first.request_uri.startswith(URN_PREFIX)
    value = first.request_uri.removeprefix(URN_PREFIX)
    assert len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) >= 16  # >= 128 bits
    assert first.request_uri != second.request_uri
    rows = uow.state.pushed_requests.rows
    assert set(rows) == {uri_hash(first.request_uri), uri_hash(second.request_uri)}
    assert first.request_uri not in rows
    stored = rows[uri_hash(first.request_uri)]
    assert stored.client_id == ag.client_id
    assert stored.expires_at == T0 + timedelta(seconds=60)
    assert stored.request.state == "s1"


def test_the_request_is_taken_once_by_its_agency(pushed: PushedRequests) -> None:
    ag = agency()
    request_uri = pushed.push(params(), ag).request_uri
    taken = pushed.take(request_uri, ag)
    assert (taken.client_id, taken.redirect_uri, taken.scopes) == (
        ag.client_id,
        REDIRECT,
        ("openid", "email"),
    )
    again = refusal(lambda: pushed.take(request_uri, ag))
    assert (again.error, again.redirectable) == ("invalid_request", False)
    assert again.description == "request_uri is unknown or already used"


def test_another_agency_cannot_take_it_and_it_stays_for_its_own(pushed: PushedRequests) -> None:
    own, other = agency(), agency(client_id="ag_other")
    request_uri = pushed.push(params(), own).request_uri
    error = refusal(lambda: pushed.take(request_uri, other))
    assert (error.error, error.redirectable) == ("invalid_request", False)
    assert pushed.take(request_uri, own).client_id == own.client_id


def test_an_expired_push_is_refused_and_used_up(pushed: PushedRequests, clock: Clock) -> None:
    ag = agency()
    fresh = pushed.push(params(), ag).request_uri
    stale = pushed.push(params(), ag).request_uri
    clock.now = T0 + timedelta(seconds=59)
    assert pushed.take(fresh, ag).state == "s1"
    clock.now = T0 + timedelta(seconds=60)
    error = refusal(lambda: pushed.take(stale, ag))
    assert (error.description, error.redirectable) == ("request_uri has expired", False)
    assert refusal(lambda: pushed.take(stale, ag)).description == (
        "request_uri is unknown or already used"
    )


def test_a_request_uri_no_push_could_have_issued_is_refused_before_any_lookup(
    pushed: PushedRequests,
) -> None:
    ag = agency()
    for wrong in ("", "https://rp.example.gov/request", URN_PREFIX + "x" * 200):
        error = refusal(lambda wrong=wrong: pushed.take(wrong, ag))
        assert (error.error, error.description, error.redirectable) == (
            "invalid_request",
            "request_uri is not valid",
            False,
        )


def test_a_push_is_checked_by_the_authorization_endpoint_rules_and_kept_only_if_valid(
    pushed: PushedRequests, uow: MemoryIdentityTransactions
) -> None:
    ag = agency()
    cases = {
        "request_uri cannot be pushed": params(request_uri=URN_PREFIX + "abc"),
        "redirect_uri is not registered for this client": params(
            redirect_uri="https://evil.example/cb"
        ),
        "PKCE is required: send code_challenge (S256)": params(code_challenge=""),
        "scope not allowed for this client: phone": params(scope="openid phone"),
    }
    for description, pushed_params in cases.items():
        error = refusal(lambda p=pushed_params: pushed.push(p, ag))
        assert error.description == description
    assert refusal(lambda: pushed.push(params(scope="email"), ag)).error == "invalid_scope"
    assert uow.state.pushed_requests.rows == {}


def test_par_is_required_by_the_agency_or_by_the_operator_for_all(
    uow: MemoryIdentityTransactions, clock: Clock
) -> None:
    plain, strict = agency(), agency(require_pushed_authorization_requests=True)
    assert not PushedRequests(uow, RequestObjects(uow, ISSUER, clock), clock).required(plain)
    assert PushedRequests(uow, RequestObjects(uow, ISSUER, clock), clock).required(strict)
    assert PushedRequests(
        uow, RequestObjects(uow, ISSUER, clock), clock, required_for_all=True
    ).required(plain)


def test_purge_forgets_the_expired_pushes_only(pushed: PushedRequests, clock: Clock) -> None:
    ag = agency()
    old = pushed.push(params(), ag).request_uri
    clock.now = T0 + timedelta(seconds=30)
    new = pushed.push(params(), ag).request_uri
    clock.now = T0 + timedelta(seconds=60)
    assert pushed.purge() == 1
    assert refusal(lambda: pushed.take(old, ag)).description.endswith("already used")
    assert pushed.take(new, ag).client_id == ag.client_id


def test_the_registry_records_and_updates_the_agencys_requirement(
    uow: MemoryIdentityTransactions, clock: Clock
) -> None:
    registry = AgencyRegistry(uow, clock, egress=PUBLIC_ONLY)
    strict = registry.create(
        name="Strict", scopes=["openid"], require_pushed_authorization_requests=True
    ).agency
    plain = registry.create(name="Plain", scopes=["openid"]).agency
    assert registry.get(strict.client_id).require_pushed_authorization_requests
    assert not registry.get(plain.client_id).require_pushed_authorization_requests
    renamed = registry.update(strict.client_id, {"name": "Renamed"})
    assert renamed.require_pushed_authorization_requests  # kept when not changed
    relaxed = registry.update(strict.client_id, {"require_pushed_authorization_requests": False})
    assert not relaxed.require_pushed_authorization_requests
    assert not uow.state.agencies.rows[strict.client_id].require_pushed_authorization_requests
