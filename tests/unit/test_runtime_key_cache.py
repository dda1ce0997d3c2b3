"""``KeyCache``: when identity's JWKS is fetched, and what happens when it cannot be."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from services.runtime.errors import Unavailable
from services.runtime.keys import KeyCache

MAX_AGE = 900.0
MIN_REFRESH = 5.0
START = 10_000.0


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeJwksEndpoint:
    """A JWKS fetcher that serves ``document`` (or raises ``failure``) and counts calls."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.failure: Exception | None = None
        self.calls = 0

    def __call__(self) -> Mapping[str, Any]:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return self.document


def jwk(kid: str) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    raw = ECAlgorithm.to_jwk(key, as_dict=True)
    raw.update({"kid": kid, "alg": "ES256", "use": "sig"})
    return raw


def jwks(*kids: str) -> dict[str, Any]:
    return {"keys": [jwk(kid) for kid in kids]}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def endpoint() -> FakeJwksEndpoint:
    return FakeJwksEndpoint(jwks("k1"))


@pytest.fixture
def cache(endpoint: FakeJwksEndpoint, clock: FakeClock) -> KeyCache:
    return KeyCache(endpoint, max_age=MAX_AGE, min_refresh_interval=MIN_REFRESH, clock=clock)


@pytest.mark.usefixtures("cache")  # made, never used
def test_nothing_is_fetched_before_first_use(endpoint: FakeJwksEndpoint) -> None:
    assert endpoint.calls == 0


def test_first_use_fetches(endpoint: FakeJwksEndpoint, cache: KeyCache) -> None:
    key = cache.get("k1")
    assert key is not None
    assert key.key_id == "k1"
    assert key.algorithm_name == "ES256"
    assert endpoint.calls == 1


def test_known_kid_does_not_refetch(
    endpoint: FakeJwksEndpoint, cache: KeyCache, clock: FakeClock
) -> None:
    cache.get("k1")
    for _ in range(5):
        clock.advance(60)
        assert cache.get("k1") is not None
    assert endpoint.calls == 1


def test_unknown_kid_refetches_at_most_once_per_interval(
    endpoint: FakeJwksEndpoint, cache: KeyCache, clock: FakeClock
) -> None:
    cache.get("k1")
    clock.advance(MIN_REFRESH + 1)
    for _ in range(100):  # a flood of forged kids costs one fetch
        assert cache.get("forged") is None
    assert endpoint.calls == 2
    clock.advance(MIN_REFRESH - 1)
    assert cache.get("forged") is None
    assert endpoint.calls == 2
    clock.advance(2)
    assert cache.get("forged") is None
    assert endpoint.calls == 3


def test_unknown_kid_right_after_first_fetch_does_not_refetch(
    endpoint: FakeJwksEndpoint, cache: KeyCache, clock: FakeClock
) -> None:
    assert cache.get("nope") is None
    clock.advance(MIN_REFRESH / 2)
    assert cache.get("nope") is None
    assert endpoint.calls == 1


def test_rotated_key_is_learned_on_its_first_token(
    endpoint: FakeJwksEndpoint, cache: KeyCache, clock: FakeClock
) -> None:
    cache.get("k1")
    endpoint.document = jwks("k1", "k2")
    clock.advance(MIN_REFRESH + 1)
    key = cache.get("k2")
    assert key is not None
    assert key.key_id == "k2"
    assert endpoint.calls == 2


def test_cache_older_than_max_age_refetches_and_drops_retired_keys(
    endpoint: FakeJwksEndpoint, cache: KeyCache, clock: FakeClock
) -> None:
    cache.get("k1")
    endpoint.document = jwks("k2")  # k1 retired and unpublished
    clock.advance(MAX_AGE - 1)
    assert cache.get("k1") is not None
    assert endpoint.calls == 1
    clock.advance(2)
    assert cache.get("k1") is None
    assert endpoint.calls == 2
    assert cache.get("k2") is not None
    assert endpoint.calls == 2


def test_invalidate_makes_the_next_lookup_fetch(
    endpoint: FakeJwksEndpoint, cache: KeyCache
) -> None:
    cache.get("k1")
    cache.invalidate()
    assert cache.get("k1") is not None
    assert endpoint.calls == 2


def test_unavailable_on_first_use_propagates(endpoint: FakeJwksEndpoint, cache: KeyCache) -> None:
    endpoint.failure = Unavailable("identity is down")
    with pytest.raises(Unavailable, match="identity is down"):
        cache.get("k1")
    with pytest.raises(Unavailable):  # nothing cached yet: no backoff, try again
        cache.get("k1")
    assert endpoint.calls == 2
    endpoint.failure = None
    assert cache.get("k1") is not None


def test_failing_refresh_keeps_the_cached_keys(
    endpoint: FakeJwksEndpoint, cache: KeyCache, clock: FakeClock
) -> None:
    assert cache.get("k1") is not None
    endpoint.failure = Unavailable("identity is down")
    clock.advance(MAX_AGE + 1)  # stale: a refresh is due, and fails
    key = cache.get("k1")
    assert key is not None
    assert key.key_id == "k1"
    assert endpoint.calls == 2
    clock.advance(MIN_REFRESH + 1)
    assert cache.get("unknown") is None  # tries again, fails again, still no error
    assert cache.get("k1") is not None
    assert endpoint.calls == 3


def test_failed_refresh_backs_off(
    endpoint: FakeJwksEndpoint, cache: KeyCache, clock: FakeClock
) -> None:
    cache.get("k1")
    endpoint.failure = Unavailable("identity is down")
    clock.advance(MIN_REFRESH + 1)
    for _ in range(20):
        assert cache.get("forged") is None
    assert endpoint.calls == 2


def test_keys_without_kid_are_ignored(clock: FakeClock) -> None:
    anonymous = jwk("x")
    del anonymous["kid"]
    endpoint = FakeJwksEndpoint({"keys": [anonymous, jwk("k1")]})
    cache = KeyCache(endpoint, max_age=MAX_AGE, min_refresh_interval=MIN_REFRESH, clock=clock)
    assert cache.get("k1") is not None
    assert cache.get("") is None
