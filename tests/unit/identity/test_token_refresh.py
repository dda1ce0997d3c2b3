"""Refresh tokens (RFC 6749 §6, RFC 9700 §4.14): rotated on every use, and a
rotated one presented again ends its whole family. On in-memory fakes."""

from __future__ import annotations

import pytest

from services.identity.domain.audit import EventType
from services.identity.domain.citizen_tokens import GrantError, TokenSet, hash_value
from tests.unit.identity.token_world import REDIRECT_URI, World, agency, new_verifier, world


@pytest.fixture
def w() -> World:
    return world()


def signed_in(w: World) -> TokenSet:
    client = w.agencies.rows["ag_one"]
    verifier = new_verifier()
    return w.tokens.redeem_code(client, w.code(client, verifier), REDIRECT_URI, verifier)


def test_a_refresh_rotates_the_token_in_the_same_family(w: World) -> None:
    client = w.agencies.rows["ag_one"]
    first = signed_in(w)
    assert first.refresh_token
    w.clock.advance(minutes=5)

    second = w.tokens.refresh(client, first.refresh_token, None)

    assert second.refresh_token
    assert second.refresh_token != first.refresh_token
    old = w.state.user_tokens.get(hash_value(first.refresh_token))
    new = w.state.user_tokens.get(hash_value(second.refresh_token))
    assert old is not None
    assert new is not None
    assert old.used_at == w.clock.now
    assert old.revoked_at is None
    assert new.family == old.family
    assert new.used_at is None
    assert second.scope == first.scope
    assert w.verifier().verify(second.access_token).client_id == "ag_one"


def test_a_rotated_token_used_again_revokes_the_whole_family(w: World) -> None:
    client = w.agencies.rows["ag_one"]
    first = signed_in(w)
    assert first.refresh_token
    second = w.tokens.refresh(client, first.refresh_token, None)

    with pytest.raises(GrantError) as refusal:
        w.tokens.refresh(client, first.refresh_token, None)

    assert refusal.value.error == "invalid_grant"
    assert refusal.value.description == "refresh token already used; the whole family is revoked"
    assert all(r.revoked_at is not None for r in w.state.user_tokens.rows.values())
    assert w.state.audit.types() == [EventType.REFRESH_REUSED]
    assert w.state.audit.events[0].details == {"revoked_tokens": 4}
    # ...and the newest one of the family is now refused as revoked.
    assert second.refresh_token
    with pytest.raises(GrantError, match="refresh token revoked"):
        w.tokens.refresh(client, second.refresh_token, None)


def test_a_narrower_scope_may_be_asked_a_wider_one_never(w: World) -> None:
    client = w.agencies.rows["ag_one"]
    first = signed_in(w)
    assert first.refresh_token
    with pytest.raises(GrantError) as refusal:
        w.tokens.refresh(client, first.refresh_token, "openid email phone")
    assert (refusal.value.error, refusal.value.description) == (
        "invalid_scope",
        "scope exceeds the original grant",
    )
    # The refusal changed nothing: the token still rotates.
    narrower = w.tokens.refresh(client, first.refresh_token, "openid email")
    assert narrower.scope == "openid email"


def test_a_refresh_never_gives_more_than_the_agency_is_registered_for_today(w: World) -> None:
    first = signed_in(w)
    assert first.refresh_token
    shrunk = agency(scopes=("openid", "email", "offline_access"))
    assert (
        w.tokens.refresh(shrunk, first.refresh_token, None).scope == "openid email offline_access"
    )


@pytest.mark.parametrize(
    ("token", "client_id", "error", "description"),
    [
        ("", "ag_one", "invalid_request", "refresh_token is required"),
        ("rt_unknown", "ag_one", "invalid_grant", "unknown refresh token"),
        (None, "ag_two", "invalid_grant", "unknown refresh token"),
    ],
)
def test_unknown_or_foreign_refresh_tokens_are_refused(
    w: World, token: str | None, client_id: str, error: str, description: str
) -> None:
    issued = signed_in(w)
    presented = issued.refresh_token if token is None else token
    assert presented is not None
    with pytest.raises(GrantError) as refusal:
        w.tokens.refresh(agency(client_id), presented, None)
    assert (refusal.value.error, refusal.value.description) == (error, description)
    assert all(r.used_at is None for r in w.state.user_tokens.rows.values())


def test_an_expired_refresh_token_is_refused(w: World) -> None:
    issued = signed_in(w)
    assert issued.refresh_token
    w.clock.advance(days=30)
    with pytest.raises(GrantError, match="refresh token expired"):
        w.tokens.refresh(w.agencies.rows["ag_one"], issued.refresh_token, None)
