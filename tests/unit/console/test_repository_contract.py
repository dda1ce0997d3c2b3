"""One contract for the console's repositories, run on the SQL adapters (SQLite)
and on the in-memory fakes the use-case tests use: the fakes stay honest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.console.adapters.tables import metadata
from services.console.adapters.unit_of_work import transactions
from services.console.domain.audit import AuditEntry
from services.console.domain.invitations import Invitation, hash_token
from services.console.domain.roles import Role
from services.console.domain.sessions import BrowserSession
from services.console.domain.staff import Staff
from services.console.domain.teams import Member, Team
from services.runtime import db
from tests.fakes.console import MemoryConsoleWork

T0 = datetime(2030, 1, 1, tzinfo=UTC)
Opener = Callable[[], AbstractContextManager[Any]]


@pytest.fixture(params=["sql", "memory"])
def work(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    if request.param == "memory":
        state = MemoryConsoleWork()

        @contextmanager
        def memory() -> Iterator[MemoryConsoleWork]:
            yield state

        yield memory
        return
    engine = db.create_engine(f"sqlite:///{tmp_path / 'console.db'}")
    metadata.create_all(engine)
    yield transactions(db.session_factory(engine))
    engine.dispose()


def team(n: int) -> Team:
    return Team(f"team_{n}", f"ag_{n}", f"Team {n}", "test", T0)


def member(team_id: str, who: str, role: Role = Role.VIEWER) -> Member:
    return Member(team_id, f"sub-{who}", f"{who}@example.com", role, False, T0)


def test_teams_and_members(work: Opener) -> None:
    with work() as uow:
        uow.teams.add(team(2))
        uow.teams.add(team(1))
        uow.members.add(member("team_1", "ada", Role.ADMINISTRATOR))
        uow.members.add(member("team_1", "bob"))
        uow.members.add(member("team_2", "bob"))
    with work() as uow:
        assert uow.teams.get("team_1") == team(1)
        assert uow.teams.get("team_x") is None
        assert uow.teams.by_agency("ag_2") == team(2)
        assert uow.teams.by_agency("ag_x") is None
        assert [t.id for t in uow.teams.all()] == ["team_1", "team_2"]
        assert [m.email for m in uow.members.of_team("team_1")] == [
            "ada@example.com",
            "bob@example.com",
        ]
        assert {m.team_id for m in uow.members.of_subject("sub-bob")} == {"team_1", "team_2"}
        bob = uow.members.get("team_1", "sub-bob")
        assert bob == member("team_1", "bob")
        uow.members.save(Member("team_1", "sub-bob", bob.email, Role.SENDER, True, T0))
        uow.members.remove("team_2", "sub-bob")
    with work() as uow:
        saved = uow.members.get("team_1", "sub-bob")
        assert (saved.role, saved.refunder) == (Role.SENDER, True)
        assert uow.members.get("team_2", "sub-bob") is None
        assert uow.members.get("team_1", "sub-nobody") is None


def test_invitations(work: Opener) -> None:
    invitation = Invitation(
        "inv_1", "team_1", "cy@example.com", Role.DEVELOPER, True, hash_token("t"),
        "ada@example.com", T0, T0 + timedelta(days=7),
    )  # fmt: skip
    with work() as uow:
        uow.teams.add(team(1))
        uow.invitations.add(invitation)
    with work() as uow:
        assert uow.invitations.by_token_hash(hash_token("t")) == invitation
        assert uow.invitations.by_token_hash(hash_token("u")) is None
        assert uow.invitations.pending("team_1", T0) == [invitation]
        assert uow.invitations.pending("team_1", T0 + timedelta(days=7)) == []
        uow.invitations.save(Invitation(**{**vars(invitation), "accepted_at": T0}))
    with work() as uow:
        assert uow.invitations.pending("team_1", T0) == []
        assert uow.invitations.by_token_hash(hash_token("t")).accepted_at == T0


def test_audit_trail_newest_first_per_team(work: Opener) -> None:
    with work() as uow:
        uow.audit.record(AuditEntry("team_1", "ada@example.com", "a", T0, {"k": "v"}))
        uow.audit.record(AuditEntry("team_1", "ada@example.com", "b", T0 + timedelta(1)))
        uow.audit.record(AuditEntry("team_2", "bob@example.com", "c", T0))
    with work() as uow:
        entries = uow.audit.of_team("team_1")
    assert [(e.action, e.details) for e in entries] == [("b", {}), ("a", {"k": "v"})]


def test_browser_sessions(work: Opener) -> None:
    staff = Staff("sub-ada", "ada@example.com", True, "Ada", operator=True)
    signed_in = BrowserSession(T0 + timedelta(hours=8), {}, staff, "id-token")
    pending = BrowserSession(T0 + timedelta(minutes=15), {"state": "s", "next": "/"})
    with work() as uow:
        uow.sessions.store("k1", pending)
        uow.sessions.store("k2", signed_in)
    with work() as uow:
        assert uow.sessions.load("k1") == pending
        assert uow.sessions.load("k2") == signed_in
        uow.sessions.store("k1", signed_in)
        assert uow.sessions.load("k1") == signed_in
        uow.sessions.delete("k1")
        assert uow.sessions.load("k1") is None
        uow.sessions.store("k3", pending)
        assert uow.sessions.purge(T0 + timedelta(minutes=14)) == 0
        assert uow.sessions.purge(T0 + timedelta(hours=1)) == 1
    with work() as uow:
        assert uow.sessions.load("k3") is None
        assert uow.sessions.load("k2") == signed_in
