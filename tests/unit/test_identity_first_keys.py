"""A new algorithm's first key (issue 13 item 15): on a database that has never
published a key it signs at once; otherwise it is published first and signs
after the propagation time, and until then nothing signs with that algorithm
except, for access tokens, the algorithm that signs now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.identity.adapters.tables import metadata
from services.identity.adapters.unit_of_work import identity_transactions
from services.identity.domain import signing_keys
from services.identity.service_layer.keys import KeyStore
from services.runtime import db
from services.runtime.errors import FailedPrecondition

T0 = datetime(2030, 1, 1, tzinfo=UTC)
PROPAGATION = timedelta(seconds=900)


def test_on_an_empty_database_every_first_key_signs_at_once() -> None:
    keys = signing_keys.first_keys([], ["ES256", "RS256"], T0, propagation=PROPAGATION)
    assert [k.alg for k in keys] == ["ES256", "RS256"]
    assert all(k.activates_at == T0 and k.signs_at(T0) for k in keys)


def test_a_new_algorithm_beside_published_keys_is_published_before_it_signs() -> None:
    (es256,) = signing_keys.first_keys([], ["ES256"], T0, propagation=PROPAGATION)
    later = T0 + timedelta(days=3)
    (rs256,) = signing_keys.first_keys([es256], ["ES256", "RS256"], later, propagation=PROPAGATION)
    assert rs256.alg == "RS256"
    assert rs256.published_at(later)
    assert not rs256.signs_at(later)
    assert rs256.activates_at == later + PROPAGATION
    # ...and a pending first key is not made twice.
    assert signing_keys.first_keys([es256, rs256], ["RS256"], later, propagation=PROPAGATION) == []


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_the_store_never_signs_with_a_key_it_has_not_published_long_enough() -> None:
    engine = db.create_engine("sqlite://")
    metadata.create_all(engine)
    sessions = db.session_factory(engine)
    clock = Clock()
    KeyStore(
        identity_transactions(sessions), clock=clock
    ).ensure_signing_key()  # ES256 only, served for a while
    clock.now = T0 + timedelta(days=1)
    # The operator turns on PS256 for access tokens; RS256 is advertised for ID tokens.
    store = KeyStore(
        identity_transactions(sessions),
        alg="PS256",
        algorithms=("ES256", "RS256"),
        propagation=PROPAGATION,
        clock=clock,
    )
    store.ensure_signing_key()
    published = {k["alg"]: k["kid"] for k in store.jwks()["keys"]}
    assert set(published) == {"ES256", "PS256", "RS256"}
    assert store.signer().alg == "ES256"  # access tokens keep the algorithm that signs now
    with pytest.raises(FailedPrecondition, match="RS256"):
        store.signer("RS256")
    clock.now += PROPAGATION
    assert store.signer().kid == published["PS256"]
    assert store.signer("RS256").kid == published["RS256"]
    engine.dispose()
