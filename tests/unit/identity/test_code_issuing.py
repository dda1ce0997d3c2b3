"""Issuing the authorization code at the end of a sign-in (``CodeIssuer``): the
pending request is used up by the code, exactly once, on in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from services.identity.domain.authorization import AuthorizationRequest
from services.identity.domain.citizen_tokens import StoredCode, hash_value, s256
from services.identity.service_layer.authorization_flow import CodeIssuer
from services.identity.service_layer.signin import BrowserSession
from tests.fakes.identity_tokens import MemoryAuthorizationCodes
from tests.fakes.transactions import FakeTransactions
from tests.unit.identity.token_world import REDIRECT_URI, World, new_verifier, world

SESSION = BrowserSession(
    sid="sid_1",
    account_id="acc_1",
    auth_time=datetime(2030, 1, 2, 8, 30, tzinfo=UTC),
    acr="Cl.Cm",
    amr=("pwd", "otp"),
)


@dataclass
class MemoryPending:
    ids: set[str] = field(default_factory=set)

    def delete(self, pending_id: str) -> bool:
        if pending_id not in self.ids:
            return False
        self.ids.remove(pending_id)
        return True


@dataclass
class CodeState:
    pending: MemoryPending
    authorization_codes: MemoryAuthorizationCodes


class RefusingCodes(MemoryAuthorizationCodes):
    def add(self, code: StoredCode) -> None:
        raise RuntimeError("the database went away")


def request(verifier: str) -> AuthorizationRequest:
    return AuthorizationRequest(
        client_id="ag_one",
        redirect_uri=REDIRECT_URI,
        scopes=("openid", "email"),
        state="st",
        nonce="n-1",
        code_challenge=s256(verifier),
        prompt=frozenset(),
        max_age=None,
        login_hint=None,
        ui_locales=(),
        claims_locales=(),
        acr="Cl.Cm",
        acr_essential=False,
        display="page",
        claims=None,
    )


@pytest.fixture
def w() -> World:
    return world()


def issuer_for(w: World, *pending_ids: str) -> tuple[CodeIssuer, FakeTransactions[CodeState]]:
    uow = FakeTransactions(CodeState(MemoryPending(set(pending_ids)), MemoryAuthorizationCodes()))
    return CodeIssuer(uow, w.tokens), uow


def test_the_code_carries_the_session_and_uses_up_the_pending_request(w: World) -> None:
    issuer, uow = issuer_for(w, "p1", "p2")
    verifier = new_verifier()

    code = issuer.issue("p1", request(verifier), SESSION)

    assert code is not None
    assert code.startswith("ac_")
    assert uow.state.pending.ids == {"p2"}
    stored = uow.state.authorization_codes.rows[hash_value(code)]
    assert (stored.client_id, stored.account_id, stored.sid) == ("ag_one", "acc_1", "sid_1")
    assert (stored.acr, stored.amr, stored.auth_time) == (
        "Cl.Cm",
        ["pwd", "otp"],
        SESSION.auth_time,
    )
    assert (stored.redirect_uri, stored.scope, stored.nonce) == (
        REDIRECT_URI,
        "openid email",
        "n-1",
    )
    assert stored.code_challenge == s256(verifier)
    assert stored.used_at is None


def test_the_code_redeems_at_the_token_endpoint(w: World) -> None:
    issuer, uow = issuer_for(w, "p1")
    uow.state.authorization_codes = w.state.authorization_codes  # one database
    verifier = new_verifier()

    code = issuer.issue("p1", request(verifier), SESSION)
    assert code is not None
    issued = w.tokens.redeem_code(w.agencies.rows["ag_one"], code, REDIRECT_URI, verifier)

    assert issued.id_token


def test_a_second_tab_finishing_the_same_request_gets_no_code(w: World) -> None:
    issuer, uow = issuer_for(w, "p1")
    assert issuer.issue("p1", request(new_verifier()), SESSION) is not None

    assert issuer.issue("p1", request(new_verifier()), SESSION) is None
    assert len(uow.state.authorization_codes.rows) == 1


def test_a_request_gone_or_never_there_gets_no_code(w: World) -> None:
    issuer, uow = issuer_for(w)

    assert issuer.issue("p-unknown", request(new_verifier()), SESSION) is None
    assert uow.state.authorization_codes.rows == {}


def test_when_the_code_cannot_be_written_the_request_stays_pending(w: World) -> None:
    issuer, uow = issuer_for(w, "p1")
    uow.state.authorization_codes = RefusingCodes()

    with pytest.raises(RuntimeError):
        issuer.issue("p1", request(new_verifier()), SESSION)

    assert uow.state.pending.ids == {"p1"}
    assert uow.commits == 0
