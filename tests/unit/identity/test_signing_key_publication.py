"""Which signing keys identity publishes, in which order and with which members, and
when a first key is needed because every key of an algorithm has retired."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from services.identity.domain.signing_keys import SigningKey, first_keys, generate, jwks

HOUR = timedelta(hours=1)


def key(kid: str, created_at: datetime, **times: datetime | None) -> SigningKey:
    return SigningKey(
        kid=kid,
        alg="ES256",
        private_pem=b"",
        public_jwk={"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig"},
        created_at=created_at,
        activates_at=times.pop("activates_at", created_at) or created_at,
        **times,
    )


def test_the_jwks_lists_published_keys_newest_first(now: datetime) -> None:
    old = key("old", now - 3 * HOUR, retires_at=now - HOUR, expires_at=now + HOUR)
    gone = key("gone", now - 9 * HOUR, retires_at=now - 3 * HOUR, expires_at=now)
    current = key("current", now - 2 * HOUR)
    upcoming = key("upcoming", now - HOUR, activates_at=now + HOUR)
    published = jwks([old, gone, upcoming, current], now)
    assert [k["kid"] for k in published["keys"]] == ["upcoming", "current", "old"]


def test_the_jwks_never_publishes_key_ops(now: datetime) -> None:
    legacy = replace(
        key("legacy", now),
        public_jwk={"kty": "RSA", "kid": "legacy", "use": "sig", "key_ops": ["verify"]},
    )
    assert jwks([legacy], now) == {"keys": [{"kty": "RSA", "kid": "legacy", "use": "sig"}]}


@pytest.mark.parametrize("retired_ago", [HOUR, timedelta(0)], ids=["an-hour-ago", "this-instant"])
def test_a_retired_key_still_published_needs_a_new_first_key(
    now: datetime, retired_ago: timedelta
) -> None:
    retired = key("retired", now - 3 * HOUR, retires_at=now - retired_ago, expires_at=now + HOUR)
    made = first_keys([retired], ["ES256"], now, propagation=HOUR)
    assert [(k.alg, k.activates_at) for k in made] == [("ES256", now + HOUR)]


def test_a_key_retiring_later_is_ready_and_none_is_made(now: datetime) -> None:
    retiring = key("retiring", now - 3 * HOUR, retires_at=now + HOUR, expires_at=now + 2 * HOUR)
    assert first_keys([retiring], ["ES256"], now, propagation=HOUR) == []


def test_first_keys_of_an_empty_store_sign_at_once(now: datetime) -> None:
    made = first_keys([], ["ES256", "ES256"], now, propagation=HOUR)
    assert [(k.alg, k.activates_at) for k in made] == [("ES256", now)]
    assert made[0].kid != generate("ES256", now).kid
