"""An agency's credentials after registration (rotating and revoking secrets,
replacing keys, going live) and its consent-page presentation, on fakes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from services.identity.domain.agencies import Agency, hash_secret
from services.identity.domain.audit import EventType
from services.identity.service_layer.agencies import AgencyRegistry
from services.runtime.egress import PUBLIC_ONLY
from services.runtime.errors import FailedPrecondition, InvalidArgument
from tests.unit.identity.account_world import World

SCOPES = ["payments:create"]


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def registry(world: World) -> AgencyRegistry:
    return AgencyRegistry(world.uow, world.clock, egress=PUBLIC_ONLY)


def ec_jwks() -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    return {"keys": [ECAlgorithm.to_jwk(key.public_key(), as_dict=True)]}


def stored(world: World, client_id: str) -> Agency:
    agency = world.state.agencies.get(client_id)
    assert agency is not None
    return agency


def test_a_rotated_secret_works_and_the_previous_one_until_its_overlap_ends(
    world: World, registry: AgencyRegistry
) -> None:
    created = registry.create(name="Parking", scopes=SCOPES)
    old = created.client_secret or ""
    rotated = registry.rotate_secret(created.agency.client_id, overlap=timedelta(hours=1))
    new = rotated.client_secret
    assert new.startswith("gaap_test_")
    assert new != old
    agency = stored(world, created.agency.client_id)
    assert agency.secret_hash == hash_secret(new)  # only hashes are kept
    assert agency.previous_secret is not None
    assert agency.previous_secret.hash == hash_secret(old)
    assert agency.matching_secret(new, world.clock()) == "current"
    assert agency.matching_secret(old, world.clock()) == "previous"
    world.clock.advance(minutes=59)
    assert agency.check_secret(old, world.clock())
    world.clock.advance(minutes=1)
    assert not agency.check_secret(old, world.clock())  # the overlap is over
    assert agency.check_secret(new, world.clock())
    [event] = world.state.audit.of_type(EventType.AGENCY_SECRET_ROTATED)
    assert event.details == {"by": None, "overlap_seconds": 3600}
    assert old not in str(event.details)
    assert new not in str(event.details)


def test_an_agency_never_holds_more_than_two_secrets(
    world: World, registry: AgencyRegistry
) -> None:
    created = registry.create(name="Parking", scopes=SCOPES)
    second = registry.rotate_secret(created.agency.client_id).client_secret
    third = registry.rotate_secret(created.agency.client_id).client_secret
    agency = stored(world, created.agency.client_id)
    now = world.clock()
    assert not agency.check_secret(created.client_secret or "", now)
    assert agency.matching_secret(second, now) == "previous"
    assert agency.matching_secret(third, now) == "current"


def test_a_zero_overlap_ends_the_old_secret_at_once_and_bad_overlaps_are_refused(
    world: World, registry: AgencyRegistry
) -> None:
    created = registry.create(name="Parking", scopes=SCOPES)
    registry.rotate_secret(created.agency.client_id, overlap=timedelta(0))
    agency = stored(world, created.agency.client_id)
    assert agency.previous_secret is None
    assert not agency.check_secret(created.client_secret or "", world.clock())
    for overlap in (timedelta(seconds=-1), timedelta(days=7, seconds=1)):
        with pytest.raises(InvalidArgument):
            registry.rotate_secret(created.agency.client_id, overlap=overlap)
    assert stored(world, created.agency.client_id) == agency


def test_revoking_ends_the_previous_secret_and_is_refused_without_one(
    world: World, registry: AgencyRegistry
) -> None:
    created = registry.create(name="Parking", scopes=SCOPES)
    client_id = created.agency.client_id
    with pytest.raises(FailedPrecondition):
        registry.revoke_previous_secret(client_id)
    new = registry.rotate_secret(client_id).client_secret
    registry.revoke_previous_secret(client_id)
    agency = stored(world, client_id)
    assert not agency.check_secret(created.client_secret or "", world.clock())
    assert agency.check_secret(new, world.clock())  # the current one stays
    assert len(world.state.audit.of_type(EventType.AGENCY_SECRET_REVOKED)) == 1
    with pytest.raises(FailedPrecondition):
        registry.revoke_previous_secret(client_id)


def test_an_expired_previous_secret_cannot_be_revoked(
    world: World, registry: AgencyRegistry
) -> None:
    created = registry.create(name="Parking", scopes=SCOPES)
    registry.rotate_secret(created.agency.client_id, overlap=timedelta(minutes=5))
    world.clock.advance(minutes=5)
    with pytest.raises(FailedPrecondition):
        registry.revoke_previous_secret(created.agency.client_id)


def test_agencies_without_a_secret_are_refused_rotation_and_revocation(
    registry: AgencyRegistry,
) -> None:
    key_based = registry.create(name="Keys", scopes=SCOPES, jwks=ec_jwks()).agency
    public = registry.create(name="App", scopes=["openid"], public=True).agency
    for agency in (key_based, public):
        with pytest.raises(FailedPrecondition):
            registry.rotate_secret(agency.client_id)
        with pytest.raises(FailedPrecondition):
            registry.revoke_previous_secret(agency.client_id)


def test_a_fapi2_agency_is_refused_a_secret(registry: AgencyRegistry) -> None:
    fapi2 = registry.create(name="Bank", scopes=["openid"], jwks=ec_jwks(), profile="fapi2").agency
    with pytest.raises(FailedPrecondition, match="fapi2"):
        registry.rotate_secret(fapi2.client_id)


def test_a_disabled_agency_changes_no_credential(registry: AgencyRegistry) -> None:
    agency = registry.create(name="Parking", scopes=SCOPES).agency
    registry.disable(agency.client_id)
    with pytest.raises(FailedPrecondition):
        registry.rotate_secret(agency.client_id)
    with pytest.raises(FailedPrecondition):
        registry.replace_jwks(agency.client_id, ec_jwks())
    with pytest.raises(FailedPrecondition):
        registry.set_mode(agency.client_id, "live")


def test_a_secret_agency_that_uploads_keys_moves_to_private_key_jwt(
    world: World, registry: AgencyRegistry
) -> None:
    created = registry.create(name="Parking", scopes=SCOPES)
    jwks = ec_jwks()
    agency = registry.replace_jwks(created.agency.client_id, jwks)
    assert agency.auth_methods == ("private_key_jwt",)
    assert agency.jwks == jwks
    assert not agency.check_secret(created.client_secret or "", world.clock())
    assert stored(world, agency.client_id) == agency
    assert len(world.state.audit.of_type(EventType.AGENCY_KEYS_REPLACED)) == 1


def test_keys_are_checked_as_at_registration_and_a_refusal_changes_nothing(
    world: World, registry: AgencyRegistry
) -> None:
    agency = registry.create(name="Keys", scopes=SCOPES, jwks=ec_jwks()).agency
    private = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)
    bad: dict[str, Any]
    for bad in ({"keys": []}, {"keys": [private]}, {"keys": [{"kty": "oct", "k": "AA"}]}):
        with pytest.raises(InvalidArgument) as info:
            registry.replace_jwks(agency.client_id, bad)
        assert all(v.field.startswith("jwks_json") for v in info.value.violations)
    assert stored(world, agency.client_id) == agency


def test_a_fapi2_agency_keeps_to_the_profile_key_rules(registry: AgencyRegistry) -> None:
    fapi2 = registry.create(name="Bank", scopes=["openid"], jwks=ec_jwks(), profile="fapi2").agency
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (refused)
    weak = {"keys": [RSAAlgorithm.to_jwk(small.public_key(), as_dict=True) | {"alg": "PS256"}]}
    with pytest.raises(InvalidArgument):
        registry.replace_jwks(fapi2.client_id, weak)
    registry.replace_jwks(fapi2.client_id, ec_jwks())


def test_a_public_client_is_refused_keys(registry: AgencyRegistry) -> None:
    public = registry.create(name="App", scopes=["openid"], public=True).agency
    with pytest.raises(FailedPrecondition):
        registry.replace_jwks(public.client_id, ec_jwks())


def test_going_live_keeps_the_test_secret_for_a_day_and_a_rotation_issues_a_live_one(
    world: World, registry: AgencyRegistry
) -> None:
    created = registry.create(name="Parking", scopes=SCOPES)
    client_id = created.agency.client_id
    live = registry.set_mode(client_id, "live")
    assert live.mode == "live"
    assert live.secret_hash is None
    assert live.check_secret(created.client_secret or "", world.clock())
    assert registry.set_mode(client_id, "live") == live  # already live: unchanged
    assert len(world.state.audit.of_type(EventType.AGENCY_MODE_CHANGED)) == 1
    secret = registry.rotate_secret(client_id).client_secret
    assert secret.startswith("gaap_live_")
    world.clock.advance(hours=24)
    agency = stored(world, client_id)
    assert not agency.check_secret(created.client_secret or "", world.clock())
    assert agency.check_secret(secret, world.clock())


def test_an_agency_never_goes_back_to_test(registry: AgencyRegistry) -> None:
    agency = registry.create(name="Parking", scopes=SCOPES).agency
    registry.set_mode(agency.client_id, "live")
    with pytest.raises(InvalidArgument):
        registry.set_mode(agency.client_id, "test")
    assert registry.get(agency.client_id).mode == "live"


def test_a_secret_use_is_noted_at_most_once_a_minute(
    world: World, registry: AgencyRegistry
) -> None:
    created = registry.create(name="Parking", scopes=SCOPES)
    secret = created.client_secret or ""
    client_id = created.agency.client_id
    writes: list[str] = []
    touch = world.state.agencies.touch_secret

    def counted(*args: Any) -> None:
        writes.append(args[2])
        touch(*args)

    world.state.agencies.touch_secret = counted  # type: ignore[method-assign,assignment]
    assert registry.authenticate_secret(stored(world, client_id), secret)
    first = stored(world, client_id).secret_last_used_at
    assert first == world.clock()
    world.clock.advance(seconds=59)
    assert registry.authenticate_secret(stored(world, client_id), secret)
    assert writes == ["current"]  # no write for a use within the minute
    world.clock.advance(seconds=2)
    assert registry.authenticate_secret(stored(world, client_id), secret)
    assert writes == ["current", "current"]
    assert stored(world, client_id).secret_last_used_at == world.clock()
    assert not registry.authenticate_secret(stored(world, client_id), secret + "x")
    assert len(writes) == 2
    registry.rotate_secret(client_id)
    world.clock.advance(seconds=61)
    assert registry.authenticate_secret(stored(world, client_id), secret)
    assert writes[-1] == "previous"
    previous = stored(world, client_id).previous_secret
    assert previous is not None
    assert previous.last_used_at == world.clock()


def test_the_consent_page_name_and_logo_are_checked_and_updated(
    registry: AgencyRegistry,
) -> None:
    agency = registry.create(name="Parking", scopes=SCOPES).agency
    updated = registry.update(
        agency.client_id,
        {"display_name": " City parking ", "logo_uri": "https://city.example/logo.png"},
    )
    assert (updated.display_name, updated.logo_uri) == (
        "City parking",
        "https://city.example/logo.png",
    )
    for bad in ("http://city.example/logo.png", "javascript:alert(1)", "https://a b"):
        with pytest.raises(InvalidArgument) as info:
            registry.update(agency.client_id, {"logo_uri": bad})
        assert [v.field for v in info.value.violations] == ["logo_uri"]
    with pytest.raises(InvalidArgument):
        registry.update(agency.client_id, {"display_name": "x" * 201})
    assert registry.get(agency.client_id) == updated
    cleared = registry.update(agency.client_id, {"display_name": None, "logo_uri": None})
    assert cleared.display_name is None
    assert cleared.logo_uri is None
