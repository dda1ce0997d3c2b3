"""Revocation (RFC 7009), introspection (RFC 7662) and UserInfo (OIDC Core §5.3)
of citizens' tokens, on in-memory fakes."""

from __future__ import annotations

import pytest

from services.identity.domain.audit import EventType
from services.identity.domain.citizen_tokens import TokenSet, hash_value
from services.identity.service_layer.introspection import INACTIVE, Introspector
from services.identity.service_layer.userinfo import UserInfoClaims
from services.runtime.errors import Unauthenticated
from tests.unit.identity.token_world import (
    CITIZEN_SCOPES,
    REDIRECT_URI,
    World,
    agency,
    new_verifier,
    world,
)


@pytest.fixture
def w() -> World:
    return world()


def signed_in(w: World, scopes: tuple[str, ...] | None = None, sid: str = "sid_1") -> TokenSet:
    client = w.agencies.rows["ag_one"]
    verifier = new_verifier()
    code = w.code(client, verifier, sid=sid, scopes=scopes or CITIZEN_SCOPES)
    return w.tokens.redeem_code(client, code, REDIRECT_URI, verifier)


def introspector(w: World) -> Introspector:
    return Introspector(w.verifier(), w.tokens, w.agencies, clock=w.clock.timestamp)


def userinfo(w: World) -> UserInfoClaims:
    return UserInfoClaims(w.verifier(), w.tokens, w.agencies)


def test_revoking_a_refresh_token_revokes_its_family(w: World) -> None:
    issued = signed_in(w)
    assert issued.refresh_token
    assert w.tokens.revoke(issued.refresh_token, "ag_one", "refresh_token")
    assert all(r.revoked_at == w.clock.now for r in w.state.user_tokens.rows.values())
    (event,) = w.state.audit.events
    assert (event.type, event.details) == (EventType.TOKEN_REVOKED, {"kind": "refresh"})


def test_revoking_an_access_token_revokes_it_alone(w: World) -> None:
    issued = signed_in(w)
    assert w.tokens.revoke(issued.access_token, "ag_one")
    revoked = {r.kind for r in w.state.user_tokens.rows.values() if r.revoked_at}
    assert revoked == {"access"}


@pytest.mark.parametrize("token", ["rt_nothing", "not-a-jwt", "a.b.c"])
def test_unknown_tokens_are_not_an_error_and_change_nothing(w: World, token: str) -> None:
    signed_in(w)
    assert not w.tokens.revoke(token, "ag_one")
    assert all(r.revoked_at is None for r in w.state.user_tokens.rows.values())
    assert w.state.audit.events == []


def test_an_agency_cannot_revoke_another_agencys_token(w: World) -> None:
    issued = signed_in(w)
    assert issued.refresh_token
    assert not w.tokens.revoke(issued.refresh_token, "ag_two")
    assert not w.tokens.revoke(issued.access_token, "ag_two")
    assert all(r.revoked_at is None for r in w.state.user_tokens.rows.values())


def test_logout_and_account_revocation_in_the_callers_unit_of_work(w: World) -> None:
    signed_in(w, sid="sid_a")
    signed_in(w, sid="sid_b")
    with w.uow() as uow:
        assert uow.user_tokens.clients_of_sessions(["sid_a", "sid_x"]) == {
            "sid_a": ["ag_one"],
            "sid_x": [],
        }
        assert w.tokens.revoke_session(uow.user_tokens, "sid_a") == 2
    with w.uow() as uow:
        assert w.tokens.revoke_account(uow.user_tokens, "acc_1", "ag_two") == 0
        assert w.tokens.revoke_account(uow.user_tokens, "acc_1") == 2
    assert all(r.revoked_at for r in w.state.user_tokens.rows.values())


def test_introspection_shows_an_active_access_token_to_its_agency_only(w: World) -> None:
    issued = signed_in(w)
    info = introspector(w).introspect(issued.access_token, "ag_one")
    assert info["active"] is True
    assert info["token_type"] == "Bearer"
    assert info["client_id"] == "ag_one"
    assert (info["acr"], info["amr"], info["sid"]) == ("Cl", ["pwd"], "sid_1")
    assert "gaap_mode" not in info
    assert introspector(w).introspect(issued.access_token, "ag_two") == INACTIVE


def test_introspection_of_refresh_tokens(w: World) -> None:
    issued = signed_in(w)
    assert issued.refresh_token
    info = introspector(w).introspect(issued.refresh_token, "ag_one")
    assert info["active"] is True
    assert info["token_type"] == "refresh_token"
    record = w.state.user_tokens.get(hash_value(issued.refresh_token))
    assert record is not None
    assert info["exp"] == int(record.expires_at.timestamp())
    w.tokens.refresh(w.agencies.rows["ag_one"], issued.refresh_token, None)
    assert introspector(w).introspect(issued.refresh_token, "ag_one") == INACTIVE  # rotated


def test_revoked_expired_malformed_or_disabled_is_inactive(w: World) -> None:
    issued = signed_in(w)
    checks = introspector(w)
    assert checks.introspect("", "ag_one") == INACTIVE
    assert checks.introspect("x" * 9000, "ag_one") == INACTIVE
    assert checks.introspect("not-a-token", "ag_one") == INACTIVE
    w.tokens.revoke(issued.access_token, "ag_one")
    assert checks.introspect(issued.access_token, "ag_one") == INACTIVE
    fresh = signed_in(w)
    w.agencies.rows["ag_one"] = agency(disabled_at=w.clock.now)
    assert introspector(w).introspect(fresh.access_token, "ag_one") == INACTIVE
    w.agencies.rows["ag_one"] = agency()
    w.clock.advance(seconds=300 + 31)
    assert introspector(w).introspect(fresh.access_token, "ag_one") == INACTIVE


def test_userinfo_releases_the_consented_scope_claims(w: World) -> None:
    issued = signed_in(w, scopes=("openid", "email"))
    claims = userinfo(w).claims_for(issued.access_token)
    assert claims == {
        "sub": w.tokens.subject("acc_1", w.agencies.rows["ag_one"]),
        "email": "ada@example.org",
        "email_verified": True,
    }


def test_userinfo_refuses_revoked_foreign_and_openid_less_tokens(w: World) -> None:
    issued = signed_in(w)
    with pytest.raises(Unauthenticated, match="not an access token issued to you"):
        userinfo(w).claims_for(issued.access_token, caller="ag_two")
    w.tokens.revoke(issued.access_token, "ag_one")
    with pytest.raises(Unauthenticated, match="revoked"):
        userinfo(w).claims_for(issued.access_token)
    no_openid = signed_in(w, scopes=("email",))
    with pytest.raises(PermissionError, match="openid"):
        userinfo(w).claims_for(no_openid.access_token)


def test_pairwise_subjects_differ_between_agencies_and_public_ones_do_not() -> None:
    w = world()
    one, two = agency("ag_one"), agency("ag_two")
    assert w.tokens.subject("acc_1", one) != w.tokens.subject("acc_1", two)
    public_one = agency("ag_one", subject_type="public")
    public_two = agency("ag_two", subject_type="public")
    assert w.tokens.subject("acc_1", public_one) == w.tokens.subject("acc_1", public_two)
    assert w.tokens.subject("acc_1", one) == world().tokens.subject("acc_1", one)
