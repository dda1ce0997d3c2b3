"""One contract for the token side's stores, run on the SQL adapters (SQLite)
and on the in-memory fakes the use-case tests use: the fakes stay honest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.identity.domain.citizen_tokens import StoredCode, TokenRecord
from services.identity.domain.one_time_codes import Purpose, Ticket
from services.identity.domain.verification_tickets import LoadedTicket
from tests.unit.identity.conftest import Opener

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def code(code_hash: str = "h1") -> StoredCode:
    return StoredCode(
        code_hash=code_hash,
        client_id="ag_one",
        account_id="acc_1",
        sid="sid_1",
        redirect_uri="https://a.example/cb",
        scope="openid email",
        nonce=None,
        code_challenge="c" * 43,
        claims={"id_token": {"email": None}},
        acr="Cl",
        amr=["pwd"],
        auth_time=T0,
        created_at=T0,
        expires_at=T0 + timedelta(seconds=60),
    )


def token(token_id: str, kind: Any = "access", **changes: Any) -> TokenRecord:
    values: dict[str, Any] = {
        "id": token_id,
        "kind": kind,
        "client_id": "ag_one",
        "account_id": "acc_1",
        "sid": "sid_1",
        "code_hash": "h1",
        "family": "fam_1",
        "scope": "openid",
        "claims": None,
        "acr": "Cl",
        "amr": ["pwd"],
        "auth_time": T0,
        "created_at": T0,
        "expires_at": T0 + timedelta(minutes=5),
        **changes,
    }
    return TokenRecord(**values)


def test_a_code_is_stored_whole_and_marked_used_once(work: Opener) -> None:
    with work() as uow:
        uow.authorization_codes.add(code())
    with work() as uow:
        assert uow.authorization_codes.get("h1", lock=True) == code()
        assert uow.authorization_codes.get("nope") is None
        assert uow.authorization_codes.mark_used("h1", T0)
        assert not uow.authorization_codes.mark_used("h1", T0)
    with work() as uow:
        assert uow.authorization_codes.get("h1").used_at == T0


def test_tokens_are_found_by_kind_and_revoked_by_what_they_share(work: Opener) -> None:
    with work() as uow:
        uow.user_tokens.add(token("jti_a"))
        uow.user_tokens.add(token("rt_hash", "refresh"))
        uow.user_tokens.add(token("jti_b", family=None, code_hash=None, sid="sid_2"))
        uow.user_tokens.add(token("jti_c", client_id="ag_two", family="fam_2", code_hash="h2"))
    with work() as uow:
        tokens = uow.user_tokens
        assert tokens.get("jti_a") == token("jti_a")
        assert tokens.get_refresh("jti_a") is None
        assert tokens.get_access("rt_hash") is None
        assert tokens.get_refresh("rt_hash", lock=True) == token("rt_hash", "refresh")
        tokens.mark_used("rt_hash", T0)
        clients = tokens.clients_of_sessions(["sid_1", "sid_9"])
        assert {sid: sorted(ids) for sid, ids in clients.items()} == {
            "sid_1": ["ag_one", "ag_two"],
            "sid_9": [],
        }
        assert tokens.revoke_family("fam_1", T0) == 2
        assert tokens.revoke_family("fam_1", T0) == 0  # already revoked
        assert tokens.revoke_code("h2", T0) == 1
        assert tokens.revoke_account("acc_1", T0, client_id="ag_two") == 0
        assert tokens.revoke_session("sid_2", T0) == 1
    with work() as uow:
        assert uow.user_tokens.get("rt_hash").used_at == T0
        assert all(uow.user_tokens.get(i).revoked_at == T0 for i in ("jti_a", "jti_b", "jti_c"))


def test_code_tickets_count_wrong_answers_and_are_purged(work: Opener) -> None:
    ticket = LoadedTicket(
        Ticket(
            id="tkt_" + "a" * 30,
            purpose=Purpose.RESET,
            email="ada@example.org",
            code_hash="c" * 64,
            browser_hash="b" * 64,
            created_at=T0,
            expires_at=T0 + timedelta(minutes=15),
        ),
        None,
        "en",
    )
    with work() as uow:
        uow.verification_tickets.add(ticket, "en")
    with work() as uow:
        assert uow.verification_tickets.get(ticket.id, Purpose.REGISTER) is None
        uow.verification_tickets.count_wrong(ticket.id)
        uow.verification_tickets.mark(ticket.id, verified_at=T0)
    with work() as uow:
        loaded = uow.verification_tickets.get(ticket.id, Purpose.RESET, lock=True)
        assert loaded is not None
        assert (loaded.ticket.attempts, loaded.ticket.verified_at) == (1, T0)
        assert uow.verification_tickets.purge(T0) == 0
        assert uow.verification_tickets.purge(T0 + timedelta(days=1)) == 1


def test_an_assertion_id_is_accepted_once_until_purged(work: Opener) -> None:
    with work() as uow:
        assert uow.assertions.first_use("ag_one", "j1", T0)
        assert not uow.assertions.first_use("ag_one", "j1", T0)
        assert uow.assertions.first_use("ag_two", "j1", T0)
    with work() as uow:
        assert uow.assertions.purge(T0 + timedelta(seconds=1)) == 2
        assert uow.assertions.first_use("ag_one", "j1", T0)
