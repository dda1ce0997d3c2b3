"""The key store (first keys, rotation, which key signs) and agencies' access
tokens from the client-credentials grant, on in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from joserfc import jws

from services.identity.domain.audit import EventType
from services.identity.service_layer.keys import KeyStore, longest_token
from services.identity.service_layer.tokens import AccessTokenIssuer
from services.runtime.access_tokens import AccessTokenVerifier, audience_for
from services.runtime.errors import FailedPrecondition
from services.runtime.keys import KeyCache
from tests.fakes.identity_tokens import token_transactions
from tests.unit.identity.token_world import ISSUER, Clock, World, agency, world

PROPAGATION = timedelta(minutes=15)


@pytest.fixture
def w() -> World:
    return world()


def kid_of(token: str) -> str:
    return str(jws.extract_compact(token.encode()).headers()["kid"])


def agency_verifier(w: World) -> AccessTokenVerifier:
    return AccessTokenVerifier(
        issuer=ISSUER,
        audience=audience_for("payments"),
        keys=KeyCache(w.keys.jwks, max_age=0, min_refresh_interval=0),
        clock=w.clock.timestamp,
    )


def test_an_empty_store_gets_a_key_per_algorithm_that_signs_at_once() -> None:
    uow = token_transactions()
    clock = Clock(datetime(2030, 1, 1, tzinfo=UTC))
    store = KeyStore(uow, clock=clock)
    store.ensure_signing_key()
    (only,) = uow.state.signing_keys.rows.values()
    assert only.alg == "ES256"
    assert store.signer().kid == only.kid
    assert [k["kid"] for k in store.jwks()["keys"]] == [only.kid]
    assert uow.state.signing_keys.locks == 1
    store.ensure_signing_key()  # nothing more to make
    assert len(uow.state.signing_keys.rows) == 1


def test_client_credentials_tokens_are_signed_for_the_services_in_their_scopes(w: World) -> None:
    issuer = AccessTokenIssuer(w.keys, issuer=ISSUER, ttl_seconds=300, clock=w.clock.timestamp)
    client = agency("ag_pay", scopes=("payments:create",))
    issued = issuer.issue(client, ("payments:create",))
    assert (issued.expires_in, issued.scope) == (300, "payments:create")
    principal, claims = agency_verifier(w).verify_with_claims(issued.access_token)
    assert principal.client_id == "ag_pay"
    assert claims["gaap_agency_name"] == "Agency ag_pay"
    assert jws.extract_compact(issued.access_token.encode()).headers()["typ"] == "at+jwt"


def test_rotation_publishes_the_new_key_first_then_switches_then_unpublishes_the_old(
    w: World,
) -> None:
    issuer = AccessTokenIssuer(w.keys, issuer=ISSUER, ttl_seconds=300, clock=w.clock.timestamp)
    client = agency("ag_pay", scopes=("payments:create",))
    old_token = issuer.issue(client, ("payments:create",)).access_token
    old_kid = kid_of(old_token)

    (rotation,) = w.keys.rotate(
        longest_token=longest_token(300), propagation=PROPAGATION, alg="ES256", actor="ops"
    )

    published = {k["kid"] for k in w.keys.jwks()["keys"]}
    assert {old_kid, rotation.new.kid} <= published
    assert kid_of(issuer.issue(client, ("payments:create",)).access_token) == old_kid
    assert agency_verifier(w).verify(old_token).client_id == "ag_pay"
    (event,) = w.state.audit.events
    assert event.type is EventType.KEYS_ROTATED
    assert event.details["new_kid"] == rotation.new.kid
    assert event.details["by"] == "ops"

    w.clock.now = rotation.switch_at
    new_token = issuer.issue(client, ("payments:create",)).access_token
    assert kid_of(new_token) == rotation.new.kid
    assert agency_verifier(w).verify(new_token).client_id == "ag_pay"
    assert old_kid in {k["kid"] for k in w.keys.jwks()["keys"]}  # its tokens may still live

    w.clock.now = rotation.retired.expires_at or w.clock.now
    assert old_kid not in {k["kid"] for k in w.keys.jwks()["keys"]}
    statuses = {k.kid: k.status for k in w.keys.list_keys()}
    assert statuses[rotation.new.kid] == "signing"
    assert statuses[old_kid] == "unpublished"


def test_a_failed_rotation_changes_no_key(w: World) -> None:
    before = dict(w.state.signing_keys.rows)
    with pytest.raises(FailedPrecondition, match="nothing to rotate"):
        w.keys.rotate(longest_token=longest_token(300), propagation=PROPAGATION, alg="PS256")
    assert w.state.signing_keys.rows == before
    assert w.state.audit.events == []
