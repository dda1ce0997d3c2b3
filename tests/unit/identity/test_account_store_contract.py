"""One contract for the account side's repositories, run on the SQL adapters
(SQLite) and on the in-memory fakes the use-case tests use: the fakes stay honest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.identity.domain import assurance
from services.identity.domain.agencies import register
from services.identity.domain.audit import AuditFilter, EventType, cursor
from services.identity.domain.disclosure import Disclosure
from services.identity.domain.sessions import BrowserSession
from tests.fakes.identity import account
from tests.unit.identity.account_world import token
from tests.unit.identity.conftest import Opener

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_accounts(work: Opener) -> None:
    ada = account("ada@example.org", at=T0, totp_secret="JBSWY3DPEHPK3PXP")
    with work() as uow:
        uow.accounts.add(ada)
    with work() as uow:
        assert uow.accounts.get(ada.id) == ada
        assert uow.accounts.by_email(" ADA@example.org") == ada
        assert uow.accounts.get_for_update(ada.id) == ada
        assert uow.accounts.get("acc_none") is None
        uow.accounts.update(ada.__class__(**{**vars(ada), "failed_second_factor": 2}))
    with work() as uow:
        assert uow.accounts.get(ada.id).failed_second_factor == 2
        uow.accounts.delete(ada.id)
    with work() as uow:
        assert uow.accounts.by_email("ada@example.org") is None


def test_signin_failures(work: Opener) -> None:
    with work() as uow:
        assert uow.signin_failures.standing(["k1", "addr"], T0) == (False, False)
        assert uow.signin_failures.add_one("k1", "addr", T0 + timedelta(days=1)) == 0
        assert uow.signin_failures.add_one("k1", "addr", T0 + timedelta(days=1)) == 1
        uow.signin_failures.settle("k1", 0, T0 + timedelta(minutes=15), T0 + timedelta(days=1))
        uow.signin_failures.add_one("k2", "addr", T0 + timedelta(days=1))
    with work() as uow:
        assert uow.signin_failures.standing(["k1"], T0) == (True, True)
        assert uow.signin_failures.locked_until(["k1", "k2"], T0) == T0 + timedelta(minutes=15)
        assert uow.signin_failures.failures("k2") == 1
        uow.signin_failures.forget(["k1", "k2"], T0)  # the lock in force stays
        assert uow.signin_failures.standing(["k1", "k2"], T0) == (True, True)
        assert uow.signin_failures.failures("k2") == 0
        assert uow.signin_failures.lift("addr") == 1
        assert uow.signin_failures.standing(["k1"], T0) == (False, False)
        uow.signin_failures.add_one("k3", "other", T0)
        assert uow.signin_failures.purge(T0 + timedelta(seconds=1)) == 1


def test_throttle_counters(work: Opener) -> None:
    with work() as uow:
        counts = [
            uow.throttle_counters.increment("r:a", T0, T0 + timedelta(hours=2)) for _ in "abc"
        ]
        assert counts == [1, 2, 3]
        assert uow.throttle_counters.increment("r:a", T0 + timedelta(hours=1), T0) == 1
        assert uow.throttle_counters.purge(T0 + timedelta(hours=1)) == 1


def test_consents_and_the_agencies_they_name(work: Opener) -> None:
    agency = register(name="Parking", scopes=["openid", "email"], redirect_uris=[], now=T0).agency
    with work() as uow:
        uow.agencies.add(agency)
        uow.user_tokens.add(token("acc_1", agency.client_id, "sid-1", auth_time=T0))
        assert uow.consents.get("acc_1", agency.client_id) is None
        uow.consents.put("acc_1", agency.client_id, Disclosure.of(["openid"]), T0)
        uow.consents.put("acc_1", "gone", Disclosure.of(["openid"]), T0 - timedelta(days=1))
        uow.consents.put(
            "acc_1", agency.client_id, Disclosure.of(["openid", "email"], ["email"]), T0
        )
    with work() as uow:
        assert uow.consents.get("acc_1", agency.client_id) == Disclosure.of(
            ["openid", "email"], ["email"]
        )
        mine, gone = uow.consents.of_account("acc_1")
        assert (mine.client_id, mine.name, mine.last_signed_in) == (agency.client_id, "Parking", T0)
        assert set(mine.scopes) == {"openid", "email"}
        assert mine.registered == agency.scopes
        assert (gone.name, gone.registered, gone.last_signed_in) == (None, None, None)
        assert uow.consents.delete("acc_1", "gone")
        assert not uow.consents.delete("acc_1", "gone")
        assert uow.consents.of_account("acc_2") == []


def test_browser_sessions(work: Opener) -> None:
    first = BrowserSession("sid-1", "acc_1", T0, assurance.LOW, ("pwd",))
    second = BrowserSession("sid-2", "acc_1", T0, assurance.LOW, ("pwd",))
    with work() as uow:
        uow.browser_sessions.add("h1", first)
        uow.browser_sessions.add("h2", second)
        uow.user_tokens.add(token("acc_1", "ag", "sid-1", id="t1"))
        uow.user_tokens.add(token("acc_1", "ag", "sid-2", id="t2"))
    later = T0 + timedelta(minutes=5)
    with work() as uow:
        found = uow.browser_sessions.find("h1")
        assert (found.session, found.created_at, found.last_seen_at) == (first, T0, T0)
        uow.browser_sessions.seen("h1", later)
        uow.browser_sessions.step_up("h1", assurance.MEDIUM, ["pwd", "otp"], later)
        raised = uow.browser_sessions.find("h1")
        assert raised.session.acr == assurance.MEDIUM
        assert raised.session.amr == ("pwd", "otp")
        assert (raised.session.auth_time, raised.last_seen_at, raised.created_at) == (
            later,
            later,
            T0,
        )
        assert uow.browser_sessions.revoke_tokens_outside("acc_1", "sid-1", later) == 1
        assert uow.browser_sessions.end_all("acc_1", later, keep_sid="sid-1") == ["sid-2"]
        assert uow.browser_sessions.find("h2") is None
        assert uow.browser_sessions.end("sid-1", later) == "acc_1"
        assert uow.browser_sessions.end("sid-1", later) is None
        assert uow.browser_sessions.end_all("acc_1", later) == []
    with work() as uow:
        assert uow.user_tokens.get("t1").revoked_at is None
        assert uow.user_tokens.get("t2").revoked_at == later


def test_devices_and_recovery_codes(work: Opener) -> None:
    with work() as uow:
        assert uow.known_devices.of_account("acc_1") == []
        uow.known_devices.add("acc_1", "d1", T0)
        uow.known_devices.seen("acc_1", "d1", T0 + timedelta(days=1))
        assert uow.known_devices.of_account("acc_1") == ["d1"]
        uow.recovery_codes.replace("acc_1", ["c1", "c2"], T0)
        uow.recovery_codes.replace("acc_1", ["c3", "c4"], T0)
        assert uow.recovery_codes.find("acc_1", "c1") == (False, None)
        uow.recovery_codes.use("acc_1", "c3", T0)
    with work() as uow:
        assert uow.recovery_codes.find("acc_1", "c3") == (True, T0)
        assert uow.recovery_codes.find("acc_1", "c4") == (True, None)
        assert uow.recovery_codes.left("acc_1") == 1


def test_audit_log_pages_newest_first(work: Opener) -> None:
    with work() as uow:
        for n in range(3):
            uow.audit.record(
                EventType.SIGN_IN_FAILED, at=T0 + timedelta(seconds=n), account_id="a", n=n
            )
        uow.audit.record(EventType.SIGNED_OUT, at=T0, account_id="b")
    with work() as uow:
        failed = AuditFilter(types=["sign_in.failed"])
        first = uow.audit.query(failed, after=None, limit=2)
        assert [e.details["n"] for e in first] == [2, 1]
        rest = uow.audit.query(failed, after=cursor(first[-1]), limit=2)
        assert [e.details["n"] for e in rest] == [0]
        assert len(uow.audit.query(AuditFilter(account_id="b"), after=None, limit=9)) == 1
        since = AuditFilter(since=T0 + timedelta(seconds=1), until=T0 + timedelta(seconds=2))
        assert [e.details["n"] for e in uow.audit.query(since, after=None, limit=9)] == [1]
