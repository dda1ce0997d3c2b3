"""Planning a signing-key rotation: the times that make it safe."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.identity.domain.signing_keys import (
    SigningKey,
    active_key,
    generate,
    jwks,
    next_change,
    rotate,
    status,
)
from services.runtime.errors import FailedPrecondition

T0 = datetime(2030, 1, 1, tzinfo=UTC)
PROPAGATION = timedelta(minutes=15)
LONGEST = timedelta(minutes=6)


@pytest.fixture(scope="module")
def current() -> SigningKey:
    return generate("ES256", T0 - timedelta(days=30))


def test_new_key_is_published_before_it_signs(current: SigningKey) -> None:
    rotation = rotate([current], "ES256", T0, propagation=PROPAGATION, longest_token=LONGEST)
    keys = [rotation.new, rotation.retired]
    published = {k["kid"] for k in jwks(keys, T0)["keys"]}
    assert published == {current.kid, rotation.new.kid}
    assert active_key(keys, T0, "ES256") == rotation.retired
    assert active_key(keys, T0 + PROPAGATION, "ES256") == rotation.new
    assert status(rotation.new, T0) == "pending"
    assert status(rotation.retired, T0 + PROPAGATION) == "retired"


def test_retired_key_stays_published_for_its_last_tokens(current: SigningKey) -> None:
    rotation = rotate([current], "ES256", T0, propagation=PROPAGATION, longest_token=LONGEST)
    keys = [rotation.new, rotation.retired]
    last_token_expiry = T0 + PROPAGATION + LONGEST
    assert rotation.retired.published_at(last_token_expiry - timedelta(microseconds=1))
    assert {k["kid"] for k in jwks(keys, last_token_expiry)["keys"]} == {rotation.new.kid}
    assert status(rotation.retired, last_token_expiry) == "unpublished"


def test_next_change_is_the_next_switch(current: SigningKey) -> None:
    rotation = rotate([current], "ES256", T0, propagation=PROPAGATION, longest_token=LONGEST)
    keys = [rotation.new, rotation.retired]
    assert next_change(keys, T0) == T0 + PROPAGATION
    assert next_change(keys, T0 + PROPAGATION) == T0 + PROPAGATION + LONGEST
    assert next_change(keys, T0 + PROPAGATION + LONGEST) is None


def test_rotation_refuses_while_one_is_pending_or_with_nothing_to_rotate(
    current: SigningKey,
) -> None:
    rotation = rotate([current], "ES256", T0, propagation=PROPAGATION, longest_token=LONGEST)
    with pytest.raises(FailedPrecondition, match="under way"):
        rotate(
            [rotation.new, rotation.retired],
            "ES256",
            T0 + timedelta(minutes=1),
            propagation=PROPAGATION,
            longest_token=LONGEST,
        )
    with pytest.raises(FailedPrecondition, match="nothing to rotate"):
        rotate([current], "RS256", T0, propagation=PROPAGATION, longest_token=LONGEST)


def test_zero_propagation_switches_at_once(current: SigningKey) -> None:
    rotation = rotate(
        [replace(current)], "ES256", T0, propagation=timedelta(0), longest_token=LONGEST
    )
    assert active_key([rotation.new, rotation.retired], T0, "ES256") == rotation.new
