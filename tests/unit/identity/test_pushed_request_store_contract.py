"""The pushed-authorization-request store's contract, on the SQL adapter
(SQLite) and on the fake the use-case tests use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.identity.domain.authorization import AuthorizationRequest
from services.identity.domain.pushed_requests import StoredPush
from tests.unit.identity.conftest import Opener

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def request(client_id: str) -> AuthorizationRequest:
    return AuthorizationRequest(
        client_id=client_id,
        redirect_uri="https://rp.example.gov/callback",
        scopes=("openid", "email"),
        state="s",
        nonce=None,
        code_challenge="c" * 43,
        prompt=frozenset({"login"}),
        max_age=60,
        login_hint=None,
        ui_locales=("en",),
        claims_locales=(),
        acr="Cl.Cm",
        acr_essential=True,
        display="page",
        claims={"id_token": {"acr": {"essential": True}}},
    )


def test_pushed_requests(work: Opener) -> None:
    mine = StoredPush("ag_a", request("ag_a"), T0 + timedelta(seconds=60))
    old = StoredPush("ag_a", request("ag_a"), T0)
    with work() as uow:
        uow.pushed_requests.add("h1", mine)
        uow.pushed_requests.add("h2", old)
    with work() as uow:
        assert uow.pushed_requests.take("h1", "ag_b") is None  # not another agency's
        assert uow.pushed_requests.take("h9", "ag_a") is None
        assert uow.pushed_requests.take("h1", "ag_a") == mine
    with work() as uow:
        assert uow.pushed_requests.take("h1", "ag_a") is None  # used up
        assert uow.pushed_requests.purge(T0) == 1
        assert uow.pushed_requests.take("h2", "ag_a") is None
