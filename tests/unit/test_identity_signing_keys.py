"""identity's signing keys: generation, which key signs, which keys are published."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt import PyJWK

from services.identity.domain.signing_keys import (
    SIGNING_ALGORITHMS,
    SigningKey,
    active_key,
    generate,
    jwks,
)

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
GENERATED_AT = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=SIGNING_ALGORITHMS)
def generated(request: pytest.FixtureRequest) -> SigningKey:
    """One real key per algorithm (RSA generation is slow, so once per module)."""
    alg: str = request.param
    return generate(alg, GENERATED_AT)


@pytest.fixture(scope="module")
def template() -> SigningKey:
    """An ES256 key to copy with other kids and times (no need to generate many)."""
    return generate("ES256", GENERATED_AT)


def at(key: SigningKey, kid: str, **times: datetime | None) -> SigningKey:
    return replace(key, kid=kid, public_jwk={**key.public_jwk, "kid": kid}, **times)  # type: ignore[arg-type]


def test_generated_public_jwk_names_itself_and_holds_no_private_material(
    generated: SigningKey,
) -> None:
    jwk = generated.public_jwk
    assert jwk["kid"] == generated.kid
    assert jwk["alg"] == generated.alg
    assert jwk["use"] == "sig"
    assert jwk["kty"] == ("EC" if generated.alg == "ES256" else "RSA")
    if generated.alg == "ES256":
        assert jwk["crv"] == "P-256"
    for member in PRIVATE_MEMBERS:
        assert member not in jwk
    assert generated.activates_at == GENERATED_AT
    assert generated.created_at == GENERATED_AT
    assert generated.retires_at is None
    assert generated.expires_at is None


def test_generated_key_signs_what_its_public_jwk_verifies(generated: SigningKey) -> None:
    private = load_pem_private_key(generated.private_pem, password=None)
    token = jwt.encode(
        {"hello": "world"},
        private,  # type: ignore[arg-type]
        algorithm=generated.alg,
        headers={"kid": generated.kid},
    )
    public = PyJWK(generated.public_jwk)
    assert public.algorithm_name == generated.alg
    assert jwt.decode(token, public, algorithms=[generated.alg]) == {"hello": "world"}


def test_generated_kids_are_unique(template: SigningKey) -> None:
    again = generate("ES256", GENERATED_AT)
    assert again.kid != template.kid


@pytest.mark.parametrize("alg", ["HS256", "none", "ES384", "EdDSA"])
def test_unsupported_algorithms_are_refused(alg: str) -> None:
    with pytest.raises(ValueError, match=alg):
        generate(alg, GENERATED_AT)


def test_active_key_is_the_latest_activated_non_retired_key(
    template: SigningKey, now: datetime
) -> None:
    day = timedelta(days=1)
    old = at(template, "old", activates_at=now - 30 * day)
    current = at(template, "current", activates_at=now - day)
    retired = at(template, "retired", activates_at=now - day / 2, retires_at=now - day / 4)
    upcoming = at(template, "upcoming", activates_at=now + day)
    keys = [upcoming, old, retired, current]
    chosen = active_key(keys, now)
    assert chosen is not None
    assert chosen.kid == "current"
    later = active_key(keys, now + 2 * day)
    assert later is not None
    assert later.kid == "upcoming"


def test_active_key_boundaries(template: SigningKey, now: datetime) -> None:
    starts_now = at(template, "a", activates_at=now)
    assert active_key([starts_now], now) is starts_now
    retires_now = at(template, "b", activates_at=now - timedelta(hours=1), retires_at=now)
    assert active_key([retires_now], now) is None


def test_no_active_key_when_none_signs(template: SigningKey, now: datetime) -> None:
    assert active_key([], now) is None
    upcoming = at(template, "upcoming", activates_at=now + timedelta(seconds=1))
    assert active_key([upcoming], now) is None


def test_jwks_publishes_upcoming_and_retired_keys_but_not_expired_ones(
    template: SigningKey, now: datetime
) -> None:
    hour = timedelta(hours=1)
    current = at(template, "current", activates_at=now - hour)
    upcoming = at(template, "upcoming", created_at=now, activates_at=now + hour)
    retired = at(
        template,
        "retired",
        activates_at=now - 5 * hour,
        retires_at=now - hour,
        expires_at=now + hour,
    )
    expired = at(
        template,
        "expired",
        activates_at=now - 9 * hour,
        retires_at=now - 5 * hour,
        expires_at=now - timedelta(seconds=1),
    )
    expires_now = at(template, "expires-now", expires_at=now)
    document = jwks([current, upcoming, retired, expired, expires_now], now)
    published = [key["kid"] for key in document["keys"]]
    assert sorted(published) == ["current", "retired", "upcoming"]
    for key in document["keys"]:
        for member in PRIVATE_MEMBERS:
            assert member not in key


def test_jwks_of_no_keys_is_an_empty_set(now: datetime) -> None:
    assert jwks([], now) == {"keys": []}


def test_published_keys_say_use_and_never_key_ops_beside_it(generated: SigningKey) -> None:
    # RFC 7517 4.3: use and key_ops should not appear together; cryptojwt (idpyoidc)
    # refuses a JWKS that has both, and pyjwt writes key_ops into RSA keys.
    (published,) = jwks([generated], GENERATED_AT)["keys"]
    assert published["use"] == "sig"
    assert "key_ops" not in published
